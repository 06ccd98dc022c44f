/*
 * nft.c - compiling rules to one nftables ruleset and loading it (see
 * nft.h for the shape of the ruleset and the semantics).
 */
#include "fw/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw/text.h"
#include "lib/xalloc.h"

/* Anonymous sets longer than this become named sets, so a big address list
 * is written once and not copied into every chain that uses it. */
#define INLINE_MAX 4

bool fw_side_names_inst(const struct fw_crule *r, const struct fw_side *s,
			const struct fw_inst *inst)
{
	if (r->owner_uuid &&
	    (!inst->owner_uuid || strcmp(r->owner_uuid, inst->owner_uuid)))
		return false;
	if (s->allvms)
		return true;
	for (size_t i = 0; i < s->nvms; i++)
		if (!strcmp(s->vms[i], inst->uuid))
			return true;
	for (size_t k = 0; k < s->ntags; k++) {
		const struct fw_tag *t = &s->tags[k];
		if (t->all) {
			if (fw_inst_has_tag(inst, t->name, NULL))
				return true;
			continue;
		}
		for (size_t v = 0; v < t->nvalues; v++)
			if (fw_inst_has_tag(inst, t->name, t->values[v]))
				return true;
	}
	return false;
}

struct strv {
	char **v;
	size_t n;
};

static void strv_add(struct strv *s, char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], x)) {
			free(x);
			return;
		}
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(char *));
	s->v[s->n++] = x;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* The addresses a side stands for, when it is the peer of an instance. */
struct peer {
	bool any;
	struct strv v4, v6;
	char *set4, *set6;  /* "@name" of a named set, or the inline text */
};

static void addr_add(struct peer *p, const char *a)
{
	unsigned char buf[16];
	char txt[INET6_ADDRSTRLEN];
	if (inet_pton(AF_INET, a, buf) == 1)
		strv_add(&p->v4, xstrdup(a));
	else if (inet_pton(AF_INET6, a, buf) == 1 &&
		 inet_ntop(AF_INET6, buf, txt, sizeof(txt)))
		strv_add(&p->v6, xstrdup(txt));
}

static void subnet_add(struct peer *p, const char *s)
{
	uint8_t addr[16];
	bool v4;
	int plen;
	char txt[INET6_ADDRSTRLEN];
	if (!fw_subnet_parse(s, addr, &v4, &plen))
		return;
	int bits = v4 ? 32 : 128;
	uint8_t *a = v4 ? addr + 12 : addr;
	for (int b = plen; b < bits; b++)
		a[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	inet_ntop(v4 ? AF_INET : AF_INET6, a, txt, sizeof(txt));
	if (v4)
		strv_add(&p->v4, xasprintf("%s/%d", txt, plen));
	else
		strv_add(&p->v6, xasprintf("%s/%d", txt, plen));
}

static void peer_build(struct peer *p, const struct fw_crule *r,
		       const struct fw_side *s, const struct fw_inst *insts,
		       size_t ninsts)
{
	memset(p, 0, sizeof(*p));
	p->any = s->any;
	for (size_t i = 0; i < s->nips; i++)
		addr_add(p, s->ips[i]);
	for (size_t i = 0; i < s->nsubnets; i++)
		subnet_add(p, s->subnets[i]);
	if (!fw_side_has_vms(s))
		return;
	for (size_t i = 0; i < ninsts; i++) {
		if (!fw_side_names_inst(r, s, &insts[i]))
			continue;
		for (size_t n = 0; n < insts[i].nnics; n++)
			for (size_t k = 0; k < insts[i].nics[n].nips; k++)
				addr_add(p, insts[i].nics[n].ips[k]);
	}
}

static char *set_text(FILE *defs, struct strv *v, const char *name,
		      const char *type)
{
	if (v->n == 0)
		return NULL;
	if (v->n == 1 && !strchr(v->v[0], '/'))
		return xstrdup(v->v[0]);
	fprintf(defs, "\tset %s {\n\t\ttype %s\n\t\tflags interval\n"
		      "\t\tauto-merge\n\t\telements = { ", name, type);
	for (size_t i = 0; i < v->n; i++)
		fprintf(defs, "%s%s", i ? ", " : "", v->v[i]);
	fprintf(defs, " }\n\t}\n");
	return xasprintf("@%s", name);
}

static void peer_free(struct peer *p)
{
	strv_free(&p->v4);
	strv_free(&p->v6);
	free(p->set4);
	free(p->set6);
}

/* The protocol half of the match: one or more alternatives. */
static struct strv proto_matches(const struct fw_rule *r)
{
	struct strv m = {0};
	switch (r->proto) {
	case FW_TCP:
	case FW_UDP: {
		const char *name = r->proto == FW_TCP ? "tcp" : "udp";
		if (r->all) {
			strv_add(&m, xasprintf("meta l4proto %s", name));
			break;
		}
		/* Merge overlapping ranges: an nftables set refuses them. */
		size_t n = r->nports;
		uint32_t (*iv)[2] = xcalloc(n ? n : 1, sizeof(*iv));
		for (size_t i = 0; i < n; i++) {
			iv[i][0] = r->ports[i].start;
			iv[i][1] = r->ports[i].end;
		}
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && iv[j][0] < iv[j - 1][0]; j--) {
				uint32_t t0 = iv[j][0], t1 = iv[j][1];
				iv[j][0] = iv[j - 1][0], iv[j][1] = iv[j - 1][1];
				iv[j - 1][0] = t0, iv[j - 1][1] = t1;
			}
		size_t w = 0;
		for (size_t i = 0; i < n; i++) {
			if (w && iv[i][0] <= iv[w - 1][1] + 1) {
				if (iv[i][1] > iv[w - 1][1])
					iv[w - 1][1] = iv[i][1];
			} else {
				iv[w][0] = iv[i][0], iv[w][1] = iv[i][1];
				w++;
			}
		}
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		fprintf(f, "%s dport %s", name, w > 1 ? "{ " : "");
		for (size_t i = 0; i < w; i++) {
			fprintf(f, "%s%u", i ? ", " : "", iv[i][0]);
			if (iv[i][1] != iv[i][0])
				fprintf(f, "-%u", iv[i][1]);
		}
		fprintf(f, "%s", w > 1 ? " }" : "");
		fclose(f);
		free(iv);
		strv_add(&m, buf);
		break;
	}
	case FW_ICMP:
	case FW_ICMP6: {
		const char *name = r->proto == FW_ICMP ? "icmp" : "icmpv6";
		if (r->all) {
			strv_add(&m, xasprintf("meta l4proto %s", name));
			break;
		}
		for (size_t i = 0; i < r->ntypes; i++) {
			if (r->types[i].code >= 0)
				strv_add(&m, xasprintf("%s type %d %s code %d", name,
						       r->types[i].type, name,
						       r->types[i].code));
			else
				strv_add(&m, xasprintf("%s type %d", name,
						       r->types[i].type));
		}
		break;
	}
	case FW_AH:
		strv_add(&m, xstrdup("meta l4proto ah"));
		break;
	case FW_ESP:
		strv_add(&m, xstrdup("meta l4proto esp"));
		break;
	}
	return m;
}

/* A compiled rule waiting for its place in one instance's chain. */
struct entry {
	int priority;
	bool block;
	size_t order;     /* rule index, for a stable order */
	size_t rule;
	bool inbound;
};

struct chainv {
	struct entry *e;
	size_t n;
};

static int entry_cmp(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;
	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if (a->block != b->block) {
		/* The action against the default wins a tie. */
		bool a_first = a->inbound ? !a->block : a->block;
		return a_first ? -1 : 1;
	}
	return a->order < b->order ? -1 : a->order > b->order;
}

static void chain_add(struct chainv *c, size_t rule, const struct fw_rule *r,
		      bool inbound)
{
	c->e = xrealloc(c->e, (c->n + 1) * sizeof(*c->e));
	c->e[c->n++] = (struct entry){r->priority, r->action == FW_BLOCK, rule,
				      rule, inbound};
}

static void emit_lines(FILE *f, const struct peer *p, bool inbound,
		       const struct strv *protos, enum fw_proto proto,
		       const char *verdict)
{
	const char *dir = inbound ? "saddr" : "daddr";
	for (size_t k = 0; k < protos->n; k++) {
		if (p->any) {
			fprintf(f, "\t\t%s %s\n", protos->v[k], verdict);
			continue;
		}
		if (p->set4 && proto != FW_ICMP6)
			fprintf(f, "\t\tip %s %s %s %s\n", dir, p->set4,
				protos->v[k], verdict);
		if (p->set6 && proto != FW_ICMP)
			fprintf(f, "\t\tip6 %s %s %s %s\n", dir, p->set6,
				protos->v[k], verdict);
	}
}

static bool inst_active(const struct fw_inst *in)
{
	return in->firewall_enabled && in->nnics > 0;
}

char *fw_nft_compile(const struct fw_crule *rules, size_t nrules,
		     const struct fw_inst *insts, size_t ninsts)
{
	char *defs_buf = NULL, *chains_buf = NULL, *out = NULL;
	size_t defs_len = 0, chains_len = 0, out_len = 0;
	FILE *defs = open_memstream(&defs_buf, &defs_len);
	FILE *ch = open_memstream(&chains_buf, &chains_len);
	if (!defs || !ch)
		abort();

	/* Per rule: the peers each side stands for, and the protocol match. */
	struct peer *from = xcalloc(nrules ? nrules : 1, sizeof(*from));
	struct peer *to = xcalloc(nrules ? nrules : 1, sizeof(*to));
	struct strv *protos = xcalloc(nrules ? nrules : 1, sizeof(*protos));
	struct chainv *in = xcalloc(ninsts ? ninsts : 1, sizeof(*in));
	struct chainv *outc = xcalloc(ninsts ? ninsts : 1, sizeof(*outc));
	for (size_t r = 0; r < nrules; r++) {
		const struct fw_rule *rule = rules[r].rule;
		bool used_in = false, used_out = false;
		for (size_t i = 0; i < ninsts; i++) {
			if (!inst_active(&insts[i]))
				continue;
			if (fw_side_names_inst(&rules[r], &rule->to, &insts[i])) {
				chain_add(&in[i], r, rule, true);
				used_in = true;
			}
			if (fw_side_names_inst(&rules[r], &rule->from, &insts[i])) {
				chain_add(&outc[i], r, rule, false);
				used_out = true;
			}
		}
		if (!used_in && !used_out)
			continue;
		protos[r] = proto_matches(rule);
		if (used_in) {
			peer_build(&from[r], &rules[r], &rule->from, insts, ninsts);
			char n4[32], n6[32];
			snprintf(n4, sizeof(n4), "r%zu-from4", r);
			snprintf(n6, sizeof(n6), "r%zu-from6", r);
			from[r].set4 = set_text(defs, &from[r].v4, n4, "ipv4_addr");
			from[r].set6 = set_text(defs, &from[r].v6, n6, "ipv6_addr");
		}
		if (used_out) {
			peer_build(&to[r], &rules[r], &rule->to, insts, ninsts);
			char n4[32], n6[32];
			snprintf(n4, sizeof(n4), "r%zu-to4", r);
			snprintf(n6, sizeof(n6), "r%zu-to6", r);
			to[r].set4 = set_text(defs, &to[r].v4, n4, "ipv4_addr");
			to[r].set6 = set_text(defs, &to[r].v6, n6, "ipv6_addr");
		}
	}

	/* Per instance: its two chains and its ports in the dispatch maps. */
	struct strv ports_seen = {0};
	char *vin = NULL, *vout = NULL;
	size_t vin_len = 0, vout_len = 0;
	FILE *fin = open_memstream(&vin, &vin_len);   /* oifname -> i-chain */
	FILE *fout = open_memstream(&vout, &vout_len); /* iifname -> o-chain */
	size_t nports = 0;
	for (size_t i = 0; i < ninsts; i++) {
		const struct fw_inst *inst = &insts[i];
		if (!inst_active(inst))
			continue;
		if (in[i].n > 1)
			qsort(in[i].e, in[i].n, sizeof(struct entry), entry_cmp);
		if (outc[i].n > 1)
			qsort(outc[i].e, outc[i].n, sizeof(struct entry), entry_cmp);
		fprintf(ch, "\tchain i-%s {\n"
			    "\t\tct state established,related accept\n"
			    "\t\tct state invalid drop\n"
			    "\t\ticmpv6 type { nd-neighbor-solicit, "
			    "nd-neighbor-advert, nd-router-solicit, "
			    "nd-router-advert } accept\n", inst->uuid);
		for (size_t k = 0; k < in[i].n; k++) {
			size_t r = in[i].e[k].rule;
			emit_lines(ch, &from[r], true, &protos[r],
				   rules[r].rule->proto,
				   in[i].e[k].block ? "drop" : "accept");
		}
		fprintf(ch, "\t\tdrop\n\t}\n");
		fprintf(ch, "\tchain o-%s {\n"
			    "\t\tct state established,related return\n",
			inst->uuid);
		for (size_t k = 0; k < outc[i].n; k++) {
			size_t r = outc[i].e[k].rule;
			emit_lines(ch, &to[r], false, &protos[r],
				   rules[r].rule->proto,
				   outc[i].e[k].block ? "drop" : "return");
		}
		fprintf(ch, "\t}\n");
		for (size_t n = 0; n < inst->nnics; n++) {
			const char *ifn = inst->nics[n].ifname;
			size_t before = ports_seen.n;
			strv_add(&ports_seen, xstrdup(ifn));
			if (ports_seen.n == before)
				continue; /* a port claimed twice: first wins */
			fprintf(fin, "%s\"%s\" : jump i-%s", nports ? ", " : "",
				ifn, inst->uuid);
			fprintf(fout, "%s\"%s\" : jump o-%s", nports ? ", " : "",
				ifn, inst->uuid);
			nports++;
		}
	}
	fclose(fin);
	fclose(fout);
	fclose(defs);
	fclose(ch);

	FILE *f = open_memstream(&out, &out_len);
	fprintf(f, "table inet " FW_NFT_TABLE " {\n%s%s", defs_buf, chains_buf);
	static const char *const hooks[] = {"forward", "input", "output"};
	for (size_t h = 0; h < 3; h++) {
		fprintf(f, "\tchain %s {\n\t\ttype filter hook %s priority "
			   "filter; policy accept;\n", hooks[h], hooks[h]);
		if (nports && h != 2)
			fprintf(f, "\t\tiifname vmap { %s }\n", vout);
		if (nports && h != 1)
			fprintf(f, "\t\toifname vmap { %s }\n", vin);
		fprintf(f, "\t}\n");
	}
	fprintf(f, "}\n");
	fclose(f);

	free(vin);
	free(vout);
	strv_free(&ports_seen);
	for (size_t r = 0; r < nrules; r++) {
		peer_free(&from[r]);
		peer_free(&to[r]);
		strv_free(&protos[r]);
	}
	for (size_t i = 0; i < ninsts; i++) {
		free(in[i].e);
		free(outc[i].e);
	}
	free(from);
	free(to);
	free(protos);
	free(in);
	free(outc);
	free(defs_buf);
	free(chains_buf);
	return out;
}

static int run_nft(const char *buf, bool dry_run, struct hull_err *err)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft)
		return hull_err_set(err, ENOMEM, "nftables: cannot make a context");
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (dry_run)
		nft_ctx_set_dry_run(nft, true);
	int rc = nft_run_cmd_from_buffer(nft, buf);
	if (rc != 0) {
		const char *e = nft_ctx_get_error_buffer(nft);
		const char *nl = e ? strchr(e, '\n') : NULL;
		int n = nl ? (int)(nl - e) : (e ? (int)strlen(e) : 0);
		rc = hull_err_set(err, EINVAL, "nftables: %.*s", n,
				  n ? e : "load failed");
	}
	nft_ctx_free(nft);
	return rc;
}

int fw_nft_apply(const char *ruleset, bool dry_run, struct hull_err *err)
{
	/* add + delete + define in one buffer: one transaction, so the old
	 * table is replaced by the new one with nothing in between. */
	char *buf = xasprintf("add table inet " FW_NFT_TABLE "\n"
			      "delete table inet " FW_NFT_TABLE "\n%s", ruleset);
	int rc = run_nft(buf, dry_run, err);
	free(buf);
	return rc;
}

int fw_nft_remove(struct hull_err *err)
{
	return run_nft("add table inet " FW_NFT_TABLE "\n"
		       "delete table inet " FW_NFT_TABLE "\n", false, err);
}
