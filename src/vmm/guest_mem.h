/*
 * guest_mem.h - a view of guest RAM for code that follows guest pointers
 * (virtqueues): up to two regions (below the PCI hole, above 4 GiB). Pure
 * and bounds-checked, so the queue code can be fuzzed against a buffer.
 */
#ifndef HULL_VMM_GUEST_MEM_H
#define HULL_VMM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

struct guest_mem {
	struct {
		uint64_t gpa;
		uint64_t size;
		uint8_t *host;
	} region[2];
	unsigned n;
	/* Live migration: *dirty, when set, is a bitmap of the pages of RAM
	 * (counted from dirty_base) that devices wrote, which KVM's dirty
	 * log cannot see (migrate.c). */
	uint64_t *const *dirty;
	uint8_t *dirty_base;
};

/* Marks [p, p+len) as written by a device, when a migration tracks it. */
static inline void guest_mem_dirty(const struct guest_mem *m, const void *p,
				   uint64_t len)
{
	if (!m->dirty || !len)
		return;
	uint64_t *map = __atomic_load_n(m->dirty, __ATOMIC_ACQUIRE);
	if (!map)
		return;
	uint64_t off = (uint64_t)((const uint8_t *)p - m->dirty_base);
	for (uint64_t pg = off / 4096; pg <= (off + len - 1) / 4096; pg++)
		__atomic_fetch_or(&map[pg / 64], 1ull << (pg % 64),
				  __ATOMIC_RELAXED);
}

/* Host pointer for [gpa, gpa+len) when it lies wholly inside one region,
 * else NULL. len 0 is allowed (any gpa inside or at the end of a region). */
static inline void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa,
				  uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		uint64_t base = m->region[i].gpa, size = m->region[i].size;
		if (gpa >= base && gpa - base <= size &&
		    len <= size - (gpa - base))
			return m->region[i].host + (gpa - base);
	}
	return NULL;
}

#endif
