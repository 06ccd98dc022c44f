/*
 * disks.c - disks[] at create, and the disk files (see disks.h).
 */
#include "hvm/disks.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/uuid.h"
#include "lib/xalloc.h"

#define DISKS_MAX 16

static bool one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

/* An absolute path without empty, "." or ".." components. */
static bool path_clean(const char *p)
{
	if (p[0] != '/')
		return false;
	for (const char *c = p + 1;;) {
		const char *e = strchr(c, '/');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		if (l == 0 || (l == 1 && c[0] == '.') ||
		    (l == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!e)
			return true;
		c = e + 1;
	}
}

/* Where a disk is in the payload: "disks" or "add_disks", and its index
 * there (errors name it so). */
struct disk_at {
	const char *label;
	size_t i;
};

static int bad(struct hull_err *err, struct disk_at at, const char *key,
	       const char *why)
{
	return hull_err_set(err, EINVAL, "%s.%zu.%s: %s", at.label, at.i, key,
			    why);
}

/* An integer property in [lo, hi], or absent (*out untouched). */
static int int_prop(json_t *d, struct disk_at i, const char *key, int64_t lo,
		    int64_t hi, int64_t *out, bool *present,
		    struct hull_err *err)
{
	json_t *v = json_object_get(d, key);
	*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi) {
		char why[96];
		snprintf(why, sizeof(why),
			 "must be an integer from %lld to %lld", (long long)lo,
			 (long long)hi);
		return bad(err, i, key, why);
	}
	*out = json_integer_value(v);
	return 0;
}

static int check_disk(json_t *d, struct disk_at i, const char *brand,
		      const char *inst_dir, const char *deflt_model,
		      const char *deflt_path, hvm_image_lookup_fn lookup,
		      void *ctx, json_t *fill, struct hull_err *err)
{
	static const char *const kvm_models[] = {"virtio", "ide", "scsi", NULL};
	static const char *const bhyve_models[] = {"virtio", "ahci", "nvme",
						   NULL};
	static const char *const medias[] = {"disk", "cdrom", NULL};
	static const char *const known[] = {
	    "path",	  "size",	 "image_uuid",	   "image_size",
	    "image_name", "boot",	 "media",	   "model",
	    "block_size", "compression", "refreservation", "nocreate",
	    "zpool",	  "uuid",	 "pci_slot",	   "guest_block_size",
	    "notrim",	  NULL};
	const bool bhyve = !strcmp(brand, "bhyve");
	int r;

	if (!json_is_object(d))
		return hull_err_set(err, EINVAL, "%s.%zu: must be an object",
				    i.label, i.i);
	const char *k;
	json_t *v;
	json_object_foreach(d, k, v)
	{
		if (!one_of(k, known))
			return bad(err, i, k, "unknown property");
	}
	/* bhyve-only fields on kvm. */
	static const char *const bhyve_only[] = {"pci_slot", "guest_block_size",
						 "notrim", NULL};
	for (const char *const *b = bhyve_only; !bhyve && *b; b++)
		if (json_object_get(d, *b))
			return bad(err, i, *b, "only for the bhyve brand");

	/* model, media */
	const char *model = deflt_model;
	if ((v = json_object_get(d, "model"))) {
		if (!json_is_string(v))
			return bad(err, i, "model", "must be a string");
		model = json_string_value(v);
	}
	if (!one_of(model, bhyve ? bhyve_models : kvm_models))
		return bad(err, i, "model",
			   bhyve ? "must be virtio, ahci or nvme"
				 : "must be virtio, ide or scsi");
	json_object_set_new(fill, "model", json_string(model));
	const char *media = "disk";
	if ((v = json_object_get(d, "media"))) {
		if (!json_is_string(v) || !one_of(json_string_value(v), medias))
			return bad(err, i, "media", "must be disk or cdrom");
		media = json_string_value(v);
	}
	json_object_set_new(fill, "media", json_string(media));
	static const char *const bools[] = {"boot", "nocreate", "notrim", NULL};
	for (const char *const *b = bools; *b; b++)
		if ((v = json_object_get(d, *b)) && !json_is_boolean(v))
			return bad(err, i, *b, "must be true or false");

	/* Sizes and the image. */
	int64_t size = 0, image_size = 0, bs = 0, refres = 0;
	bool has_size, has_isize, has_bs, has_refres;
	if ((r = int_prop(d, i, "size", 1, HVM_DISK_SIZE_MAX, &size, &has_size,
			  err)) < 0 ||
	    (r = int_prop(d, i, "image_size", 1, HVM_DISK_SIZE_MAX, &image_size,
			  &has_isize, err)) < 0 ||
	    (r = int_prop(d, i, "block_size", 512, 131072, &bs, &has_bs, err)) <
		0 ||
	    (r = int_prop(d, i, "refreservation", 0, HVM_DISK_SIZE_MAX, &refres,
			  &has_refres, err)) < 0)
		return r;
	if (has_bs && (bs & (bs - 1)))
		return bad(err, i, "block_size", "must be a power of 2");
	json_t *iu = json_object_get(d, "image_uuid");
	if (iu) {
		if (!json_is_string(iu) ||
		    !hull_uuid_valid(json_string_value(iu)))
			return bad(err, i, "image_uuid", "must be a UUID");
		if (has_size)
			return bad(err, i, "size",
				   "not allowed with image_uuid (the image "
				   "gives it)");
		if (has_bs)
			return bad(err, i, "block_size",
				   "not allowed with image_uuid");
		struct hvm_image_info info = {.type = NULL, .image_size = -1};
		const char *u = json_string_value(iu);
		if (!lookup || lookup(ctx, u, &info) < 0)
			return hull_err_set(err, ENOENT,
					    "%s.%zu.image_uuid: image %s is "
					    "not installed",
					    i.label, i.i, u);
		if (!info.type || strcmp(info.type, "zvol"))
			return hull_err_set(err, EINVAL,
					    "%s.%zu.image_uuid: image %s is "
					    "of type %s, not zvol",
					    i.label, i.i, u,
					    info.type ? info.type : "?");
		if (info.image_size > 0 && has_isize &&
		    image_size != info.image_size)
			return hull_err_set(err, EINVAL,
					    "%s.%zu.image_size: %lld does "
					    "not match the image's %lld "
					    "(EBADSIZE)",
					    i.label, i.i, (long long)image_size,
					    (long long)info.image_size);
		if (info.image_size <= 0 && !has_isize)
			return bad(err, i, "image_size",
				   "required: the image does not say");
		json_object_set_new(
		    fill, "image_size",
		    json_integer(has_isize ? image_size : info.image_size));
	} else if (!has_size && strcmp(media, "cdrom")) {
		return bad(err, i, "size", "required without image_uuid");
	} else if (has_isize) {
		return bad(err, i, "image_size", "only with image_uuid");
	}

	/* path: in the instance's disks/ directory. */
	_cleanup_free_ char *dir = xasprintf("%s/disks/", inst_dir);
	if ((v = json_object_get(d, "path"))) {
		if (!json_is_string(v))
			return bad(err, i, "path", "must be a string");
		const char *p = json_string_value(v);
		if (!path_clean(p) || strncmp(p, dir, strlen(dir)) ||
		    strchr(p + strlen(dir), '/') || !p[strlen(dir)])
			return hull_err_set(err, EINVAL,
					    "%s.%zu.path: must be a file in "
					    "%s",
					    i.label, i.i, dir);
		if (strlen(p) > 4000)
			return bad(err, i, "path", "too long");
		json_object_set_new(fill, "path", json_string(p));
	} else {
		json_object_set_new(fill, "path", json_string(deflt_path));
	}
	return 0;
}

static const char *disk_path(json_t *disks, json_t *fills, size_t first,
			     size_t j)
{
	json_t *d = j < first ? json_array_get(disks, j)
			      : json_array_get(fills, j - first);
	return json_string_value(json_object_get(d, "path"));
}

/* The first inst_dir/disks/diskN.img no disk names: disks before i (the
 * filled ones from first on) and every path given in the payload. */
static char *free_path(json_t *disks, json_t *fills, size_t first, size_t i,
		       const char *inst_dir)
{
	for (size_t n = 0;; n++) {
		char *p = xasprintf("%s/disks/disk%zu.img", inst_dir, n);
		bool used = false;
		for (size_t j = 0; j < json_array_size(disks) && !used; j++) {
			const char *q =
			    j < i ? disk_path(disks, fills, first, j)
				  : json_string_value(json_object_get(
					json_array_get(disks, j), "path"));
			used = q && !strcmp(p, q);
		}
		if (!used)
			return p;
		free(p);
	}
}

/* Checks and fills disks[first..] (named label.0, label.1, ...), against
 * the disks before them too. */
static int plan_range(json_t *vm, const char *brand, const char *inst_dir,
		      size_t first, const char *label,
		      hvm_image_lookup_fn lookup, void *ctx,
		      struct hull_err *err)
{
	if (strcmp(brand, "kvm") && strcmp(brand, "bhyve"))
		return hull_err_set(err, EINVAL, "brand: %s has no disks",
				    brand);
	if (!path_clean(inst_dir))
		return hull_err_set(err, EINVAL, "instance directory: %s",
				    inst_dir);
	json_t *disks = json_object_get(vm, "disks");
	if (!disks)
		return 0;
	if (!json_is_array(disks))
		return hull_err_set(err, EINVAL, "disks: must be an array");
	if (json_array_size(disks) > DISKS_MAX)
		return hull_err_set(err, EINVAL, "%s: more than %d disks",
				    label, DISKS_MAX);
	json_t *drv = json_object_get(vm, "disk_driver");
	if (drv && !json_is_string(drv))
		return hull_err_set(err, EINVAL,
				    "disk_driver: must be a string");
	const char *deflt = drv ? json_string_value(drv) : "virtio";

	/* Check every disk into fills first; change vm only when all pass. */
	size_t n = json_array_size(disks), nboot = 0;
	json_t *fills = json_array();
	int r = 0;
	for (size_t i = 0; i < first && i < n; i++)
		if (json_is_true(
			json_object_get(json_array_get(disks, i), "boot")))
			nboot++;
	for (size_t i = first; i < n && r == 0; i++) {
		json_t *d = json_array_get(disks, i), *f = json_object();
		struct disk_at at = {label, i - first};
		char *dp = free_path(disks, fills, first, i, inst_dir);
		r = check_disk(d, at, brand, inst_dir, deflt, dp, lookup, ctx,
			       f, err);
		free(dp);
		json_array_append_new(fills, f);
		if (r == 0 && json_is_true(json_object_get(d, "boot")))
			nboot++;
		const char *p = json_string_value(json_object_get(f, "path"));
		for (size_t j = 0; r == 0 && j < i; j++) {
			const char *o = disk_path(disks, fills, first, j);
			if (!o || strcmp(p, o))
				continue;
			if (j >= first)
				r = hull_err_set(err, EINVAL,
						 "%s.%zu.path: the same as "
						 "%s.%zu.path",
						 label, i - first, label,
						 j - first);
			else
				r = hull_err_set(err, EEXIST,
						 "%s.%zu.path: the VM already "
						 "has disk %s",
						 label, i - first, p);
		}
	}
	if (r == 0 && nboot > 1)
		r = hull_err_set(err, EINVAL, "%s: more than one boot disk",
				 label);
	if (r == 0)
		for (size_t i = first; i < n; i++)
			json_object_update(json_array_get(disks, i),
					   json_array_get(fills, i - first));
	json_decref(fills);
	return r;
}

int hvm_disks_plan(json_t *vm, const char *brand, const char *inst_dir,
		   hvm_image_lookup_fn lookup, void *ctx, struct hull_err *err)
{
	return plan_range(vm, brand, inst_dir, 0, "disks", lookup, ctx, err);
}

int hvm_disks_plan_added(json_t *vm, size_t first, const char *brand,
			 const char *inst_dir, hvm_image_lookup_fn lookup,
			 void *ctx, struct hull_err *err)
{
	return plan_range(vm, brand, inst_dir, first, "add_disks", lookup, ctx,
			  err);
}

int hvm_disk_make(const char *path, int64_t size_mib, const char *clone_from,
		  struct hull_err *err)
{
	if (size_mib < 0 || size_mib > HVM_DISK_SIZE_MAX)
		return hull_err_set(err, EINVAL, "%s: bad size %lld MiB", path,
				    (long long)size_mib);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "create %s", path);
	int r = 0;
	off_t want = (off_t)size_mib << 20;
	if (clone_from) {
		int src = open(clone_from, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (src < 0 || fstat(src, &st) < 0) {
			r = hull_err_sys(err, errno, "%s", clone_from);
		} else if (ioctl(fd, FICLONE, src) < 0) {
			/* No reflinks here (or across filesystems): copy,
			 * in the kernel, keeping holes where it can. */
			loff_t in = 0;
			while (in < st.st_size) {
				ssize_t c = copy_file_range(
				    src, &in, fd, NULL,
				    (size_t)(st.st_size - in), 0);
				if (c < 0 && errno == EINTR)
					continue;
				if (c <= 0) {
					r = hull_err_sys(err,
							 c < 0 ? errno : EIO,
							 "copy %s", clone_from);
					break;
				}
			}
		}
		if (r == 0 && st.st_size > want)
			want = st.st_size;
		if (src >= 0)
			close(src);
	}
	if (r == 0 && ftruncate(fd, want) < 0)
		r = hull_err_sys(err, errno, "size %s", path);
	if (close(fd) < 0 && r == 0)
		r = hull_err_sys(err, errno, "write %s", path);
	if (r < 0)
		unlink(path);
	return r;
}

/* ---- update_disks: resizing while stopped ----------------------------- */

static int upd_bad(struct hull_err *err, size_t i, const char *key,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int upd_bad(struct hull_err *err, size_t i, const char *key,
		   const char *fmt, ...)
{
	char why[HULL_ERR_MSG_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return hull_err_set(err, EINVAL,
			    "Invalid value for update_disks.%zu%s%s: %s", i,
			    key ? "." : "", key ? key : "", why);
}

static int64_t file_bytes(const char *path, struct hull_err *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return hull_err_sys(err, errno, "disk %s", path);
	if (!S_ISREG(st.st_mode))
		return hull_err_set(err, EINVAL, "disk %s: not a regular file",
				    path);
	return (int64_t)st.st_size;
}

static int resize_cmp(const void *a, const void *b)
{
	const struct hvm_disk_resize *x = a, *y = b;
	bool gx = x->new_bytes > x->old_bytes, gy = y->new_bytes > y->old_bytes;
	return (int)gy - (int)gx; /* grows first */
}

int hvm_disks_update_plan(json_t *vm, json_t *update_disks, bool running,
			  struct hvm_disk_resize **plan, size_t *n,
			  struct hull_err *err)
{
	static const char *const known[] = {
	    "path", "size", "boot", "model", "dangerous_allow_shrink", NULL};
	static const char *const kvm_models[] = {"virtio", "ide", "scsi", NULL};
	static const char *const bhyve_models[] = {"virtio", "ahci", "nvme",
						   NULL};
	const char *brand = json_string_value(json_object_get(vm, "brand"));
	bool bhyve = brand && !strcmp(brand, "bhyve");
	json_t *disks = json_object_get(vm, "disks");
	*plan = NULL;
	*n = 0;
	if (!json_is_array(update_disks))
		return hull_err_set(err, EINVAL,
				    "Invalid value for update_disks: must be "
				    "an array");
	struct hvm_disk_resize *p =
	    xcalloc(json_array_size(update_disks) + 1, sizeof(*p));
	size_t np = 0, i;
	json_t *u;
	int r = 0;
	json_array_foreach(update_disks, i, u)
	{
		const char *k;
		json_t *v;
		if (!json_is_object(u)) {
			r = upd_bad(err, i, NULL, "must be an object");
			goto fail;
		}
		json_object_foreach(u, k, v)
		{
			if (!one_of(k, known)) {
				r = upd_bad(err, i, k, "cannot be updated");
				goto fail;
			}
		}
		const char *path =
		    json_string_value(json_object_get(u, "path"));
		if (!path) {
			r = upd_bad(err, i, "path",
				    "required: it names the disk");
			goto fail;
		}
		json_t *d = NULL, *e;
		size_t j;
		json_array_foreach(disks, j, e)
		{
			const char *dp =
			    json_string_value(json_object_get(e, "path"));
			if (dp && !strcmp(dp, path))
				d = e;
		}
		if (!d) {
			r = upd_bad(err, i, "path", "the VM has no disk %s",
				    path);
			goto fail;
		}
		for (size_t q = 0; q < i; q++) {
			const char *op = json_string_value(json_object_get(
			    json_array_get(update_disks, q), "path"));
			if (op && !strcmp(op, path)) {
				r = upd_bad(err, i, "path", "%s is named twice",
					    path);
				goto fail;
			}
		}
		if ((v = json_object_get(u, "boot")) && !json_is_boolean(v)) {
			r = upd_bad(err, i, "boot", "must be true or false");
			goto fail;
		}
		if ((v = json_object_get(u, "model")) &&
		    (!json_is_string(v) ||
		     !one_of(json_string_value(v),
			     bhyve ? bhyve_models : kvm_models))) {
			r = upd_bad(err, i, "model", "must be %s",
				    bhyve ? "virtio, ahci or nvme"
					  : "virtio, ide or scsi");
			goto fail;
		}
		json_t *shrink = json_object_get(u, "dangerous_allow_shrink");
		if (shrink && !json_is_boolean(shrink)) {
			r = upd_bad(err, i, "dangerous_allow_shrink",
				    "must be true or false");
			goto fail;
		}
		json_t *sz = json_object_get(u, "size");
		if (!sz)
			continue;
		if (!json_is_integer(sz) || json_integer_value(sz) < 1 ||
		    json_integer_value(sz) > HVM_DISK_SIZE_MAX) {
			r = upd_bad(err, i, "size",
				    "must be an integer from 1 to %lld (MiB)",
				    (long long)HVM_DISK_SIZE_MAX);
			goto fail;
		}
		const char *media =
		    json_string_value(json_object_get(d, "media"));
		if (media && !strcmp(media, "cdrom")) {
			r = upd_bad(err, i, "size", "%s is a cdrom", path);
			goto fail;
		}
		int64_t cur = file_bytes(path, err);
		if (cur < 0) {
			r = hull_err_prefix(err,
					    "Invalid value for "
					    "update_disks.%zu.path",
					    i);
			goto fail;
		}
		int64_t want = (int64_t)json_integer_value(sz) << 20;
		if (want == cur)
			continue;
		char what[HULL_ERR_MSG_MAX / 4];
		snprintf(what, sizeof(what), "%s from %lld MiB to %lld MiB",
			 path, (long long)(cur >> 20), (long long)(want >> 20));
		if (running) {
			r = upd_bad(err, i, "size",
				    "cannot resize %s while the VM is running: "
				    "stop it first",
				    what);
			goto fail;
		}
		if (want < cur && !json_is_true(shrink)) {
			r = upd_bad(
			    err, i, "size",
			    "cannot resize %s: shrinking loses the data "
			    "at the disk's end (dangerous_allow_shrink "
			    "allows it)",
			    what);
			goto fail;
		}
		p[np++] = (struct hvm_disk_resize){path, cur, want};
	}
	qsort(p, np, sizeof(*p), resize_cmp);
	*plan = p;
	*n = np;
	return 0;
fail:
	free(p);
	return r;
}

static int truncate_to(const char *path, int64_t bytes, struct hull_err *err)
{
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "resize %s", path);
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		r = hull_err_set(err, EINVAL, "resize %s: not a regular file",
				 path);
	else if (ftruncate(fd, (off_t)bytes) < 0 || fsync(fd) < 0)
		r = hull_err_sys(err, errno, "resize %s", path);
	close(fd);
	return r;
}

void hvm_disks_resize_undo(const struct hvm_disk_resize *plan, size_t n)
{
	for (size_t i = 0; i < n; i++)
		truncate_to(plan[i].path, plan[i].old_bytes, NULL);
}

int hvm_disks_resize(const struct hvm_disk_resize *plan, size_t n,
		     struct hull_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = truncate_to(plan[i].path, plan[i].new_bytes, err);
		if (r < 0) {
			hvm_disks_resize_undo(plan, i);
			return r;
		}
	}
	return 0;
}

void hvm_disks_update_scrub(json_t *vm)
{
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(vm, "disks"), i, d)
	    json_object_del(d, "dangerous_allow_shrink");
}

/* ---- add_disks / remove_disks: while stopped -------------------------- */

int hvm_disks_remove_plan(json_t *vm, json_t *remove, struct hull_err *err)
{
	json_t *disks = json_object_get(vm, "disks");
	if (!json_is_array(remove))
		return hull_err_set(err, EINVAL,
				    "Invalid value for remove_disks: must be "
				    "an array of paths");
	size_t i, j;
	json_t *e, *d;
	json_array_foreach(remove, i, e)
	{
		const char *p = json_string_value(e);
		if (!p)
			return hull_err_set(
			    err, EINVAL,
			    "Invalid value for remove_disks.%zu: "
			    "must be a path",
			    i);
		json_t *found = NULL;
		json_array_foreach(disks, j, d)
		{
			const char *dp =
			    json_string_value(json_object_get(d, "path"));
			if (dp && !strcmp(dp, p))
				found = d;
		}
		if (!found)
			return hull_err_set(
			    err, ENOENT,
			    "Invalid value for remove_disks.%zu: "
			    "the VM has no disk %s",
			    i, p);
		if (json_is_true(json_object_get(found, "boot")))
			return hull_err_set(
			    err, EINVAL,
			    "Invalid value for remove_disks.%zu: "
			    "%s is the boot disk",
			    i, p);
		for (size_t q = 0; q < i; q++)
			if (!strcmp(p, json_string_value(
					   json_array_get(remove, q))))
				return hull_err_set(
				    err, EINVAL,
				    "Invalid value for remove_disks.%zu: %s "
				    "is named twice",
				    i, p);
	}
	return 0;
}

static char *aside_path(const char *path)
{
	return xasprintf("%s.removing", path);
}

void hvm_disks_aside_undo(json_t *remove, size_t n)
{
	for (size_t i = 0; i < n && i < json_array_size(remove); i++) {
		const char *p = json_string_value(json_array_get(remove, i));
		char *a = aside_path(p);
		/* Only what was set aside: a missing file stays missing. */
		if (access(a, F_OK) == 0)
			renameat2(AT_FDCWD, a, AT_FDCWD, p, RENAME_NOREPLACE);
		free(a);
	}
}

int hvm_disks_aside(json_t *remove, struct hull_err *err)
{
	size_t i;
	json_t *e;
	json_array_foreach(remove, i, e)
	{
		const char *p = json_string_value(e);
		struct stat st;
		if (lstat(p, &st) < 0 && errno == ENOENT)
			continue; /* already gone: only the record changes */
		if (!S_ISREG(st.st_mode)) {
			hvm_disks_aside_undo(remove, i);
			return hull_err_set(err, EINVAL,
					    "remove_disks.%zu: %s is not a "
					    "regular file",
					    i, p);
		}
		char *a = aside_path(p);
		int r = renameat2(AT_FDCWD, p, AT_FDCWD, a, RENAME_NOREPLACE);
		int e2 = errno;
		free(a);
		if (r < 0) {
			hvm_disks_aside_undo(remove, i);
			return hull_err_sys(err, e2, "remove_disks.%zu: %s", i,
					    p);
		}
	}
	return 0;
}

void hvm_disks_aside_drop(json_t *remove)
{
	size_t i;
	json_t *e;
	json_array_foreach(remove, i, e)
	{
		char *a = aside_path(json_string_value(e));
		unlink(a);
		free(a);
	}
}
