/*
 * store.c - the record-file store (see store.h).
 */
#include "metadata/store.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/lock.h"
#include "lib/xalloc.h"
#include "vm/mdfiles.h"

struct metadata_file_store {
	char *path;
	char *lock_path;
	char *dir;			 /* the record's folder */
	struct vm_mdfiles_cache *values; /* its large values, see mdfiles.h */
	json_t *cached;			 /* the record as last read, or NULL */
	struct stat seen;		 /* the file it was read from */
	int seen_fd;			 /* held open, see load() */
	/* Token bucket for writes: each is an fsync'd rewrite of the record,
	 * and the disk is shared with every other instance. */
	double tokens, burst, per_sec;
	struct timespec refilled;
};

struct metadata_file_store *metadata_file_store_new(const char *path)
{
	struct metadata_file_store *fs = xcalloc(1, sizeof(*fs));
	char *copy = xstrdup(path);
	fs->path = xstrdup(path);
	fs->dir = xstrdup(dirname(copy));
	fs->lock_path = xasprintf("%s/.lock", fs->dir);
	fs->values = vm_mdfiles_cache_new();
	fs->seen_fd = -1;
	free(copy);
	metadata_file_store_set_rate(fs, 20, 200);
	return fs;
}

void metadata_file_store_set_rate(struct metadata_file_store *fs,
				  double per_sec, double burst)
{
	fs->per_sec = per_sec;
	fs->burst = fs->tokens = burst;
	clock_gettime(CLOCK_MONOTONIC, &fs->refilled);
}

static bool write_allowed(struct metadata_file_store *fs)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt = (double)(now.tv_sec - fs->refilled.tv_sec) +
		    (double)(now.tv_nsec - fs->refilled.tv_nsec) / 1e9;
	fs->refilled = now;
	fs->tokens += dt * fs->per_sec;
	if (fs->tokens > fs->burst)
		fs->tokens = fs->burst;
	if (fs->tokens < 1)
		return false;
	fs->tokens -= 1;
	return true;
}

void metadata_file_store_free(struct metadata_file_store *fs)
{
	if (!fs)
		return;
	json_decref(fs->cached);
	if (fs->seen_fd >= 0)
		close(fs->seen_fd);
	vm_mdfiles_cache_free(fs->values);
	free(fs->path);
	free(fs->lock_path);
	free(fs->dir);
	free(fs);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Every writer replaces the record by rename, so a new record is a new
 * inode. Holding the file last read open keeps its inode number from being
 * given to the next record, so comparing inode numbers (with size and
 * times for writers that edit in place) never mistakes a new record for
 * the cached one, however fast the rewrites come. */
static json_t *load_once(struct metadata_file_store *fs, bool fresh,
			 struct hull_err *err)
{
	struct stat st;
	if (stat(fs->path, &st) < 0) {
		hull_err_sys(err, errno, "instance record %s", fs->path);
		return NULL;
	}
	if (!fresh && fs->cached && same_file(&st, &fs->seen))
		return json_incref(fs->cached);

	int fd = open(fs->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		hull_err_sys(err, errno, "instance record %s", fs->path);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (st.st_size > (off_t)HULL_JSON_MAX_FILE) {
		close(fd);
		hull_err_set(err, EFBIG, "%s: too large", fs->path);
		return NULL;
	}
	size_t size = (size_t)st.st_size, got = 0;
	char *buf = xmalloc(size + 1);
	while (got < size) {
		ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	json_t *j =
	    got == size ? hull_json_load_buf(fs->path, buf, size, err) : NULL;
	if (got != size)
		hull_err_set(err, EIO, "%s: short read", fs->path);
	free(buf);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
		hull_err_set(err, EINVAL, "%s: not a JSON object", fs->path);
	}
	/* Large values come from their side files; the ones already known
	 * (by content hash) are not read again. */
	if (j && vm_mdfiles_inline(j, fs->dir, fs->values, err) < 0) {
		json_decref(j);
		j = NULL;
	}
	if (!j) {
		close(fd);
		return NULL;
	}
	json_decref(fs->cached);
	fs->cached = json_incref(j);
	fs->seen = st;
	if (fs->seen_fd >= 0)
		close(fs->seen_fd);
	fs->seen_fd = fd;
	return j;
}

/* A side file missing is a record replaced (and its old values' files
 * removed) between our reading it and them: read the new one. */
static json_t *load(struct metadata_file_store *fs, bool fresh,
		    struct hull_err *err)
{
	for (int tries = 0;; tries++) {
		json_t *j = load_once(fs, fresh, err);
		if (j || err->code != ENOENT || tries == 4)
			return j;
	}
}

static json_t *file_read(void *ctx, struct hull_err *err)
{
	return load(ctx, false, err);
}

/* The instance lock, waited for at most LOCK_WAIT_MS. A vmadm command
 * holds it for milliseconds; the server must not stall every other client
 * of the instance behind one that holds it long, so past the wait the PUT
 * or DELETE fails (EBUSY) and the guest may try again. */
#define LOCK_WAIT_MS 250

static int lock_take_bounded(const char *path, struct hull_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "lock %s", path);
	for (int waited = 0;; waited += 5) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		int e = errno;
		if (e != EWOULDBLOCK && e != EINTR) {
			close(fd);
			return hull_err_sys(err, e, "lock %s", path);
		}
		if (waited >= LOCK_WAIT_MS) {
			close(fd);
			return hull_err_set(err, EBUSY,
					    "lock %s: held by another command",
					    path);
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* A copy edit may change freely, except that the metadata values
 * themselves are shared with the cached record rather than copied: a
 * value is replaced, never changed in place, and sharing it lets the side
 * file store know a large value it has already written without hashing it
 * again (a PUT of a small key then costs the small record only). */
static json_t *copy_for_edit(json_t *rec)
{
	json_t *copy = json_copy(rec);
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(copy, tmp, k, v)
	{
		bool md = !strcmp(k, "customer_metadata") ||
			  !strcmp(k, "internal_metadata");
		if (json_is_object(v) || json_is_array(v))
			json_object_set_new(copy, k,
					    md && json_is_object(v)
						? json_copy(v)
						: json_deep_copy(v));
	}
	return copy;
}

static int file_modify(void *ctx, int (*edit)(json_t *, void *), void *arg,
		       struct hull_err *err)
{
	struct metadata_file_store *fs = ctx;
	if (!write_allowed(fs))
		return hull_err_set(err, EBUSY, "%s: too many updates",
				    fs->path);
	int lock = lock_take_bounded(fs->lock_path, err);
	if (lock < 0)
		return lock;
	/* Read afresh under the lock (a stat can miss a rewrite within one
	 * timestamp tick), and edit a copy: the cached record is shared. */
	json_t *cur = load(fs, true, err);
	int r = cur ? 0 : -err->code;
	json_t *copy = cur ? copy_for_edit(cur) : NULL;
	json_decref(cur);
	if (copy) {
		r = edit(copy, arg);
		if (r == 0)
			r = vm_mdfiles_save(fs->path, copy, fs->values, err);
	}
	json_decref(copy);
	hull_lock_release(lock);
	return r;
}

void metadata_file_store_bind(struct metadata_file_store *fs,
			      struct metadata_store *out)
{
	out->read = file_read;
	out->modify = file_modify;
	out->change = NULL;
	out->ctx = fs;
}
