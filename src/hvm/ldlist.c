/*
 * ldlist.c - a program's shared library closure, from the loader's
 * --list output (see ldlist.h).
 */
#include "hvm/ldlist.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/spawn.h"
#include "lib/xalloc.h"

void hvm_ldlist_fini(struct hvm_ldlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	l->paths = NULL;
	l->n = 0;
}

static int add(struct hvm_ldlist *l, const char *p, size_t len,
	       struct hull_err *err)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->paths[i]) == len && !memcmp(l->paths[i], p, len))
			return 0;
	if (l->n >= HVM_LDLIST_MAX)
		return hull_err_set(err, E2BIG, "more than %d libraries",
				    HVM_LDLIST_MAX);
	l->paths = xrealloc(l->paths, (l->n + 1) * sizeof(*l->paths));
	l->paths[l->n++] = xstrndup(p, len);
	return 0;
}

int hvm_ldlist_parse(const char *text, struct hvm_ldlist *l,
		     struct hull_err *err)
{
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *s = p, *e = p + len;
		p = eol ? eol + 1 : e;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (s == e)
			continue;
		/* "NAME => PATH (0x...)": the path is after the arrow */
		const char *arrow = NULL;
		for (const char *q = s; q + 4 <= e; q++)
			if (!memcmp(q, " => ", 4)) {
				arrow = q;
				break;
			}
		if (arrow) {
			const char *v = arrow + 4;
			if ((size_t)(e - v) >= 9 && !memcmp(v, "not found", 9))
				return hull_err_set(err, ENOENT,
						    "%.*s: not found",
						    (int)(arrow - s), s);
			s = v;
		}
		/* drop the load address " (0x...)" */
		const char *end = e;
		for (const char *q = e; q > s; q--)
			if (q[-1] == '(' && q - 1 > s && q[-2] == ' ') {
				end = q - 2;
				break;
			}
		if (*s != '/')
			continue; /* the vDSO, "statically linked" */
		if (end == s)
			continue;
		int r = add(l, s, (size_t)(end - s), err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Appends what the loader lists for path (a program or a library). */
static int list_of(const char *path, struct hvm_ldlist *l, struct hull_err *err)
{
	char *argv[] = {(char *)HVM_LDSO, (char *)"--list", (char *)path, NULL};
	_cleanup_free_ char *out = NULL;
	struct hull_err e2 = {0};
	if (hull_run(argv, -1, -1, &out, &e2) < 0) {
		/* The loader refuses a static program ("not a dynamic
		 * executable"): it needs nothing else. */
		if (strstr(e2.msg, "not a dynamic executable"))
			return 0;
		return hull_err_set(err, e2.code, "%s", e2.msg);
	}
	if (hvm_ldlist_parse(out, l, err) < 0)
		return hull_err_prefix(err, "%s", path);
	return 0;
}

/* Where the loader looks for a library that no RUNPATH and no cache
 * names: its default directories (Debian's multiarch ones first). Inside
 * the hull there is no /etc/ld.so.cache, so this is exactly where the
 * emulator's dlopen() will look. */
static const char *const default_dirs[] = {
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
};

int hvm_ldlist_add_dlopen(struct hvm_ldlist *l, const char *soname,
			  struct hull_err *err)
{
	if (soname[0] == '/') {
		/* a module loaded by path (QEMU's accel-tcg-x86_64.so) */
		struct stat st;
		if (stat(soname, &st) < 0)
			return hull_err_sys(err, errno, "%s", soname);
		if (!S_ISREG(st.st_mode))
			return hull_err_set(err, EINVAL,
					    "%s: not a regular file", soname);
		int r = add(l, soname, strlen(soname), err);
		return r < 0 ? r : list_of(soname, l, err);
	}
	if (!*soname || strchr(soname, '/'))
		return hull_err_set(err, EINVAL, "%s: not a library name",
				    soname);
	for (size_t i = 0; i < sizeof(default_dirs) / sizeof(*default_dirs);
	     i++) {
		_cleanup_free_ char *path =
		    xasprintf("%s/%s", default_dirs[i], soname);
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		int r = add(l, path, strlen(path), err);
		if (r == 0)
			r = list_of(path, l, err);
		return r;
	}
	return hull_err_set(err, ENOENT,
			    "%s: not found in the loader's "
			    "directories",
			    soname);
}

int hvm_ldlist_resolve(const char *program, struct hvm_ldlist *l,
		       struct hull_err *err)
{
	memset(l, 0, sizeof(*l));
	if (program[0] != '/')
		return hull_err_set(err, EINVAL, "%s: must be an absolute path",
				    program);
	struct stat st;
	if (stat(program, &st) < 0)
		return hull_err_sys(err, errno, "%s", program);
	if (!S_ISREG(st.st_mode))
		return hull_err_set(err, EINVAL, "%s: not a regular file",
				    program);
	add(l, program, strlen(program), err);
	int r = list_of(program, l, err);
	if (r < 0)
		hvm_ldlist_fini(l);
	return r;
}
