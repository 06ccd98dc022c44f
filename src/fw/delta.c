/*
 * delta.c - the transaction from one compiled ruleset to another (see
 * delta.h).
 *
 * The text is fw_nft_compile()'s own layout, one object per block:
 *
 *   table FAMILY NAME {
 *   <tab>set|map|chain NAME {
 *   <tab><tab>one line each: a declaration, a rule, "elements = { a, b }"
 *   <tab>}
 *   }
 *
 * Anything else makes the parse fail, and the caller reloads in full.
 */
#include "fw/delta.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

enum kind { K_SET, K_MAP, K_CHAIN };

struct obj {
	enum kind kind;
	char *name;
	char *body;   /* every body line, each ending in '\n' */
	char *head;   /* the body without its elements line */
	char **elems; /* sorted */
	size_t nelems;
	bool base; /* a chain with a hook */
};

struct tab {
	char *family, *name;
	const char *text; /* the whole block in the source */
	size_t len;
	struct obj *objs; /* sorted by kind, then name */
	size_t nobjs;
};

struct rs {
	struct tab *tabs;
	size_t ntabs;
};

static void obj_free(struct obj *o)
{
	free(o->name);
	free(o->body);
	free(o->head);
	for (size_t i = 0; i < o->nelems; i++)
		free(o->elems[i]);
	free(o->elems);
}

static void rs_free(struct rs *rs)
{
	for (size_t t = 0; t < rs->ntabs; t++) {
		struct tab *tb = &rs->tabs[t];
		for (size_t i = 0; i < tb->nobjs; i++)
			obj_free(&tb->objs[i]);
		free(tb->objs);
		free(tb->family);
		free(tb->name);
	}
	free(rs->tabs);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int obj_cmp(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

static char *append(char *s, const char *line, size_t n)
{
	size_t have = s ? strlen(s) : 0;
	s = xrealloc(s, have + n + 2);
	memcpy(s + have, line, n);
	s[have + n] = '\n';
	s[have + n + 1] = '\0';
	return s;
}

/* "\t\telements = { a, b }" split into its elements. */
static bool elements_parse(struct obj *o, const char *line, size_t n)
{
	static const char pre[] = "\t\telements = { ";
	if (n < sizeof(pre) + 1 || memcmp(line, pre, sizeof(pre) - 1) ||
	    memcmp(line + n - 2, " }", 2))
		return false;
	const char *p = line + sizeof(pre) - 1, *end = line + n - 2;
	while (p < end) {
		const char *comma = p;
		while (comma < end && !(comma[0] == ',' && comma[1] == ' '))
			comma++;
		o->elems =
		    xrealloc(o->elems, (o->nelems + 1) * sizeof(*o->elems));
		o->elems[o->nelems++] = xstrndup(p, (size_t)(comma - p));
		p = comma < end ? comma + 2 : end;
	}
	qsort(o->elems, o->nelems, sizeof(char *), str_cmp);
	return true;
}

static bool word_after(const char *line, size_t n, const char *pre, char **word)
{
	size_t pl = strlen(pre);
	if (n < pl + 3 || memcmp(line, pre, pl) ||
	    memcmp(line + n - 2, " {", 2))
		return false;
	*word = xstrndup(line + pl, n - pl - 2);
	return strchr(*word, ' ') == NULL;
}

static bool rs_parse(const char *text, struct rs *rs)
{
	memset(rs, 0, sizeof(*rs));
	struct tab *tb = NULL;
	struct obj *o = NULL;
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *next = nl ? nl + 1 : p + n;
		if (o) {
			if (n == 2 && !memcmp(p, "\t}", 2)) {
				o = NULL;
			} else if (n > 2 && !memcmp(p, "\t\t", 2)) {
				o->body = append(o->body, p, n);
				if (o->kind != K_CHAIN &&
				    !memcmp(p, "\t\telements = ", 13)) {
					if (!elements_parse(o, p, n))
						goto bad;
				} else {
					o->head = append(o->head, p, n);
				}
				if (o->kind == K_CHAIN &&
				    memmem(p, n, "type filter hook", 16))
					o->base = true;
			} else {
				goto bad;
			}
		} else if (tb) {
			if (n == 1 && p[0] == '}') {
				tb->len = (size_t)(next - tb->text);
				qsort(tb->objs, tb->nobjs, sizeof(struct obj),
				      obj_cmp);
				tb = NULL;
			} else {
				static const char *const pre[] = {
				    "\tset ", "\tmap ", "\tchain "};
				tb->objs =
				    xrealloc(tb->objs, (tb->nobjs + 1) *
							   sizeof(*tb->objs));
				o = &tb->objs[tb->nobjs++];
				memset(o, 0, sizeof(*o));
				bool ok = false;
				for (int k = 0; k < 3 && !ok; k++) {
					ok = word_after(p, n, pre[k], &o->name);
					if (!ok) {
						free(o->name);
						o->name = NULL;
					}
					o->kind = (enum kind)k;
				}
				if (!ok)
					goto bad;
			}
		} else if (n > 0) {
			char fam[8], name[64];
			if (n > 80 ||
			    sscanf(p, "table %7s %63s {", fam, name) != 2 ||
			    memcmp(p + n - 2, " {", 2))
				goto bad;
			rs->tabs = xrealloc(rs->tabs, (rs->ntabs + 1) *
							  sizeof(*rs->tabs));
			tb = &rs->tabs[rs->ntabs++];
			memset(tb, 0, sizeof(*tb));
			tb->family = xstrdup(fam);
			tb->name = xstrdup(name);
			tb->text = p;
		}
		p = next;
	}
	if (tb || o)
		goto bad;
	return true;
bad:
	rs_free(rs);
	memset(rs, 0, sizeof(*rs));
	return false;
}

static const struct tab *tab_find(const struct rs *rs, const struct tab *like)
{
	for (size_t i = 0; i < rs->ntabs; i++)
		if (!strcmp(rs->tabs[i].family, like->family) &&
		    !strcmp(rs->tabs[i].name, like->name))
			return &rs->tabs[i];
	return NULL;
}

static const struct obj *obj_find(const struct tab *tb, const struct obj *like)
{
	struct obj *hit =
	    bsearch(like, tb->objs, tb->nobjs, sizeof(struct obj), obj_cmp);
	return hit;
}

static const char *const kind_word[] = {"set", "map", "chain"};

/* The object declared inside its table, as fw_nft_compile writes it:
 * creates it, or (a chain that exists) appends its rules. */
static void emit_block(FILE *f, const struct tab *tb, const struct obj *o)
{
	fprintf(f, "table %s %s {\n\t%s %s {\n%s\t}\n}\n", tb->family, tb->name,
		kind_word[o->kind], o->name, o->body);
}

/* "VERB element FAM T NAME { ... }" for the elements of o that other
 * lacks (all of them without other), keys only for a delete. */
static void emit_elem_cmd(FILE *f, const char *verb, const struct tab *tb,
			  const struct obj *o, const struct obj *other,
			  bool keys_only)
{
	bool any = false;
	for (size_t i = 0; i < o->nelems; i++) {
		if (other && bsearch(&o->elems[i], other->elems, other->nelems,
				     sizeof(char *), str_cmp))
			continue;
		const char *e = o->elems[i];
		const char *colon = keys_only ? strstr(e, " : ") : NULL;
		int n = colon ? (int)(colon - e) : (int)strlen(e);
		if (!any)
			fprintf(f, "%s element %s %s %s { ", verb, tb->family,
				tb->name, o->name);
		fprintf(f, "%s%.*s", any ? ", " : "", n, e);
		any = true;
	}
	if (any)
		fprintf(f, " }\n");
}

static bool table_delta(FILE *f, const struct tab *ot, const struct tab *nt)
{
	/* 1. sets, then instance chains, then maps, then base chains: what
	 * is referenced exists before what refers to it. */
	static const struct {
		enum kind kind;
		int base; /* -1: any */
	} order[] = {{K_SET, -1}, {K_CHAIN, 0}, {K_MAP, -1}, {K_CHAIN, 1}};
	for (size_t s = 0; s < sizeof(order) / sizeof(order[0]); s++) {
		for (size_t i = 0; i < nt->nobjs; i++) {
			const struct obj *no = &nt->objs[i];
			if (no->kind != order[s].kind ||
			    (order[s].base >= 0 && no->base != order[s].base))
				continue;
			const struct obj *oo = obj_find(ot, no);
			if (!oo) {
				emit_block(f, nt, no);
				continue;
			}
			if (!strcmp(oo->body, no->body))
				continue;
			if (no->kind == K_CHAIN) {
				if (oo->base != no->base)
					return false;
				fprintf(f, "flush chain %s %s %s\n", nt->family,
					nt->name, no->name);
				emit_block(f, nt, no);
				continue;
			}
			if (strcmp(oo->head ? oo->head : "",
				   no->head ? no->head : ""))
				return false; /* type or flags changed */
			if (no->kind == K_SET) {
				fprintf(f, "flush set %s %s %s\n", nt->family,
					nt->name, no->name);
				emit_elem_cmd(f, "add", nt, no, NULL, false);
				continue;
			}
			emit_elem_cmd(f, "delete", nt, oo, no, true);
			emit_elem_cmd(f, "add", nt, no, oo, false);
		}
	}
	/* 2. what went: maps (no base chain uses them any more), then
	 * chains (no map jumps to them any more), then sets (no rule
	 * matches on them any more). */
	static const enum kind gone[] = {K_MAP, K_CHAIN, K_SET};
	for (size_t s = 0; s < 3; s++)
		for (size_t i = 0; i < ot->nobjs; i++) {
			const struct obj *oo = &ot->objs[i];
			if (oo->kind != gone[s] || obj_find(nt, oo))
				continue;
			if (oo->kind == K_CHAIN)
				fprintf(f, "flush chain %s %s %s\n", ot->family,
					ot->name, oo->name);
			fprintf(f, "delete %s %s %s %s\n", kind_word[oo->kind],
				ot->family, ot->name, oo->name);
		}
	return true;
}

char *fw_delta(const char *old, const char *new)
{
	struct rs o, n;
	if (!rs_parse(old, &o))
		return NULL;
	if (!rs_parse(new, &n)) {
		rs_free(&o);
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	bool ok = true;
	for (size_t t = 0; t < n.ntabs && ok; t++) {
		const struct tab *nt = &n.tabs[t];
		const struct tab *ot = tab_find(&o, nt);
		if (!ot)
			fprintf(f, "%.*s", (int)nt->len, nt->text);
		else
			ok = table_delta(f, ot, nt);
	}
	for (size_t t = 0; t < o.ntabs && ok; t++)
		if (!tab_find(&n, &o.tabs[t]))
			fprintf(f, "delete table %s %s\n", o.tabs[t].family,
				o.tabs[t].name);
	fclose(f);
	rs_free(&o);
	rs_free(&n);
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}
