/*
 * archive.c - hull_image_import_archive (hull/image.h), `imgadm import
 * PATH`: a docker save archive or an OCI image
 * layout (folder or tar) becomes one image of type docker, its layers
 * applied in order with whiteouts. Blobs named by digest are checked
 * against it while they are read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hull/image.h"
#include "image/event.h"
#include "image/install.h"
#include "image/oci.h"
#include "image/unpack.h"
#include "lib/digest.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"

struct sha256_tap {
	struct hull_digest *d;
};

static void sha256_feed(void *ctx, const void *buf, size_t len)
{
	hull_digest_update(((struct sha256_tap *)ctx)->d, buf, len);
}

static void sha256_end(struct sha256_tap *t, char out[65])
{
	hull_digest_hex(t->d, out);
	hull_digest_free(t->d);
}

static void sha256_begin(struct sha256_tap *t)
{
	t->d = hull_digest_new(HULL_DIGEST_SHA256, NULL);
	if (!t->d)
		abort(); /* libcrypto missing: a broken install */
}

/* Reads the config blob, checking its digest when it is named by one. */
static json_t *config_load(int dirfd, struct oci_image *img, char hex[65],
			   struct hull_err *err)
{
	char *buf;
	size_t len;
	if (oci_blob_read(dirfd, img->config_path, 16 << 20, &buf, &len, err) <
	    0)
		return NULL;
	struct sha256_tap t;
	sha256_begin(&t);
	sha256_feed(&t, buf, len);
	sha256_end(&t, hex);
	if (img->config_sha256 && strcmp(hex, img->config_sha256)) {
		free(buf);
		hull_err_set(err, EINVAL,
			     "image config %s: digest mismatch (content is "
			     "sha256:%s)",
			     img->config_path, hex);
		return NULL;
	}
	json_t *j = oci_json_parse(img->config_path, buf, len, err);
	free(buf);
	return j;
}

/* The layers' descriptors, opened (and checked to be regular files)
 * before anything is written or locked. */
struct layer_fds {
	int *fd;
	size_t n;
	uint64_t bytes; /* their total size, compressed */
};

static void layer_fds_close(struct layer_fds *l)
{
	for (size_t i = 0; i < l->n; i++)
		close(l->fd[i]);
	free(l->fd);
	l->fd = NULL;
	l->n = 0;
}

static int layer_fds_open(int dirfd, struct oci_image *img, struct layer_fds *l,
			  struct hull_err *err)
{
	l->fd = xcalloc(img->nlayers + 1, sizeof(*l->fd));
	l->n = 0;
	l->bytes = 0;
	for (size_t i = 0; i < img->nlayers; i++) {
		int fd = oci_blob_open(dirfd, img->layers[i].path, err);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) < 0) {
			int e = errno;
			close(fd);
			fd = hull_err_sys(err, e, "%s", img->layers[i].path);
		}
		if (fd < 0) {
			layer_fds_close(l);
			return hull_err_prefix(err, "layer");
		}
		l->fd[l->n++] = fd;
		l->bytes += (uint64_t)st.st_size;
	}
	return 0;
}

static int apply_layers(struct oci_image *img, struct layer_fds *fds,
			const struct image_budget *b, const char *root,
			uint64_t *nodes, struct hull_err *err)
{
	uint64_t used = 0; /* across layers: the image is their sum */
	for (size_t i = 0; i < img->nlayers; i++) {
		struct oci_layer *l = &img->layers[i];
		struct sha256_tap t;
		sha256_begin(&t);
		struct unpack_opts o = {.flags = UNPACK_WHITEOUTS,
					.tap = l->sha256 ? sha256_feed : NULL,
					.tap_ctx = &t,
					.limit = b->limit,
					.limit_why = b->why,
					.used = &used,
					.nodes_dropped = nodes};
		int r = image_unpack_fd(fds->fd[i], root, &o, err);
		char hex[65];
		sha256_end(&t, hex);
		if (r < 0)
			return hull_err_prefix(err, "layer %s", l->path);
		if (l->sha256 && strcmp(hex, l->sha256))
			return hull_err_set(
			    err, EINVAL,
			    "layer %s: digest mismatch (content "
			    "is sha256:%s)",
			    l->path, hex);
	}
	return 0;
}

/* Installs the image manifest m describes from the layers of img. */
static int install_layers(struct pool *p, int dirfd, struct oci_image *img,
			  json_t *m, const struct hull_image_events *ev,
			  struct hull_err *err)
{
	const char *uuid = hull_json_str(m, "uuid", "");
	_cleanup_free_ char *ds = xasprintf("images/%s", uuid);
	if (pool_dataset_exists(p, ds)) {
		image_event(ev, &(struct hull_image_event){
				    .kind = HULL_IMAGE_EV_SKIPPED,
				    .uuid = uuid,
				    .manifest = m});
		return 0;
	}
	struct layer_fds fds;
	int r = layer_fds_open(dirfd, img, &fds, err);
	if (r < 0)
		return r;
	struct image_budget b;
	if ((r = image_budget_get(p, "layers", fds.bytes, &b, err)) < 0) {
		layer_fds_close(&fds);
		return r;
	}
	struct image_txn *t;
	if ((r = image_install_begin(p, m, &t, err)) < 0) {
		layer_fds_close(&fds);
		return r;
	}
	_cleanup_free_ char *root = xasprintf("%s/root", image_txn_path(t));
	uint64_t nodes = 0;
	if (mkdir(root, 0755) < 0)
		r = hull_err_sys(err, errno, "mkdir %s", root);
	else
		r = apply_layers(img, &fds, &b, root, &nodes, err);
	layer_fds_close(&fds);
	if (r < 0) {
		image_install_abort(t);
		return r;
	}
	if ((r = image_install_commit(t, NULL, err)) < 0)
		return r;
	image_event_installed(ev, m, nodes, 0);
	return 0;
}

static int import_layout(struct pool *p, const char *dir,
			 const struct hull_image_events *ev,
			 struct hull_err *err)
{
	_cleanup_close_ int dirfd =
	    open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return hull_err_sys(err, errno, "open");
	struct oci_image img;
	int r = oci_image_load(dirfd, &img, err);
	if (r < 0)
		return r;
	char hex[65];
	json_t *config = config_load(dirfd, &img, hex, err);
	json_t *m =
	    config ? oci_image_manifest(config, hex, img.ref, err) : NULL;
	json_decref(config);
	r = m ? install_layers(p, dirfd, &img, m, ev, err) : -err->code;
	json_decref(m);
	oci_image_fini(&img);
	return r;
}

/* Unpacks the archive at path (confined, like any image, and within the
 * pool's free space) into the scratch folder. */
static int scratch_fill(struct pool *p, const char *path, const char *scratch,
			struct hull_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return hull_err_sys(err, errno, "open");
	if (!S_ISREG(st.st_mode))
		return hull_err_set(err, EINVAL,
				    "not a folder or a regular file");
	if (fcntl(fd, F_SETFL, O_RDONLY) < 0)
		return hull_err_sys(err, errno, "open");
	struct image_budget b;
	int r = image_budget_get(p, "archive", (uint64_t)st.st_size, &b, err);
	if (r < 0)
		return r;
	struct unpack_opts o = {.limit = b.limit, .limit_why = b.why};
	return image_unpack_fd(fd, scratch, &o, err);
}

static int import_archive(struct pool *p, const char *path,
			  const struct hull_image_events *ev,
			  struct hull_err *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return hull_err_sys(err, errno, "%s", path);
	if (S_ISDIR(st.st_mode)) {
		int r = import_layout(p, path, ev, err);
		return r < 0 ? hull_err_prefix(err, "%s", path) : 0;
	}
	/* An archive: unpacked into a scratch folder in the pool's var/,
	 * which goes away in every case; held locked meanwhile, so that
	 * `hull init` removes it only once this import is gone. */
	char *scratch;
	int lock;
	int r = image_scratch_make(&scratch, &lock, err);
	if (r < 0)
		return hull_err_prefix(err, "%s", path);
	r = scratch_fill(p, path, scratch, err);
	if (r == 0)
		r = import_layout(p, scratch, ev, err);
	struct hull_err ignored;
	hull_rm_rf(scratch, &ignored);
	free(scratch);
	close(lock);
	return r < 0 ? hull_err_prefix(err, "%s", path) : 0;
}

int hull_image_import_archive(const char *path,
			      const struct hull_image_events *ev,
			      struct hull_err *err)
{
	struct pool *p;
	int r = pool_open(&p, err);
	if (r < 0)
		return r;
	r = import_archive(p, path, ev, err);
	pool_close(p);
	return r;
}
