/*
 * docker.c - `imgadm import PATH`: a docker save archive or an OCI image
 * layout (folder or tar) becomes one image of type docker, its layers
 * applied in order with whiteouts. Blobs named by digest are checked
 * against it while they are read.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/install.h"
#include "image/oci.h"
#include "image/unpack.h"
#include "imgadm.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"

struct sha256_tap {
	EVP_MD_CTX *ctx;
};

static void sha256_feed(void *ctx, const void *buf, size_t len)
{
	EVP_DigestUpdate(((struct sha256_tap *)ctx)->ctx, buf, len);
}

static void sha256_end(struct sha256_tap *t, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestFinal_ex(t->ctx, md, &n);
	EVP_MD_CTX_free(t->ctx);
	for (unsigned i = 0; i < n && i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[64] = '\0';
}

static void sha256_begin(struct sha256_tap *t)
{
	t->ctx = EVP_MD_CTX_new();
	if (!t->ctx || EVP_DigestInit_ex(t->ctx, EVP_sha256(), NULL) != 1)
		abort();
}

/* Reads the config blob, checking its digest when it is named by one. */
static json_t *config_load(const char *dir, struct oci_image *img, char hex[65],
			   struct hull_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, img->config_path);
	char *buf;
	size_t len;
	if (hull_file_read(p, 16 << 20, &buf, &len, err) < 0)
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
	json_t *j = hull_json_load_buf(img->config_path, buf, len, err);
	free(buf);
	return j;
}

static int apply_layers(const char *dir, struct oci_image *img,
			const char *root, struct hull_err *err)
{
	for (size_t i = 0; i < img->nlayers; i++) {
		struct oci_layer *l = &img->layers[i];
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, l->path);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return hull_err_sys(err, errno, "layer %s", l->path);
		struct sha256_tap t;
		sha256_begin(&t);
		struct unpack_opts o = {.flags = UNPACK_WHITEOUTS,
					.tap = l->sha256 ? sha256_feed : NULL,
					.tap_ctx = &t};
		int r = image_unpack_fd(fd, root, &o, err);
		close(fd);
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
static int install_layers(struct pool *p, const char *dir,
			  struct oci_image *img, json_t *m, bool quiet,
			  struct hull_err *err)
{
	const char *uuid = hull_json_str(m, "uuid", "");
	_cleanup_free_ char *ds = xasprintf("images/%s", uuid);
	if (pool_dataset_exists(p, ds)) {
		if (!quiet)
			printf("Image %s (%s@%s) is already installed\n", uuid,
			       hull_json_str(m, "name", ""),
			       hull_json_str(m, "version", ""));
		return 0;
	}
	struct image_txn *t;
	int r = image_install_begin(p, m, &t, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *root = xasprintf("%s/root", image_txn_path(t));
	if (mkdir(root, 0755) < 0)
		r = hull_err_sys(err, errno, "mkdir %s", root);
	else
		r = apply_layers(dir, img, root, err);
	if (r < 0) {
		image_install_abort(t);
		return r;
	}
	if ((r = image_install_commit(t, NULL, err)) < 0)
		return r;
	if (!quiet)
		printf("Imported image %s (%s@%s)\n", uuid,
		       hull_json_str(m, "name", ""),
		       hull_json_str(m, "version", ""));
	return 0;
}

static int import_layout(struct pool *p, const char *dir, bool quiet,
			 struct hull_err *err)
{
	struct oci_image img;
	int r = oci_image_load(dir, &img, err);
	if (r < 0)
		return r;
	char hex[65];
	json_t *config = config_load(dir, &img, hex, err);
	json_t *m =
	    config ? oci_image_manifest(config, hex, img.ref, err) : NULL;
	json_decref(config);
	r = m ? install_layers(p, dir, &img, m, quiet, err) : -err->code;
	json_decref(m);
	oci_image_fini(&img);
	return r;
}

int imgadm_import_oci(struct pool *p, const char *path, bool quiet,
		      struct hull_err *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return hull_err_sys(err, errno, "%s", path);
	if (S_ISDIR(st.st_mode)) {
		int r = import_layout(p, path, quiet, err);
		return r < 0 ? hull_err_prefix(err, "%s", path) : 0;
	}
	/* An archive: unpack it (confined, like any image) into a scratch
	 * folder in the pool's var/, which goes away in every case. */
	_cleanup_free_ char *var = hull_root_path("var");
	bool made_var = !hull_is_dir(var);
	if (made_var && hull_mkdir_p(var, 0755, err) < 0)
		return -err->code;
	_cleanup_free_ char *tmpl = xasprintf("%s/.oci-XXXXXX", var);
	if (!mkdtemp(tmpl)) {
		int r = hull_err_sys(err, errno, "mkdtemp %s", tmpl);
		if (made_var)
			rmdir(var);
		return r;
	}
	int r = image_unpack(path, tmpl, 0, err);
	if (r == 0)
		r = import_layout(p, tmpl, quiet, err);
	struct hull_err ignored;
	hull_rm_rf(tmpl, &ignored);
	if (made_var)
		rmdir(var);
	return r < 0 ? hull_err_prefix(err, "%s", path) : 0;
}
