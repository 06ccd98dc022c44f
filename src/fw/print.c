/*
 * print.c - Triton's canonical text of a parsed rule (see rule.h):
 *
 *   FROM <side> TO <side> ALLOW|BLOCK <proto>[ <targets>][ PRIORITY n]
 *
 * A side with several targets is "(t1 OR t2 ...)", in the order wildcard,
 * ip, subnet, tag, vm; tag names and values are always quoted and escaped;
 * ports print as "PORT n", "(PORT a AND PORT b)", or "PORTS a - b, c" once
 * any range is present; ICMP as "TYPE t[ CODE c]" joined by " AND TYPE ".
 */
#include "fw/rule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw/text.h"

/* Writes s quoted, escaping what Triton escapes: the quote, parentheses
 * and backslash, control characters, and Unicode spaces (so none can pass
 * for an ASCII space when a person reads the rule). A lone surrogate (from
 * a \uD800-\uDFFF escape with no partner) has no UTF-8 form: where Triton
 * would print the bare JavaScript code unit, we print its escape, so the
 * text stays valid UTF-8 and reads back to the same rule. */
static void put_quoted(FILE *f, const char *s)
{
	size_t len = strlen(s), i = 0;
	fputc('"', f);
	while (i < len) {
		size_t at = i;
		uint32_t cp;
		if (!fw_utf8_next(s, len, &i, &cp, false)) {
			fputc(s[at], f);
			i = at + 1;
			continue;
		}
		switch (cp) {
		case '"':
		case '(':
		case ')':
		case '\\':
			fprintf(f, "\\%c", (int)cp);
			continue;
		case '\b':
			fputs("\\b", f);
			continue;
		case '\t':
			fputs("\\t", f);
			continue;
		case '\n':
			fputs("\\n", f);
			continue;
		case '\f':
			fputs("\\f", f);
			continue;
		case '\r':
			fputs("\\r", f);
			continue;
		default:
			break;
		}
		bool esc = cp < 0x20 || cp == 0x7f || cp == 0x85 ||
			   cp == 0xa0 || cp == 0x1680 || cp == 0x180e ||
			   (cp >= 0x2000 && cp <= 0x200d) || cp == 0x2028 ||
			   cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
			   cp == 0x2060 || cp == 0x3000 || cp == 0xfeff ||
			   (cp >= 0xd800 && cp <= 0xdfff);
		if (esc)
			fprintf(f, "\\u%04X", (unsigned)cp);
		else
			fwrite(s + at, 1, i - at, f);
	}
	fputc('"', f);
}

static size_t side_count(const struct fw_side *s)
{
	size_t n = (s->any ? 1 : 0) + (s->allvms ? 1 : 0) + s->nips +
		   s->nsubnets + s->nvms;
	for (size_t k = 0; k < s->ntags; k++)
		n += s->tags[k].all ? 1 : s->tags[k].nvalues;
	return n;
}

static void put_side(FILE *f, const struct fw_side *s)
{
	size_t n = side_count(s), done = 0;
	const char *sep = " OR ";
#define SEP() (done++ ? fputs(sep, f) : 0)
	if (n > 1)
		fputc('(', f);
	if (s->any) {
		SEP();
		fputs("any", f);
	}
	if (s->allvms) {
		SEP();
		fputs("all vms", f);
	}
	for (size_t i = 0; i < s->nips; i++) {
		SEP();
		fprintf(f, "ip %s", s->ips[i]);
	}
	for (size_t i = 0; i < s->nsubnets; i++) {
		SEP();
		fprintf(f, "subnet %s", s->subnets[i]);
	}
	for (size_t k = 0; k < s->ntags; k++) {
		const struct fw_tag *t = &s->tags[k];
		if (t->all) {
			SEP();
			fputs("tag ", f);
			put_quoted(f, t->name);
			continue;
		}
		for (size_t v = 0; v < t->nvalues; v++) {
			SEP();
			fputs("tag ", f);
			put_quoted(f, t->name);
			fputs(" = ", f);
			put_quoted(f, t->values[v]);
		}
	}
	for (size_t i = 0; i < s->nvms; i++) {
		SEP();
		fprintf(f, "vm %s", s->vms[i]);
	}
#undef SEP
	if (n > 1)
		fputc(')', f);
}

static const char *const proto_names[] = {
    [FW_TCP] = "tcp",	  [FW_UDP] = "udp", [FW_ICMP] = "icmp",
    [FW_ICMP6] = "icmp6", [FW_AH] = "ah",   [FW_ESP] = "esp",
};

static void put_proto(FILE *f, const struct fw_rule *r)
{
	fputs(proto_names[r->proto], f);
	switch (r->proto) {
	case FW_TCP:
	case FW_UDP: {
		if (r->all) {
			fputs(" PORT all", f);
			break;
		}
		bool range = false;
		for (size_t i = 0; i < r->nports; i++)
			range |= r->ports[i].range;
		if (range) {
			fputs(" PORTS ", f);
			for (size_t i = 0; i < r->nports; i++) {
				const struct fw_port *p = &r->ports[i];
				if (i)
					fputs(", ", f);
				if (p->range)
					fprintf(f, "%u - %u", p->start, p->end);
				else
					fprintf(f, "%u", p->start);
			}
			break;
		}
		fputs(r->nports > 1 ? " (PORT " : " PORT ", f);
		for (size_t i = 0; i < r->nports; i++)
			fprintf(f, "%s%u", i ? " AND PORT " : "",
				r->ports[i].start);
		if (r->nports > 1)
			fputc(')', f);
		break;
	}
	case FW_ICMP:
	case FW_ICMP6:
		if (r->all) {
			fputs(" TYPE all", f);
			break;
		}
		fputs(r->ntypes > 1 ? " (TYPE " : " TYPE ", f);
		for (size_t i = 0; i < r->ntypes; i++) {
			fprintf(f, "%s%d", i ? " AND TYPE " : "",
				r->types[i].type);
			if (r->types[i].code >= 0)
				fprintf(f, " CODE %d", r->types[i].code);
		}
		if (r->ntypes > 1)
			fputc(')', f);
		break;
	case FW_AH:
	case FW_ESP:
		break;
	}
}

char *fw_rule_print(const struct fw_rule *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	fputs("FROM ", f);
	put_side(f, &r->from);
	fputs(" TO ", f);
	put_side(f, &r->to);
	fputs(r->action == FW_ALLOW ? " ALLOW " : " BLOCK ", f);
	put_proto(f, r);
	if (r->priority > 0)
		fprintf(f, " PRIORITY %d", r->priority);
	fclose(f);
	return buf;
}
