/*
 * root.c - locating the pool root (see root.h).
 */
#include "lib/root.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fileio.h"
#include "lib/xalloc.h"

const char *hull_root(void)
{
	static char *root;
	if (!root) {
		const char *env = getenv("HULL_ROOT");
		root = xstrdup(env && *env ? env : HULL_DEFAULT_ROOT);
		size_t n = strlen(root);
		while (n > 1 && root[n - 1] == '/')
			root[--n] = '\0';
	}
	return root;
}

char *hull_root_path(const char *fmt, ...)
{
	char *rel = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		abort();
	va_end(ap);
	char *p = xasprintf("%s/%s", hull_root(), rel);
	free(rel);
	return p;
}

int hull_root_check(struct hull_err *err)
{
	char *cfg = hull_root_path("var/pool.json");
	bool ok = hull_path_exists(cfg);
	free(cfg);
	if (!ok)
		return hull_err_set(err, ENOENT,
				    "no hull pool at %s: run 'hull init' first",
				    hull_root());
	return 0;
}
