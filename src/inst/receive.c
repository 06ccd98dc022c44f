/*
 * receive.c - vmadm receive (include/hull/send.h): an instance from a
 * stream of vmadm send (inst/sendfmt.h).
 *
 * Everything the stream says is checked before anything is made: the
 * header (sendfmt_header_parse: the record is the header's instance, every
 * dataset is its own), the pool backend, that the instance is new here (a
 * full stream) or present and stopped with the base snapshot (an
 * incremental one), and the image. A full stream then follows create's
 * order (create.c): pending record (state `receiving` while the pending
 * lock is held, `failed` once it is not), datasets, the record rewritten
 * for this pool, pending record removed, boot when autoboot. Any failure
 * before the end undoes all of it. The backend's receive runs confined
 * (pool/btrfs.c); a thread feeds it the de-chunked stream through a pipe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hull/image.h"
#include "hull/send.h"
#include "inst/record.h"
#include "inst/sendfmt.h"
#include "inst/txn.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "pool/pool.h"
#include "supervisor/client.h"
#include "vm/idmap.h"
#include "vm/proptable.h"
#include "vm/record.h"

static int fd_read(void *arg, void *buf, size_t n, struct hull_err *err)
{
	int fd = *(int *)arg;
	uint8_t *p = buf;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return hull_err_sys(err, errno, "read the stream");
		if (r == 0)
			return -ENODATA;
		got += (size_t)r;
	}
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n, struct hull_err *err)
{
	int r = hull_write_all(fd, p, n);
	return r < 0 ? hull_err_sys(err, -r,
				    "the dataset's receive stopped reading")
		     : 0;
}

static int sink_pipe(void *arg, const uint8_t *p, size_t n,
		     struct hull_err *err)
{
	return write_all(*(int *)arg, p, n, err);
}

/* n bytes from the input into the sink's pipe with splice(2), the kernel
 * moving pages rather than this process copying them; an input splice
 * cannot take is copied. */
static int fd_move(void *arg, size_t n, void *sink_arg, struct hull_err *err)
{
	int in = *(int *)arg, out = *(int *)sink_arg;
	while (n) {
		ssize_t m = splice(in, NULL, out, NULL, n, SPLICE_F_MORE);
		if (m < 0 && errno == EINTR)
			continue;
		if (m < 0 && errno == EINVAL) {
			uint8_t b[65536];
			size_t k = n < sizeof(b) ? n : sizeof(b);
			int r = fd_read(arg, b, k, err);
			if (r == 0)
				r = write_all(out, b, k, err);
			if (r < 0)
				return r;
			n -= k;
			continue;
		}
		if (m < 0)
			return hull_err_sys(err, errno, "read the stream");
		if (m == 0)
			return -ENODATA;
		n -= (size_t)m;
	}
	return 0;
}

struct recv_job {
	struct pool *pool;
	const struct sendfmt_dataset *d;
	const char *parent_local; /* this pool's copy of d->parent */
	bool aside;		  /* pool_receive_aside */
	int fd;
	int r;
	struct hull_err err;
};

static void *recv_run(void *arg)
{
	struct recv_job *j = arg;
	hull_err_clear(&j->err);
	j->r = j->parent_local
		   ? pool_receive_from(j->pool, j->d->name, j->parent_local,
				       j->d->parent_id, j->d->parent_ctransid,
				       j->fd, &j->err)
	       : j->aside
		   ? pool_receive_aside(j->pool, j->d->name, j->fd, &j->err)
		   : pool_receive(j->pool, j->d->name, j->fd, &j->err);
	close(j->fd);
	return NULL;
}

/* One dataset: its chunks into the pool's receive. */
static int recv_dataset(struct pool *pool, const struct sendfmt_dataset *d,
			const char *parent_local, bool aside, int in,
			uint8_t *buf, struct hull_err *err)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return hull_err_sys(err, errno, "pipe");
	struct recv_job j = {.pool = pool,
			     .d = d,
			     .parent_local = parent_local,
			     .aside = aside,
			     .fd = pfd[0]};
	pthread_t t;
	if (pthread_create(&t, NULL, recv_run, &j) != 0) {
		close(pfd[0]);
		close(pfd[1]);
		return hull_err_set(err, EAGAIN, "cannot start a thread");
	}
	/* Pipes of 1 MiB (64 KiB by default): a chunk passes in one
	 * write instead of sixteen wake-ups of each side. */
	fcntl(pfd[0], F_SETPIPE_SZ, 1 << 20);
	struct sendfmt_reader rd = {fd_read, &in, fd_move};
	uint64_t total;
	int r = sendfmt_dataset_read(&rd, buf, sink_pipe, &pfd[1], &total, err);
	/* A short stream ends the backend's input early: its receive fails
	 * and undoes itself. */
	close(pfd[1]);
	pthread_join(t, NULL);
	if (r < 0) {
		/* The dataset may have completed before the framing broke. */
		if (j.r == 0 && !d->base)
			pool_dataset_destroy(pool, d->name, NULL);
		return hull_err_prefix(err, "dataset %s", d->name);
	}
	if (j.r < 0) {
		/* The pool names the dataset as "receive <name>: ", which
		 * the caller's prefix says already. */
		_cleanup_free_ char *pre = xasprintf("receive %s: ", d->name);
		const char *m = j.err.msg;
		if (!strncmp(m, pre, strlen(pre)))
			m += strlen(pre);
		return hull_err_set(err, j.err.code, "%s", m);
	}
	return 0;
}

/* Replaces the sender's zonepath at the start of s by ours. */
static void path_rebase(json_t *obj, const char *key, const char *from,
			const char *to)
{
	const char *s = hull_json_str(obj, key, NULL);
	size_t fl = strlen(from);
	if (!s || strncmp(s, from, fl) != 0 || (s[fl] != '/' && s[fl]))
		return;
	char *n = xasprintf("%s%s", to, s + fl);
	json_object_set_new(obj, key, json_string(n));
	free(n);
}

/* The record as this pool keeps it: paths under our zonepath. */
static json_t *record_local(const struct sendfmt_header *h)
{
	json_t *rec = json_deep_copy(h->record);
	_cleanup_free_ char *zp = hull_root_path("%s", h->uuid);
	json_object_set_new(rec, "zonepath", json_string(zp));
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(rec, "disks"), i, d)
	    path_rebase(d, "path", h->zonepath, zp);
	return rec;
}

/* A zone's image must be here; it is imported from this host's sources
 * when it is not. */
static int image_ensure(struct pool *pool, json_t *rec, struct hull_err *err)
{
	if (vm_brand_from_name(hull_json_str(rec, "brand", "")) & VM_BRANDS_HVM)
		return 0;
	const char *img = hull_json_str(rec, "image_uuid", NULL);
	if (!img)
		return 0;
	if (!hull_uuid_valid(img))
		return hull_err_set(err, EINVAL,
				    "the record names an invalid image_uuid");
	_cleanup_free_ char *snap = xasprintf("images/%s@final", img);
	if (pool_dataset_exists(pool, snap))
		return 0;
	struct hull_err ie;
	hull_err_clear(&ie);
	if (hull_image_import(img, NULL, NULL, &ie) < 0)
		return hull_err_set(err, ENOENT,
				    "Image %s is not installed here and could "
				    "not be imported: %s",
				    img, ie.msg);
	return 0;
}

/* The instance's own folders after the datasets came: what the sender's
 * running supervisor kept there is not ours. */
static int tidy(const char *uuid, struct hull_err *err)
{
	_cleanup_free_ char *run = hull_root_path("%s/run", uuid);
	_cleanup_free_ char *le = hull_root_path("%s/lastexited", uuid);
	int r = hull_rm_rf(run, err);
	if (r == 0 && unlink(le) < 0 && errno != ENOENT)
		r = hull_err_sys(err, errno, "remove %s", le);
	if (r == 0)
		r = hull_instance_secure(uuid, err);
	return r;
}

static void undo_full(struct pool *pool, const struct sendfmt_header *h,
		      const char *ppath)
{
	if (pool_dataset_exists(pool, h->uuid))
		pool_dataset_destroy(pool, h->uuid, NULL);
	unlink(ppath);
}

static int receive_full(struct pool *pool, const struct sendfmt_header *h,
			int in, uint8_t *buf, const struct hull_progress *pr,
			char uuid_out[HULL_INSTANCE_UUID_LEN + 1],
			struct hull_err *err)
{
	const char *uuid = h->uuid;
	if (vm_record_exists(uuid))
		return hull_err_set(err, EEXIST,
				    "VM %s already exists on this pool", uuid);
	/* A clone source is the instance's own image, nothing else of this
	 * pool's. */
	const char *img = hull_json_str(h->record, "image_uuid", "");
	for (size_t i = 0; i < h->nds; i++) {
		const char *par = h->ds[i].parent;
		if (par && (strlen(img) != HULL_UUID_LEN ||
			    strncmp(par + 7, img, HULL_UUID_LEN) != 0))
			return hull_err_set(err, EINVAL,
					    "the stream's clone source %s is "
					    "not the instance's image",
					    par);
	}
	int r = image_ensure(pool, h->record, err);
	if (r < 0)
		return r;
	json_t *rec = record_local(h);
	/* The sender's vmadm snapshots stay there: only send-N travels. */
	json_object_del(rec, "snapshots");
	_cleanup_free_ char *pdir = vm_pending_dir();
	_cleanup_free_ char *lpath = vm_pending_lock_path(uuid);
	_cleanup_free_ char *ppath = vm_pending_path(uuid);
	if ((r = hull_mkdir_p(pdir, 0700, err)) < 0) {
		json_decref(rec);
		return r;
	}
	int lock = hull_lock_take(lpath, true, err);
	if (lock < 0) {
		json_decref(rec);
		return lock;
	}
	if (vm_record_exists(uuid)) {
		r = hull_err_set(err, EEXIST,
				 "VM %s already exists on this pool", uuid);
		goto out;
	}
	/* A range of host ids of this pool's, as create picks it. */
	bool ids = json_object_get(rec, "hull_userns") != NULL;
	int idlock = -1;
	if (ids) {
		if ((idlock = vm_idmap_lock(err)) < 0 ||
		    (r = vm_idmap_assign(rec, err)) < 0) {
			r = idlock < 0 ? idlock : r;
			hull_lock_release(idlock);
			goto out;
		}
	}
	json_t *pend = json_deep_copy(rec);
	json_object_set_new(pend, "hull_receiving", json_true());
	r = vm_pending_write(pend, err);
	json_decref(pend);
	hull_lock_release(idlock);
	if (r < 0) {
		goto out;
	}
	uuid_out[0] = '\0';
	inst_progress(pr, HULL_STEP_PENDING, uuid, NULL);
	for (size_t i = 0; r == 0 && i < h->nds; i++) {
		const struct sendfmt_dataset *d = &h->ds[i];
		_cleanup_free_ char *plocal = NULL;
		if (d->parent) {
			/* The sender's image snapshot names the image by
			 * uuid; this pool's copy of it is the parent. */
			plocal = xstrdup(d->parent);
			if (!pool_dataset_exists(pool, plocal))
				r = hull_err_set(err, ENOENT,
						 "the stream needs %s, which "
						 "this pool lacks",
						 plocal);
		}
		if (r == 0)
			r = recv_dataset(pool, d, plocal, false, in, buf, err);
	}
	if (r == 0) {
		struct sendfmt_reader rd = {fd_read, &in};
		r = sendfmt_end_read(&rd, err);
	}
	if (r == 0)
		inst_progress(pr, HULL_STEP_CLONE, uuid, NULL);
	if (r == 0)
		r = tidy(uuid, err);
	if (r == 0)
		r = vm_record_save(rec, err);
	if (r < 0) {
		undo_full(pool, h, ppath);
		unlink(lpath);
		goto out;
	}
	inst_progress(pr, HULL_STEP_RECORD, uuid, NULL);
	unlink(ppath);
	unlink(lpath);
	snprintf(uuid_out, HULL_INSTANCE_UUID_LEN + 1, "%s", uuid);
	inst_progress(pr, HULL_STEP_DONE, uuid, NULL);
out:
	hull_lock_release(lock);
	json_decref(rec);
	return r;
}

/* One disk file of the received snapshot into the head, beside the old
 * one that the running QEMU holds, then renamed over it: the old file
 * stays QEMU's until it is pointed at the new one. A clone of the
 * extents where the filesystem shares them (btrfs). */
static int disk_take(const char *from, const char *dir, const char *name,
		     struct hull_err *err)
{
	_cleanup_free_ char *to = xasprintf("%s/%s", dir, name);
	_cleanup_free_ char *tmp = xasprintf("%s/.%s.live", dir, name);
	struct stat st;
	if (stat(to, &st) < 0)
		return hull_err_sys(err, errno, "%s", to);
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return hull_err_sys(err, errno, "%s", from);
	unlink(tmp);
	int out =
	    open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		 st.st_mode & 07777);
	int r = out < 0 ? hull_err_sys(err, errno, "%s", tmp) : 0;
	if (r == 0 && (fchown(out, st.st_uid, st.st_gid) < 0 ||
		       fchmod(out, st.st_mode & 07777) < 0))
		r = hull_err_sys(err, errno, "%s", tmp);
	if (r == 0 && (r = hull_fd_copy(in, out)) < 0)
		r = hull_err_sys(err, -r, "copy to %s", tmp);
	close(in);
	if (out >= 0)
		close(out);
	if (r == 0 && rename(tmp, to) < 0)
		r = hull_err_sys(err, errno, "%s", to);
	if (r < 0)
		unlink(tmp);
	return r;
}

/* A held receive (hull_instance_receive_held): the disks of each
 * received snapshot into the dataset's head, which the increment did not
 * replace. */
static int disks_take(struct pool *pool, const struct sendfmt_header *h,
		      struct hull_err *err)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < h->nds; i++) {
		_cleanup_free_ char *snap =
		    xasprintf("%s@%s", h->ds[i].name, h->ds[i].snapshot);
		_cleanup_free_ char *sp = pool_dataset_path(pool, snap);
		_cleanup_free_ char *hp =
		    pool_dataset_path(pool, h->ds[i].name);
		_cleanup_free_ char *from = xasprintf("%s/disks", sp);
		_cleanup_free_ char *to = xasprintf("%s/disks", hp);
		DIR *d = opendir(from);
		if (!d) {
			if (errno != ENOENT)
				r = hull_err_sys(err, errno, "%s", from);
			continue;
		}
		struct dirent *e;
		while (r == 0 && (e = readdir(d))) {
			if (e->d_type != DT_REG || e->d_name[0] == '.')
				continue;
			_cleanup_free_ char *f =
			    xasprintf("%s/%s", from, e->d_name);
			r = disk_take(f, to, e->d_name, err);
		}
		closedir(d);
	}
	return r;
}

static int receive_incremental(struct pool *pool,
			       const struct sendfmt_header *h, int in,
			       uint8_t *buf, const struct hull_progress *pr,
			       bool held,
			       char uuid_out[HULL_INSTANCE_UUID_LEN + 1],
			       struct hull_err *err)
{
	const char *uuid = h->uuid;
	bool pending;
	json_t *here = vm_record_load_raw(uuid, &pending, NULL);
	if (!here || pending) {
		json_decref(here);
		return hull_err_set(err, ENOENT,
				    "VM %s is not on this pool: an incremental "
				    "stream needs it with snapshot %s",
				    uuid, h->ds[0].base);
	}
	json_decref(here);
	int lock = inst_lock(uuid, true, err);
	if (lock < 0)
		return lock;
	int r = 0;
	json_t *rec = NULL;
	if (!held && supervisor_alive(uuid))
		r = hull_err_set(err, EBUSY,
				 "VM %s is running here: stop it before "
				 "receiving an increment",
				 uuid);
	for (size_t i = 0; r == 0 && i < h->nds; i++) {
		_cleanup_free_ char *b =
		    xasprintf("%s@%s", h->ds[i].name, h->ds[i].base);
		if (!pool_dataset_exists(pool, b))
			r = hull_err_set(err, ENOENT,
					 "VM %s has no snapshot %s here to "
					 "receive the increment on",
					 uuid, h->ds[i].base);
	}
	if (r == 0 && !(here = inst_record_load(uuid, err)))
		r = -err->code;
	if (r < 0)
		goto out;
	/* This pool's host id range stays the instance's. */
	rec = record_local(h);
	/* What is this pool's stays: the host id range, and the vmadm
	 * snapshots taken here (the sender's are not here). */
	static const char *const own[] = {"hull_userns", "snapshots"};
	for (size_t i = 0; i < sizeof(own) / sizeof(*own); i++) {
		json_t *v = json_object_get(here, own[i]);
		if (v)
			json_object_set(rec, own[i], v);
		else
			json_object_del(rec, own[i]);
	}
	json_decref(here);
	for (size_t i = 0; r == 0 && i < h->nds; i++)
		r = recv_dataset(pool, &h->ds[i], NULL, held, in, buf, err);
	if (r == 0) {
		struct sendfmt_reader rd = {fd_read, &in};
		r = sendfmt_end_read(&rd, err);
		/* The increment is in: a broken end leaves it, as a
		 * later send can build on it. */
	}
	if (r == 0)
		r = held ? disks_take(pool, h, err) : tidy(uuid, err);
	if (r == 0)
		r = vm_record_save(rec, err);
	if (r == 0) {
		snprintf(uuid_out, HULL_INSTANCE_UUID_LEN + 1, "%s", uuid);
		inst_progress(pr, HULL_STEP_RECORD, uuid, NULL);
	}
out:
	json_decref(rec);
	hull_lock_release(lock);
	return r;
}

static int receive_stream(int fd, const struct hull_progress *pr, bool held,
			  char uuid_out[HULL_INSTANCE_UUID_LEN + 1],
			  struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	uuid_out[0] = '\0';
	uint8_t intro[SENDFMT_INTRO_LEN];
	uint32_t version, hlen;
	struct sendfmt_reader rd = {fd_read, &fd};
	int r = rd.read(rd.arg, intro, sizeof(intro), err);
	if (r == -ENODATA)
		r = hull_err_set(err, EINVAL,
				 "the stream is empty or too "
				 "short for a vmadm send "
				 "stream");
	if (r == 0)
		r = sendfmt_intro_parse(intro, &version, &hlen, err);
	if (r < 0)
		return hull_err_prefix(err, "receive");
	char *text = xmalloc(hlen);
	r = rd.read(rd.arg, text, hlen, err);
	if (r == -ENODATA)
		r = hull_err_set(err, EPIPE, "the stream ends in its header");
	struct sendfmt_header h;
	memset(&h, 0, sizeof(h));
	if (r == 0)
		r = sendfmt_header_parse(text, hlen, version, &h, err);
	free(text);
	if (r < 0)
		return hull_err_prefix(err, "receive");
	struct pool *pool;
	if ((r = pool_open(&pool, err)) < 0) {
		sendfmt_header_fini(&h);
		return r;
	}
	const char *mine = pool_backend_name(pool_backend_get(pool));
	bool incr = h.ds[0].base != NULL;
	for (size_t i = 1; r == 0 && i < h.nds; i++)
		if ((h.ds[i].base != NULL) != incr)
			r = hull_err_set(err, EINVAL,
					 "the stream mixes full and "
					 "incremental datasets");
	if (r == 0 && held && !incr)
		r = hull_err_set(err, EINVAL,
				 "a full stream cannot be received under a "
				 "running instance");
	if (r == 0 && strcmp(mine, h.backend) != 0)
		r = hull_err_set(err, ENOTSUP,
				 "the stream comes from a %s pool; this pool "
				 "is %s",
				 h.backend, mine);
	uint8_t *buf = xmalloc(SENDFMT_CHUNK_MAX);
	if (r == 0)
		r = incr ? receive_incremental(pool, &h, fd, buf, pr, held,
					       uuid_out, err)
			 : receive_full(pool, &h, fd, buf, pr, uuid_out, err);
	free(buf);
	if (r < 0) {
		hull_err_prefix(err, "receive %s", h.uuid);
		goto out;
	}
	json_t *vm = vm_record_load(h.uuid, NULL);
	if (vm)
		inst_fw_reload_for(vm, NULL);
	inst_progress(pr, HULL_STEP_CREATED, h.uuid, NULL);
	/* A live stream's original still runs: starting the copy would put
	 * the same addresses on the network twice. */
	if (vm && !h.live && hull_json_bool(vm, "autoboot", true)) {
		int lock = inst_lock(h.uuid, true, err);
		r = lock < 0 ? lock : inst_start_locked(h.uuid, pr, err);
		hull_lock_release(lock);
		if (r < 0)
			hull_err_prefix(err, "start %s", h.uuid);
		else
			r = 0;
	}
	json_decref(vm);
out:
	sendfmt_header_fini(&h);
	pool_close(pool);
	return r;
}

int hull_instance_receive(int fd, const struct hull_progress *pr,
			  char uuid_out[HULL_INSTANCE_UUID_LEN + 1],
			  struct hull_err *err)
{
	return receive_stream(fd, pr, false, uuid_out, err);
}

int hull_instance_receive_held(int fd, const struct hull_progress *pr,
			       char uuid_out[HULL_INSTANCE_UUID_LEN + 1],
			       struct hull_err *err)
{
	return receive_stream(fd, pr, true, uuid_out, err);
}
