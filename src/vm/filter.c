/*
 * filter.c - list/lookup filters (see filter.h).
 */
#include "vm/filter.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/regex.h"
#include "lib/xalloc.h"
#include "vm/proptable.h"

static const char *const path_roots[] = {
    "tags", "customer_metadata", "internal_metadata", "nics", "disks",
};

bool vm_field_valid(const char *key, bool listable_only)
{
	const char *dot = strchr(key, '.');
	if (!dot) {
		const struct vm_prop *p = vm_prop_find(key);
		return p && (p->flags & VM_P_LISTABLE);
	}
	if (listable_only)
		return false;
	size_t n = (size_t)(dot - key);
	for (size_t i = 0; i < sizeof(path_roots) / sizeof(path_roots[0]); i++)
		if (strlen(path_roots[i]) == n &&
		    !strncmp(key, path_roots[i], n))
			return dot[1] != '\0';
	return false;
}

int vm_filter_parse(const char *arg, struct vm_filter *f, struct hull_err *err)
{
	memset(f, 0, sizeof(*f));
	size_t k = strcspn(arg, "=<>");
	if (k == 0 || !arg[k])
		return hull_err_set(
		    err, EINVAL,
		    "Invalid filter \"%s\": expected "
		    "FIELD=VALUE, FIELD=~REGEX, FIELD<N or FIELD>N",
		    arg);
	char *key = xstrndup(arg, k);
	if (!vm_field_valid(key, false)) {
		hull_err_set(err, EINVAL, "Invalid filter field \"%s\"", key);
		free(key);
		return -EINVAL;
	}
	const char *v = arg + k + 1;
	switch (arg[k]) {
	case '=':
		f->op = VM_FILTER_EQ;
		if (*v == '~') {
			f->op = VM_FILTER_RE;
			v++;
			if (hull_regcomp(&f->re, v, err) < 0) {
				hull_err_prefix(err, "Invalid filter \"%s\"",
						arg);
				free(key);
				return -EINVAL;
			}
		}
		break;
	default: {
		f->op = arg[k] == '<' ? VM_FILTER_LT : VM_FILTER_GT;
		char *end;
		errno = 0;
		f->number = strtod(v, &end);
		if (!*v || *end || errno || !isfinite(f->number)) {
			hull_err_set(err, EINVAL,
				     "Invalid filter \"%s\": %s needs a number",
				     arg, arg[k] == '<' ? "<" : ">");
			free(key);
			return -EINVAL;
		}
	}
	}
	f->key = key;
	f->value = xstrdup(v);
	return 0;
}

void vm_filter_fini(struct vm_filter *f)
{
	if (!f)
		return;
	if (f->op == VM_FILTER_RE && f->key)
		regfree(&f->re);
	free(f->key);
	free(f->value);
	f->key = f->value = NULL;
}

static char *scalar_text(json_t *v)
{
	if (!v)
		return NULL;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return xstrdup(json_string_value(v));
	case JSON_INTEGER:
		return xasprintf("%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
	case JSON_REAL:
		return xasprintf("%.17g", json_real_value(v));
	case JSON_TRUE:
		return xstrdup("true");
	case JSON_FALSE:
		return xstrdup("false");
	default:
		return NULL;
	}
}

static bool leaf_match(const struct vm_filter *f, json_t *v)
{
	if (f->op == VM_FILTER_LT || f->op == VM_FILTER_GT) {
		double d;
		if (json_is_number(v)) {
			d = json_number_value(v);
		} else if (json_is_string(v)) {
			char *end;
			const char *s = json_string_value(v);
			d = strtod(s, &end);
			if (!*s || *end)
				return false;
		} else {
			return false;
		}
		return f->op == VM_FILTER_LT ? d < f->number : d > f->number;
	}
	char *t = scalar_text(v);
	if (!t)
		return false;
	bool m = f->op == VM_FILTER_EQ ? !strcmp(t, f->value)
				       : regexec(&f->re, t, 0, NULL, 0) == 0;
	free(t);
	return m;
}

/* Walks path (dot-separated, '*' for any element) from v. Map keys may
 * contain dots themselves (tags."a.b"), so for objects the longest key that
 * matches a prefix of the rest is tried first. */
static bool walk(const struct vm_filter *f, json_t *v, const char *path)
{
	if (!v)
		return false;
	if (!*path)
		return leaf_match(f, v);
	const char *dot = strchr(path, '.');
	size_t n = dot ? (size_t)(dot - path) : strlen(path);
	const char *rest = dot ? dot + 1 : "";
	if (json_is_array(v)) {
		if (n == 1 && path[0] == '*') {
			size_t i;
			json_t *e;
			json_array_foreach(v, i,
					   e) if (walk(f, e, rest)) return true;
			return false;
		}
		char *end;
		char *seg = xstrndup(path, n);
		long idx = strtol(seg, &end, 10);
		bool ok = *seg && !*end && idx >= 0;
		free(seg);
		return ok && walk(f, json_array_get(v, (size_t)idx), rest);
	}
	if (!json_is_object(v))
		return false;
	if (n == 1 && path[0] == '*') {
		const char *k;
		json_t *e;
		json_object_foreach(v, k, e) if (walk(f, e, rest)) return true;
		return false;
	}
	/* The whole rest as one key first (keys with dots), then segments. */
	json_t *whole = json_object_get(v, path);
	if (whole && leaf_match(f, whole))
		return true;
	char *seg = xstrndup(path, n);
	json_t *e = json_object_get(v, seg);
	free(seg);
	return e && dot && walk(f, e, rest);
}

bool vm_filter_match(const struct vm_filter *f, json_t *vm)
{
	return walk(f, vm, f->key);
}

char *vm_field_text(json_t *vm, const char *key)
{
	json_t *v = json_object_get(vm, key);
	return v ? scalar_text(v) : NULL;
}
