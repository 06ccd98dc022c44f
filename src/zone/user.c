/*
 * user.c - resolving docker:user inside the zone's own account files.
 */
#include "zone/user.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse_id(const char *s, size_t len, unsigned long *out)
{
	char buf[16];
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strspn(buf, "0123456789") != len)
		return false;
	*out = strtoul(buf, NULL, 10);
	return *out < 0xffffffffUL;
}

/* Finds the line of a colon file whose first field is name[0..len) and
 * returns its field k (0-based) as a number. */
static bool lookup(const char *file, const char *name, size_t len, int k,
		   unsigned long *out)
{
	for (const char *line = file; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t ll = end ? (size_t)(end - line) : strlen(line);
		if (ll > len && strncmp(line, name, len) == 0 &&
		    line[len] == ':') {
			const char *f = line;
			const char *stop = line + ll;
			for (int i = 0; i < k && f; i++) {
				f = memchr(f, ':', (size_t)(stop - f));
				if (f)
					f++;
			}
			if (!f)
				return false;
			const char *fe = memchr(f, ':', (size_t)(stop - f));
			return parse_id(
			    f, fe ? (size_t)(fe - f) : (size_t)(stop - f), out);
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

int zone_user_resolve(const char *spec, const char *passwd, const char *group,
		      uid_t *uid, gid_t *gid, struct hull_err *err)
{
	const char *colon = strchr(spec, ':');
	size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
	unsigned long u, g = 0;
	bool have_g = false;
	if (!parse_id(spec, ulen, &u)) {
		if (!lookup(passwd, spec, ulen, 2, &u))
			return hull_err_set(err, ENOENT,
					    "docker:user: no user %.*s",
					    (int)ulen, spec);
		have_g = lookup(passwd, spec, ulen, 3, &g);
	}
	if (colon) {
		const char *gs = colon + 1;
		if (!parse_id(gs, strlen(gs), &g) &&
		    !lookup(group, gs, strlen(gs), 2, &g))
			return hull_err_set(err, ENOENT,
					    "docker:user: no group %s", gs);
		have_g = true;
	}
	*uid = (uid_t)u;
	*gid = have_g ? (gid_t)g : 0;
	return 0;
}
