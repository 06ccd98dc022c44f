/*
 * live_stage.h - hull-vmm's live migration stream (docs/hull-vmm.md
 * "Stream") applied, as it comes, to a snapshot file (docs/hull-vmm.md
 * "Snapshot file"): what both agents of a bhyve VM's live switch keep
 * (live_vmm.h), and what the target's start restores the guest from.
 *
 * Pages land at SNAP_MEM_OFF_MAX + their RAM offset as they come, zero
 * pages as holes; the state record, last, goes to offset 0 with its
 * header's RAM offset set to SNAP_MEM_OFF_MAX (a snapshot's usual offset
 * depends on the state's length, which is known only then). Every header
 * goes through the stream's and the snapshot's checked readers
 * (vmm/migfmt.h, vmm/snapfmt.h); fuzzed by tests/fuzz/fuzz_live_stage.c.
 */
#ifndef HULL_AGENT_LIVE_STAGE_H
#define HULL_AGENT_LIVE_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "vmm/migfmt.h"

enum live_stage_step { ST_HEADER, ST_RECORD, ST_PAGES, ST_PAYLOAD, ST_DONE };

struct live_stage {
	int fd;
	enum live_stage_step step;
	uint32_t version;
	uint64_t mem_size;
	uint8_t hb[MIG_HEADER_SIZE]; /* a header or record header */
	size_t have;
	struct mig_record rec;
	uint64_t off;  /* ST_PAGES: the file offset of the next byte */
	uint64_t left; /* payload bytes to come */
	uint8_t *buf;  /* ST_PAYLOAD: a state or disks record's payload */
	bool has_state;
	int64_t state_at; /* when the state record began (CLOCK_MONOTONIC ms) */
};

/* Creates (truncates) path, mode 0600. */
int live_stage_open(struct live_stage *s, const char *path,
		    struct hull_err *err);
/* The same on an open descriptor (taken over). */
void live_stage_init(struct live_stage *s, int fd);
/* Applies n bytes of the stream: < 0 for a stream that is refused
 * (-ECANCELED: the source's abort record) or a failed write. */
int live_stage_feed(struct live_stage *s, const uint8_t *p, size_t n,
		    struct hull_err *err);
/* The end record came: the file is a whole snapshot. */
bool live_stage_done(const struct live_stage *s);
void live_stage_close(struct live_stage *s);

#endif
