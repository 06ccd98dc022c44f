/*
 * nft.c - compiling rules to one nftables ruleset and loading it (see
 * nft.h for the shape of the ruleset and the semantics).
 */
#include "fw/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "fw/delta.h"
#include "fw/text.h"
#include "lib/fileio.h"
#include "lib/nft.h"
#include "lib/root.h"
#include "lib/xalloc.h"

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

static void strv_push(struct strv *s, char *x)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(char *));
	s->v[s->n++] = x;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_sort_unique(struct strv *s)
{
	if (s->n < 2)
		return;
	qsort(s->v, s->n, sizeof(char *), str_cmp);
	size_t w = 1;
	for (size_t i = 1; i < s->n; i++) {
		if (!strcmp(s->v[i], s->v[w - 1]))
			free(s->v[i]);
		else
			s->v[w++] = s->v[i];
	}
	s->n = w;
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
	char *set4, *set6; /* "@sN" when the list went into a named set */
};

static void addr_add(struct peer *p, const char *a)
{
	unsigned char buf[16];
	char txt[INET6_ADDRSTRLEN];
	if (inet_pton(AF_INET, a, buf) == 1)
		strv_push(&p->v4, xstrdup(a));
	else if (inet_pton(AF_INET6, a, buf) == 1 &&
		 inet_ntop(AF_INET6, buf, txt, sizeof(txt)))
		strv_push(&p->v6, xstrdup(txt));
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
		a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
	inet_ntop(v4 ? AF_INET : AF_INET6, a, txt, sizeof(txt));
	if (v4)
		strv_push(&p->v4, xasprintf("%s/%d", txt, plen));
	else
		strv_push(&p->v6, xasprintf("%s/%d", txt, plen));
}

/* The instances a side names, as indices into insts. A side of vm targets
 * only is looked up by uuid (by_uuid: indices sorted by uuid); tags and all
 * vms need a look at every instance. */
static size_t side_members(const struct fw_crule *r, const struct fw_side *s,
			   const struct fw_inst *insts, const size_t *by_uuid,
			   size_t ninsts, size_t *out)
{
	size_t n = 0;
	if (!fw_side_has_vms(s))
		return 0;
	if (!s->allvms && s->ntags == 0) {
		for (size_t v = 0; v < s->nvms; v++) {
			size_t lo = 0, hi = ninsts;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				int c =
				    strcmp(insts[by_uuid[mid]].uuid, s->vms[v]);
				if (c == 0) {
					if (fw_side_names_inst(
						r, s, &insts[by_uuid[mid]]))
						out[n++] = by_uuid[mid];
					break;
				}
				if (c < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
		}
		return n;
	}
	for (size_t i = 0; i < ninsts; i++)
		if (fw_side_names_inst(r, s, &insts[i]))
			out[n++] = i;
	return n;
}

static void peer_build(struct peer *p, const struct fw_side *s,
		       const struct fw_inst *insts, const size_t *members,
		       size_t nmembers)
{
	memset(p, 0, sizeof(*p));
	p->any = s->any;
	for (size_t i = 0; i < s->nips; i++)
		addr_add(p, s->ips[i]);
	for (size_t i = 0; i < s->nsubnets; i++)
		subnet_add(p, s->subnets[i]);
	for (size_t m = 0; m < nmembers; m++) {
		const struct fw_inst *in = &insts[members[m]];
		for (size_t n = 0; n < in->nnics; n++)
			for (size_t k = 0; k < in->nics[n].nips; k++)
				addr_add(p, in->nics[n].ips[k]);
	}
	strv_sort_unique(&p->v4);
	strv_sort_unique(&p->v6);
}

/* Up to this many addresses are matched by one rule each; a longer list
 * goes into a named set. Sets are not free when loading: the kernel's loop
 * check for every jump in the dispatch maps walks all sets of the table,
 * so a few big sets are much cheaper than many small ones. */
#define SET_MIN 4

/* Named sets, one per distinct element list: rules whose peers resolve to
 * the same addresses (every rule naming the same tag, say) share a set, so
 * the ruleset grows with the distinct address lists, not with the rules. */
struct setpool {
	struct {
		uint64_t hash;
		char *key; /* type + elements */
		char *ref; /* "@sN" */
	} * v;
	size_t n;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static char *set_text(FILE *defs, struct setpool *pool, struct strv *v,
		      const char *type)
{
	if (v->n <= SET_MIN)
		return NULL;
	char *key = NULL;
	size_t klen = 0;
	FILE *k = open_memstream(&key, &klen);
	fprintf(k, "%s:", type);
	for (size_t i = 0; i < v->n; i++)
		fprintf(k, "%s%s", i ? ", " : "", v->v[i]);
	fclose(k);
	uint64_t h = fnv1a(key);
	bool clash = false;
	for (size_t i = 0; i < pool->n; i++) {
		if (pool->v[i].hash != h)
			continue;
		if (!strcmp(pool->v[i].key, key)) {
			free(key);
			return xstrdup(pool->v[i].ref);
		}
		clash = true;
	}
	/* Named after the contents, so that the same list has the same name
	 * in the next compile and an incremental load (delta.h) keeps it. */
	pool->v = xrealloc(pool->v, (pool->n + 1) * sizeof(*pool->v));
	pool->v[pool->n].hash = h;
	pool->v[pool->n].key = key;
	pool->v[pool->n].ref =
	    clash ? xasprintf("@s%016llx_%zu", (unsigned long long)h, pool->n)
		  : xasprintf("@s%016llx", (unsigned long long)h);
	fprintf(defs,
		"\tset %s {\n\t\ttype %s\n\t\tflags interval\n"
		"\t\tauto-merge\n\t\telements = { %s }\n\t}\n",
		pool->v[pool->n].ref + 1, type, key + strlen(type) + 1);
	pool->n++;
	return xstrdup(pool->v[pool->n - 1].ref);
}

static void setpool_free(struct setpool *pool)
{
	for (size_t i = 0; i < pool->n; i++) {
		free(pool->v[i].key);
		free(pool->v[i].ref);
	}
	free(pool->v);
}

static void peer_free(struct peer *p)
{
	strv_free(&p->v4);
	strv_free(&p->v6);
	free(p->set4);
	free(p->set6);
}

/* The protocol half of the match: one or more alternatives. */
static struct strv proto_matches(const struct fw_rule *r, FILE *defs,
				 struct setpool *pool)
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
		uint32_t(*iv)[2] = xcalloc(n ? n : 1, sizeof(*iv));
		for (size_t i = 0; i < n; i++) {
			iv[i][0] = r->ports[i].start;
			iv[i][1] = r->ports[i].end;
		}
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && iv[j][0] < iv[j - 1][0];
			     j--) {
				uint32_t t0 = iv[j][0], t1 = iv[j][1];
				iv[j][0] = iv[j - 1][0],
				iv[j][1] = iv[j - 1][1];
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
		struct strv el = {0};
		for (size_t i = 0; i < w; i++)
			strv_add(&el,
				 iv[i][1] != iv[i][0]
				     ? xasprintf("%u-%u", iv[i][0], iv[i][1])
				     : xasprintf("%u", iv[i][0]));
		free(iv);
		char *ref = set_text(defs, pool, &el, "inet_service");
		if (ref)
			strv_add(&m, xasprintf("%s dport %s", name, ref));
		else
			for (size_t i = 0; i < el.n; i++)
				strv_add(&m, xasprintf("%s dport %s", name,
						       el.v[i]));
		free(ref);
		strv_free(&el);
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
				strv_add(&m, xasprintf("%s type %d %s code %d",
						       name, r->types[i].type,
						       name, r->types[i].code));
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
	size_t order; /* rule index, for a stable order */
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

static void chain_add(struct chainv *c, size_t rule, size_t order,
		      const struct fw_rule *r, bool inbound)
{
	c->e = xrealloc(c->e, (c->n + 1) * sizeof(*c->e));
	c->e[c->n++] = (struct entry){r->priority, r->action == FW_BLOCK, order,
				      rule, inbound};
}

static int by_rule_uuid_cmp(const void *a, const void *b, void *ctx)
{
	const struct fw_crule *rules = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(rules[x].uuid ? rules[x].uuid : "",
		       rules[y].uuid ? rules[y].uuid : "");
	return c ? c : (x < y ? -1 : x > y);
}

/* Entries after the last one that goes against the chain's default only
 * repeat the default (an inbound BLOCK with no ALLOW after it, an outbound
 * ALLOW with no BLOCK after it): drop them. A tag rule such as "FROM tag
 * web TO vm X ALLOW ..." gives every web instance an outbound ALLOW, which
 * only matters where an outbound BLOCK follows it. */
static void chain_trim(struct chainv *c, bool inbound)
{
	size_t keep = 0;
	for (size_t k = 0; k < c->n; k++)
		if (c->e[k].block != inbound)
			keep = k + 1;
	c->n = keep;
}

static void emit_family(FILE *f, const char *fam, const char *dir,
			const char *set, const struct strv *v,
			const char *proto, const char *verdict)
{
	if (set) {
		fprintf(f, "\t\t%s %s %s %s %s\n", fam, dir, set, proto,
			verdict);
		return;
	}
	for (size_t i = 0; i < v->n; i++)
		fprintf(f, "\t\t%s %s %s %s %s\n", fam, dir, v->v[i], proto,
			verdict);
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
		if (proto != FW_ICMP6)
			emit_family(f, "ip", dir, p->set4, &p->v4, protos->v[k],
				    verdict);
		if (proto != FW_ICMP)
			emit_family(f, "ip6", dir, p->set6, &p->v6,
				    protos->v[k], verdict);
	}
}

static bool inst_active(const struct fw_inst *in)
{
	return in->firewall_enabled && in->nnics > 0;
}

static int by_uuid_cmp(const void *a, const void *b, void *ctx)
{
	const struct fw_inst *insts = ctx;
	return strcmp(insts[*(const size_t *)a].uuid,
		      insts[*(const size_t *)b].uuid);
}

char *fw_nft_compile(const char *table, const struct fw_crule *rules,
		     size_t nrules, const struct fw_inst *insts, size_t ninsts)
{
	return fw_nft_compile_flags(table, rules, nrules, insts, ninsts, 0);
}

/* One table being written: its instance chains and dispatch maps. */
struct table {
	const char *name;
	const char *family;
	char *ch_buf, *vin, *vout;
	size_t ch_len, vin_len, vout_len;
	FILE *ch, *fin, *fout;
	size_t nports, nout;
	/* Address dispatch (table inet only): "addr : jump chain" entries,
	 * [0] IPv4, [1] IPv6. */
	struct strv ain[2], aout[2];
};

static void table_open(struct table *t)
{
	t->ch = open_memstream(&t->ch_buf, &t->ch_len);
	t->fin = open_memstream(&t->vin, &t->vin_len);
	t->fout = open_memstream(&t->vout, &t->vout_len);
	if (!t->ch || !t->fin || !t->fout)
		abort();
}

static void table_close(struct table *t)
{
	fclose(t->ch);
	fclose(t->fin);
	fclose(t->fout);
}

static void table_free(struct table *t)
{
	for (int v6 = 0; v6 < 2; v6++) {
		strv_free(&t->ain[v6]);
		strv_free(&t->aout[v6]);
	}
	free(t->ch_buf);
	free(t->vin);
	free(t->vout);
}

static void table_emit(FILE *f, const struct table *t, const char *defs)
{
	fprintf(f, "table %s %s {\n", t->family, t->name);
	/* IPv6 neighbour discovery always reaches an instance. */
	fprintf(f,
		"\tset nd {\n\t\ttype icmpv6_type\n\t\telements = { "
		"nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, "
		"nd-router-advert }\n\t}\n");
	fprintf(f, "%s%s", defs, t->ch_buf);
	/* Two named verdict maps, shared by the base chains: port -> chain. */
	if (t->nout)
		fprintf(f,
			"\tmap from-inst {\n\t\ttype ifname : verdict\n"
			"\t\telements = { %s }\n\t}\n",
			t->vout);
	if (t->nports)
		fprintf(f,
			"\tmap to-inst {\n\t\ttype ifname : verdict\n"
			"\t\telements = { %s }\n\t}\n",
			t->vin);
	/* Address maps: address -> chain (see nft.h). */
	static const char *const afam[2] = {"ip", "ip6"};
	static const char *const atype[2] = {"ipv4_addr", "ipv6_addr"};
	for (int v6 = 0; v6 < 2; v6++) {
		const struct strv *mv[2] = {&t->aout[v6], &t->ain[v6]};
		static const char *const mname[2] = {"from-addr", "to-addr"};
		for (int d = 0; d < 2; d++) {
			if (!mv[d]->n)
				continue;
			fprintf(f,
				"\tmap %s%s {\n\t\ttype %s : verdict\n"
				"\t\telements = { ",
				mname[d], v6 ? "6" : "4", atype[v6]);
			for (size_t i = 0; i < mv[d]->n; i++)
				fprintf(f, "%s%s", i ? ", " : "", mv[d]->v[i]);
			fprintf(f, " }\n\t}\n");
		}
	}
	bool any_in = t->nports || t->ain[0].n || t->ain[1].n;
	/* The same three hooks mean the same in both families: forward is
	 * port to port, input port to host, output host to port. */
	static const char *const hooks[] = {"forward", "input", "output"};
	for (size_t h = 0; h < 3; h++) {
		fprintf(f,
			"\tchain %s {\n\t\ttype filter hook %s priority "
			"filter; policy accept;\n",
			hooks[h], hooks[h]);
		if (any_in)
			fprintf(f, "\t\tct state established,related accept\n"
				   "\t\ticmpv6 type @nd accept\n");
		if (t->nout && h != 2)
			fprintf(f, "\t\tiifname vmap @from-inst\n");
		for (int v6 = 0; v6 < 2 && h != 2; v6++)
			if (t->aout[v6].n)
				fprintf(f, "\t\t%s saddr vmap @from-addr%s\n",
					afam[v6], v6 ? "6" : "4");
		if (t->nports && h != 1)
			fprintf(f, "\t\toifname vmap @to-inst\n");
		for (int v6 = 0; v6 < 2 && h != 1; v6++)
			if (t->ain[v6].n)
				fprintf(f, "\t\t%s daddr vmap @to-addr%s\n",
					afam[v6], v6 ? "6" : "4");
		fprintf(f, "\t}\n");
	}
	fprintf(f, "}\n");
}

char *fw_nft_compile_flags(const char *table, const struct fw_crule *rules,
			   size_t nrules, const struct fw_inst *insts,
			   size_t ninsts, unsigned flags)
{
	char *defs_buf = NULL, *out = NULL;
	size_t defs_len = 0, out_len = 0;
	FILE *defs = open_memstream(&defs_buf, &defs_len);
	if (!defs)
		abort();

	/* Per rule: the peers each side stands for, and the protocol match. */
	struct peer *from = xcalloc(nrules ? nrules : 1, sizeof(*from));
	struct peer *to = xcalloc(nrules ? nrules : 1, sizeof(*to));
	struct strv *protos = xcalloc(nrules ? nrules : 1, sizeof(*protos));
	struct chainv *in = xcalloc(ninsts ? ninsts : 1, sizeof(*in));
	struct chainv *outc = xcalloc(ninsts ? ninsts : 1, sizeof(*outc));
	struct setpool pool = {0};
	size_t *by_uuid = xcalloc(ninsts ? ninsts : 1, sizeof(size_t));
	size_t *mem_from = xcalloc(ninsts ? ninsts : 1, sizeof(size_t));
	size_t *mem_to = xcalloc(ninsts ? ninsts : 1, sizeof(size_t));
	for (size_t i = 0; i < ninsts; i++)
		by_uuid[i] = i;
	qsort_r(by_uuid, ninsts, sizeof(size_t), by_uuid_cmp, (void *)insts);
	/* Ties are broken by rule uuid, not by the caller's order, so the
	 * same rules always compile to the same text (delta.h compares it). */
	size_t *rank = xcalloc(nrules ? nrules : 1, sizeof(size_t));
	size_t *by_rule = xcalloc(nrules ? nrules : 1, sizeof(size_t));
	for (size_t r = 0; r < nrules; r++)
		by_rule[r] = r;
	qsort_r(by_rule, nrules, sizeof(size_t), by_rule_uuid_cmp,
		(void *)rules);
	for (size_t r = 0; r < nrules; r++)
		rank[by_rule[r]] = r;
	free(by_rule);
	for (size_t r = 0; r < nrules; r++) {
		const struct fw_rule *rule = rules[r].rule;
		bool used_in = false, used_out = false;
		size_t nto = side_members(&rules[r], &rule->to, insts, by_uuid,
					  ninsts, mem_to);
		size_t nfrom = side_members(&rules[r], &rule->from, insts,
					    by_uuid, ninsts, mem_from);
		for (size_t k = 0; k < nto; k++) {
			if (!inst_active(&insts[mem_to[k]]))
				continue;
			chain_add(&in[mem_to[k]], r, rank[r], rule, true);
			used_in = true;
		}
		for (size_t k = 0; k < nfrom; k++) {
			if (!inst_active(&insts[mem_from[k]]))
				continue;
			chain_add(&outc[mem_from[k]], r, rank[r], rule, false);
			used_out = true;
		}
		if (!used_in && !used_out)
			continue;
		protos[r] = proto_matches(rule, defs, &pool);
		if (used_in) {
			peer_build(&from[r], &rule->from, insts, mem_from,
				   nfrom);
			from[r].set4 =
			    set_text(defs, &pool, &from[r].v4, "ipv4_addr");
			from[r].set6 =
			    set_text(defs, &pool, &from[r].v6, "ipv6_addr");
		}
		if (used_out) {
			peer_build(&to[r], &rule->to, insts, mem_to, nto);
			to[r].set4 =
			    set_text(defs, &pool, &to[r].v4, "ipv4_addr");
			to[r].set6 =
			    set_text(defs, &pool, &to[r].v6, "ipv6_addr");
		}
	}

	/* Per instance: its two chains and its ports in the dispatch maps of
	 * the table that sees them (bridge ports in table bridge, when the
	 * caller says the kernel can track connections there). */
	struct strv ports_seen = {0}, addrs_seen = {0};
	struct table tabs[2] = {{table, "inet"}, {table, "bridge"}};
	for (size_t t = 0; t < 2; t++)
		table_open(&tabs[t]);
	for (size_t i = 0; i < ninsts; i++) {
		const struct fw_inst *inst = &insts[i];
		if (!inst_active(inst))
			continue;
		if (in[i].n > 1)
			qsort(in[i].e, in[i].n, sizeof(struct entry),
			      entry_cmp);
		if (outc[i].n > 1)
			qsort(outc[i].e, outc[i].n, sizeof(struct entry),
			      entry_cmp);
		chain_trim(&in[i], true);
		chain_trim(&outc[i], false);
		char *ibuf = NULL;
		size_t ilen = 0;
		FILE *ch = open_memstream(&ibuf, &ilen);
		/* Established/related traffic and neighbour discovery are
		 * accepted in the base chains before any of this. */
		fprintf(ch, "\tchain i-%s {\n\t\tct state invalid drop\n",
			inst->uuid);
		for (size_t k = 0; k < in[i].n; k++) {
			size_t r = in[i].e[k].rule;
			emit_lines(ch, &from[r], true, &protos[r],
				   rules[r].rule->proto,
				   in[i].e[k].block ? "drop" : "accept");
		}
		fprintf(ch, "\t\tdrop\n\t}\n");
		bool has_out = outc[i].n > 0;
		if (has_out) {
			fprintf(ch, "\tchain o-%s {\n", inst->uuid);
			for (size_t k = 0; k < outc[i].n; k++) {
				size_t r = outc[i].e[k].rule;
				emit_lines(ch, &to[r], false, &protos[r],
					   rules[r].rule->proto,
					   outc[i].e[k].block ? "drop"
							      : "return");
			}
			fprintf(ch, "\t}\n");
		}
		fclose(ch);
		bool in_tab[2] = {false, false};
		for (size_t n = 0; n < inst->nnics; n++) {
			const char *ifn = inst->nics[n].ifname;
			size_t before = ports_seen.n;
			strv_add(&ports_seen, xstrdup(ifn));
			if (ports_seen.n == before)
				continue; /* a port claimed twice: first wins */
			size_t t =
			    (flags & FW_NFT_BRIDGE) && inst->nics[n].bridged
				? 1
				: 0;
			struct table *tb = &tabs[t];
			if (!in_tab[t]) {
				fputs(ibuf, tb->ch);
				in_tab[t] = true;
			}
			fprintf(tb->fin, "%s\"%s\" : jump i-%s",
				tb->nports++ ? ", " : "", ifn, inst->uuid);
			if (has_out)
				fprintf(tb->fout, "%s\"%s\" : jump o-%s",
					tb->nout++ ? ", " : "", ifn,
					inst->uuid);
			if (t != 0)
				continue;
			/* A port in table inet is also found by its
			 * addresses: a bridged packet reaches the inet hooks
			 * (br_netfilter) named after the bridge, not the
			 * port. */
			for (size_t a = 0; a < inst->nics[n].nips; a++) {
				const char *ip = inst->nics[n].ips[a];
				int v6 = strchr(ip, ':') != NULL;
				size_t had = addrs_seen.n;
				strv_add(&addrs_seen, xstrdup(ip));
				if (addrs_seen.n == had)
					continue;
				strv_push(&tb->ain[v6],
					  xasprintf("%s : jump i-%s", ip,
						    inst->uuid));
				if (has_out)
					strv_push(&tb->aout[v6],
						  xasprintf("%s : jump o-%s",
							    ip, inst->uuid));
			}
		}
		free(ibuf);
	}
	fclose(defs);

	FILE *f = open_memstream(&out, &out_len);
	for (size_t t = 0; t < 2; t++) {
		table_close(&tabs[t]);
		/* table inet always exists, so an empty ruleset is one too. */
		if (t == 0 || tabs[t].nports)
			table_emit(f, &tabs[t], defs_buf);
		table_free(&tabs[t]);
	}
	fclose(f);

	strv_free(&ports_seen);
	strv_free(&addrs_seen);
	setpool_free(&pool);
	free(by_uuid);
	free(rank);
	free(mem_from);
	free(mem_to);
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
	return out;
}

static int run_nft(const char *buf, bool dry_run, struct hull_err *err)
{
	struct nft_ctx *nft = hull_nft_open(err);
	if (!nft)
		return -err->code;
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

/* Both tables of name go, whichever exist (add first, so that delete never
 * fails), in the same transaction as the new. */
static void drop_tables(FILE *f, const char *name)
{
	fprintf(f,
		"add table inet %s\ndelete table inet %s\n"
		"add table bridge %s\ndelete table bridge %s\n",
		name, name, name, name);
}

static char table_name[32];

static void table_name_once(void)
{
	snprintf(table_name, sizeof(table_name), "hull_%s", hull_root_tag());
}

const char *fw_nft_table(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, table_name_once);
	return table_name;
}

bool fw_nft_legacy_ours(const struct fw_inst *insts, size_t ninsts)
{
	struct hull_err ignore;
	struct nft_ctx *nft = hull_nft_open(&ignore);
	if (!nft)
		return false;
	bool ours = false;
	if (nft_run_cmd_from_buffer(nft, "list table inet " FW_NFT_LEGACY_TABLE
					 "\n") == 0) {
		/* Its instance chains are "i-<uuid>" and "o-<uuid>": the
		 * table is this pool's when each uuid is one of its
		 * instances (an older hull compiled it from one pool). */
		const char *p = nft_ctx_get_output_buffer(nft);
		ours = true;
		while (ours && p && (p = strstr(p, "chain ")) != NULL) {
			p += 6;
			if ((p[0] != 'i' && p[0] != 'o') || p[1] != '-')
				continue;
			bool found = false;
			for (size_t i = 0; i < ninsts && !found; i++)
				found = !strncmp(p + 2, insts[i].uuid, 36) &&
					(p[38] == ' ' || p[38] == '{');
			ours = found;
		}
	}
	nft_ctx_free(nft);
	return ours;
}

bool fw_nft_bridge_supported(void)
{
	struct hull_err ignore;
	return run_nft("add table bridge hull_probe\n"
		       "add chain bridge hull_probe c { type filter hook "
		       "forward priority filter; policy accept; ct state "
		       "established accept; }\n"
		       "delete table bridge hull_probe\n",
		       true, &ignore) == 0;
}

/* Bridged packets reach the inet hooks only with br_netfilter's
 * bridge-nf-call-ip(6)tables on, a per-network-namespace setting. */
static int bridge_nf_on(struct hull_err *err)
{
	static const char *const knobs[] = {
	    "/proc/sys/net/bridge/bridge-nf-call-iptables",
	    "/proc/sys/net/bridge/bridge-nf-call-ip6tables"};
	for (size_t i = 0; i < 2; i++) {
		int fd = open(knobs[i], O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return hull_err_sys(
			    err, errno, "%s (the firewall needs br_netfilter)",
			    knobs[i]);
		char c = '0';
		ssize_t n = read(fd, &c, 1);
		if (n == 1 && c != '1' &&
		    (lseek(fd, 0, SEEK_SET) < 0 || write(fd, "1\n", 2) != 2)) {
			int e = errno;
			close(fd);
			return hull_err_sys(err, e, "%s", knobs[i]);
		}
		close(fd);
	}
	return 0;
}

/* The copy of what this pool last loaded into table (delta.h): the token
 * of that load on the first line, then the ruleset. */
static char *loaded_path(const char *table)
{
	return hull_root_path("var/fw/%s.loaded", table);
}

static char *loaded_read(const char *table, unsigned long *token)
{
	char *path = loaded_path(table);
	char *text = NULL;
	size_t len = 0;
	struct hull_err ignore;
	if (hull_file_read(path, 64u << 20, &text, &len, &ignore) < 0)
		text = NULL;
	free(path);
	char *nl = text ? strchr(text, '\n') : NULL;
	char *end = NULL;
	if (!nl || (*token = strtoul(text, &end, 10), end != nl) ||
	    *token == 0) {
		free(text);
		return NULL;
	}
	memmove(text, nl + 1, len - (size_t)(nl + 1 - text) + 1);
	return text;
}

bool fw_nft_loaded(const char *table)
{
	char *path = loaded_path(table);
	bool yes = access(path, F_OK) == 0;
	free(path);
	return yes;
}

static void loaded_forget(const char *table)
{
	char *path = loaded_path(table);
	unlink(path);
	free(path);
}

/* Written after the load: a crash in between leaves the old copy with the
 * old token, which the next incremental load finds missing in the kernel
 * (its transaction fails as a whole) and so reloads in full. */
static void loaded_write(const char *table, unsigned long token,
			 const char *ruleset)
{
	char *path = loaded_path(table);
	char *tmp = xasprintf("%s.tmp", path);
	/* Not synced: a copy lost or torn in a power cut meets a kernel that
	 * lost its tables too, and the token check sends that to a full load.
	 */
	FILE *f = fopen(tmp, "we");
	bool ok = f && fprintf(f, "%lu\n%s", token, ruleset) > 0;
	if (f && fclose(f) != 0)
		ok = false;
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		unlink(path);
	}
	free(tmp);
	free(path);
}

static unsigned long token_new(unsigned long old)
{
	unsigned int t = 0;
	while (t == 0 || t == old)
		if (getrandom(&t, sizeof(t), 0) != sizeof(t))
			t = (unsigned int)getpid() ^ (unsigned int)time(NULL);
	return t;
}

/* HULL_TEST_CRASH_AT=fw-loaded (tests only): die right after the kernel
 * took a load and before the copy of it is written. */
static void crash_point(void)
{
	const char *at = getenv("HULL_TEST_CRASH_AT");
	if (at && !strcmp(at, "fw-loaded"))
		raise(SIGKILL);
}

int fw_nft_apply_flags(const char *table, const char *ruleset, unsigned flags,
		       struct hull_err *err)
{
	bool dry_run = flags & FW_APPLY_DRY_RUN;
	/* Address dispatch is only worth anything when bridged packets are
	 * handed to the inet hooks. */
	if (!dry_run && strstr(ruleset, "vmap @to-addr") &&
	    bridge_nf_on(err) < 0)
		return -err->code;
	unsigned long old_token = 0;
	char *old = dry_run ? NULL : loaded_read(table, &old_token);
	unsigned long token = token_new(old_token);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	if (old && !(flags & (FW_APPLY_FULL | FW_APPLY_DROP_LEGACY))) {
		char *delta = fw_delta(old, ruleset);
		if (delta && !*delta) {
			/* nothing changed: nothing to load */
			free(delta);
			free(old);
			return 0;
		}
		if (delta) {
			/* The token swap makes the transaction fail as a
			 * whole unless the kernel holds what the copy says. */
			f = open_memstream(&buf, &len);
			if (!f)
				abort();
			fprintf(f, "delete element inet %s gen { %lu }\n%s",
				table, old_token, delta);
			fprintf(f, "add element inet %s gen { %lu }\n", table,
				token);
			fclose(f);
			free(delta);
			struct hull_err ignore;
			int rc = run_nft(buf, false, &ignore);
			free(buf);
			buf = NULL;
			if (rc == 0) {
				free(old);
				crash_point();
				loaded_write(table, token, ruleset);
				return 0;
			}
		}
	}
	free(old);
	/* add + delete + define in one buffer: one transaction, so the old
	 * table is replaced by the new one with nothing in between. */
	f = open_memstream(&buf, &len);
	if (!f)
		abort();
	drop_tables(f, table);
	if (flags & FW_APPLY_DROP_LEGACY)
		drop_tables(f, FW_NFT_LEGACY_TABLE);
	fputs(ruleset, f);
	fprintf(f,
		"add set inet %s gen { type mark; }\n"
		"add element inet %s gen { %lu }\n",
		table, table, token);
	fclose(f);
	if (!dry_run)
		loaded_forget(table);
	int rc = run_nft(buf, dry_run, err);
	free(buf);
	if (rc == 0 && !dry_run) {
		crash_point();
		loaded_write(table, token, ruleset);
	}
	return rc;
}

int fw_nft_apply(const char *table, const char *ruleset, bool drop_legacy,
		 bool dry_run, struct hull_err *err)
{
	return fw_nft_apply_flags(table, ruleset,
				  (drop_legacy ? FW_APPLY_DROP_LEGACY : 0) |
				      (dry_run ? FW_APPLY_DRY_RUN : 0),
				  err);
}

int fw_nft_remove(const char *table, struct hull_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	drop_tables(f, table);
	fclose(f);
	loaded_forget(table);
	int rc = run_nft(buf, false, err);
	free(buf);
	return rc;
}
