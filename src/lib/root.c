/*
 * root.c - locating the pool root (see root.h).
 */
#include "lib/root.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

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

const char *hull_root_tag(void)
{
	static char tag[13];
	if (!tag[0]) {
		char canon[PATH_MAX];
		const char *p =
		    realpath(hull_root(), canon) ? canon : hull_root();
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		/* 48 bits: a collision among the few pools of one host is out
		 * of reach, and the name stays short in `nft list ruleset`. */
		if (EVP_Digest(p, strlen(p), md, &n, EVP_sha256(), NULL) != 1)
			abort();
		for (int i = 0; i < 6; i++)
			snprintf(tag + 2 * i, 3, "%02x", md[i]);
	}
	return tag;
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
