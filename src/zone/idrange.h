/*
 * idrange.h - the host uid/gid ranges of user-namespaced zones.
 *
 * Each zone with internal_metadata "hull:userns": "true" owns 65536 host
 * uids and as many gids, [uid, uid + 65536) and [gid, gid + 65536), mapped
 * onto 0..65535 inside. The ranges are carved from a pool: the `root`
 * entry of /etc/subuid and /etc/subgid when the host has one, else
 * ZONE_IDRANGE_DEFAULT_START .. + ZONE_IDRANGE_DEFAULT_COUNT. Everything
 * here is pure (no I/O) so the parser can be fuzzed
 * (tests/fuzz/fuzz_subid.c) and the allocator unit-tested.
 */
#ifndef HULL_ZONE_IDRANGE_H
#define HULL_ZONE_IDRANGE_H
#include <stddef.h>
#include <stdint.h>

#define ZONE_IDRANGE_SIZE 65536u
/* 2^31 .. 2^31 + 2^30 - 1: 16384 zones, clear of the ids distributions
 * hand out (below 2^16) and of LXD's and podman's usual 100000/1000000. */
#define ZONE_IDRANGE_DEFAULT_START 2147483648u
#define ZONE_IDRANGE_DEFAULT_COUNT 1073741824u

struct zone_idrange {
	uint32_t start;
	uint32_t count;
};

/*
 * Finds the first line "name:start:count" of a subuid/subgid file for
 * `name`. Lines of other names, blank lines and # comments are skipped.
 * Returns 0 and fills out, -ENOENT when there is no such line, -EINVAL
 * when the first line for name is malformed (numbers must be decimal and
 * start + count must stay within 32 bits).
 */
int zone_subid_parse(const char *text, size_t len, const char *name,
		     struct zone_idrange *out);

/*
 * Picks the lowest slot k such that [upool.start + k*SIZE, +SIZE) overlaps
 * no range in used_u and [gpool.start + k*SIZE, +SIZE) none in used_g
 * (both arrays hold n ranges, of the instances that exist). Returns 0 with
 * *uid and *gid set, or -ENOSPC when the pools are spent.
 */
int zone_idrange_pick(struct zone_idrange upool, struct zone_idrange gpool,
		      const struct zone_idrange *used_u,
		      const struct zone_idrange *used_g, size_t n,
		      uint32_t *uid, uint32_t *gid);
#endif
