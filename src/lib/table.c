/*
 * table.c - filtering, sorting and rendering of list output (see table.h).
 *
 * Sorting keeps each row's lookups in a side array so a sort of a thousand
 * rows by two keys does two thousand lookups, not one per comparison.
 */
#include "lib/table.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/regex.h"
#include "lib/xalloc.h"

struct filter_item {
	char *key;
	char *value;
	bool tilde;
	bool regex;
	regex_t re;
};

struct table_filter {
	struct filter_item *items;
	int n;
};

static json_t *lookup(const struct table_view *v, json_t *row, const char *key)
{
	if (v && v->lookup)
		return v->lookup(row, key, v->ctx);
	return table_path_get(row, key, NULL);
}

/* One path segment into an object or array (by index). Borrowed. */
static json_t *step(json_t *j, const char *seg, size_t len)
{
	char buf[256];
	if (len >= sizeof(buf))
		return NULL;
	memcpy(buf, seg, len);
	buf[len] = '\0';
	if (json_is_object(j))
		return json_object_get(j, buf);
	if (json_is_array(j)) {
		char *end;
		errno = 0;
		unsigned long i = strtoul(buf, &end, 10);
		if (!len || *end || errno || !isdigit((unsigned char)buf[0]))
			return NULL;
		return json_array_get(j, i);
	}
	return NULL;
}

json_t *table_path_get(json_t *row, const char *key, void *ctx)
{
	(void)ctx;
	json_t *j = json_object_get(row, key);
	if (j)
		return json_incref(j);
	j = row;
	const char *p = key;
	while (j && *p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		j = step(j, p, len);
		p += len;
		if (*p == '.')
			p++;
	}
	return j ? json_incref(j) : NULL;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s,
		   size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

char *table_value_text(json_t *v)
{
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	if (json_is_real(v))
		return xasprintf("%g", json_real_value(v));
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "true" : "false");
	if (json_is_array(v)) {
		char *buf = xstrdup("");
		size_t len = 0, cap = 1;
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			char *t = table_value_text(e);
			if (i)
				append(&buf, &len, &cap, ",", 1);
			if (t)
				append(&buf, &len, &cap, t, strlen(t));
			free(t);
		}
		return buf;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	if (!s)
		abort();
	return s;
}

/* ---- filters ---- */

int table_filters_parse(char *const *args, int n, unsigned flags,
			struct table_filter **out, struct hull_err *err)
{
	struct table_filter *f = xcalloc(1, sizeof(*f));
	f->items = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*f->items));
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(args[i], '=');
		if (!eq || eq == args[i]) {
			table_filters_free(f);
			return hull_err_set(err, EINVAL,
					    "invalid filter '%.100s' (want "
					    "key=value)",
					    args[i]);
		}
		struct filter_item *it = &f->items[f->n++];
		it->key = xstrndup(args[i], (size_t)(eq - args[i]));
		const char *val = eq + 1;
		if (*val == '~') {
			it->tilde = true;
			val++;
			if (flags & TABLE_FILTER_REGEX) {
				if (hull_regcomp(&it->re, val, err) < 0) {
					it->value = NULL;
					table_filters_free(f);
					return hull_err_prefix(
					    err, "filter '%.100s'", args[i]);
				}
				it->regex = true;
			}
		}
		it->value = xstrdup(val);
	}
	*out = f;
	return 0;
}

void table_filters_free(struct table_filter *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++) {
		free(f->items[i].key);
		free(f->items[i].value);
		if (f->items[i].regex)
			regfree(&f->items[i].re);
	}
	free(f->items);
	free(f);
}

static bool value_matches(const struct filter_item *it, json_t *v)
{
	if (!v)
		return false;
	if (json_is_boolean(v) && !it->tilde)
		return !strcmp(it->value, json_is_true(v) ? "true" : "false");
	char *t = table_value_text(v);
	if (!t)
		return false;
	bool ok;
	if (it->regex)
		ok = regexec(&it->re, t, 0, NULL, 0) == 0;
	else if (it->tilde)
		ok = strstr(t, it->value) != NULL;
	else
		ok = !strcmp(t, it->value);
	free(t);
	return ok;
}

/* Matches a path with "*" segments against j, any branch sufficing. */
static bool wild_matches(const struct filter_item *it, json_t *j,
			 const char *path)
{
	if (!*path)
		return value_matches(it, j);
	const char *dot = strchr(path, '.');
	size_t len = dot ? (size_t)(dot - path) : strlen(path);
	const char *rest = path + len + (dot ? 1 : 0);
	if (len == 1 && path[0] == '*') {
		if (json_is_array(j)) {
			size_t i;
			json_t *e;
			json_array_foreach(
			    j, i, e) if (wild_matches(it, e, rest)) return true;
		} else if (json_is_object(j)) {
			const char *k;
			json_t *e;
			json_object_foreach(
			    j, k, e) if (wild_matches(it, e, rest)) return true;
		}
		return false;
	}
	json_t *next = step(j, path, len);
	return next && wild_matches(it, next, rest);
}

bool table_row_matches(const struct table_filter *f, json_t *row,
		       const struct table_view *v)
{
	if (!f)
		return true;
	for (int i = 0; i < f->n; i++) {
		const struct filter_item *it = &f->items[i];
		bool ok;
		if (strstr(it->key, "*")) {
			ok = wild_matches(it, row, it->key);
		} else {
			json_t *val = lookup(v, row, it->key);
			ok = value_matches(it, val);
			json_decref(val);
		}
		if (!ok)
			return false;
	}
	return true;
}

json_t *table_select(json_t *rows, const struct table_filter *f,
		     const struct table_view *v)
{
	json_t *out = json_array();
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row)
	{
		if (table_row_matches(f, row, v))
			json_array_append(out, row);
	}
	return out;
}

/* ---- keys ---- */

/* Splits "a,b,c" into a new NULL-terminated vector (one allocation). */
static char **keys_split(const char *keys, size_t *n)
{
	size_t count = 1;
	for (const char *p = keys; *p; p++)
		count += *p == ',';
	size_t sz = strlen(keys) + 1;
	char **v = xmalloc((count + 1) * sizeof(char *) + sz);
	char *s = (char *)(v + count + 1);
	memcpy(s, keys, sz);
	size_t i = 0;
	v[i++] = s;
	for (char *p = s; *p; p++) {
		if (*p == ',') {
			*p = '\0';
			v[i++] = p + 1;
		}
	}
	v[i] = NULL;
	*n = i;
	return v;
}

int table_keys_check(const char *keys, bool sort, struct hull_err *err)
{
	size_t n;
	if (!keys || !*keys)
		return hull_err_set(err, EINVAL, "empty field list");
	char **v = keys_split(keys, &n);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *k = v[i];
		if (sort && (*k == '-' || *k == '+'))
			k++;
		if (!*k)
			r = hull_err_set(err, EINVAL,
					 "empty field name in '%.100s'", keys);
	}
	free(v);
	return r;
}

/* ---- sort ---- */

struct sort_row {
	json_t *row;
	json_t **vals;
	size_t index;
};

struct sort_ctx {
	size_t nkeys;
	bool *desc;
};

static int value_cmp(json_t *a, json_t *b)
{
	bool an = !a || json_is_null(a), bn = !b || json_is_null(b);
	if (an || bn)
		return an - bn; /* missing last */
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		if (json_is_integer(a) && json_is_integer(b)) {
			json_int_t p = json_integer_value(a),
				   q = json_integer_value(b);
			return p < q ? -1 : p > q;
		}
		return x < y ? -1 : x > y;
	}
	if (json_is_boolean(a) && json_is_boolean(b))
		return json_is_true(a) - json_is_true(b);
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b));
	char *s = table_value_text(a), *t = table_value_text(b);
	int c = strcmp(s ? s : "", t ? t : "");
	free(s);
	free(t);
	return c;
}

static struct sort_ctx *g_sort; /* qsort has no context argument */

static int row_cmp(const void *pa, const void *pb)
{
	const struct sort_row *a = pa, *b = pb;
	for (size_t k = 0; k < g_sort->nkeys; k++) {
		bool amiss = !a->vals[k] || json_is_null(a->vals[k]);
		bool bmiss = !b->vals[k] || json_is_null(b->vals[k]);
		int c;
		if (amiss || bmiss)
			c = amiss - bmiss; /* missing last, either direction */
		else
			c = value_cmp(a->vals[k], b->vals[k]) *
			    (g_sort->desc[k] ? -1 : 1);
		if (c)
			return c;
	}
	return a->index < b->index ? -1 : a->index > b->index;
}

int table_sort(json_t *rows, const char *keys, const struct table_view *v,
	       struct hull_err *err)
{
	int r = table_keys_check(keys, true, err);
	if (r < 0)
		return r;
	size_t nkeys;
	char **kv = keys_split(keys, &nkeys);
	struct sort_ctx ctx = {.nkeys = nkeys,
			       .desc = xcalloc(nkeys, sizeof(bool))};
	for (size_t k = 0; k < nkeys; k++) {
		if (kv[k][0] == '-' || kv[k][0] == '+') {
			ctx.desc[k] = kv[k][0] == '-';
			kv[k]++;
		}
	}
	size_t n = json_array_size(rows);
	struct sort_row *sr = xcalloc(n ? n : 1, sizeof(*sr));
	json_t **vals = xcalloc(n * nkeys + 1, sizeof(json_t *));
	for (size_t i = 0; i < n; i++) {
		sr[i].row = json_incref(json_array_get(rows, i));
		sr[i].index = i;
		sr[i].vals = vals + i * nkeys;
		for (size_t k = 0; k < nkeys; k++)
			sr[i].vals[k] = lookup(v, sr[i].row, kv[k]);
	}
	g_sort = &ctx;
	qsort(sr, n, sizeof(*sr), row_cmp);
	g_sort = NULL;
	json_array_clear(rows);
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(rows, sr[i].row);
		for (size_t k = 0; k < nkeys; k++)
			json_decref(sr[i].vals[k]);
	}
	free(vals);
	free(sr);
	free(ctx.desc);
	free(kv);
	return 0;
}

/* ---- render ---- */

static void append_parsable(char **buf, size_t *len, size_t *cap, const char *s)
{
	for (; s && *s; s++) {
		if (*s == ':' || *s == '\\')
			append(buf, len, cap, "\\", 1);
		append(buf, len, cap, s, 1);
	}
}

/* Tabs and newlines in a value would break the table's one line per row. */
static void flatten(char *s)
{
	for (; s && *s; s++)
		if (*s == '\n' || *s == '\r' || *s == '\t')
			*s = ' ';
}

char *table_render(json_t *rows, const char *columns, unsigned flags,
		   const struct table_view *v)
{
	size_t ncol;
	char **cols = keys_split(columns, &ncol);
	size_t nrows = json_array_size(rows);
	bool header = !(flags & (TABLE_NO_HEADER | TABLE_PARSABLE));
	size_t nlines = nrows + (header ? 1 : 0);
	char **cells = xcalloc(nlines * ncol + 1, sizeof(char *));
	size_t *width = xcalloc(ncol, sizeof(size_t));
	size_t line = 0;
	if (header) {
		for (size_t c = 0; c < ncol; c++) {
			const char *h =
			    v && v->header ? v->header(cols[c], v->ctx) : NULL;
			char *t = xstrdup(h ? h : cols[c]);
			if (!h)
				for (char *p = t; *p; p++)
					*p = (char)toupper((unsigned char)*p);
			cells[c] = t;
		}
		line++;
	}
	for (size_t i = 0; i < nrows; i++, line++) {
		json_t *row = json_array_get(rows, i);
		for (size_t c = 0; c < ncol; c++) {
			json_t *val = lookup(v, row, cols[c]);
			char *t = table_value_text(val);
			json_decref(val);
			if (!t && !(flags & TABLE_PARSABLE))
				t = xstrdup("-");
			flatten(t);
			cells[line * ncol + c] = t;
		}
	}
	for (size_t l = 0; l < nlines; l++)
		for (size_t c = 0; c < ncol; c++) {
			const char *t = cells[l * ncol + c];
			size_t w = t ? strlen(t) : 0;
			if (w > width[c])
				width[c] = w;
		}
	char *buf = xstrdup("");
	size_t len = 0, cap = 1;
	for (size_t l = 0; l < nlines; l++) {
		for (size_t c = 0; c < ncol; c++) {
			const char *t = cells[l * ncol + c];
			if (flags & TABLE_PARSABLE) {
				if (c)
					append(&buf, &len, &cap, ":", 1);
				append_parsable(&buf, &len, &cap, t);
				continue;
			}
			size_t w = t ? strlen(t) : 0;
			if (t)
				append(&buf, &len, &cap, t, w);
			if (c + 1 < ncol) {
				size_t pad = width[c] - w + 2;
				while (pad--)
					append(&buf, &len, &cap, " ", 1);
			}
		}
		append(&buf, &len, &cap, "\n", 1);
	}
	for (size_t i = 0; i < nlines * ncol; i++)
		free(cells[i]);
	free(cells);
	free(width);
	free(cols);
	return buf;
}
