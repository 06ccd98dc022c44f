/*
 * name.c - dataset and snapshot names, and where each lives on disk.
 *
 * A name is checked before it reaches a path, so "..", absolute paths and
 * the pool's own folders can never be named. Layout under the root R:
 *
 *   R/<dataset>                    the dataset's files
 *   R/.snapshots/<enc>/            the dataset's record: it exists exactly
 *                                  while the dataset does
 *   R/.snapshots/<enc>/<snap>      snapshot "<dataset>@<snap>"
 *   R/.snapshots/<enc>/@origin     "ds@snap" this dataset was cloned from
 *
 * <enc> is the dataset name with '/' written as ':' (a character names
 * cannot hold), so every dataset's record is one flat entry and nested
 * datasets never collide with snapshots. Entries starting with '.' are
 * operations in progress; '@' marks files that are not snapshots.
 */
#include "pool/name.h"
#include "pool/pool.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

static bool segment_valid(const char *s, size_t n)
{
	if (n == 0 || n > POOL_SEGMENT_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

bool pool_segment_valid(const char *s)
{
	return s && segment_valid(s, strlen(s));
}

bool pool_dataset_name_valid(const char *name)
{
	if (!name || strlen(name) > POOL_NAME_MAX)
		return false;
	const char *s = name;
	bool first = true;
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (!segment_valid(s, n))
			return false;
		/* var/ holds the host's records, never datasets. */
		if (first && n == 3 && memcmp(s, "var", 3) == 0)
			return false;
		first = false;
		if (!slash)
			return true;
		s = slash + 1;
	}
}

bool pool_snapshot_name_valid(const char *name)
{
	if (!name)
		return false;
	const char *at = strchr(name, '@');
	if (!at || strchr(at + 1, '@'))
		return false;
	char *ds = xstrndup(name, (size_t)(at - name));
	bool ok = pool_dataset_name_valid(ds) &&
		  segment_valid(at + 1, strlen(at + 1));
	free(ds);
	return ok;
}

bool pool_name_valid(const char *name)
{
	return pool_dataset_name_valid(name) || pool_snapshot_name_valid(name);
}

int pool_name_split(const char *snapshot, char **ds, char **snap)
{
	if (!pool_snapshot_name_valid(snapshot))
		return -1;
	const char *at = strchr(snapshot, '@');
	*ds = xstrndup(snapshot, (size_t)(at - snapshot));
	*snap = xstrdup(at + 1);
	return 0;
}

char *pool_name_encode(const char *ds)
{
	char *e = xstrdup(ds);
	for (char *c = e; *c; c++)
		if (*c == '/')
			*c = ':';
	return e;
}

char *pool_name_decode(const char *enc)
{
	char *d = xstrdup(enc);
	for (char *c = d; *c; c++)
		if (*c == ':')
			*c = '/';
	if (!pool_dataset_name_valid(d)) {
		free(d);
		return NULL;
	}
	return d;
}

bool pool_name_is_below(const char *name, const char *ancestor)
{
	size_t n = strlen(ancestor);
	return strncmp(name, ancestor, n) == 0 && name[n] == '/';
}
