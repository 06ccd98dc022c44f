/*
 * send.c - vmadm send (include/hull/send.h): an instance as one stream
 * (inst/sendfmt.h).
 *
 * Order: stop the instance (unless live), take a read-only snapshot
 * <uuid>@send-N of its dataset under the instance lock, release the lock,
 * write the header, then the backend's stream of the snapshot in chunks.
 * The snapshot stays: it is the base both pools share for the next
 * incremental send. The backend's stream is produced by a thread writing
 * into a pipe that this thread cuts into chunks, since a btrfs send stream
 * carries no outer length.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hull/send.h"
#include "inst/record.h"
#include "inst/sendfmt.h"
#include "inst/txn.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "pool/pool.h"
#include "supervisor/client.h"
#include "vm/record.h"

/* Chunks of up to this many bytes: large enough that the framing costs
 * nothing, small enough to bound the receiver's buffer. */
#define SEND_CHUNK (1u << 20)

static int write_all(int fd, const void *buf, size_t n, struct hull_err *err)
{
	int r = hull_write_all(fd, buf, n);
	return r < 0 ? hull_err_sys(err, -r, "write the stream") : 0;
}

/* N when e is the snapshot ds@send-N, else 0. */
static unsigned long send_number(const struct pool_entry *e, const char *ds)
{
	size_t dl = strlen(ds);
	const char *s = e->name;
	if (!e->snapshot || strncmp(s, ds, dl) || s[dl] != '@' ||
	    strncmp(s + dl + 1, "send-", 5))
		return 0;
	char *end;
	unsigned long v = strtoul(s + dl + 6, &end, 10);
	return *end ? 0 : v;
}

/* The next free send-N of the dataset. */
static char *next_snapshot(struct pool *pool, const char *ds,
			   struct hull_err *err)
{
	struct pool_entry *e;
	size_t n;
	if (pool_list_select(pool, ds, POOL_LIST_NO_SPACE, &e, &n, err) < 0)
		return NULL;
	unsigned long max = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned long v = send_number(&e[i], ds);
		if (v > max)
			max = v;
	}
	pool_entries_free(e, n);
	return xasprintf("send-%lu", max + 1);
}

struct pump {
	struct pool *pool;
	const char *snap, *base, *parent;
	int fd;
	int r;
	struct hull_err err;
};

static void *pump_run(void *arg)
{
	struct pump *p = arg;
	hull_err_clear(&p->err);
	p->r = p->parent
		   ? pool_send_from(p->pool, p->snap, p->parent, p->fd, &p->err)
		   : pool_send(p->pool, p->snap, p->base, p->fd, &p->err);
	close(p->fd);
	return NULL;
}

/* Waits for bytes in the pipe from the backend's send and says how many
 * are there (up to a chunk), 0 at its end. A chunk is what the pipe
 * holds: no copy is needed to learn its length. */
static ssize_t chunk_ready(int pipe_fd)
{
	for (;;) {
		struct pollfd p = {.fd = pipe_fd, .events = POLLIN};
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		int avail = 0;
		if (ioctl(pipe_fd, FIONREAD, &avail) < 0)
			return -1;
		if (avail > 0)
			return avail > (int)SEND_CHUNK ? (ssize_t)SEND_CHUNK
						       : (ssize_t)avail;
		if (p.revents & (POLLHUP | POLLERR))
			return 0;
	}
}

/* n bytes from the pipe to fd: splice(2) (pages move, no copy), or a copy
 * where fd does not take a splice. */
static int move_bytes(int pipe_fd, int fd, size_t n, struct hull_err *err)
{
	while (n) {
		ssize_t m = splice(pipe_fd, NULL, fd, NULL, n, SPLICE_F_MORE);
		if (m < 0 && errno == EINTR)
			continue;
		if (m < 0 && errno == EINVAL) {
			uint8_t b[65536];
			size_t k = n < sizeof(b) ? n : sizeof(b);
			ssize_t got = read(pipe_fd, b, k);
			if (got <= 0)
				return hull_err_sys(err, got < 0 ? errno : EIO,
						    "read the send stream");
			int r = write_all(fd, b, (size_t)got, err);
			if (r < 0)
				return r;
			n -= (size_t)got;
			continue;
		}
		if (m < 0)
			return hull_err_sys(err, errno, "write the stream");
		if (m == 0)
			return hull_err_set(err, EIO,
					    "the send stream ended "
					    "within a chunk");
		n -= (size_t)m;
	}
	return 0;
}

/* One dataset's backend stream, in chunks, then its end and sum. */
static int send_dataset(struct pool *pool, const char *snap, const char *base,
			const char *parent, int fd, uint64_t *bytes,
			struct hull_err *err)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return hull_err_sys(err, errno, "pipe");
	struct pump p = {.pool = pool,
			 .snap = snap,
			 .base = base,
			 .parent = parent,
			 .fd = pfd[1]};
	pthread_t t;
	if (pthread_create(&t, NULL, pump_run, &p) != 0) {
		close(pfd[0]);
		close(pfd[1]);
		return hull_err_set(err, EAGAIN, "cannot start a thread");
	}
	/* Pipes of 1 MiB (64 KiB by default): a chunk passes in one
	 * write instead of sixteen wake-ups of each side. */
	fcntl(pfd[0], F_SETPIPE_SZ, 1 << 20);
	uint64_t sum = 0;
	int r = 0;
	for (;;) {
		ssize_t n = chunk_ready(pfd[0]);
		if (n < 0) {
			r = hull_err_sys(err, errno, "read %s", snap);
			break;
		}
		if (n == 0)
			break;
		uint8_t len[4];
		sendfmt_put32(len, (uint32_t)n);
		if ((r = write_all(fd, len, 4, err)) < 0 ||
		    (r = move_bytes(pfd[0], fd, (size_t)n, err)) < 0)
			break;
		sum += (uint64_t)n;
	}
	/* The pump ends when the pipe has no reader left. */
	close(pfd[0]);
	pthread_join(t, NULL);
	if (r == 0 && p.r < 0) {
		*err = p.err;
		r = p.r;
	}
	if (r < 0)
		return r;
	uint8_t tail[12];
	sendfmt_put32(tail, 0);
	sendfmt_put64(tail + 4, sum);
	*bytes += sum;
	return write_all(fd, tail, sizeof(tail), err);
}

/* Stops the instance (not live), then snapshots it under its lock; rec
 * gets the record the stream carries: the stored one, with the autoboot it
 * had before send stopped it. */
static int take_snapshot(struct pool *pool, const char *uuid,
			 const struct hull_send_opts *o, char **snap,
			 json_t **rec, const struct hull_progress *pr,
			 struct hull_err *err)
{
	json_t *before = inst_record_load(uuid, err);
	if (!before)
		return -err->code;
	bool autoboot = hull_json_bool(before, "autoboot", true);
	json_decref(before);
	int r;
	if (!o->live && supervisor_alive(uuid) &&
	    (r = hull_instance_stop(uuid, false, 60, pr, err)) < 0)
		return r;
	int lock = inst_lock(uuid, true, err);
	if (lock < 0)
		return lock;
	r = 0;
	if (!o->live && supervisor_alive(uuid))
		r = hull_err_set(err, EBUSY,
				 "VM %s was started again while send stopped "
				 "it",
				 uuid);
	if (r == 0 && !(*rec = inst_record_load(uuid, err)))
		r = -err->code;
	if (r == 0 && !(*snap = next_snapshot(pool, uuid, err)))
		r = -err->code;
	if (r == 0) {
		_cleanup_free_ char *full = xasprintf("%s@%s", uuid, *snap);
		r = pool_snapshot_create(pool, full, err);
		if (r == 0)
			inst_progress(pr, HULL_STEP_SNAPSHOT, uuid, *snap);
	}
	hull_lock_release(lock);
	if (r == 0)
		json_object_set_new(*rec, "autoboot", json_boolean(autoboot));
	return r;
}

/* A full stream of a zone on btrfs is sent relative to the snapshot its
 * dataset was cloned from (its image's), which the receiver has too or
 * imports, so that the image's blocks are not sent again. */
static int clone_source(struct pool *pool, const char *uuid,
			struct sendfmt_dataset *d, struct hull_err *err)
{
	if (pool_backend_get(pool) != POOL_BACKEND_BTRFS)
		return 0;
	char *origin = NULL;
	int r = pool_origin_get(pool, uuid, &origin, err);
	if (r < 0 || !origin)
		return r;
	if (strncmp(origin, "images/", 7) != 0 ||
	    strlen(origin) < 7 + HULL_UUID_LEN ||
	    strcmp(origin + 7 + HULL_UUID_LEN, "@final") != 0 ||
	    !pool_dataset_exists(pool, origin)) {
		free(origin);
		return 0;
	}
	char id[33];
	uint64_t ct;
	r = pool_snapshot_ident(pool, origin, id, &ct, err);
	if (r < 0) {
		free(origin);
		return r;
	}
	d->parent = origin;
	d->parent_id = xstrdup(id);
	d->parent_ctransid = ct;
	return 0;
}

int hull_instance_send(const char *uuid, const struct hull_send_opts *o, int fd,
		       const struct hull_progress *pr,
		       struct hull_send_result *res, struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	static const struct hull_send_opts none;
	if (!o)
		o = &none;
	if (!hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "Invalid UUID: %s", uuid);
	bool pending;
	json_t *raw = vm_record_load_raw(uuid, &pending, err);
	if (!raw)
		return -err->code;
	json_decref(raw);
	if (pending)
		return hull_err_set(err, EINVAL,
				    "VM %s is not complete (provisioning, "
				    "receiving or failed): nothing to send",
				    uuid);
	if (o->base && !sendfmt_snapname_valid(o->base))
		return hull_err_set(err, EINVAL, "Invalid snapshot name: %s",
				    o->base);
	struct pool *pool;
	int r = pool_open(&pool, err);
	if (r < 0)
		return r;
	struct sendfmt_header h = {.version = SENDFMT_VERSION};
	char *snap = NULL, *full = NULL;
	struct pool_entry *e = NULL;
	size_t n = 0;
	snprintf(h.uuid, sizeof(h.uuid), "%s", uuid);
	/* SmartOS sends a zone's child datasets too (zfs send -R); hull
	 * does not carry a delegated dataset yet. */
	r = pool_list_select(pool, uuid,
			     POOL_LIST_NO_SPACE | POOL_LIST_NO_SNAPSHOTS, &e,
			     &n, err);
	if (r == 0 && n > 1)
		r = hull_err_set(err, ENOTSUP,
				 "VM %s has a delegated dataset, which vmadm "
				 "send does not carry yet",
				 uuid);
	pool_entries_free(e, n);
	_cleanup_free_ char *basefull =
	    o->base ? xasprintf("%s@%s", uuid, o->base) : NULL;
	if (r == 0 && basefull && !pool_dataset_exists(pool, basefull))
		r = hull_err_set(err, ENOENT,
				 "VM %s has no snapshot %s to send an "
				 "increment from",
				 uuid, o->base);
	if (r == 0)
		r = take_snapshot(pool, uuid, o, &snap, &h.record, pr, err);
	if (r < 0)
		goto out;
	h.backend = xstrdup(pool_backend_name(pool_backend_get(pool)));
	h.zonepath = hull_root_path("%s", uuid);
	h.live = o->live;
	h.nds = 1;
	h.ds = xcalloc(1, sizeof(*h.ds));
	h.ds[0].name = xstrdup(uuid);
	h.ds[0].snapshot = xstrdup(snap);
	h.ds[0].base = o->base ? xstrdup(o->base) : NULL;
	if (!o->base && (r = clone_source(pool, uuid, &h.ds[0], err)) < 0)
		goto out;
	char *text = sendfmt_header_dump(&h);
	uint8_t intro[SENDFMT_INTRO_LEN];
	sendfmt_intro_make(intro, (uint32_t)strlen(text));
	r = write_all(fd, intro, sizeof(intro), err);
	if (r == 0)
		r = write_all(fd, text, strlen(text), err);
	free(text);
	uint64_t bytes = 0;
	full = xasprintf("%s@%s", uuid, snap);
	if (r == 0)
		r = send_dataset(pool, full, basefull, h.ds[0].parent, fd,
				 &bytes, err);
	if (r == 0)
		r = write_all(fd, SENDFMT_END, 8, err);
	if (r == 0 && res) {
		snprintf(res->snapshot, sizeof(res->snapshot), "%s", snap);
		res->bytes = bytes;
	}
out:
	free(snap);
	free(full);
	sendfmt_header_fini(&h);
	pool_close(pool);
	return r < 0 ? hull_err_prefix(err, "send %s", uuid) : 0;
}

int hull_instance_send_prune(const char *uuid, unsigned keep,
			     struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	if (!hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "Invalid UUID: %s", uuid);
	if (keep < 1)
		return hull_err_set(err, EINVAL,
				    "at least the newest send snapshot is "
				    "kept");
	struct pool *pool;
	int r = pool_open(&pool, err);
	if (r < 0)
		return r;
	int lock = inst_lock(uuid, true, err);
	if (lock < 0) {
		pool_close(pool);
		return lock;
	}
	struct pool_entry *e = NULL;
	size_t n = 0;
	r = pool_list_select(pool, uuid, POOL_LIST_NO_SPACE, &e, &n, err);
	unsigned long max = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		unsigned long v = send_number(&e[i], uuid);
		if (v > max)
			max = v;
	}
	/* send-N is numbered upward: everything more than keep below the
	 * newest goes, the newest (the next increment's base) never. */
	for (size_t i = 0; r == 0 && i < n && max > keep; i++) {
		unsigned long v = send_number(&e[i], uuid);
		if (v == 0 || v > max - keep)
			continue;
		r = pool_snapshot_destroy(pool, e[i].name, err);
	}
	pool_entries_free(e, n);
	hull_lock_release(lock);
	pool_close(pool);
	return r < 0 ? hull_err_prefix(err, "prune the send snapshots of %s",
				       uuid)
		     : 0;
}
