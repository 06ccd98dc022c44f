/*
 * fuzz_live_stage.c - a migration stream applied to a snapshot file
 * (src/agent/live_stage.c), as both agents of a bhyve VM's live switch
 * apply what comes over their channel: the input's first byte sets the
 * size of the pieces it is fed in (the channel cuts the stream
 * anywhere), the rest is the stream. A file the stage calls whole must
 * start with a snapshot header that the snapshot reader takes, its RAM
 * where the stage put it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/live_stage.h"
#include "vmm/snapfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t piece = (size_t)data[0] * 7 + 1;
	data++;
	size--;
	int fd = memfd_create("fuzz_live_stage", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	struct live_stage s;
	live_stage_init(&s, fd);
	struct hull_err err = {0};
	int r = 0;
	for (size_t off = 0; off < size && r == 0; off += piece)
		r = live_stage_feed(&s, data + off,
				    size - off < piece ? size - off : piece,
				    &err);
	if (r == 0 && live_stage_done(&s)) {
		uint8_t hb[SNAP_HEADER_SIZE];
		struct snap_header h;
		if (pread(fd, hb, sizeof(hb), 0) != (ssize_t)sizeof(hb) ||
		    snap_header_parse(hb, sizeof(hb), &h, &err) < 0 ||
		    h.mem_off != SNAP_MEM_OFF_MAX)
			abort();
	}
	live_stage_close(&s);
	return 0;
}
