/*
 * fuzz_fwrule.c - libFuzzer target for the firewall rule parser and printer.
 *
 * Any input must parse or be refused without a crash, leak or undefined
 * behaviour; an accepted rule must print, and its printed text must parse
 * back to the same rule: parse(print(parse(x))) == parse(x). Two known
 * Triton behaviours shape that check: ICMP types are compared as a
 * multiset (Triton's sort of mixed TYPE / TYPE CODE lists is not
 * idempotent), and a rule whose only tag was "__proto__" prints an empty
 * side that nothing reads back (Triton does the same).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw/rule.h"
#include "lib/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool strv_eq(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

static bool side_eq(const struct fw_side *a, const struct fw_side *b)
{
	if (a->any != b->any || a->allvms != b->allvms ||
	    !strv_eq(a->ips, a->nips, b->ips, b->nips) ||
	    !strv_eq(a->subnets, a->nsubnets, b->subnets, b->nsubnets) ||
	    !strv_eq(a->vms, a->nvms, b->vms, b->nvms))
		return false;
	/* Tags: compare what prints (a tag left with no values vanishes). */
	size_t i = 0, j = 0;
	for (;;) {
		while (i < a->ntags && !a->tags[i].all && !a->tags[i].nvalues)
			i++;
		while (j < b->ntags && !b->tags[j].all && !b->tags[j].nvalues)
			j++;
		if (i == a->ntags || j == b->ntags)
			return i == a->ntags && j == b->ntags;
		const struct fw_tag *x = &a->tags[i++], *y = &b->tags[j++];
		if (strcmp(x->name, y->name) || x->all != y->all)
			return false;
		if (!x->all &&
		    !strv_eq(x->values, x->nvalues, y->values, y->nvalues))
			return false;
	}
}

static int icmp_key(const void *p)
{
	const struct fw_icmp *t = p;
	return t->type * 512 + t->code + 1;
}

static int icmp_cmp(const void *a, const void *b)
{
	return icmp_key(a) - icmp_key(b);
}

static bool rule_eq(const struct fw_rule *a, const struct fw_rule *b)
{
	if (!side_eq(&a->from, &b->from) || !side_eq(&a->to, &b->to) ||
	    a->action != b->action || a->proto != b->proto ||
	    a->all != b->all || a->priority != b->priority ||
	    a->nports != b->nports || a->ntypes != b->ntypes)
		return false;
	if (a->nports &&
	    memcmp(a->ports, b->ports, a->nports * sizeof(*a->ports)))
		return false;
	if (!a->ntypes)
		return true;
	struct fw_icmp *x = xmalloc(a->ntypes * sizeof(*x));
	struct fw_icmp *y = xmalloc(a->ntypes * sizeof(*y));
	memcpy(x, a->types, a->ntypes * sizeof(*x));
	memcpy(y, b->types, a->ntypes * sizeof(*y));
	qsort(x, a->ntypes, sizeof(*x), icmp_cmp);
	qsort(y, a->ntypes, sizeof(*y), icmp_cmp);
	bool eq = !memcmp(x, y, a->ntypes * sizeof(*x));
	free(x);
	free(y);
	return eq;
}

static bool side_prints_empty(const struct fw_side *s)
{
	if (s->any || s->allvms || s->nips || s->nsubnets || s->nvms)
		return false;
	for (size_t k = 0; k < s->ntags; k++)
		if (s->tags[k].all || s->tags[k].nvalues)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct fw_rule r1, r2;
	struct hull_err err;
	if (fw_rule_parse(text, &r1, &err) == 0) {
		char *printed = fw_rule_print(&r1);
		if (fw_rule_parse(printed, &r2, &err) == 0) {
			if (!rule_eq(&r1, &r2))
				abort();
		} else if (!side_prints_empty(&r1.from) &&
			   !side_prints_empty(&r1.to)) {
			abort();
		}
		fw_rule_free(&r2);
		free(printed);
	}
	fw_rule_free(&r1);
	free(text);
	return 0;
}
