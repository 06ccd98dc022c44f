/*
 * live_stage.c - a migration stream applied to a snapshot file (see
 * live_stage.h).
 */
#include "agent/chan.h"
#include "agent/live_stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "vmm/snapfmt.h"

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int zero_range(int fd, uint64_t off, uint64_t len)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return 0;
	static const uint8_t z[MIG_PAGE];
	for (uint64_t o = 0; o < len; o += MIG_PAGE) {
		int r = pwrite_all(fd, z, MIG_PAGE, off + o);
		if (r < 0)
			return r;
	}
	return 0;
}

static int header_done(struct live_stage *s, struct hull_err *err)
{
	struct mig_header h;
	int r = mig_header_parse(s->hb, MIG_HEADER_SIZE, &h, err);
	if (r < 0)
		return r;
	s->version = h.version;
	s->mem_size = h.mem_size;
	if (ftruncate(s->fd, (off_t)(SNAP_MEM_OFF_MAX + h.mem_size)) < 0)
		return hull_err_sys(err, errno, "staged state");
	s->step = ST_RECORD;
	return 0;
}

/* A state or disks record: its payload is buffered whole. */
static int payload_begin(struct live_stage *s)
{
	free(s->buf);
	s->buf = xmalloc(s->rec.payload ? s->rec.payload : 1);
	s->left = s->rec.payload;
	s->have = 0;
	s->step = ST_PAYLOAD;
	return 0;
}

static int record_done(struct live_stage *s, struct hull_err *err)
{
	struct mig_record *rec = &s->rec;
	int r = mig_record_parse(s->hb, MIG_RECORD_SIZE, s->version,
				 s->mem_size, rec, err);
	if (r < 0)
		return r;
	s->step = ST_RECORD;
	switch (rec->type) {
	case MIG_PAGES:
		s->off = SNAP_MEM_OFF_MAX + rec->arg;
		s->left = rec->payload;
		s->step = ST_PAGES;
		return 0;
	case MIG_ZERO:
		r = zero_range(s->fd, SNAP_MEM_OFF_MAX + rec->arg,
			       (uint64_t)rec->count * MIG_PAGE);
		return r < 0 ? hull_err_sys(err, -r, "staged state") : 0;
	case MIG_STATE:
		if (s->has_state)
			return hull_err_set(err, EINVAL,
					    "migration stream: the VM's state "
					    "came twice");
		s->state_at = chan_now_ms();
		return payload_begin(s);
	case MIG_DISKS:
		return payload_begin(s);
	case MIG_ABORT:
		return hull_err_set(err, ECANCELED,
				    "the source's hull-vmm gave up");
	default: /* MIG_END */
		if (!s->has_state)
			return hull_err_set(err, EINVAL,
					    "migration stream: it ended "
					    "without the VM's state");
		s->step = ST_DONE;
		return 0;
	}
}

/* A state record: a snapshot file's header and sections, written at 0
 * with its RAM offset moved to where the pages went. */
static int payload_done(struct live_stage *s, struct hull_err *err)
{
	s->step = ST_RECORD;
	s->have = 0;
	if (s->rec.type == MIG_DISKS) {
		uint64_t sizes[MIG_DISKS_MAX];
		return mig_disks_parse(s->buf, s->rec.payload, &s->rec, sizes,
				       err);
	}
	struct snap_header h;
	int r = snap_header_parse(s->buf, s->rec.payload, &h, err);
	if (r < 0)
		return hull_err_prefix(err, "migration stream");
	if (SNAP_HEADER_SIZE + h.state_len != s->rec.payload ||
	    h.mem_size != s->mem_size)
		return hull_err_set(err, EINVAL,
				    "migration stream: the state's header "
				    "does not match the stream");
	h.mem_off = SNAP_MEM_OFF_MAX;
	h.header_crc = snap_crc(&h, offsetof(struct snap_header, header_crc));
	memcpy(s->buf, &h, sizeof(h));
	if ((r = pwrite_all(s->fd, s->buf, s->rec.payload, 0)) < 0)
		return hull_err_sys(err, -r, "staged state");
	s->has_state = true;
	return 0;
}

int live_stage_feed(struct live_stage *s, const uint8_t *p, size_t n,
		    struct hull_err *err)
{
	while (n) {
		int r = 0;
		if (s->step == ST_DONE)
			return hull_err_set(err, EPROTO,
					    "migration stream: bytes after "
					    "its end");
		if (s->step == ST_HEADER || s->step == ST_RECORD) {
			size_t want = s->step == ST_HEADER ? MIG_HEADER_SIZE
							   : MIG_RECORD_SIZE;
			size_t k = want - s->have < n ? want - s->have : n;
			memcpy(s->hb + s->have, p, k);
			s->have += k;
			p += k;
			n -= k;
			if (s->have < want)
				continue;
			s->have = 0;
			r = s->step == ST_HEADER ? header_done(s, err)
						 : record_done(s, err);
			if (r < 0)
				return r;
			continue;
		}
		size_t k = s->left < n ? (size_t)s->left : n;
		if (s->step == ST_PAGES) {
			if ((r = pwrite_all(s->fd, p, k, s->off)) < 0)
				return hull_err_sys(err, -r, "staged state");
			s->off += k;
		} else {
			memcpy(s->buf + s->have, p, k);
			s->have += k;
		}
		p += k;
		n -= k;
		s->left -= k;
		if (s->left)
			continue;
		if (s->step == ST_PAGES)
			s->step = ST_RECORD;
		else if ((r = payload_done(s, err)) < 0)
			return r;
	}
	return 0;
}

int live_stage_open(struct live_stage *s, const char *path,
		    struct hull_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	live_stage_init(s, fd);
	return fd < 0 ? hull_err_sys(err, errno, "%s", path) : 0;
}

void live_stage_init(struct live_stage *s, int fd)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
}

bool live_stage_done(const struct live_stage *s)
{
	return s->step == ST_DONE;
}

void live_stage_close(struct live_stage *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->buf);
	s->buf = NULL;
}
