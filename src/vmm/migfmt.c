/*
 * migfmt.c - the live migration stream's reader (migfmt.h): pure and
 * bounded. The receiver reads straight into guest RAM only what a record
 * header checked here allows; a MIG_STATE payload is checked again by
 * snap_parse, and each section by the code that loads it.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vmm/migfmt.h"
#include "vmm/snapfmt.h"

int mig_header_parse(const uint8_t *buf, size_t len, struct mig_header *h,
		     struct hull_err *err)
{
	if (len < MIG_HEADER_SIZE)
		return hull_err_set(err, EINVAL,
				    "migration: truncated stream header");
	memcpy(h, buf, sizeof(*h));
	if (memcmp(h->magic, MIG_MAGIC, 8))
		return hull_err_set(err, EINVAL,
				    "migration: not a hull-vmm migration "
				    "stream");
	char ver[sizeof(h->vmm_version) + 1];
	memcpy(ver, h->vmm_version, sizeof(h->vmm_version));
	ver[sizeof(h->vmm_version)] = 0;
	for (char *p = ver; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	if (h->version < MIG_VERSION_MIN || h->version > MIG_VERSION)
		return hull_err_set(
		    err, EPROTO,
		    "migration: stream version %u (from "
		    "hull-vmm %s); this hull-vmm reads versions "
		    "%u to %u",
		    h->version, ver, MIG_VERSION_MIN, MIG_VERSION);
	if (snap_crc(buf, offsetof(struct mig_header, header_crc)) !=
	    h->header_crc)
		return hull_err_set(err, EINVAL,
				    "migration: header checksum mismatch");
	if (h->header_size != MIG_HEADER_SIZE || h->ncpus < 1 ||
	    h->ncpus > 64 || h->mem_size < (8u << 20) ||
	    h->mem_size % (2u << 20) || h->mem_size > (1ull << 40))
		return hull_err_set(err, EINVAL,
				    "migration: header values out of range");
	return 0;
}

static int pages_check(const struct mig_record *r, uint64_t mem_size,
		       uint32_t max, struct hull_err *err)
{
	if (r->count < 1 || r->count > max)
		return hull_err_set(err, EINVAL,
				    "migration: a page record of %u pages",
				    r->count);
	if (r->arg % MIG_PAGE || r->arg >= mem_size ||
	    (uint64_t)r->count * MIG_PAGE > mem_size - r->arg)
		return hull_err_set(err, EINVAL,
				    "migration: pages at 0x%llx lie outside "
				    "guest memory",
				    (unsigned long long)r->arg);
	return 0;
}

int mig_record_parse(const uint8_t *buf, size_t len, uint32_t version,
		     uint64_t mem_size, struct mig_record *r,
		     struct hull_err *err)
{
	if (len < MIG_RECORD_SIZE)
		return hull_err_set(err, EINVAL, "migration: truncated record");
	memcpy(&r->type, buf, 4);
	memcpy(&r->count, buf + 4, 4);
	memcpy(&r->arg, buf + 8, 8);
	r->payload = 0;
	switch (r->type) {
	case MIG_PAGES:
		if (pages_check(r, mem_size, MIG_PAGES_MAX, err) < 0)
			return -err->code;
		r->payload = (uint64_t)r->count * MIG_PAGE;
		return 0;
	case MIG_ZERO:
		return pages_check(r, mem_size, UINT32_MAX, err);
	case MIG_STATE:
		if (r->count || r->arg < SNAP_HEADER_SIZE ||
		    r->arg > SNAP_HEADER_SIZE + (uint64_t)SNAP_STATE_MAX)
			return hull_err_set(err, EINVAL,
					    "migration: a state record of "
					    "%llu bytes",
					    (unsigned long long)r->arg);
		r->payload = r->arg;
		return 0;
	case MIG_END:
	case MIG_ABORT:
		if (r->count || r->arg)
			return hull_err_set(err, EINVAL,
					    "migration: malformed record %u",
					    r->type);
		return 0;
	case MIG_DISKS:
		if (version < 2)
			break;
		if (r->count > MIG_DISKS_MAX || r->arg)
			return hull_err_set(err, EINVAL,
					    "migration: a disk record of %u "
					    "disks",
					    r->count);
		r->payload = (uint64_t)r->count * 8;
		return 0;
	default:
		break;
	}
	return hull_err_set(err, EINVAL, "migration: unknown record type %u",
			    r->type);
}

int mig_disks_parse(const uint8_t *buf, size_t len, const struct mig_record *r,
		    uint64_t *sizes, struct hull_err *err)
{
	if (r->type != MIG_DISKS || r->count > MIG_DISKS_MAX ||
	    len < (size_t)r->count * 8)
		return hull_err_set(err, EINVAL,
				    "migration: truncated disk record");
	for (uint32_t i = 0; i < r->count; i++) {
		memcpy(&sizes[i], buf + 8 * i, 8);
		if (sizes[i] % 512)
			return hull_err_set(err, EINVAL,
					    "migration: the source's disk %u "
					    "is %llu bytes, not whole sectors",
					    i, (unsigned long long)sizes[i]);
	}
	return 0;
}
