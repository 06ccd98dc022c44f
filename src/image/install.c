/*
 * install.c - installing an image into the pool, all or nothing (see
 * install.h).
 *
 * The sequence mirrors SmartOS's import: content goes into
 * images/<uuid>-partial, is checked (size before, SHA-1 while unpacking, so
 * the file is read once), gets its @final snapshot, and only then is renamed
 * to images/<uuid> and its manifest record written. Every failure before the
 * rename destroys the partial dataset; a failure after it renames back.
 */
#include "image/install.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/manifest.h"
#include "image/store.h"
#include "image/unpack.h"
#include "lib/digest.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"

struct image_txn {
	struct pool *pool;
	json_t *manifest;
	char uuid[37];
	char *partial; /* dataset name images/<uuid>-partial */
	char *final;   /* dataset name images/<uuid> */
	char *path;    /* absolute path of the partial dataset */
	int lock_fd;
};

static int install_lock(int how, struct hull_err *err)
{
	int fd = open(hull_root(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", hull_root());
	while (flock(fd, how) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return hull_err_sys(err, e, "lock %s", hull_root());
		}
	}
	return fd;
}

int image_install_lock(struct hull_err *err)
{
	return install_lock(LOCK_EX, err);
}

static void txn_free(struct image_txn *t)
{
	if (!t)
		return;
	json_decref(t->manifest);
	free(t->partial);
	free(t->final);
	free(t->path);
	if (t->lock_fd >= 0)
		close(t->lock_fd);
	free(t);
}

int image_install_begin(struct pool *pool, json_t *manifest,
			struct image_txn **out, struct hull_err *err)
{
	const char *uuid = hull_json_str(manifest, "uuid", NULL);
	if (!uuid || strlen(uuid) != 36)
		return hull_err_set(err, EINVAL, "manifest: uuid is missing");
	struct image_txn *t = xcalloc(1, sizeof(*t));
	t->pool = pool;
	t->lock_fd = -1;
	t->manifest = json_incref(manifest);
	memcpy(t->uuid, uuid, 37);
	t->final = xasprintf("images/%s", uuid);
	t->partial = xasprintf("images/%s-partial", uuid);
	int r = image_install_lock(err);
	if (r < 0)
		goto fail;
	t->lock_fd = r;
	if (pool_dataset_exists(pool, t->final)) {
		r = hull_err_set(err, EEXIST, "image %s is already installed",
				 uuid);
		goto fail;
	}
	/* Left over by an install that was killed: we hold the lock, so
	 * nobody is writing it. */
	if (pool_dataset_exists(pool, t->partial) &&
	    (r = pool_dataset_destroy(pool, t->partial, err)) < 0)
		goto fail;
	if ((r = pool_dataset_create(pool, t->partial, err)) < 0)
		goto fail;
	t->path = pool_dataset_path(pool, t->partial);
	*out = t;
	return 0;
fail:
	txn_free(t);
	return r;
}

const char *image_txn_path(const struct image_txn *txn)
{
	return txn->path;
}

void image_install_abort(struct image_txn *t)
{
	if (!t)
		return;
	if (t->path)
		pool_dataset_destroy(t->pool, t->partial, NULL);
	txn_free(t);
}

int image_install_commit(struct image_txn *t, const char *source,
			 struct hull_err *err)
{
	_cleanup_free_ char *snap = xasprintf("%s@final", t->partial);
	int r = pool_snapshot_create(t->pool, snap, err);
	if (r < 0)
		goto fail;
	if ((r = pool_dataset_rename(t->pool, t->partial, t->final, err)) < 0)
		goto fail;
	json_t *rec =
	    json_pack("{s:O, s:s?}", "manifest", t->manifest, "source", source);
	r = image_store_record_write(t->uuid, rec, err);
	json_decref(rec);
	if (r < 0) {
		pool_dataset_rename(t->pool, t->final, t->partial, NULL);
		goto fail;
	}
	free(t->path);
	t->path = NULL;
	txn_free(t);
	return 0;
fail:
	hull_err_prefix(err, "install %s", t->uuid);
	image_install_abort(t);
	return r;
}

/* ---- install -m -f ---- */

struct sha1_tap {
	struct hull_digest *d;
	uint64_t bytes;
};

static void sha1_feed(void *ctx, const void *buf, size_t len)
{
	struct sha1_tap *s = ctx;
	hull_digest_update(s->d, buf, len);
	s->bytes += len;
}

static void sha1_hex(struct sha1_tap *s, char out[41])
{
	char hex[HULL_DIGEST_HEX_MAX];
	hull_digest_hex(s->d, hex); /* 40 digits */
	memcpy(out, hex, 41);
}

static void sha1_init(struct sha1_tap *s)
{
	s->d = hull_digest_new(HULL_DIGEST_SHA1, NULL);
	if (!s->d)
		abort(); /* libcrypto missing: a broken install */
	s->bytes = 0;
}

int image_file_sha1(const char *path, char out[41], struct hull_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	struct sha1_tap s;
	sha1_init(&s);
	char *buf = xmalloc(1 << 20);
	int r = 0;
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = hull_err_sys(err, errno, "read %s", path);
			break;
		}
		if (n == 0)
			break;
		sha1_feed(&s, buf, (size_t)n);
	}
	free(buf);
	close(fd);
	sha1_hex(&s, out);
	hull_digest_free(s.d);
	return r;
}

/* Reads the rest of fd into the hash (after a failed unpack, to tell a
 * damaged download from a damaged image). */
static void sha1_finish_fd(struct sha1_tap *s, int fd)
{
	char *buf = xmalloc(1 << 20);
	ssize_t n;
	while ((n = read(fd, buf, 1 << 20)) > 0)
		sha1_feed(s, buf, (size_t)n);
	free(buf);
}

int image_install_file(struct pool *pool, json_t *manifest, const char *file,
		       const char *source, uint64_t *nodes_dropped,
		       struct hull_err *err)
{
	json_t *f0 = json_array_get(json_object_get(manifest, "files"), 0);
	if (!f0)
		return hull_err_set(err, EINVAL,
				    "manifest: files: needs one entry to "
				    "install from a file");
	const char *want_sha1 = hull_json_str(f0, "sha1", "");
	json_int_t want_size = hull_json_int(f0, "size", -1);
	const char *comp = hull_json_str(f0, "compression", "none");
	const char *type = hull_json_str(manifest, "type", "");

	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "%s", file);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return hull_err_sys(err, errno, "%s", file);
	if (!S_ISREG(st.st_mode))
		return hull_err_set(err, EINVAL, "%s: not a regular file",
				    file);
	if ((json_int_t)st.st_size != want_size)
		return hull_err_set(err, EINVAL,
				    "%s: size mismatch: file has %lld bytes, "
				    "manifest says %lld",
				    file, (long long)st.st_size,
				    (long long)want_size);

	struct image_budget b;
	int r = image_budget_get(pool, file, (uint64_t)st.st_size, &b, err);
	if (r < 0)
		return r;
	struct image_txn *t;
	if ((r = image_install_begin(pool, manifest, &t, err)) < 0)
		return r;

	struct sha1_tap s;
	sha1_init(&s);
	/* zvol images give the disk's size in MiB; a stream that decompresses
	 * to more is not the image the manifest describes. */
	json_int_t mib = hull_json_int(manifest, "image_size", 0);
	struct unpack_opts o = {.compression = comp,
				.tap = sha1_feed,
				.tap_ctx = &s,
				.limit = b.limit,
				.limit_why = b.why,
				.max_disk = mib > 0 ? (uint64_t)mib << 20 : 0,
				.nodes_dropped = nodes_dropped};
	if (!strcmp(type, "zvol")) {
		_cleanup_free_ char *disk = xasprintf("%s/disk", t->path);
		r = image_unpack_raw_fd(fd, disk, &o, err);
	} else {
		_cleanup_free_ char *root = xasprintf("%s/root", t->path);
		if (mkdir(root, 0755) < 0)
			r = hull_err_sys(err, errno, "mkdir %s", root);
		else
			r = image_unpack_fd(fd, root, &o, err);
	}
	if (r < 0)
		sha1_finish_fd(&s, fd);
	char got[41];
	sha1_hex(&s, got);
	hull_digest_free(s.d);
	if (strcasecmp(got, want_sha1) != 0) {
		/* The bytes are not what the manifest describes: that is the
		 * problem to report, whatever unpacking made of them. */
		image_install_abort(t);
		return hull_err_set(err, EINVAL,
				    "%s: sha1 mismatch: file has %s, manifest "
				    "says %s",
				    file, got, want_sha1);
	}
	if (r < 0) {
		image_install_abort(t);
		return hull_err_prefix(err, "%s", file);
	}
	return image_install_commit(t, source, err);
}

/* ---- limits ---- */

#define MiB (1ull << 20)

static int max_expansion(uint64_t *ratio, struct hull_err *err)
{
	const char *env = getenv("IMGADM_MAX_EXPANSION");
	*ratio = IMAGE_MAX_EXPANSION;
	if (!env || !*env)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(env, &end, 10);
	if (errno || *end || env[0] == '-' || v > 1000000)
		return hull_err_set(err, EINVAL,
				    "IMGADM_MAX_EXPANSION: not a ratio from 0 "
				    "to 1000000: '%.40s'",
				    env);
	*ratio = v;
	return 0;
}

int image_budget_get(struct pool *pool, const char *what, uint64_t compressed,
		     struct image_budget *b, struct hull_err *err)
{
	uint64_t ratio, size, avail;
	int r = max_expansion(&ratio, err);
	if (r < 0)
		return r;
	if ((r = pool_usage(pool, &size, &avail, err)) < 0)
		return r;
	if (avail < compressed)
		return hull_err_sys(
		    err, ENOSPC,
		    "%s: %llu MiB, but the pool has %llu MiB "
		    "free",
		    what, (unsigned long long)((compressed + MiB - 1) / MiB),
		    (unsigned long long)(avail / MiB));
	uint64_t reserve = size / 100;
	if (reserve < 16 * MiB)
		reserve = 16 * MiB;
	if (reserve > 4096 * MiB)
		reserve = 4096 * MiB;
	/* A small pool (a test's tmpfs, a lab's loop file) keeps an eighth
	 * of itself rather than the 16 MiB floor, which would leave it none. */
	if (reserve > size / 8)
		reserve = size / 8;
	uint64_t room = avail > reserve ? avail - reserve : 0;
	/* Even an empty archive writes a little: never a limit of 0, which
	 * would mean none. */
	if (room == 0)
		room = 1;
	b->limit = room;
	snprintf(b->why, sizeof(b->why),
		 "the pool's free space less a reserve of %llu MiB",
		 (unsigned long long)(reserve / MiB));
	if (ratio && compressed <= room / ratio) {
		/* Small images get at least a few MiB: the tar records around
		 * a tiny file are themselves most of what is compressed. */
		uint64_t cap = compressed * ratio;
		if (cap < 4 * MiB)
			cap = 4 * MiB;
		if (cap < room) {
			b->limit = cap;
			snprintf(b->why, sizeof(b->why),
				 "%llu times its compressed size; "
				 "IMGADM_MAX_EXPANSION sets that ratio",
				 (unsigned long long)ratio);
		}
	}
	return 0;
}

/* ---- what killed imports leave ---- */

#define SCRATCH_PREFIX ".oci-"

int image_scratch_make(char **path, int *lock_fd, struct hull_err *err)
{
	_cleanup_free_ char *var = hull_root_path("var");
	/* A sweep that found the new folder before it was locked may remove
	 * it meanwhile: then it is gone (no links) and we make another. */
	for (int tries = 0; tries < 8; tries++) {
		char *tmpl = xasprintf("%s/" SCRATCH_PREFIX "XXXXXX", var);
		if (!mkdtemp(tmpl)) {
			int r = hull_err_sys(err, errno, "mkdtemp %s", tmpl);
			free(tmpl);
			return r;
		}
		int fd =
		    open(tmpl, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd >= 0 && flock(fd, LOCK_EX) == 0 && fstat(fd, &st) == 0 &&
		    st.st_nlink > 0) {
			*path = tmpl;
			*lock_fd = fd;
			return 0;
		}
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (fd < 0 && e != ENOENT) {
			int r = hull_err_sys(err, e, "open %s", tmpl);
			free(tmpl);
			return r;
		}
		free(tmpl);
	}
	return hull_err_set(err, EAGAIN, "cannot make a scratch folder in %s",
			    var);
}

static int scratch_clean(json_t *removed, struct hull_err *err)
{
	_cleanup_free_ char *var = hull_root_path("var");
	_cleanup_close_ int vfd =
	    open(var, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (vfd < 0)
		return errno == ENOENT
			   ? 0
			   : hull_err_sys(err, errno, "open %s", var);
	int dfd = fcntl(vfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		return hull_err_sys(err, e, "open %s", var);
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, SCRATCH_PREFIX, strlen(SCRATCH_PREFIX)))
			continue;
		int fd =
		    openat(vfd, de->d_name,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Held: an import is using it. Free: its import is gone. The
		 * lock is kept while removing, so a new import that made the
		 * same name meanwhile waits and then sees it gone. */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			r = image_rm_rf_at(vfd, de->d_name, err);
			if (r == 0) {
				_cleanup_free_ char *n =
				    xasprintf("var/%s", de->d_name);
				json_array_append_new(removed, json_string(n));
			}
		}
		close(fd);
	}
	closedir(d);
	return r;
}

static int partials_remove(struct pool *pool, json_t *removed,
			   struct hull_err *err)
{
	struct pool_entry *e;
	size_t n;
	int r = pool_list_select(pool, "images",
				 POOL_LIST_NO_SPACE | POOL_LIST_NO_SNAPSHOTS,
				 &e, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t len = strlen(e[i].name);
		if (len < 8 || strcmp(e[i].name + len - 8, "-partial"))
			continue;
		if ((r = pool_dataset_destroy(pool, e[i].name, err)) == 0)
			json_array_append_new(removed, json_string(e[i].name));
	}
	pool_entries_free(e, n);
	return r;
}

int image_leftovers_clean(struct pool *pool, json_t **removed,
			  struct hull_err *err)
{
	*removed = json_array();
	int r = scratch_clean(*removed, err);
	if (r < 0)
		return r;
	int lock = install_lock(LOCK_EX | LOCK_NB, err);
	if (lock == -EWOULDBLOCK) {
		hull_err_clear(err);
		return 0;
	}
	if (lock < 0)
		return lock;
	r = partials_remove(pool, *removed, err);
	close(lock);
	return r;
}

int image_install_partials_clean(struct pool *pool, json_t **removed,
				 struct hull_err *err)
{
	*removed = json_array();
	int lock = image_install_lock(err);
	if (lock < 0)
		return lock;
	int r = partials_remove(pool, *removed, err);
	close(lock);
	return r;
}
