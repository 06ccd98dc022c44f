/*
 * test_image_api.c - images through the library API alone (hull/image.h),
 * on a temporary dir-backend pool: install from a manifest and an image
 * file made here, list, get, skip a second install, refuse a corrupt file
 * with nothing left behind, refuse to delete an image in use, vacuum an
 * unused origin chain in order, and install from several threads at once.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hull/image.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "pool/init.h"
#include "pool/pool.h"

static char workdir[64];

/* An lx-dataset image file: a gzip tar with etc/hostname = text. */
static char *make_image(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s.tar.gz", workdir, name);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "etc");
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, 0755);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "etc/hostname");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)strlen(text));
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_write_data(a, text, strlen(text));
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return path;
}

static void sha1_hex(const char *path, char out[41])
{
	char *buf;
	size_t len;
	struct hull_err err;
	assert_int_equal(hull_file_read(path, 1 << 20, &buf, &len, &err), 0);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	assert_int_equal(EVP_Digest(buf, len, md, &n, EVP_sha1(), NULL), 1);
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	free(buf);
}

/* The manifest text of an image file (origin may be NULL; sha1 NULL: the
 * file's). */
static char *make_manifest(const char *uuid, const char *file,
			   const char *origin, const char *sha1)
{
	char hex[41];
	if (!sha1) {
		sha1_hex(file, hex);
		sha1 = hex;
	}
	struct stat st;
	assert_int_equal(stat(file, &st), 0);
	json_t *m = json_pack(
	    "{s:i,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:s,s:s,s:s,s:[{s:s,s:I,s:s}]}",
	    "v", 2, "uuid", uuid, "owner",
	    "00000000-0000-0000-0000-000000000000", "name", "apitest",
	    "version", "1.0", "state", "active", "disabled", 0, "public", 1,
	    "published_at", "2024-01-02T03:04:05.678Z", "type", "lx-dataset",
	    "os", "linux", "files", "sha1", sha1, "size",
	    (json_int_t)st.st_size, "compression", "gzip");
	if (origin)
		json_object_set_new(m, "origin", json_string(origin));
	char *s = json_dumps(m, 0);
	json_decref(m);
	return s;
}

/* The events of one call, as "KIND uuid" lines. */
struct seen {
	char lines[16][96];
	size_t n;
};

static void record(const struct hull_image_event *v, void *arg)
{
	static const char *const kinds[] = {"DOWNLOAD", "INSTALLED", "SKIPPED",
					    "NODES",	"PARTIAL",   "DELETED"};
	struct seen *s = arg;
	if (s->n < 16)
		snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s %s",
			 kinds[v->kind], v->uuid ? v->uuid : v->name);
}

static int install(const char *uuid, const char *file, const char *origin,
		   const char *sha1, struct seen *s, struct hull_err *err)
{
	char *m = make_manifest(uuid, file, origin, sha1);
	struct hull_image_events ev = {record, s};
	int r =
	    hull_image_install(m, strlen(m), "manifest.json", file, &ev, err);
	free(m);
	return r;
}

static size_t ninstalled(void)
{
	json_t *all;
	struct hull_err err;
	if (hull_image_list(true, &all, &err) < 0)
		fail_msg("list: %s", err.msg);
	size_t n = json_array_size(all);
	json_decref(all);
	return n;
}

static int group_setup(void **state)
{
	snprintf(workdir, sizeof(workdir), "/tmp/hull-test-imgapi-XXXXXX");
	assert_non_null(mkdtemp(workdir));
	char *root = xasprintf("%s/zones", workdir);
	setenv("HULL_ROOT", root, 1);
	assert_string_equal(hull_root(), root);
	free(root);
	struct pool_init_opts o = {.backend = POOL_BACKEND_DIR,
				   .backend_set = true};
	enum pool_init_result res;
	struct hull_err err;
	if (pool_init(&o, &res, &err) < 0)
		fail_msg("pool_init: %s", err.msg);
	return 0;
}

static int group_teardown(void **state)
{
	bool done;
	struct hull_err err;
	pool_fini(&done, &err);
	hull_rm_rf(workdir, &err);
	return 0;
}

#define A "0a6e1d3c-5b2f-4c7e-9d18-000000000a01"
#define B "0a6e1d3c-5b2f-4c7e-9d18-000000000b02"
#define VM "0a6e1d3c-5b2f-4c7e-9d18-00000000c003"

static void test_install_list_get_delete(void **state)
{
	struct hull_err err = {0};
	struct seen s = {0};
	char *file = make_image("a", "alpha\n");
	if (install(A, file, NULL, NULL, &s, &err) < 0)
		fail_msg("install: %s", err.msg);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.lines[0], "INSTALLED " A);
	/* Its content is in the image's dataset. */
	struct pool *p;
	assert_int_equal(pool_open(&p, &err), 0);
	char *ds = pool_dataset_path(p, "images/" A);
	char *host = xasprintf("%s/root/etc/hostname", ds);
	char *buf;
	size_t len;
	assert_int_equal(hull_file_read(host, 64, &buf, &len, &err), 0);
	assert_string_equal(buf, "alpha\n");
	free(buf);

	/* A second install of the same uuid is skipped. */
	s.n = 0;
	assert_int_equal(install(A, file, NULL, NULL, &s, &err), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.lines[0], "SKIPPED " A);

	json_t *info;
	assert_int_equal(hull_image_get(A, true, &info, &err), 0);
	assert_string_equal(
	    hull_json_str(json_object_get(info, "manifest"), "name", ""),
	    "apitest");
	assert_int_equal(json_array_size(json_object_get(
			     json_object_get(info, "children"), "clones")),
			 0);
	json_decref(info);
	assert_int_equal(ninstalled(), 1);

	/* In use: a clone of it refuses the delete. */
	assert_int_equal(pool_clone(p, "images/" A "@final", VM, &err), 0);
	assert_int_equal(hull_image_delete(A, &err), -EBUSY);
	json_t *plan;
	assert_int_equal(hull_image_vacuum_plan(&plan, &err), 0);
	assert_int_equal(json_array_size(plan), 0);
	json_decref(plan);
	assert_int_equal(pool_dataset_destroy(p, VM, &err), 0);

	assert_int_equal(hull_image_delete(A, &err), 0);
	assert_int_equal(ninstalled(), 0);
	assert_int_equal(hull_image_delete(A, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "is not installed"));
	assert_int_equal(hull_image_get(A, false, &info, &err), -ENOENT);
	assert_null(info);
	pool_close(p);
	free(host);
	free(ds);
	free(file);
}

static void test_corrupt_file_leaves_nothing(void **state)
{
	struct hull_err err = {0};
	struct seen s = {0};
	char *file = make_image("bad", "bad\n");
	int r = install(A, file, NULL,
			"0000000000000000000000000000000000000000", &s, &err);
	assert_true(r < 0);
	assert_non_null(strstr(err.msg, "sha1"));
	assert_int_equal(s.n, 0);
	assert_int_equal(ninstalled(), 0);
	struct pool *p;
	assert_int_equal(pool_open(&p, &err), 0);
	assert_false(pool_dataset_exists(p, "images/" A));
	assert_false(pool_dataset_exists(p, "images/" A "-partial"));
	pool_close(p);
	free(file);
}

static void test_vacuum_chain_in_order(void **state)
{
	struct hull_err err = {0};
	struct seen s = {0};
	char *fa = make_image("a", "alpha\n"), *fb = make_image("b", "beta\n");
	assert_int_equal(install(A, fa, NULL, NULL, &s, &err), 0);
	if (install(B, fb, A, NULL, &s, &err) < 0)
		fail_msg("install B: %s", err.msg);
	/* B holds its origin A: a delete of A is refused. */
	assert_int_equal(hull_image_delete(A, &err), -EBUSY);
	json_t *plan;
	assert_int_equal(hull_image_vacuum_plan(&plan, &err), 0);
	assert_int_equal(json_array_size(plan), 2);
	json_decref(plan);
	assert_int_equal(ninstalled(), 2); /* a plan deletes nothing */
	s.n = 0;
	struct hull_image_events ev = {record, &s};
	if (hull_image_vacuum(&ev, &err) < 0)
		fail_msg("vacuum: %s", err.msg);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.lines[0], "DELETED " B);
	assert_string_equal(s.lines[1], "DELETED " A);
	assert_int_equal(ninstalled(), 0);
	free(fa);
	free(fb);
}

#define NTHREADS 3

struct job {
	char uuid[40];
	char *file;
	char msg[HULL_ERR_MSG_MAX];
	int rc;
};

static void *installer(void *arg)
{
	struct job *j = arg;
	struct hull_err err = {0};
	struct seen s = {0};
	j->rc = install(j->uuid, j->file, NULL, NULL, &s, &err);
	snprintf(j->msg, sizeof(j->msg), "%s", err.msg);
	return NULL;
}

static void test_concurrent_installs(void **state)
{
	struct job jobs[NTHREADS];
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		hull_uuid_generate(jobs[i].uuid);
		char name[8];
		snprintf(name, sizeof(name), "t%d", i);
		jobs[i].file = make_image(name, name);
	}
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(
		    pthread_create(&th[i], NULL, installer, &jobs[i]), 0);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		if (jobs[i].rc < 0)
			fail_msg("thread %d: %s", i, jobs[i].msg);
	}
	assert_int_equal(ninstalled(), NTHREADS);
	struct hull_err err;
	assert_int_equal(hull_image_vacuum(NULL, &err), 0);
	assert_int_equal(ninstalled(), 0);
	for (int i = 0; i < NTHREADS; i++)
		free(jobs[i].file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_install_list_get_delete),
	    cmocka_unit_test(test_corrupt_file_leaves_nothing),
	    cmocka_unit_test(test_vacuum_chain_in_order),
	    cmocka_unit_test(test_concurrent_installs),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
