/*
 * live_vmm.c - a bhyve VM's live switch between two hosts: hull-vmm's
 * pre-copy over the agents' channel (see live_vmm.h).
 *
 * On the channel after the intro: hull-vmm's migration stream as it
 * wrote it. Each end applies it with the stream's own checked reader
 * (vmm/migfmt.h, fuzzed) and knows its end by the end record; a source
 * that gives up sends hull-vmm's abort record or closes the channel. The
 * target answers with migrate.c's JSON line.
 */
#include "agent/live_vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hull/instance.h"
#include "hull/snapshot.h"
#include "hvm/com2.h"
#include "hvm/vmm.h"
#include "lib/fdpass.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "pool/pool.h"
#include "supervisor/vm.h"
#include "vmm/migfmt.h"
#include "vmm/snapfmt.h"

#define RELAY_BUF (256 * 1024)
#define CONNECT_MS 2000
/* hull-vmm's own answer after a failure: it waits 30 s for R at most. */
#define ANSWER_MS 40000
#define DOWNTIME_MS 300 /* hull-vmm's default, as the kvm brand's */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *staged_path(const char *uuid, const char *suffix)
{
	return hull_root_path("var/agent/live-%s.vmm%s", uuid, suffix);
}

/* ---- the stream applied to a snapshot file ---- */

enum stage_step { ST_HEADER, ST_RECORD, ST_PAGES, ST_PAYLOAD, ST_DONE };

struct stage {
	int fd;
	enum stage_step step;
	uint32_t version;
	uint64_t mem_size;
	uint8_t hb[MIG_HEADER_SIZE]; /* a header or record header */
	size_t have;
	struct mig_record rec;
	uint64_t off;  /* ST_PAGES: the file offset of the next byte */
	uint64_t left; /* payload bytes to come */
	uint8_t *buf;  /* ST_PAYLOAD: a state or disks record's payload */
	bool has_state;
	int64_t state_at; /* when the state record began (now_ms) */
};

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

static int header_done(struct stage *s, struct hull_err *err)
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
static int payload_begin(struct stage *s)
{
	free(s->buf);
	s->buf = xmalloc(s->rec.payload ? s->rec.payload : 1);
	s->left = s->rec.payload;
	s->have = 0;
	s->step = ST_PAYLOAD;
	return 0;
}

static int record_done(struct stage *s, struct hull_err *err)
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
		s->state_at = now_ms();
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
static int payload_done(struct stage *s, struct hull_err *err)
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

/* Applies n bytes of the stream. */
static int stage_feed(struct stage *s, const uint8_t *p, size_t n,
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

static int stage_open(struct stage *s, const char *tmp, struct hull_err *err)
{
	memset(s, 0, sizeof(*s));
	s->fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		     0600);
	return s->fd < 0 ? hull_err_sys(err, errno, "%s", tmp) : 0;
}

static void stage_close(struct stage *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->buf);
	s->buf = NULL;
}

/* ---- the channel ---- */

static int ssl_write_all(SSL *ssl, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		size_t w = 0;
		if (SSL_write_ex(ssl, b, n, &w) <= 0)
			return -EPIPE;
		b += w;
		n -= w;
	}
	return 0;
}

/* The target's JSON line: 0 when it says ok. */
static int target_word(SSL *ssl, struct hull_err *err)
{
	char line[1024];
	size_t got = 0, n = 0;
	while (got < sizeof(line) - 1 &&
	       SSL_read_ex(ssl, line + got, 1, &n) > 0 && line[got] != '\n')
		got += n;
	line[got] = '\0';
	json_t *ans = json_loads(line, 0, NULL);
	int r = 0;
	if (!hull_json_bool(ans, "ok", false))
		r = hull_err_set(err, EIO, "target: %s",
				 ans ? hull_json_str(ans, "error", "failed")
				     : "did not confirm the state");
	json_decref(ans);
	return r;
}

/* ---- the source ---- */

/* hull-vmm's answer on its control connection (a failed migration's),
 * waited for up to ms; NULL when none came. */
static json_t *vmm_answer(int ctl, int ms)
{
	char line[4096];
	size_t len = 0;
	int64_t end = now_ms() + ms;
	while (!memchr(line, '\n', len) && len < sizeof(line)) {
		int64_t left = end - now_ms();
		struct pollfd p = {ctl, POLLIN, 0};
		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			return NULL;
		ssize_t n = read(ctl, line + len, sizeof(line) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		len += (size_t)n;
	}
	char *nl = memchr(line, '\n', len);
	return nl ? json_loadb(line, (size_t)(nl - line), 0, NULL) : NULL;
}

/* Starts hull-vmm's migration on sp1: the control connection, or < 0. */
static int vmm_migrate(const char *uuid, int sp1, int64_t limit,
		       struct hull_err *err)
{
	_cleanup_free_ char *path = hull_root_path(
	    "%s/run/" SV_VM_RUN_SUBDIR "/" HVM_VMM_CONTROL_SOCK, uuid);
	int ctl = hvm_com2_connect(path, CONNECT_MS, err);
	if (ctl < 0)
		return hull_err_prefix(err, "hull-vmm's control socket");
	json_t *req = json_pack("{s:s, s:I}", "command", "migrate",
				"downtime_ms", (json_int_t)DOWNTIME_MS);
	if (limit > 0)
		json_object_set_new(req, "bandwidth", json_integer(limit));
	char *text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	_cleanup_free_ char *line = xasprintf("%s\n", text);
	free(text);
	int r = hull_fd_send(ctl, line, strlen(line), &sp1, 1);
	if (r < 0) {
		close(ctl);
		return hull_err_sys(err, -r, "%s", path);
	}
	return ctl;
}

int live_vmm_precopy(const char *uuid, SSL *ssl, int64_t limit,
		     struct live_vmm_stat *st, struct hull_err *err)
{
	memset(st, 0, sizeof(*st));
	st->stream = st->ctl = -1;
	_cleanup_free_ char *tmp = staged_path(uuid, ".part");
	_cleanup_free_ char *staged = staged_path(uuid, "");
	unlink(staged);
	uint8_t intro[16] = {0};
	memcpy(intro, LIVE_VMM_MAGIC, 8);
	if (ssl_write_all(ssl, intro, sizeof(intro)) < 0)
		return hull_err_set(err, EPIPE, "send to the target: closed");
	struct stage s;
	int r = stage_open(&s, tmp, err);
	if (r < 0)
		return r;
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		stage_close(&s);
		unlink(tmp);
		return hull_err_sys(err, errno, "socketpair");
	}
	int64_t t0 = now_ms();
	int ctl = vmm_migrate(uuid, sp[1], limit, err);
	close(sp[1]);
	if (ctl < 0) {
		close(sp[0]);
		stage_close(&s);
		unlink(tmp);
		return ctl;
	}
	uint8_t *buf = xmalloc(RELAY_BUF);
	bool vmm_failed = false;
	while (r == 0 && s.step != ST_DONE) {
		struct pollfd p[2] = {{sp[0], POLLIN, 0}, {ctl, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = hull_err_sys(err, errno, "poll");
			break;
		}
		/* An answer before the end: hull-vmm gave up (or the VM
		 * ended); its words follow below. */
		if (p[1].revents && !p[0].revents) {
			vmm_failed = true;
			break;
		}
		ssize_t n = read(sp[0], buf, RELAY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			vmm_failed = true;
			break;
		}
		r = stage_feed(&s, buf, (size_t)n, err);
		/* hull-vmm's abort record: it gave up, and says why below
		 * (the target sees the channel close) */
		if (r == -ECANCELED) {
			vmm_failed = true;
			break;
		}
		if (r == 0 && ssl_write_all(ssl, buf, (size_t)n) < 0)
			r = hull_err_set(err, EPIPE,
					 "send to the target: closed");
		st->bytes += n;
	}
	free(buf);
	if (s.step == ST_DONE) {
		st->state_ms = s.state_at - t0;
		int64_t t1 = now_ms();
		r = target_word(ssl, err);
		st->confirm_ms = now_ms() - t1;
	}
	stage_close(&s);
	if (r == 0 && !vmm_failed && rename(tmp, staged) < 0)
		r = hull_err_sys(err, errno, "%s", staged);
	if (r == 0 && !vmm_failed) {
		/* The guest is paused in hull-vmm, waiting for an R: the
		 * stream stays open until it is ended (closing it would
		 * resume the guest). */
		st->stream = sp[0];
		st->ctl = ctl;
		return 0;
	}
	unlink(tmp);
	close(sp[0]);
	/* The stream closed: hull-vmm resumes its guest and says so. */
	json_t *ans = vmm_answer(ctl, ANSWER_MS);
	if (vmm_failed)
		r = hull_err_set(
		    err, EIO, "%s",
		    ans ? hull_json_str(ans, "error", "migration failed")
			: "hull-vmm ended the migration");
	json_decref(ans);
	close(ctl);
	return hull_err_prefix(err, "pre-copy");
}

int live_vmm_source_end(const char *uuid, struct live_vmm_stat *st,
			struct hull_err *err)
{
	int64_t t0 = now_ms();
	int r = hull_instance_stop(uuid, true, 0, NULL, err);
	st->stop_ms = now_ms() - t0;
	close(st->stream);
	if (r < 0) {
		/* Not ended: the stream closed resumes the guest here. */
		json_decref(vmm_answer(st->ctl, ANSWER_MS));
		live_vmm_stage_drop(uuid);
		hull_err_prefix(err, "stop of the paused source");
	}
	close(st->ctl);
	st->stream = st->ctl = -1;
	return r;
}

/* ---- the target ---- */

int live_vmm_stage_receive(const char *uuid, SSL *ssl, struct hull_err *err)
{
	_cleanup_free_ char *tmp = staged_path(uuid, ".part");
	_cleanup_free_ char *staged = staged_path(uuid, "");
	unlink(staged);
	struct stage s;
	int r = stage_open(&s, tmp, err);
	if (r < 0)
		return r;
	uint8_t *buf = xmalloc(RELAY_BUF);
	while (r == 0 && s.step != ST_DONE) {
		size_t got = 0;
		if (SSL_read_ex(ssl, buf, RELAY_BUF, &got) <= 0) {
			r = hull_err_set(err, EPIPE, "the source went away");
			break;
		}
		r = stage_feed(&s, buf, got, err);
	}
	free(buf);
	stage_close(&s);
	if (r == 0 && rename(tmp, staged) < 0)
		r = hull_err_sys(err, errno, "%s", staged);
	if (r < 0)
		unlink(tmp);
	return r;
}

/* A copy of what in holds, holes left as holes (another filesystem). */
static int sparse_copy(int in, int out)
{
	struct stat st;
	if (fstat(in, &st) < 0 || ftruncate(out, st.st_size) < 0)
		return -errno;
	uint8_t *buf = xmalloc(RELAY_BUF);
	off_t off = 0;
	int r = 0;
	for (;;) {
		off_t data = lseek(in, off, SEEK_DATA);
		if (data < 0)
			break; /* ENXIO: no data after off */
		off_t hole = lseek(in, data, SEEK_HOLE);
		for (off = data; off < hole && r == 0;) {
			size_t k = (size_t)(hole - off) < RELAY_BUF
				       ? (size_t)(hole - off)
				       : RELAY_BUF;
			ssize_t n = pread(in, buf, k, off);
			if (n <= 0) {
				r = n < 0 ? -errno : -EIO;
				break;
			}
			r = pwrite_all(out, buf, (size_t)n, (uint64_t)off);
			off += n;
		}
		if (r < 0)
			break;
	}
	free(buf);
	return r;
}

int live_vmm_stage_place(const char *uuid, bool *placed, struct hull_err *err)
{
	*placed = false;
	_cleanup_free_ char *staged = staged_path(uuid, "");
	if (access(staged, F_OK) < 0)
		return errno == ENOENT ? 0
				       : hull_err_sys(err, errno, "%s", staged);
	struct pool *p = NULL;
	if (pool_open(&p, err) < 0)
		return -err->code;
	_cleanup_free_ char *dir = pool_dataset_path(p, uuid);
	pool_close(p);
	_cleanup_free_ char *to = xasprintf("%s/" HULL_VMSTATE_FILE, dir);
	if (rename(staged, to) == 0) {
		*placed = true;
		return 0;
	}
	if (errno != EXDEV)
		return hull_err_sys(err, errno, "%s", to);
	int in = open(staged, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int out = open(
	    to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r = in < 0 || out < 0 ? -errno : sparse_copy(in, out);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (r < 0) {
		unlink(to);
		return hull_err_sys(err, -r, "copy to %s", to);
	}
	unlink(staged);
	*placed = true;
	return 0;
}

void live_vmm_stage_drop(const char *uuid)
{
	_cleanup_free_ char *tmp = staged_path(uuid, ".part");
	_cleanup_free_ char *staged = staged_path(uuid, "");
	unlink(tmp);
	unlink(staged);
}
