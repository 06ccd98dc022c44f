/*
 * api.c - the image transactions of hull/image.h, over the pool (one
 * pool_open per call), the store (image/store.h), installs
 * (image/install.h) and the sources (image/source.h). The import of docker
 * and OCI archives is in archive.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "hull/image.h"
#include "image/event.h"
#include "image/install.h"
#include "image/manifest.h"
#include "image/source.h"
#include "image/store.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "pool/pool.h"

void image_event(const struct hull_image_events *ev,
		 const struct hull_image_event *e)
{
	if (ev && ev->fn)
		ev->fn(e, ev->arg);
}

void image_event_installed(const struct hull_image_events *ev, json_t *m,
			   uint64_t nodes, int depth)
{
	const char *uuid = hull_json_str(m, "uuid", "");
	if (nodes)
		image_event(ev, &(struct hull_image_event){
				    .kind = HULL_IMAGE_EV_NODES_DROPPED,
				    .uuid = uuid,
				    .manifest = m,
				    .count = nodes,
				    .depth = depth});
	image_event(ev,
		    &(struct hull_image_event){.kind = HULL_IMAGE_EV_INSTALLED,
					       .uuid = uuid,
					       .manifest = m,
					       .depth = depth});
}

int hull_image_install(const char *manifest, size_t len, const char *name,
		       const char *file, const struct hull_image_events *ev,
		       struct hull_err *err)
{
	struct pool *p;
	int r = pool_open(&p, err);
	if (r < 0)
		return r;
	/* An image already installed is skipped before the rest of the
	 * manifest is looked at. */
	json_t *raw = hull_json_load_buf("manifest", manifest, len, NULL);
	const char *ruuid = hull_json_str(raw, "uuid", "");
	json_t *have =
	    hull_uuid_valid(ruuid) ? image_store_get(p, ruuid, NULL) : NULL;
	json_decref(raw);
	if (have) {
		json_t *hm = json_object_get(have, "manifest");
		image_event(ev, &(struct hull_image_event){
				    .kind = HULL_IMAGE_EV_SKIPPED,
				    .uuid = hull_json_str(hm, "uuid", ""),
				    .manifest = hm});
		json_decref(have);
		pool_close(p);
		return 0;
	}
	json_t *m = image_manifest_parse(manifest, len, err);
	if (!m) {
		pool_close(p);
		return hull_err_prefix(err, "%s", name);
	}
	image_manifest_defaults(m);
	uint64_t nodes = 0;
	r = image_install_file(p, m, file, NULL, &nodes, err);
	if (r == 0)
		image_event_installed(ev, m, nodes, 0);
	json_decref(m);
	pool_close(p);
	return r;
}

/* The manifest of uuid from the first source that has it; *from gets that
 * source (new reference). A source that fails is skipped, but its error is
 * what is reported when no source has the image. */
static json_t *find_remote(const char *uuid, json_t **from,
			   struct hull_err *err)
{
	json_t *sources = image_sources_load(err);
	if (!sources)
		return NULL;
	struct hull_err first = {0};
	json_t *m = NULL;
	size_t i;
	json_t *src;
	json_array_foreach(sources, i, src)
	{
		struct hull_err e = {0};
		m = image_source_get(src, uuid, &e);
		if (m) {
			*from = json_incref(src);
			break;
		}
		if (e.code != ENOENT && !first.code)
			first = e;
	}
	size_t n = json_array_size(sources);
	json_decref(sources);
	if (m)
		return m;
	if (first.code)
		*err = first;
	else if (n == 0)
		hull_err_set(err, ENOENT,
			     "no image sources configured (see imgadm sources "
			     "-a)");
	else
		hull_err_set(err, ENXIO, "image %s was not found in any source",
			     uuid);
	return NULL;
}

int hull_image_show(const char *uuid, json_t **manifest, json_t **source_out,
		    struct hull_err *err)
{
	if (source_out)
		*source_out = NULL;
	int r = hull_root_check(err);
	if (r < 0)
		return r;
	json_t *src = NULL;
	*manifest = find_remote(uuid, &src, err);
	if (!*manifest)
		return -err->code;
	if (source_out)
		*source_out = src;
	else
		json_decref(src);
	return 0;
}

struct download {
	const struct hull_image_events *ev;
	const char *uuid;
	int depth;
};

static void on_download(void *ctx, uint64_t done, uint64_t total)
{
	struct download *d = ctx;
	image_event(d->ev,
		    &(struct hull_image_event){.kind = HULL_IMAGE_EV_DOWNLOAD,
					       .uuid = d->uuid,
					       .done = done,
					       .total = total,
					       .depth = d->depth});
}

static int import_one(struct pool *pool, json_t *src, json_t *m,
		      const struct hull_image_events *ev, int depth,
		      struct hull_err *err)
{
	const char *uuid = hull_json_str(m, "uuid", "");
	_cleanup_free_ char *dir = hull_root_path("var/imgadm");
	bool made_dir = !hull_is_dir(dir);
	if (made_dir && hull_mkdir_p(dir, 0755, err) < 0)
		return -err->code;
	_cleanup_free_ char *tmp = xasprintf("%s/.download-%s", dir, uuid);
	struct download d = {ev, uuid, depth};
	char *path = NULL;
	int downloaded = 0;
	int r =
	    image_source_fetch(src, m, tmp, ev && ev->fn ? on_download : NULL,
			       &d, &path, &downloaded, err);
	uint64_t nodes = 0;
	if (r == 0) {
		image_manifest_defaults(m);
		r = image_install_file(pool, m, path,
				       hull_json_str(src, "url", NULL), &nodes,
				       err);
	}
	if (downloaded)
		unlink(path);
	free(path);
	if (made_dir)
		rmdir(dir);
	if (r == 0)
		image_event_installed(ev, m, nodes, depth);
	return r;
}

/* Imports uuid (its origin first) from only, or from the first source that
 * has it when only is NULL. */
static int import_uuid(struct pool *pool, const char *uuid, json_t *only,
		       const struct hull_image_events *ev, int depth,
		       struct hull_err *err)
{
	_cleanup_free_ char *ds = xasprintf("images/%s", uuid);
	if (pool_dataset_exists(pool, ds)) {
		image_event(ev, &(struct hull_image_event){
				    .kind = HULL_IMAGE_EV_SKIPPED,
				    .uuid = uuid,
				    .depth = depth});
		return 0;
	}
	if (depth > 16)
		return hull_err_set(err, ELOOP,
				    "image %s: origin chain too long", uuid);
	json_t *src = NULL, *m;
	if (only) {
		m = image_source_get(only, uuid, err);
		if (m)
			src = json_incref(only);
	} else {
		m = find_remote(uuid, &src, err);
	}
	if (!m)
		return -err->code;
	int r = 0;
	const char *origin = hull_json_str(m, "origin", NULL);
	if (origin)
		r = import_uuid(pool, origin, only, ev, depth + 1, err);
	if (r == 0)
		r = import_one(pool, src, m, ev, depth, err);
	json_decref(m);
	json_decref(src);
	return r;
}

int hull_image_import(const char *uuid, const char *source_url,
		      const struct hull_image_events *ev, struct hull_err *err)
{
	struct pool *p;
	int r = pool_open(&p, err);
	if (r < 0)
		return r;
	json_t *only = NULL;
	if (source_url)
		only = json_pack("{s:s, s:s}", "url", source_url, "type",
				 image_source_type_guess(source_url));
	r = import_uuid(p, uuid, only, ev, 0, err);
	json_decref(only);
	pool_close(p);
	return r;
}

int hull_image_delete(const char *uuid, struct hull_err *err)
{
	struct pool *p;
	int r = pool_open(&p, err);
	if (r < 0)
		return r;
	r = image_store_delete(p, uuid, err);
	pool_close(p);
	return r;
}

/* The installed images nothing uses: no clones, no child image (an image
 * in skip does not hold its origin). */
static json_t *unused_images(struct pool *p, json_t *skip, struct hull_err *err)
{
	json_t *all = image_store_list(p, true, err);
	if (!all)
		return NULL;
	json_t *origins = json_object();
	size_t i;
	json_t *info;
	json_array_foreach(all, i, info)
	{
		json_t *m = json_object_get(info, "manifest");
		const char *o = hull_json_str(m, "origin", NULL);
		if (o && !json_object_get(skip, hull_json_str(m, "uuid", "")))
			json_object_set_new(origins, o, json_true());
	}
	json_t *out = json_array();
	json_array_foreach(all, i, info)
	{
		json_t *m = json_object_get(info, "manifest");
		const char *u = hull_json_str(m, "uuid", "");
		if (hull_json_int(info, "clones", 0) == 0 &&
		    !json_object_get(origins, u))
			json_array_append(out, info);
	}
	json_decref(origins);
	json_decref(all);
	return out;
}

static int vacuum_plan(struct pool *p, json_t **order, struct hull_err *err)
{
	json_t *gone = json_object(); /* uuid -> true */
	*order = json_array();
	/* Each round frees the origins of the images the previous round
	 * removes. */
	for (;;) {
		json_t *unused = unused_images(p, gone, err);
		if (!unused) {
			json_decref(gone);
			json_decref(*order);
			*order = NULL;
			return -err->code;
		}
		size_t added = 0, i;
		json_t *info;
		json_array_foreach(unused, i, info)
		{
			const char *u = hull_json_str(
			    json_object_get(info, "manifest"), "uuid", "");
			if (!json_object_get(gone, u)) {
				json_object_set_new(gone, u, json_true());
				json_array_append(*order, info);
				added++;
			}
		}
		json_decref(unused);
		if (!added)
			break;
	}
	json_decref(gone);
	return 0;
}

int hull_image_vacuum_plan(json_t **order, struct hull_err *err)
{
	*order = NULL;
	struct pool *p;
	int r = pool_open(&p, err);
	if (r < 0)
		return r;
	r = vacuum_plan(p, order, err);
	pool_close(p);
	return r;
}

static int partials(struct pool *p, const struct hull_image_events *ev,
		    struct hull_err *err)
{
	json_t *removed = NULL;
	int r = image_install_partials_clean(p, &removed, err);
	if (r == 0) {
		size_t i;
		json_t *name;
		json_array_foreach(removed, i, name)
		    image_event(ev, &(struct hull_image_event){
					.kind = HULL_IMAGE_EV_PARTIAL_REMOVED,
					.name = json_string_value(name)});
	}
	json_decref(removed);
	return r;
}

int hull_image_vacuum_partials(const struct hull_image_events *ev,
			       struct hull_err *err)
{
	struct pool *p;
	int r = pool_open(&p, err);
	if (r < 0)
		return r;
	r = partials(p, ev, err);
	pool_close(p);
	return r;
}

int hull_image_vacuum(const struct hull_image_events *ev, struct hull_err *err)
{
	struct pool *p;
	int r = pool_open(&p, err);
	if (r < 0)
		return r;
	json_t *order = NULL;
	r = partials(p, ev, err);
	if (r == 0)
		r = vacuum_plan(p, &order, err);
	size_t i;
	json_t *info;
	json_array_foreach(order, i, info)
	{
		if (r < 0)
			break;
		json_t *m = json_object_get(info, "manifest");
		const char *u = hull_json_str(m, "uuid", "");
		r = image_store_delete(p, u, err);
		if (r == 0)
			image_event(ev, &(struct hull_image_event){
					    .kind = HULL_IMAGE_EV_DELETED,
					    .uuid = u,
					    .manifest = m});
	}
	json_decref(order);
	pool_close(p);
	return r;
}

int hull_image_list(bool clones, json_t **infos, struct hull_err *err)
{
	struct pool *p;
	*infos = NULL;
	int r = pool_open(&p, err);
	if (r < 0)
		return r;
	*infos = image_store_list(p, clones, err);
	pool_close(p);
	return *infos ? 0 : -err->code;
}

int hull_image_get(const char *uuid, bool children, json_t **info,
		   struct hull_err *err)
{
	struct pool *p;
	*info = NULL;
	int r = pool_open(&p, err);
	if (r < 0)
		return r;
	json_t *i = image_store_get(p, uuid, err);
	if (i && children) {
		json_t *cl = image_store_clones(p, uuid, err);
		if (!cl) {
			json_decref(i);
			i = NULL;
		} else {
			json_object_set_new(i, "children",
					    json_pack("{s:o}", "clones", cl));
		}
	}
	pool_close(p);
	*info = i;
	return i ? 0 : -err->code;
}
