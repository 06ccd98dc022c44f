/*
 * pool.c - the dataset layer over its backends (see pool.h, and name.c for
 * the on-disk layout).
 *
 * Every mutating operation runs under the pool lock (R/var/pool.lock) and
 * is ordered so that one last step commits it: a new dataset's record is
 * made under a temporary name and renamed into place, a destroyed one is
 * first moved aside into a trash entry. A failure before the commit undoes
 * what was done, so the pool is left as it was.
 */
#include "pool/pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/strv.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "pool/backend.h"
#include "pool/name.h"

/* ---- handle ---- */

const char *pool_backend_name(enum pool_backend b)
{
	return b == POOL_BACKEND_BTRFS ? "btrfs" : "dir";
}

int pool_backend_parse(const char *s, enum pool_backend *out)
{
	if (s && strcmp(s, "btrfs") == 0)
		*out = POOL_BACKEND_BTRFS;
	else if (s && strcmp(s, "dir") == 0)
		*out = POOL_BACKEND_DIR;
	else
		return -1;
	return 0;
}

int pool_open(struct pool **out, struct hull_err *err)
{
	int r = hull_root_check(err);
	if (r < 0)
		return r;
	_cleanup_free_ char *cfg = hull_root_path("var/pool.json");
	json_t *j = hull_json_load_file(cfg, err);
	if (!j)
		return -err->code;
	enum pool_backend b;
	const char *name = hull_json_str(j, "backend", NULL);
	if (pool_backend_parse(name, &b) < 0) {
		r = hull_err_set(err, EINVAL, "%s: unknown backend %s", cfg,
				 name ? name : "(none)");
		json_decref(j);
		return r;
	}
	bool simple = strcmp(hull_json_str(j, "quotas", ""), "simple") == 0;
	json_decref(j);

	struct pool *p = xcalloc(1, sizeof(*p));
	p->simple_quotas = simple;
	p->root = xstrdup(hull_root());
	p->backend = b;
	p->ops = b == POOL_BACKEND_BTRFS ? &pool_btrfs_ops : &pool_dir_ops;
	p->lock_fd = -1;
	*out = p;
	return 0;
}

void pool_close(struct pool *p)
{
	if (!p)
		return;
	hull_lock_release(p->lock_fd);
	free(p->root);
	free(p);
}

enum pool_backend pool_backend_get(const struct pool *p)
{
	return p->backend;
}

const char *pool_root_path(const struct pool *p)
{
	return p->root;
}

/* The pool lock, re-entrant within one handle. */
int pool_lock(struct pool *p, struct hull_err *err)
{
	if (p->depth++ > 0)
		return 0;
	_cleanup_free_ char *path = xasprintf("%s/var/pool.lock", p->root);
	int fd = hull_lock_take(path, true, err);
	if (fd < 0) {
		p->depth = 0;
		return fd;
	}
	p->lock_fd = fd;
	return 0;
}

void pool_unlock(struct pool *p)
{
	if (p->depth > 0 && --p->depth == 0) {
		hull_lock_release(p->lock_fd);
		p->lock_fd = -1;
	}
}

/* ---- paths ---- */

char *pool_meta_dir(const struct pool *p, const char *ds)
{
	_cleanup_free_ char *enc = pool_name_encode(ds);
	return xasprintf("%s/.snapshots/%s", p->root, enc);
}

char *pool_dataset_path(const struct pool *p, const char *name)
{
	const char *at = strchr(name, '@');
	if (!at)
		return xasprintf("%s/%s", p->root, name);
	_cleanup_free_ char *ds = xstrndup(name, (size_t)(at - name));
	_cleanup_free_ char *m = pool_meta_dir(p, ds);
	return xasprintf("%s/%s", m, at + 1);
}

bool pool_dataset_exists(const struct pool *p, const char *name)
{
	if (pool_snapshot_name_valid(name)) {
		_cleanup_free_ char *path = pool_dataset_path(p, name);
		return hull_path_exists(path);
	}
	if (!pool_dataset_name_valid(name))
		return false;
	_cleanup_free_ char *m = pool_meta_dir(p, name);
	return hull_is_dir(m);
}

/* A unique name for a temporary entry in R/.snapshots. */
char *pool_temp_path(const struct pool *p, const char *what)
{
	/* atomic: threads of one process share the pid */
	static _Atomic unsigned seq;
	return xasprintf("%s/.snapshots/.%s-%d-%u", p->root, what, getpid(),
			 seq++);
}

static bool parent_exists(const struct pool *p, const char *name)
{
	_cleanup_free_ char *path = pool_dataset_path(p, name);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	return hull_is_dir(path);
}

static int check_dataset(const struct pool *p, const char *name,
			 struct hull_err *err)
{
	if (!pool_dataset_name_valid(name))
		return hull_err_set(err, EINVAL, "not a valid dataset name: %s",
				    name);
	if (!pool_dataset_exists(p, name))
		return hull_err_set(err, ENOENT, "no such dataset: %s", name);
	return 0;
}

int pool_check_snapshot(const struct pool *p, const char *name,
			struct hull_err *err)
{
	if (!pool_snapshot_name_valid(name))
		return hull_err_set(err, EINVAL,
				    "not a valid snapshot name: %s", name);
	if (!pool_dataset_exists(p, name))
		return hull_err_set(err, ENOENT, "no such snapshot: %s", name);
	return 0;
}

/* A new dataset name must be free and its parent folder must exist. */
int pool_check_new_dataset(const struct pool *p, const char *name,
			   struct hull_err *err)
{
	if (!pool_dataset_name_valid(name))
		return hull_err_set(err, EINVAL, "not a valid dataset name: %s",
				    name);
	_cleanup_free_ char *path = pool_dataset_path(p, name);
	if (pool_dataset_exists(p, name) || hull_path_exists(path))
		return hull_err_set(err, EEXIST, "%s already exists", name);
	if (!parent_exists(p, name))
		return hull_err_set(err, ENOENT, "parent of %s does not exist",
				    name);
	return 0;
}

/* ---- records: datasets, snapshots, origins ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of all datasets, sorted. */
static int datasets_all(const struct pool *p, struct hull_strv *out,
			struct hull_err *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/.snapshots", p->root);
	DIR *d = opendir(dir);
	if (!d)
		return hull_err_sys(err, errno, "open %s", dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *name = pool_name_decode(e->d_name);
		if (name)
			hull_strv_push(out, name);
	}
	closedir(d);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
	return 0;
}

/* Short names of a dataset's snapshots, sorted. */
static int snapshots_of(const struct pool *p, const char *ds,
			struct hull_strv *out, struct hull_err *err)
{
	_cleanup_free_ char *dir = pool_meta_dir(p, ds);
	DIR *d = opendir(dir);
	if (!d)
		return hull_err_sys(err, errno, "open %s", dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_name[0] == '@')
			continue;
		hull_strv_push(out, xstrdup(e->d_name));
	}
	closedir(d);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
	return 0;
}

/* The snapshot a dataset was cloned from, or NULL. Caller frees. */
static char *origin_of(const struct pool *p, const char *ds)
{
	_cleanup_free_ char *m = pool_meta_dir(p, ds);
	_cleanup_free_ char *path = xasprintf("%s/@origin", m);
	char *buf = NULL;
	size_t len;
	if (hull_file_read(path, 4096, &buf, &len, NULL) < 0)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	if (!pool_snapshot_name_valid(buf)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Datasets cloned from snapshot, skipping those for which skip() is true. */
static int clones_of(const struct pool *p, const char *snapshot,
		     const struct hull_strv *skip, struct hull_strv *out,
		     struct hull_err *err)
{
	struct hull_strv all = {0};
	int r = datasets_all(p, &all, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < all.n; i++) {
		bool skipped = false;
		for (size_t k = 0; skip && k < skip->n; k++)
			if (strcmp(all.v[i], skip->v[k]) == 0)
				skipped = true;
		if (skipped)
			continue;
		_cleanup_free_ char *o = origin_of(p, all.v[i]);
		if (o && strcmp(o, snapshot) == 0)
			hull_strv_push(out, xstrdup(all.v[i]));
	}
	hull_strv_fini(&all);
	return 0;
}

static int refuse_if_cloned(const struct pool *p, const char *snapshot,
			    const struct hull_strv *skip, struct hull_err *err)
{
	struct hull_strv clones = {0};
	int r = clones_of(p, snapshot, skip, &clones, err);
	if (r == 0 && clones.n > 0)
		r = hull_err_set(
		    err, EBUSY, "snapshot %s has dependent clones (%s%s)",
		    snapshot, clones.v[0], clones.n > 1 ? ", ..." : "");
	hull_strv_fini(&clones);
	return r;
}

/* Makes ds's record, holding origin when not NULL: built under a temporary
 * name and renamed into place, the step that makes the dataset exist. */
static int meta_create(struct pool *p, const char *ds, const char *origin,
		       struct hull_err *err)
{
	_cleanup_free_ char *tmp = pool_temp_path(p, "new");
	_cleanup_free_ char *m = pool_meta_dir(p, ds);
	if (mkdir(tmp, 0700) < 0)
		return hull_err_sys(err, errno, "create %s", tmp);
	if (origin) {
		_cleanup_free_ char *f = xasprintf("%s/@origin", tmp);
		_cleanup_free_ char *text = xasprintf("%s\n", origin);
		int fd = open(f, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		size_t n = strlen(text);
		if (fd < 0 || write(fd, text, n) != (ssize_t)n) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			hull_rm_rf(tmp, NULL);
			return hull_err_sys(err, e, "record origin of %s", ds);
		}
		close(fd);
	}
	if (rename(tmp, m) < 0) {
		int e = errno;
		hull_rm_rf(tmp, NULL);
		return hull_err_sys(err, e, "record %s", ds);
	}
	return 0;
}

/* ---- create, snapshot, clone ---- */

int pool_dataset_create(struct pool *p, const char *name, struct hull_err *err)
{
	int r = pool_lock(p, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = pool_dataset_path(p, name);
	r = pool_check_new_dataset(p, name, err);
	if (r == 0)
		r = p->ops->create(p, path, err);
	if (r == 0) {
		r = meta_create(p, name, NULL, err);
		if (r < 0)
			p->ops->remove(p, path, NULL);
	}
	pool_unlock(p);
	return r < 0 ? hull_err_prefix(err, "create %s", name) : 0;
}

int pool_snapshot_create(struct pool *p, const char *snapshot,
			 struct hull_err *err)
{
	int r = pool_lock(p, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *ds = NULL, *snap = NULL;
	if (pool_name_split(snapshot, &ds, &snap) < 0)
		r = hull_err_set(err, EINVAL, "not a valid snapshot name: %s",
				 snapshot);
	if (r == 0)
		r = check_dataset(p, ds, err);
	_cleanup_free_ char *src = ds ? pool_dataset_path(p, ds) : NULL;
	_cleanup_free_ char *dst = pool_dataset_path(p, snapshot);
	if (r == 0 && hull_path_exists(dst))
		r = hull_err_set(err, EEXIST, "%s already exists", snapshot);
	if (r == 0)
		r = p->ops->snapshot(p, src, dst, true, err);
	pool_unlock(p);
	return r < 0 ? hull_err_prefix(err, "snapshot %s", snapshot) : 0;
}

int pool_clone(struct pool *p, const char *snapshot, const char *name,
	       struct hull_err *err)
{
	int r = pool_lock(p, err);
	if (r < 0)
		return r;
	r = pool_check_snapshot(p, snapshot, err);
	if (r == 0)
		r = pool_check_new_dataset(p, name, err);
	_cleanup_free_ char *src = pool_dataset_path(p, snapshot);
	_cleanup_free_ char *dst = pool_dataset_path(p, name);
	if (r == 0)
		r = p->ops->snapshot(p, src, dst, false, err);
	if (r == 0) {
		r = meta_create(p, name, snapshot, err);
		if (r < 0)
			p->ops->remove(p, dst, NULL);
	}
	pool_unlock(p);
	return r < 0 ? hull_err_prefix(err, "clone %s as %s", snapshot, name)
		     : 0;
}

/* ---- destroy ---- */

int pool_snapshot_destroy(struct pool *p, const char *snapshot,
			  struct hull_err *err)
{
	int r = pool_lock(p, err);
	if (r < 0)
		return r;
	r = pool_check_snapshot(p, snapshot, err);
	if (r == 0)
		r = refuse_if_cloned(p, snapshot, NULL, err);
	_cleanup_free_ char *path = pool_dataset_path(p, snapshot);
	if (r == 0)
		r = p->ops->remove(p, path, err);
	pool_unlock(p);
	return r < 0 ? hull_err_prefix(err, "destroy %s", snapshot) : 0;
}

/* One rename done on the way to a commit, undone if a later step fails. */
struct move {
	char *from, *to;
};

struct moves {
	struct move *v;
	size_t n;
};

static int moves_do(struct moves *m, const char *from, const char *to,
		    struct hull_err *err)
{
	if (rename(from, to) < 0)
		return hull_err_sys(err, errno, "rename %s", from);
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
	m->v[m->n].from = xstrdup(from);
	m->v[m->n].to = xstrdup(to);
	m->n++;
	return 0;
}

static void moves_undo(struct moves *m)
{
	for (size_t i = m->n; i-- > 0;)
		rename(m->v[i].to, m->v[i].from);
}

static void moves_free(struct moves *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].from);
		free(m->v[i].to);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

/* Deletes a dataset record moved aside: its snapshots, then the rest. */
void pool_meta_remove(struct pool *p, const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.' || e->d_name[0] == '@')
				continue;
			_cleanup_free_ char *s =
			    xasprintf("%s/%s", dir, e->d_name);
			p->ops->remove(p, s, NULL);
		}
		closedir(d);
	}
	hull_rm_rf(dir, NULL);
}

int pool_dataset_destroy(struct pool *p, const char *name, struct hull_err *err)
{
	if (pool_snapshot_name_valid(name))
		return pool_snapshot_destroy(p, name, err);
	int r = pool_lock(p, err);
	if (r < 0)
		return r;
	struct hull_strv all = {0}, doomed = {0}, snaps = {0};
	struct moves moves = {0};
	struct hull_strv trash = {0}; /* pairs: data, record */
	r = check_dataset(p, name, err);
	if (r == 0)
		r = datasets_all(p, &all, err);
	/* The dataset and every dataset nested in it, deepest first. */
	for (size_t i = all.n; r == 0 && i-- > 0;)
		if (strcmp(all.v[i], name) == 0 ||
		    pool_name_is_below(all.v[i], name))
			hull_strv_push(&doomed, xstrdup(all.v[i]));
	for (size_t i = 0; r == 0 && i < doomed.n; i++) {
		hull_strv_fini(&snaps);
		r = snapshots_of(p, doomed.v[i], &snaps, err);
		for (size_t k = 0; r == 0 && k < snaps.n; k++) {
			_cleanup_free_ char *s =
			    xasprintf("%s@%s", doomed.v[i], snaps.v[k]);
			r = refuse_if_cloned(p, s, &doomed, err);
		}
	}
	/* Commit: move each data tree and record aside. A busy dataset (a
	 * mount point in a running instance) fails here and is put back. */
	for (size_t i = 0; r == 0 && i < doomed.n; i++) {
		_cleanup_free_ char *path = pool_dataset_path(p, doomed.v[i]);
		_cleanup_free_ char *m = pool_meta_dir(p, doomed.v[i]);
		char *tdata = pool_temp_path(p, "trash");
		char *tmeta = pool_temp_path(p, "trash");
		hull_strv_push(&trash, tdata);
		hull_strv_push(&trash, tmeta);
		if (hull_path_exists(path))
			r = moves_do(&moves, path, tdata, err);
		if (r == 0)
			r = moves_do(&moves, m, tmeta, err);
	}
	if (r < 0) {
		moves_undo(&moves);
	} else {
		for (size_t i = 0; i < trash.n; i += 2) {
			p->ops->remove(p, trash.v[i], NULL);
			pool_meta_remove(p, trash.v[i + 1]);
		}
	}
	moves_free(&moves);
	hull_strv_fini(&trash);
	hull_strv_fini(&snaps);
	hull_strv_fini(&doomed);
	hull_strv_fini(&all);
	pool_unlock(p);
	return r < 0 ? hull_err_prefix(err, "destroy %s", name) : 0;
}

/* ---- rename ---- */

/* Rewrites the origin of every clone of a snapshot of `from` (or of a
 * dataset below it) to the new name. */
static int origins_rename(struct pool *p, const char *from, const char *to,
			  struct hull_strv *undo, struct hull_err *err)
{
	struct hull_strv all = {0};
	int r = datasets_all(p, &all, err);
	size_t fl = strlen(from);
	for (size_t i = 0; r == 0 && i < all.n; i++) {
		_cleanup_free_ char *o = origin_of(p, all.v[i]);
		if (!o || strncmp(o, from, fl) != 0 ||
		    (o[fl] != '@' && o[fl] != '/'))
			continue;
		_cleanup_free_ char *m = pool_meta_dir(p, all.v[i]);
		_cleanup_free_ char *f = xasprintf("%s/@origin", m);
		_cleanup_free_ char *text = xasprintf("%s%s\n", to, o + fl);
		r = hull_file_write_atomic(f, text, strlen(text), 0600, err);
		if (r == 0) {
			hull_strv_push(undo, xstrdup(f));
			hull_strv_push(undo, xasprintf("%s\n", o));
		}
	}
	hull_strv_fini(&all);
	return r;
}

int pool_dataset_rename(struct pool *p, const char *from, const char *to,
			struct hull_err *err)
{
	int r = pool_lock(p, err);
	if (r < 0)
		return r;
	struct hull_strv all = {0}, undo = {0};
	struct moves moves = {0};
	r = check_dataset(p, from, err);
	if (r == 0)
		r = pool_check_new_dataset(p, to, err);
	if (r == 0 && pool_name_is_below(to, from))
		r = hull_err_set(err, EINVAL, "cannot move %s inside itself",
				 from);
	if (r == 0)
		r = datasets_all(p, &all, err);
	_cleanup_free_ char *src = pool_dataset_path(p, from);
	_cleanup_free_ char *dst = pool_dataset_path(p, to);
	if (r == 0)
		r = moves_do(&moves, src, dst, err);
	/* Nested datasets moved with the tree; their records follow. */
	for (size_t i = 0; r == 0 && i < all.n; i++) {
		if (strcmp(all.v[i], from) != 0 &&
		    !pool_name_is_below(all.v[i], from))
			continue;
		_cleanup_free_ char *nn =
		    xasprintf("%s%s", to, all.v[i] + strlen(from));
		_cleanup_free_ char *m1 = pool_meta_dir(p, all.v[i]);
		_cleanup_free_ char *m2 = pool_meta_dir(p, nn);
		r = moves_do(&moves, m1, m2, err);
	}
	if (r == 0)
		r = origins_rename(p, from, to, &undo, err);
	if (r < 0) {
		for (size_t i = 0; i + 1 < undo.n; i += 2)
			hull_file_write_atomic(undo.v[i], undo.v[i + 1],
					       strlen(undo.v[i + 1]), 0600,
					       NULL);
		moves_undo(&moves);
	}
	moves_free(&moves);
	hull_strv_fini(&undo);
	hull_strv_fini(&all);
	pool_unlock(p);
	return r < 0 ? hull_err_prefix(err, "rename %s to %s", from, to) : 0;
}

/* ---- rollback ---- */

/* The datasets nested directly in ds (no dataset between them), as paths
 * relative to ds's folder. */
static int children_of(const struct pool *p, const char *ds,
		       struct hull_strv *out, struct hull_err *err)
{
	struct hull_strv all = {0};
	int r = datasets_all(p, &all, err);
	size_t dl = strlen(ds);
	for (size_t i = 0; r == 0 && i < all.n; i++) {
		if (!pool_name_is_below(all.v[i], ds))
			continue;
		bool direct = true;
		for (size_t k = 0; k < all.n; k++)
			if (k != i && pool_name_is_below(all.v[k], ds) &&
			    pool_name_is_below(all.v[i], all.v[k]))
				direct = false;
		if (direct)
			hull_strv_push(out, xstrdup(all.v[i] + dl + 1));
	}
	hull_strv_fini(&all);
	return r;
}

/* Replaces ds's files by a writable copy of the snapshot at snap_path: the
 * copy is made aside, the datasets nested in ds move into it (a snapshot
 * holds only an empty placeholder, or on the dir backend a copy, where
 * they were), and it is swapped in by two renames. Any failure moves
 * everything back. */
int pool_head_replace(struct pool *p, const char *ds, const char *snap_path,
		      struct hull_err *err)
{
	struct hull_strv kids = {0};
	struct moves moved = {0};
	int r = children_of(p, ds, &kids, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = pool_dataset_path(p, ds);
	_cleanup_free_ char *fresh = pool_temp_path(p, "fresh");
	_cleanup_free_ char *old = pool_temp_path(p, "trash");
	r = p->ops->snapshot(p, snap_path, fresh, false, err);
	if (r < 0) {
		hull_strv_fini(&kids);
		return r;
	}
	for (size_t i = 0; r == 0 && i < kids.n; i++) {
		_cleanup_free_ char *from = xasprintf("%s/%s", path, kids.v[i]);
		_cleanup_free_ char *to = xasprintf("%s/%s", fresh, kids.v[i]);
		_cleanup_free_ char *up = xstrdup(to);
		*strrchr(up, '/') = '\0';
		p->ops->remove(p, to, NULL);
		r = hull_mkdir_p(up, 0755, err);
		if (r == 0)
			r = moves_do(&moved, from, to, err);
	}
	if (r == 0 && rename(path, old) < 0)
		r = hull_err_sys(err, errno, "move %s aside", ds);
	else if (r == 0 && rename(fresh, path) < 0) {
		r = hull_err_sys(err, errno, "put back %s", ds);
		rename(old, path);
	}
	if (r < 0) {
		moves_undo(&moved);
		p->ops->remove(p, fresh, NULL);
	} else {
		p->ops->remove(p, old, NULL);
	}
	moves_free(&moved);
	hull_strv_fini(&kids);
	return r;
}

int pool_rollback(struct pool *p, const char *snapshot, struct hull_err *err)
{
	int r = pool_lock(p, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *ds = NULL, *snap = NULL;
	r = pool_check_snapshot(p, snapshot, err);
	if (r == 0)
		pool_name_split(snapshot, &ds, &snap);
	_cleanup_free_ char *src = pool_dataset_path(p, snapshot);
	if (r == 0)
		r = pool_head_replace(p, ds, src, err);
	pool_unlock(p);
	return r < 0 ? hull_err_prefix(err, "rollback to %s", snapshot) : 0;
}

/* ---- quota, list, usage ---- */

int pool_quota_set(struct pool *p, const char *name, uint64_t bytes,
		   struct hull_err *err)
{
	int r = pool_lock(p, err);
	if (r < 0)
		return r;
	r = check_dataset(p, name, err);
	_cleanup_free_ char *path = pool_dataset_path(p, name);
	if (r == 0)
		r = p->ops->quota_set(p, path, bytes, err);
	pool_unlock(p);
	return r < 0 ? hull_err_prefix(err, "quota %s", name) : 0;
}

static void entry_fill(struct pool *p, struct pool_entry *e, const char *name,
		       bool snapshot, bool space)
{
	e->name = xstrdup(name);
	e->snapshot = snapshot;
	e->origin = snapshot ? NULL : origin_of(p, name);
	if (space) {
		_cleanup_free_ char *path = pool_dataset_path(p, name);
		struct pool_space s = {0};
		if (p->ops->space(p, path, &s, NULL) == 0) {
			e->used = s.used;
			e->referenced = s.referenced;
			e->quota = s.quota;
		}
	}
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct pool_entry *)a)->name,
		      ((const struct pool_entry *)b)->name);
}

int pool_list_select(struct pool *p, const char *under, unsigned flags,
		     struct pool_entry **out, size_t *count,
		     struct hull_err *err)
{
	*out = NULL;
	*count = 0;
	bool space = !(flags & POOL_LIST_NO_SPACE);
	if (under && !pool_dataset_name_valid(under))
		return hull_err_set(err, EINVAL, "not a valid dataset name: %s",
				    under);
	if (space) {
		int r = p->ops->sync(p, err);
		if (r < 0)
			return hull_err_prefix(err, "list");
	}
	struct hull_strv all = {0};
	int r = datasets_all(p, &all, err);
	if (r < 0)
		return hull_err_prefix(err, "list");
	struct pool_entry *v = NULL;
	size_t n = 0;
	for (size_t i = 0; i < all.n; i++) {
		if (under && strcmp(all.v[i], under) != 0 &&
		    !pool_name_is_below(all.v[i], under))
			continue;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		memset(&v[n], 0, sizeof(v[n]));
		entry_fill(p, &v[n++], all.v[i], false, space);
		if (flags & POOL_LIST_NO_SNAPSHOTS)
			continue;
		struct hull_strv snaps = {0};
		if (snapshots_of(p, all.v[i], &snaps, NULL) < 0)
			continue;
		for (size_t k = 0; k < snaps.n; k++) {
			_cleanup_free_ char *s =
			    xasprintf("%s@%s", all.v[i], snaps.v[k]);
			v = xrealloc(v, (n + 1) * sizeof(*v));
			memset(&v[n], 0, sizeof(v[n]));
			entry_fill(p, &v[n++], s, true, space);
		}
		hull_strv_fini(&snaps);
	}
	hull_strv_fini(&all);
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_entry);
	*out = v;
	*count = n;
	return 0;
}

int pool_list(struct pool *p, struct pool_entry **out, size_t *count,
	      struct hull_err *err)
{
	return pool_list_select(p, NULL, 0, out, count, err);
}

void pool_entries_free(struct pool_entry *e, size_t count)
{
	if (!e)
		return;
	for (size_t i = 0; i < count; i++) {
		free(e[i].name);
		free(e[i].origin);
	}
	free(e);
}

int pool_origin_get(struct pool *p, const char *name, char **out,
		    struct hull_err *err)
{
	int r = check_dataset(p, name, err);
	if (r < 0)
		return r;
	*out = origin_of(p, name);
	return 0;
}

int pool_usage(struct pool *p, uint64_t *size, uint64_t *avail,
	       struct hull_err *err)
{
	struct statvfs st;
	if (statvfs(p->root, &st) < 0)
		return hull_err_sys(err, errno, "statvfs %s", p->root);
	*size = (uint64_t)st.f_blocks * st.f_frsize;
	*avail = (uint64_t)st.f_bavail * st.f_frsize;
	return 0;
}

/* ---- leftovers of interrupted operations ---- */

/* Removes an entry an interrupted operation left: a snapshot, a dataset or
 * a record holding snapshots. */
static void leftover_remove(struct pool *p, const char *path)
{
	p->ops->seal(p, path, false, NULL);
	if (p->ops->remove(p, path, NULL) < 0 || hull_path_exists(path))
		pool_meta_remove(p, path);
}

static bool temp_name(const char *n)
{
	return strncmp(n, ".copy-", 6) == 0 || strncmp(n, ".trash-", 7) == 0;
}

int pool_sweep(struct pool *p, unsigned *removed, struct hull_err *err)
{
	*removed = 0;
	int r = pool_lock(p, err);
	if (r < 0)
		return r;
	/* Under the lock nothing is in flight: every temporary entry is
	 * left over from a command that was killed or a host that crashed. */
	_cleanup_free_ char *snaps = xasprintf("%s/.snapshots", p->root);
	_cleanup_free_ char *images = xasprintf("%s/images", p->root);
	const char *dirs[] = {snaps, p->root, images};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			/* An instance's dataset without its record: a clone
			 * or create killed between making the one and the
			 * other (both happen under the lock). */
			bool half = dirs[i] == p->root &&
				    hull_uuid_valid(e->d_name) &&
				    !pool_dataset_exists(p, e->d_name);
			if (!half &&
			    (e->d_name[0] != '.' || !strcmp(e->d_name, ".") ||
			     !strcmp(e->d_name, "..")))
				continue;
			if (!half && i > 0 && !temp_name(e->d_name))
				continue;
			_cleanup_free_ char *path =
			    xasprintf("%s/%s", dirs[i], e->d_name);
			leftover_remove(p, path);
			(*removed)++;
		}
		if (d)
			closedir(d);
	}
	/* Inside each record: half-made snapshots (dir backend). */
	struct hull_strv all = {0};
	if (datasets_all(p, &all, NULL) == 0) {
		for (size_t i = 0; i < all.n; i++) {
			_cleanup_free_ char *m = pool_meta_dir(p, all.v[i]);
			DIR *d = opendir(m);
			struct dirent *e;
			while (d && (e = readdir(d))) {
				if (e->d_name[0] != '.' ||
				    !strcmp(e->d_name, ".") ||
				    !strcmp(e->d_name, ".."))
					continue;
				_cleanup_free_ char *path =
				    xasprintf("%s/%s", m, e->d_name);
				leftover_remove(p, path);
				(*removed)++;
			}
			if (d)
				closedir(d);
		}
	}
	hull_strv_fini(&all);
	pool_unlock(p);
	return 0;
}
