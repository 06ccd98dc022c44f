/*
 * store.c - installed images: records, clones, delete (see store.h).
 *
 * `imgadm list` on a host with a thousand images must stay well under 50 ms,
 * so listing reads the record folder once, checks each dataset with one
 * stat, and walks the pool's datasets (for clone counts) only when asked.
 */
#include "image/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

static char *record_path(const char *uuid)
{
	return hull_root_path("var/images/%s.json", uuid);
}

int image_store_record_write(const char *uuid, json_t *rec,
			     struct hull_err *err)
{
	_cleanup_free_ char *dir = hull_root_path("var/images");
	int r = hull_mkdir_p(dir, 0755, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = record_path(uuid);
	return hull_json_save_file(path, rec, err);
}

/* The pool's name as SmartOS shows it in "zpool": the root's last part. */
static const char *zpool_name(void)
{
	const char *root = hull_root();
	const char *slash = strrchr(root, '/');
	return slash && slash[1] ? slash + 1 : root;
}

static json_t *info_from_record(const char *uuid, json_t *rec)
{
	json_t *m = json_object_get(rec, "manifest");
	if (!json_is_object(m))
		m = NULL;
	json_t *info = json_object();
	if (m)
		json_object_set(info, "manifest", m);
	else
		json_object_set_new(info, "manifest",
				    json_pack("{s:s}", "uuid", uuid));
	json_object_set_new(info, "zpool", json_string(zpool_name()));
	json_t *src = json_object_get(rec, "source");
	if (json_is_string(src))
		json_object_set(info, "source", src);
	return info;
}

static bool installed(struct pool *p, const char *uuid)
{
	_cleanup_free_ char *ds = xasprintf("images/%s", uuid);
	return pool_dataset_exists(p, ds);
}

/* uuid -> number of datasets cloned from images/<uuid>@final. */
static json_t *clone_counts(struct pool *p, struct hull_err *err)
{
	struct pool_entry *e;
	size_t n;
	if (pool_list_select(p, NULL,
			     POOL_LIST_NO_SPACE | POOL_LIST_NO_SNAPSHOTS, &e,
			     &n, err) < 0)
		return NULL;
	json_t *counts = json_object();
	for (size_t i = 0; i < n; i++) {
		const char *o = e[i].origin;
		if (!o || strncmp(o, "images/", 7))
			continue;
		const char *at = strchr(o, '@');
		if (!at || strcmp(at, "@final") || at - (o + 7) != 36)
			continue;
		char uuid[37];
		memcpy(uuid, o + 7, 36);
		uuid[36] = '\0';
		json_int_t c = hull_json_int(counts, uuid, 0);
		json_object_set_new(counts, uuid, json_integer(c + 1));
	}
	pool_entries_free(e, n);
	return counts;
}

static int cmp_uuid(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a folder (sorted), or an empty list when it is missing. */
static char **dir_names(const char *dir, size_t *n)
{
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_uuid);
	return v;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Reads a small record relative to dirfd with one open and (usually) one
 * read: listing a thousand images is mostly this. */
static json_t *record_load_at(int dirfd, const char *name, char **buf,
			      size_t *cap)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	size_t len = 0;
	for (;;) {
		if (len == *cap) {
			if (*cap >= HULL_JSON_MAX_FILE) {
				close(fd);
				return NULL;
			}
			*cap = *cap ? *cap * 2 : 65536;
			*buf = xrealloc(*buf, *cap);
		}
		ssize_t r = read(fd, *buf + len, *cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	return json_loadb(*buf, len, 0, NULL);
}

json_t *image_store_list(struct pool *p, bool clones, struct hull_err *err)
{
	_cleanup_free_ char *dir = hull_root_path("var/images");
	json_t *out = json_array();
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return out;
		hull_err_sys(err, errno, "%s", dir);
		json_decref(out);
		return NULL;
	}
	size_t nrec, nds;
	char **recs = dir_names(dir, &nrec);
	/* An image is listed when its dataset's folder is there too; one
	 * readdir instead of a stat per image. */
	_cleanup_free_ char *images = pool_dataset_path(p, "images");
	char **ds = dir_names(images, &nds);

	json_t *counts = NULL;
	if (clones && !(counts = clone_counts(p, err))) {
		json_decref(out);
		out = NULL;
	}
	char *buf = NULL;
	size_t cap = 0;
	for (size_t i = 0; out && i < nrec; i++) {
		const char *name = recs[i];
		if (strlen(name) != 41 || strcmp(name + 36, ".json"))
			continue;
		char uuid[37];
		memcpy(uuid, name, 36);
		uuid[36] = '\0';
		const char *key = uuid;
		if (!hull_uuid_valid(uuid) ||
		    !bsearch(&key, ds, nds, sizeof(*ds), cmp_uuid))
			continue;
		json_t *rec = record_load_at(dfd, name, &buf, &cap);
		if (!rec)
			continue; /* unreadable: get names the problem */
		json_t *info = info_from_record(uuid, rec);
		json_decref(rec);
		if (counts)
			json_object_set_new(
			    info, "clones",
			    json_integer(hull_json_int(counts, uuid, 0)));
		json_array_append_new(out, info);
	}
	free(buf);
	close(dfd);
	names_free(recs, nrec);
	names_free(ds, nds);
	json_decref(counts);
	return out;
}

json_t *image_store_get(struct pool *p, const char *uuid, struct hull_err *err)
{
	if (!hull_uuid_valid(uuid)) {
		hull_err_set(err, EINVAL, "'%.64s' is not a UUID", uuid);
		return NULL;
	}
	if (!installed(p, uuid)) {
		hull_err_set(err, ENOENT, "image %s is not installed", uuid);
		return NULL;
	}
	_cleanup_free_ char *path = record_path(uuid);
	json_t *rec;
	if (hull_path_exists(path)) {
		rec = hull_json_load_file(path, err);
		if (!rec)
			return NULL;
	} else {
		rec = json_object();
	}
	json_t *info = info_from_record(uuid, rec);
	json_decref(rec);
	json_t *c = image_store_clones(p, uuid, err);
	if (!c) {
		json_decref(info);
		return NULL;
	}
	json_object_set_new(info, "clones",
			    json_integer((json_int_t)json_array_size(c)));
	json_decref(c);
	return info;
}

json_t *image_store_clones(struct pool *p, const char *uuid,
			   struct hull_err *err)
{
	struct pool_entry *e;
	size_t n;
	if (pool_list_select(p, NULL,
			     POOL_LIST_NO_SPACE | POOL_LIST_NO_SNAPSHOTS, &e,
			     &n, err) < 0)
		return NULL;
	_cleanup_free_ char *origin = xasprintf("images/%s@final", uuid);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		if (e[i].origin && !strcmp(e[i].origin, origin))
			json_array_append_new(out, json_string(e[i].name));
	pool_entries_free(e, n);
	return out;
}

/* Installed images whose manifest names uuid as origin. */
static json_t *child_images(struct pool *p, const char *uuid,
			    struct hull_err *err)
{
	json_t *all = image_store_list(p, false, err);
	if (!all)
		return NULL;
	json_t *out = json_array();
	size_t i;
	json_t *info;
	json_array_foreach(all, i, info)
	{
		json_t *m = json_object_get(info, "manifest");
		const char *o = hull_json_str(m, "origin", NULL);
		if (o && !strcasecmp(o, uuid))
			json_array_append(out, json_object_get(m, "uuid"));
	}
	json_decref(all);
	return out;
}

int image_store_delete(struct pool *p, const char *uuid, struct hull_err *err)
{
	json_t *info = image_store_get(p, uuid, err);
	if (!info)
		return -err->code;
	json_decref(info);
	json_t *clones = image_store_clones(p, uuid, err);
	if (!clones)
		return -err->code;
	size_t nc = json_array_size(clones);
	if (nc) {
		int r =
		    hull_err_set(err, EBUSY,
				 "image %s is in use: %zu dataset%s cloned "
				 "from it (%s%s)",
				 uuid, nc, nc == 1 ? " is" : "s are",
				 json_string_value(json_array_get(clones, 0)),
				 nc > 1 ? ", ..." : "");
		json_decref(clones);
		return r;
	}
	json_decref(clones);
	json_t *kids = child_images(p, uuid, err);
	if (!kids)
		return -err->code;
	if (json_array_size(kids)) {
		int r = hull_err_set(
		    err, EBUSY,
		    "image %s is in use: image %s has it as "
		    "origin",
		    uuid, json_string_value(json_array_get(kids, 0)));
		json_decref(kids);
		return r;
	}
	json_decref(kids);
	_cleanup_free_ char *ds = xasprintf("images/%s", uuid);
	int r = pool_dataset_destroy(p, ds, err);
	if (r < 0)
		return hull_err_prefix(err, "delete image %s", uuid);
	_cleanup_free_ char *path = record_path(uuid);
	if (unlink(path) < 0 && errno != ENOENT)
		return hull_err_sys(err, errno, "remove %s", path);
	return 0;
}
