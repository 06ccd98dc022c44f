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
};

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
