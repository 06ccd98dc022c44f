/*
 * vmimage.c - an image from an instance (see vmimage.h).
 *
 * The file is a tar of the zone root, the same layout every hull image
 * install unpacks (install.h), so the new image installs anywhere with
 * `imgadm install` and instances clone it as they clone any image.
 */
#include "image/vmimage.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/xalloc.h"

json_t *image_manifest_from_vm(json_t *vm, json_t *base, const char *uuid,
			       const char *now_iso, struct hull_err *err)
{
	json_t *m = base ? json_deep_copy(base) : json_object();
	if (!json_is_object(m)) {
		json_decref(m);
		hull_err_set(err, EINVAL, "manifest: not an object");
		return NULL;
	}
	const char *req[] = {"name", "version"};
	for (size_t i = 0; i < 2; i++)
		if (!json_is_string(json_object_get(m, req[i])) ||
		    !json_string_length(json_object_get(m, req[i]))) {
			hull_err_set(err, EINVAL,
				     "manifest: %s is required (give %s=...)",
				     req[i], req[i]);
			json_decref(m);
			return NULL;
		}
	const char *brand = hull_json_str(vm, "brand", "joyent");
	bool lx = !strcmp(brand, "lx");
	if (!json_object_get(m, "uuid"))
		json_object_set_new(m, "uuid", json_string(uuid));
	json_object_set_new(m, "v", json_integer(2));
	json_object_set_new(m, "type",
			    json_string(lx ? "lx-dataset" : "zone-dataset"));
	if (!json_object_get(m, "os"))
		json_object_set_new(m, "os", json_string("linux"));
	if (!json_object_get(m, "owner"))
		json_object_set(m, "owner", json_object_get(vm, "owner_uuid"));
	if (!json_object_get(m, "state"))
		json_object_set_new(m, "state", json_string("active"));
	if (!json_object_get(m, "disabled"))
		json_object_set_new(m, "disabled", json_false());
	if (!json_object_get(m, "public"))
		json_object_set_new(m, "public", json_false());
	json_object_set_new(m, "published_at", json_string(now_iso));
	json_t *origin = json_object_get(vm, "image_uuid");
	if (origin)
		json_object_set(m, "origin", origin);
	if (lx) {
		json_t *r = json_object_get(m, "requirements");
		if (!json_is_object(r)) {
			r = json_object();
			json_object_set_new(m, "requirements", r);
		}
		json_object_set_new(r, "brand", json_string("lx"));
	}
	return m;
}

static int add_filter(struct archive *a, const char *compression,
		      struct hull_err *err)
{
	int r;
	if (!strcmp(compression, "none"))
		r = archive_write_add_filter_none(a);
	else if (!strcmp(compression, "gzip"))
		r = archive_write_add_filter_gzip(a);
	else if (!strcmp(compression, "bzip2"))
		r = archive_write_add_filter_bzip2(a);
	else if (!strcmp(compression, "xz"))
		r = archive_write_add_filter_xz(a);
	else
		return hull_err_set(err, EINVAL,
				    "unknown compression \"%s\" (none, gzip, "
				    "bzip2, xz)",
				    compression);
	if (r != ARCHIVE_OK)
		return hull_err_set(err, EIO, "compression %s: %s", compression,
				    archive_error_string(a));
	return 0;
}

static int copy_data(struct archive *disk, struct archive *out,
		     struct hull_err *err)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	for (;;) {
		int r = archive_read_data_block(disk, &buf, &size, &offset);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK)
			return hull_err_set(err, EIO, "read: %s",
					    archive_error_string(disk));
		if (archive_write_data(out, buf, size) < 0)
			return hull_err_set(err, EIO, "write: %s",
					    archive_error_string(out));
	}
}

int image_archive_write(const char *root, const char *path,
			const char *compression, struct hull_err *err)
{
	struct archive *out = archive_write_new();
	struct archive *disk = archive_read_disk_new();
	int r = add_filter(out, compression, err);
	if (r < 0)
		goto done;
	archive_write_set_format_pax_restricted(out);
	if (archive_write_open_filename(out, path) != ARCHIVE_OK) {
		r = hull_err_set(err, EIO, "create %s: %s", path,
				 archive_error_string(out));
		goto done;
	}
	archive_read_disk_set_standard_lookup(disk);
	archive_read_disk_set_symlink_physical(disk);
	archive_read_disk_set_behavior(disk,
				       ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
	if (archive_read_disk_open(disk, root) != ARCHIVE_OK) {
		r = hull_err_set(err, EIO, "open %s: %s", root,
				 archive_error_string(disk));
		goto done;
	}
	size_t rootlen = strlen(root);
	for (;;) {
		struct archive_entry *e = archive_entry_new();
		int h = archive_read_next_header2(disk, e);
		if (h == ARCHIVE_EOF) {
			archive_entry_free(e);
			break;
		}
		if (h != ARCHIVE_OK && h != ARCHIVE_WARN) {
			r = hull_err_set(err, EIO, "read %s: %s", root,
					 archive_error_string(disk));
			archive_entry_free(e);
			goto done;
		}
		archive_read_disk_descend(disk);
		/* Names relative to the root: "./etc/passwd". */
		const char *name = archive_entry_pathname(e);
		const char *rel =
		    name + (strncmp(name, root, rootlen) ? 0 : rootlen);
		while (*rel == '/')
			rel++;
		char *p = xasprintf("./%s", rel);
		archive_entry_set_pathname(e, *rel ? p : ".");
		free(p);
		if (archive_write_header(out, e) != ARCHIVE_OK) {
			r = hull_err_set(err, EIO, "write %s: %s", path,
					 archive_error_string(out));
			archive_entry_free(e);
			goto done;
		}
		if (archive_entry_filetype(e) == AE_IFREG &&
		    archive_entry_size(e) > 0 &&
		    copy_data(disk, out, err) < 0) {
			r = -EIO;
			archive_entry_free(e);
			goto done;
		}
		archive_entry_free(e);
	}
	if (archive_write_close(out) != ARCHIVE_OK)
		r = hull_err_set(err, EIO, "write %s: %s", path,
				 archive_error_string(out));
done:
	archive_read_free(disk);
	archive_write_free(out);
	if (r < 0)
		unlink(path);
	return r;
}
