/*
 * snapfmt.c - the snapshot file's reader (snapfmt.h): pure, bounded, and
 * fuzzed (tests/fuzz/fuzz_vmm_snapshot.c). It checks structure only; what
 * the sections hold is checked again by the code that loads each one.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <zlib.h>

#include <linux/kvm.h>

#include "vmm/snapfmt.h"

/* The fixed part of a SNAP_VCPU section; nmsrs kvm_msr_entry follow. */
#include "vmm/snapshot.h"

uint32_t snap_crc(const void *p, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);
	const Bytef *b = p;
	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		c = crc32(c, b, n);
		b += n;
		len -= n;
	}
	return (uint32_t)c;
}

int snap_header_parse(const uint8_t *buf, size_t len, struct snap_header *h,
		      struct hull_err *err)
{
	if (len < SNAP_HEADER_SIZE)
		return hull_err_set(err, EINVAL,
				    "state file: truncated header");
	memcpy(h, buf, sizeof(*h));
	if (memcmp(h->magic, SNAP_MAGIC, 8))
		return hull_err_set(err, EINVAL,
				    "state file: not a hull-vmm snapshot");
	char ver[sizeof(h->vmm_version) + 1];
	memcpy(ver, h->vmm_version, sizeof(h->vmm_version));
	ver[sizeof(h->vmm_version)] = 0;
	for (char *p = ver; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	if (h->format != SNAP_FORMAT)
		return hull_err_set(err, EPROTO,
				    "state file: format %u (written by "
				    "hull-vmm %s); this hull-vmm reads format "
				    "%u only",
				    h->format, ver, SNAP_FORMAT);
	if (snap_crc(buf, offsetof(struct snap_header, header_crc)) !=
	    h->header_crc)
		return hull_err_set(err, EINVAL,
				    "state file: header checksum mismatch");
	if (h->header_size != SNAP_HEADER_SIZE ||
	    h->state_len > SNAP_STATE_MAX || h->state_len % 8 || h->ncpus < 1 ||
	    h->ncpus > 64 || h->n_sections > SNAP_SECTIONS_MAX ||
	    h->mem_size < (8u << 20) || h->mem_size % (2u << 20) ||
	    h->mem_size > (1ull << 40) || h->mem_off % SNAP_PAGE ||
	    h->mem_off < SNAP_HEADER_SIZE + h->state_len ||
	    h->mem_off > SNAP_MEM_OFF_MAX)
		return hull_err_set(err, EINVAL,
				    "state file: header values out of range");
	return 0;
}

static uint64_t fixed_len(uint32_t tag)
{
	switch (tag) {
	case SNAP_IRQCHIP:
		return sizeof(struct kvm_irqchip);
	case SNAP_PIT:
		return sizeof(struct kvm_pit_state2);
	case SNAP_CLOCK:
		return sizeof(struct kvm_clock_data);
	default:
		return 0; /* checked by the device's loader */
	}
}

int snap_parse(const uint8_t *buf, size_t len, struct snap_file *out,
	       struct hull_err *err)
{
	struct snap_header *h = &out->hdr;
	int r = snap_header_parse(buf, len, h, err);
	if (r < 0)
		return r;
	if (len - SNAP_HEADER_SIZE < h->state_len)
		return hull_err_set(err, EINVAL, "state file: truncated");
	const uint8_t *p = buf + SNAP_HEADER_SIZE;
	uint64_t left = h->state_len;
	if (snap_crc(p, left) != h->state_crc)
		return hull_err_set(err, EINVAL,
				    "state file: device state checksum "
				    "mismatch");
	out->n = 0;
	while (left) {
		uint32_t tag, inst;
		uint64_t sl;
		if (left < 16)
			return hull_err_set(err, EINVAL,
					    "state file: truncated section");
		memcpy(&tag, p, 4);
		memcpy(&inst, p + 4, 4);
		memcpy(&sl, p + 8, 8);
		p += 16;
		left -= 16;
		if (sl > left || ((sl + 7) & ~7ull) > left)
			return hull_err_set(err, EINVAL,
					    "state file: section overruns the "
					    "state");
		if (tag < 1 || tag > SNAP_TAG_MAX)
			return hull_err_set(
			    err, EINVAL, "state file: unknown section %u", tag);
		uint64_t want = fixed_len(tag);
		if (want && sl != want)
			return hull_err_set(err, EINVAL,
					    "state file: section %u has the "
					    "wrong length",
					    tag);
		if (tag == SNAP_VCPU) {
			struct snap_vcpu v;
			if (sl < sizeof(v))
				return hull_err_set(err, EINVAL,
						    "state file: short vCPU "
						    "section");
			memcpy(&v, p, sizeof(v));
			if (v.nmsrs > SNAP_MSRS_MAX ||
			    sl != sizeof(v) + (uint64_t)v.nmsrs *
						  sizeof(struct kvm_msr_entry))
				return hull_err_set(err, EINVAL,
						    "state file: bad vCPU "
						    "section");
			if (inst >= h->ncpus)
				return hull_err_set(err, EINVAL,
						    "state file: vCPU %u of %u",
						    inst, h->ncpus);
		}
		if (out->n == SNAP_SECTIONS_MAX || out->n == h->n_sections)
			return hull_err_set(err, EINVAL,
					    "state file: too many sections");
		for (unsigned i = 0; i < out->n; i++)
			if (out->sec[i].tag == tag &&
			    out->sec[i].instance == inst)
				return hull_err_set(err, EINVAL,
						    "state file: section %u/%u "
						    "twice",
						    tag, inst);
		out->sec[out->n++] = (struct snap_section){tag, inst, p, sl};
		uint64_t adv = (sl + 7) & ~7ull;
		p += adv;
		left -= adv;
	}
	if (out->n != h->n_sections)
		return hull_err_set(err, EINVAL,
				    "state file: %u sections, header says %u",
				    out->n, h->n_sections);
	return 0;
}
