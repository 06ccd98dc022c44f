/*
 * prog.c - where hull's programs find each other (see prog.h).
 */
#include "lib/prog.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hull-paths.h"
#include "lib/xalloc.h"

/* A regular file this process may execute. */
static bool is_prog(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* The part of dir before suffix, when dir ends with it (as whole path
 * components); NULL otherwise. */
static char *strip_suffix(const char *dir, const char *suffix)
{
	size_t n = strlen(dir), m = strlen(suffix);
	while (m > 1 && suffix[m - 1] == '/')
		m--;
	if (m == 0 || m > n || strncmp(dir + n - m, suffix, m) != 0)
		return NULL;
	if (n > m && suffix[0] != '/' && dir[n - m - 1] != '/')
		return NULL;
	return xstrndup(dir, n - m);
}

static char *try(char *c)
{
	if (is_prog(c))
		return c;
	free(c);
	return NULL;
}

char *hull_helper_find_in(const char *selfdir, const char *name,
			  const char *sbindir, const char *libexecdir)
{
	char *c;
	if (selfdir) {
		const char *base = strrchr(name, '/');
		base = base ? base + 1 : name;
		if ((c = try(xasprintf("%s/%s", selfdir, name))) ||
		    (c = try(xasprintf("%s/../%s", selfdir, name))) ||
		    (c = try(xasprintf("%s/%s/%s", selfdir, name, base))))
			return c;
		/* An install under a prefix of its own (DESTDIR). */
		char *dest = strip_suffix(selfdir, sbindir);
		if (!dest)
			dest = strip_suffix(selfdir, libexecdir);
		if (dest && *dest) {
			c = try(xasprintf("%s%s/%s", dest, libexecdir, name));
			free(dest);
			if (c)
				return c;
		} else {
			free(dest);
		}
	}
	return try(xasprintf("%s/%s", libexecdir, name));
}

/* The folder of this program's executable in self (PATH_MAX), or NULL. */
static char *self_dir(char *self)
{
	ssize_t n = readlink("/proc/self/exe", self, PATH_MAX - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	return self;
}

char *hull_helper_find(const char *name)
{
	char self[PATH_MAX];
	char *dir = self_dir(self);
	return hull_helper_find_in(dir, name, HULL_SBINDIR, HULL_LIBEXECDIR);
}

static char *try_dir(char *c)
{
	struct stat st;
	if (stat(c, &st) == 0 && S_ISDIR(st.st_mode))
		return c;
	free(c);
	return NULL;
}

char *hull_data_find_in(const char *selfdir, const char *name,
			const char *sbindir, const char *datadir)
{
	char *c;
	if (selfdir) {
		char *top = strip_suffix(selfdir, "src/cmd");
		if (top) {
			c = try_dir(xasprintf("%s/data/%s", top, name));
			free(top);
			if (c)
				return c;
		}
		char *dest = strip_suffix(selfdir, sbindir);
		if (dest && *dest) {
			c = try_dir(xasprintf("%s%s/%s", dest, datadir, name));
			free(dest);
			if (c)
				return c;
		} else {
			free(dest);
		}
	}
	return try_dir(xasprintf("%s/%s", datadir, name));
}

char *hull_data_find(const char *name)
{
	char self[PATH_MAX];
	char *dir = self_dir(self);
	return hull_data_find_in(dir, name, HULL_SBINDIR, HULL_DATADIR);
}
