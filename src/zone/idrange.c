/*
 * idrange.c - parsing subordinate id files and picking a zone's id range
 * (see idrange.h).
 */
#include "zone/idrange.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* A decimal number of at most 10 digits that fits 32 bits. */
static bool parse_u32(const char *s, size_t len, uint32_t *out)
{
	if (len == 0 || len > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

int zone_subid_parse(const char *text, size_t len, const char *name,
		     struct zone_idrange *out)
{
	size_t nlen = strlen(name);
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *line = p;
		p = nl ? nl + 1 : end;
		size_t ll = (size_t)(le - line);
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (ll == 0 || line[0] == '#')
			continue;
		if (ll <= nlen || memcmp(line, name, nlen) != 0 ||
		    line[nlen] != ':')
			continue;
		const char *a = line + nlen + 1, *le2 = line + ll;
		const char *c = memchr(a, ':', (size_t)(le2 - a));
		if (!c)
			return -EINVAL;
		uint32_t start, count;
		if (!parse_u32(a, (size_t)(c - a), &start) ||
		    !parse_u32(c + 1, (size_t)(le2 - c - 1), &count))
			return -EINVAL;
		if ((uint64_t)start + count > UINT32_MAX)
			return -EINVAL;
		out->start = start;
		out->count = count;
		return 0;
	}
	return -ENOENT;
}

static bool overlaps(uint64_t a, uint64_t alen, struct zone_idrange r)
{
	return a < (uint64_t)r.start + r.count && (uint64_t)r.start < a + alen;
}

int zone_idrange_pick(struct zone_idrange upool, struct zone_idrange gpool,
		      const struct zone_idrange *used_u,
		      const struct zone_idrange *used_g, size_t n,
		      uint32_t *uid, uint32_t *gid)
{
	uint32_t cnt = upool.count < gpool.count ? upool.count : gpool.count;
	uint64_t slots = cnt / ZONE_IDRANGE_SIZE;
	for (uint64_t k = 0; k < slots; k++) {
		uint64_t u = (uint64_t)upool.start + k * ZONE_IDRANGE_SIZE;
		uint64_t g = (uint64_t)gpool.start + k * ZONE_IDRANGE_SIZE;
		/* id 0 and (uid_t)-1 are never handed out. */
		if (u == 0 || g == 0 || u + ZONE_IDRANGE_SIZE > UINT32_MAX ||
		    g + ZONE_IDRANGE_SIZE > UINT32_MAX)
			continue;
		bool busy = false;
		for (size_t i = 0; i < n && !busy; i++)
			busy = overlaps(u, ZONE_IDRANGE_SIZE, used_u[i]) ||
			       overlaps(g, ZONE_IDRANGE_SIZE, used_g[i]);
		if (!busy) {
			*uid = (uint32_t)u;
			*gid = (uint32_t)g;
			return 0;
		}
	}
	return -ENOSPC;
}
