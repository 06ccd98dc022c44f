/*
 * test_pool.c - the dataset layer: names and sizes (pure), and every
 * operation on real pools of both backends, made in a temporary folder of
 * their own (the btrfs one needs root and loop devices, else it skips).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "pool/dirstream.h"
#include "pool/init.h"
#include "pool/layout.h"
#include "pool/name.h"
#include "pool/pool.h"
#include "pool/size.h"

/* ---- pure ---- */

static void test_names(void **state)
{
	assert_true(pool_dataset_name_valid("a"));
	assert_true(pool_dataset_name_valid(
	    "images/7b3c1f0e-0000-4000-8000-00000000abcd"));
	assert_true(pool_dataset_name_valid("a/b_c-d.e"));
	assert_false(pool_dataset_name_valid(""));
	assert_false(pool_dataset_name_valid("/a"));
	assert_false(pool_dataset_name_valid("a/"));
	assert_false(pool_dataset_name_valid("a//b"));
	assert_false(pool_dataset_name_valid(".."));
	assert_false(pool_dataset_name_valid("a/../b"));
	assert_false(pool_dataset_name_valid(".snapshots"));
	assert_false(pool_dataset_name_valid("var"));
	assert_false(pool_dataset_name_valid("var/x"));
	assert_true(pool_dataset_name_valid("x/var"));
	assert_false(pool_dataset_name_valid("a b"));
	assert_false(pool_dataset_name_valid("a:b"));
	assert_false(pool_dataset_name_valid("a@b"));
	assert_false(pool_dataset_name_valid(NULL));
	assert_true(pool_snapshot_name_valid("a/b@s-1"));
	assert_false(pool_snapshot_name_valid("a/b@"));
	assert_false(pool_snapshot_name_valid("@s"));
	assert_false(pool_snapshot_name_valid("a@b@c"));
	assert_false(pool_snapshot_name_valid("a@.."));
	assert_false(pool_snapshot_name_valid("a@b/c"));
	assert_true(pool_name_valid("a@b") && pool_name_valid("a"));
	char big[POOL_NAME_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(pool_dataset_name_valid(big));
}

static void test_name_encoding(void **state)
{
	char *e = pool_name_encode("images/abc");
	assert_string_equal(e, "images:abc");
	char *d = pool_name_decode(e);
	assert_string_equal(d, "images/abc");
	free(e);
	free(d);
	assert_null(pool_name_decode(".new-1"));
	assert_null(pool_name_decode("a::b"));
	assert_true(pool_name_is_below("a/b", "a"));
	assert_false(pool_name_is_below("ab", "a"));
	assert_false(pool_name_is_below("a", "a"));
	char *ds, *snap;
	assert_int_equal(pool_name_split("x/y@z", &ds, &snap), 0);
	assert_string_equal(ds, "x/y");
	assert_string_equal(snap, "z");
	free(ds);
	free(snap);
	assert_int_equal(pool_name_split("x/y", &ds, &snap), -1);
}

static void test_sizes(void **state)
{
	uint64_t v;
	assert_int_equal(pool_size_parse("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(pool_size_parse("20G", &v), 0);
	assert_int_equal(v, 20ull << 30);
	assert_int_equal(pool_size_parse("512m", &v), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(pool_size_parse("1.5GiB", &v), 0);
	assert_int_equal(v, 3ull << 29);
	assert_int_equal(pool_size_parse("2TB", &v), 0);
	assert_int_equal(v, 2ull << 40);
	assert_int_equal(pool_size_parse("16383P", &v), 0);
	assert_int_equal(pool_size_parse("16384P", &v), -1);
	assert_int_equal(pool_size_parse("99999999999999999999", &v), -1);
	assert_int_equal(pool_size_parse("0", &v), -1);
	assert_int_equal(pool_size_parse("", &v), -1);
	assert_int_equal(pool_size_parse("G", &v), -1);
	assert_int_equal(pool_size_parse("-1G", &v), -1);
	assert_int_equal(pool_size_parse("1.5", &v), -1);
	assert_int_equal(pool_size_parse("1X", &v), -1);
	assert_int_equal(pool_size_parse("1GG", &v), -1);
	assert_int_equal(pool_size_parse(NULL, &v), -1);
	char buf[16];
	pool_size_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "0");
	pool_size_format(1536, buf, sizeof(buf));
	assert_string_equal(buf, "1.5K");
	pool_size_format(20ull << 30, buf, sizeof(buf));
	assert_string_equal(buf, "20G");
}

static void test_layouts(void **state)
{
	enum pool_layout l;
	assert_int_equal(pool_layout_parse("raid6", &l), 0);
	assert_int_equal(l, POOL_LAYOUT_RAID6);
	assert_int_equal(pool_layout_parse("raidz", &l), -1);
	assert_int_equal(pool_layout_parse(NULL, &l), -1);
	assert_string_equal(pool_layout_name(POOL_LAYOUT_MIRROR), "mirror");
	assert_int_equal(pool_layout_default(1), POOL_LAYOUT_SINGLE);
	assert_int_equal(pool_layout_default(3), POOL_LAYOUT_MIRROR);
	assert_int_equal(pool_layout_min_devices(POOL_LAYOUT_RAID10), 4);
	assert_true(pool_layout_stable(POOL_LAYOUT_RAID10));
	assert_false(pool_layout_stable(POOL_LAYOUT_RAID5));
	assert_string_equal(pool_layout_meta_profile(POOL_LAYOUT_SINGLE, 1),
			    "dup");
	assert_string_equal(pool_layout_meta_profile(POOL_LAYOUT_SINGLE, 2),
			    "raid1");
	assert_string_equal(pool_layout_meta_profile(POOL_LAYOUT_RAID6, 4),
			    "raid1c3");
	assert_string_equal(pool_layout_data_profile(POOL_LAYOUT_RAID5, 3),
			    "raid5");
	assert_string_equal(pool_profile_of_flags(0), "single");
	assert_string_equal(pool_profile_of_flags((1ull << 4) | 1), "raid1");
	assert_int_equal(pool_layout_of_profiles("raid1", "raid1"),
			 POOL_LAYOUT_MIRROR);
	assert_int_equal(pool_layout_of_profiles("single", "dup"),
			 POOL_LAYOUT_SINGLE);
	assert_int_equal(pool_layout_of_profiles("raid0", "raid1"), -1);
}

static void test_scrub_status_parse(void **state)
{
	static const char text[] =
	    "UUID:             7c7823d3-50e9-4c9d-b58b-60f6fcc0d464\n"
	    "Scrub started:    Mon Dec  7 06:46:06 2026\n"
	    "Status:           finished\n"
	    "Duration:         0:00:03\n"
	    "\tdata_bytes_scrubbed: 41943040\n"
	    "\ttree_bytes_scrubbed: 360448\n"
	    "\tcsum_errors: 12\n"
	    "\tcorrected_errors: 11\n"
	    "\tuncorrectable_errors: 1\n"
	    "\tread_errors: junk\n";
	struct pool_scrub_info s;
	pool_scrub_info_parse(text, sizeof(text) - 1, &s);
	assert_string_equal(s.status, "finished");
	assert_string_equal(s.started, "Mon Dec  7 06:46:06 2026");
	assert_string_equal(s.duration, "0:00:03");
	assert_int_equal(s.data_bytes, 41943040);
	assert_int_equal(s.tree_bytes, 360448);
	assert_int_equal(s.csum_errors, 12);
	assert_int_equal(s.corrected_errors, 11);
	assert_int_equal(s.uncorrectable_errors, 1);
	assert_int_equal(s.read_errors, 0);
	static const char never[] = "UUID: x\n\tno stats available\n"
				    "\tdata_bytes_scrubbed: 0\n";
	pool_scrub_info_parse(never, sizeof(never) - 1, &s);
	assert_string_equal(s.status, "none");
	pool_scrub_info_parse("Status: running", 15, &s);
	assert_string_equal(s.status, "running");
}

static void test_dirstream_opening(void **state)
{
	struct hull_err err;
	size_t n;
	assert_int_equal(
	    pool_dirstream_intro_parse("hull-dir-stream 1 50", &n, &err), 0);
	assert_int_equal(n, 50);
	assert_int_equal(
	    pool_dirstream_intro_parse("hull-dir-stream 2 50", &n, &err),
	    -ENOTSUP);
	assert_int_equal(
	    pool_dirstream_intro_parse("hull-dir-stream 1 0", &n, &err),
	    -EINVAL);
	assert_int_equal(pool_dirstream_intro_parse(
			     "hull-dir-stream 1 99999999999", &n, &err),
			 -EINVAL);
	assert_int_equal(
	    pool_dirstream_intro_parse("hull-dir-stream 1 5x", &n, &err),
	    -EINVAL);
	assert_int_equal(pool_dirstream_intro_parse("btrfs-stream", &n, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "btrfs"));

	struct pool_dirstream_header h;
	const char *ok =
	    "{\"snapshot\":\"2\",\"base\":\"1\",\"removed\":[\"a/b\",\"c\"]}";
	assert_int_equal(pool_dirstream_header_parse(ok, strlen(ok), &h, &err),
			 0);
	assert_string_equal(h.snapshot, "2");
	assert_string_equal(h.base, "1");
	assert_int_equal(h.n_removed, 2);
	assert_string_equal(h.removed[0], "a/b");
	pool_dirstream_header_free(&h);
	const char *full = "{\"snapshot\":\"s\",\"base\":null,\"removed\":[]}";
	assert_int_equal(
	    pool_dirstream_header_parse(full, strlen(full), &h, &err), 0);
	assert_null(h.base);
	pool_dirstream_header_free(&h);
	static const char *const bad[] = {
	    "{\"snapshot\":\"../x\",\"removed\":[]}",
	    "{\"snapshot\":\"a/b\",\"removed\":[]}",
	    "{\"snapshot\":\"s\",\"base\":\"..\",\"removed\":[]}",
	    "{\"snapshot\":\"s\",\"base\":\"b\",\"removed\":[\"../etc\"]}",
	    "{\"snapshot\":\"s\",\"base\":\"b\",\"removed\":[\"/etc\"]}",
	    "{\"snapshot\":\"s\",\"base\":\"b\",\"removed\":[\"a/../../x\"]}",
	    "{\"snapshot\":\"s\",\"base\":\"b\",\"removed\":[1]}",
	    "{\"snapshot\":\"s\",\"removed\":[\"x\"]}",
	    "{\"snapshot\":\"s\"}",
	    "[1]",
	    "{",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(pool_dirstream_header_parse(
				     bad[i], strlen(bad[i]), &h, &err),
				 -EINVAL);
	assert_true(pool_dirstream_path_valid("a/b/"));
	assert_false(pool_dirstream_path_valid("a//b"));
	assert_false(pool_dirstream_path_valid("./a"));
	assert_false(pool_dirstream_path_valid(""));
}

/* ---- real pools ---- */

/* hull_root() is read once per process: every pool here lives at the same
 * root, made and taken down around each test. */
static char *workdir;

static int pool_setup(enum pool_backend b, void **state)
{
	struct hull_err err = {0};
	_cleanup_free_ char *root = xasprintf("%s/zones", workdir);
	setenv("HULL_ROOT", root, 1);
	struct pool_init_opts o = {.backend = b, .backend_set = true};
	_cleanup_free_ char *file = xasprintf("%s/pool.img", workdir);
	if (b == POOL_BACKEND_BTRFS) {
		if (geteuid() != 0 || access("/dev/loop-control", W_OK) != 0) {
			*state = NULL;
			return 0;
		}
		o.file = file;
		o.size = 512ull << 20;
	}
	enum pool_init_result res;
	if (pool_init(&o, &res, &err) < 0) {
		fprintf(stderr, "pool_init: %s\n", err.msg);
		return -1;
	}
	struct pool *p;
	if (pool_open(&p, &err) < 0) {
		fprintf(stderr, "pool_open: %s\n", err.msg);
		return -1;
	}
	*state = p;
	return 0;
}

static int setup_dir(void **state)
{
	return pool_setup(POOL_BACKEND_DIR, state);
}

static int setup_btrfs(void **state)
{
	return pool_setup(POOL_BACKEND_BTRFS, state);
}

static int pool_teardown(void **state)
{
	struct pool *p = *state;
	pool_close(p);
	bool done;
	struct hull_err err;
	pool_fini(&done, &err);
	_cleanup_free_ char *root = xasprintf("%s/zones", workdir);
	_cleanup_free_ char *file = xasprintf("%s/pool.img", workdir);
	/* A dir pool's snapshots are immutable: the pool itself removes
	 * them, then the folder goes. */
	if (!done && hull_path_exists(root)) {
		struct pool *q;
		/* Clones go before their origins: a few rounds do it. */
		for (int round = 0; round < 8 && pool_open(&q, &err) == 0;
		     round++) {
			struct pool_entry *e;
			size_t n = 0;
			if (pool_list_select(q, NULL,
					     POOL_LIST_NO_SPACE |
						 POOL_LIST_NO_SNAPSHOTS,
					     &e, &n, &err) == 0) {
				for (size_t i = n; i-- > 0;)
					pool_dataset_destroy(q, e[i].name,
							     &err);
				pool_entries_free(e, n);
			}
			pool_close(q);
			if (n == 0)
				break;
		}
	}
	hull_rm_rf(root, NULL);
	unlink(file);
	return 0;
}

#define NEED_POOL(p)                                                           \
	do {                                                                   \
		if (!(p))                                                      \
			skip();                                                \
	} while (0)

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_text(const char *path)
{
	char *buf = NULL;
	size_t len;
	if (hull_file_read(path, 1 << 20, &buf, &len, NULL) < 0)
		return NULL;
	return buf;
}

static void test_create_snapshot_clone(void **state)
{
	struct pool *p = *state;
	NEED_POOL(p);
	struct hull_err err = {0};
	assert_int_equal(pool_dataset_create(p, "images/a", &err), 0);
	assert_true(pool_dataset_exists(p, "images/a"));
	char *path = pool_dataset_path(p, "images/a");
	char *f = xasprintf("%s/hello", path);
	write_file(f, "one");
	assert_int_equal(pool_snapshot_create(p, "images/a@s1", &err), 0);
	assert_int_equal(pool_clone(p, "images/a@s1", "c1", &err), 0);
	char *cpath = pool_dataset_path(p, "c1");
	char *cf = xasprintf("%s/hello", cpath);
	char *t = read_text(cf);
	assert_string_equal(t, "one");
	free(t);
	/* The clone is independent of its origin, both ways. */
	write_file(cf, "two");
	t = read_text(f);
	assert_string_equal(t, "one");
	free(t);
	write_file(f, "three");
	t = read_text(cf);
	assert_string_equal(t, "two");
	free(t);
	/* The snapshot is read-only and outside the dataset. */
	char *spath = pool_dataset_path(p, "images/a@s1");
	assert_null(strstr(spath, path));
	char *sf = xasprintf("%s/new", spath);
	assert_null(fopen(sf, "we"));
	char *origin = NULL;
	assert_int_equal(pool_origin_get(p, "c1", &origin, &err), 0);
	assert_string_equal(origin, "images/a@s1");
	free(origin);
	free(sf);
	free(spath);
	free(cf);
	free(cpath);
	free(f);
	free(path);
}

static void test_refusals_change_nothing(void **state)
{
	struct pool *p = *state;
	NEED_POOL(p);
	struct hull_err err = {0};
	assert_int_equal(pool_dataset_create(p, "a", &err), 0);
	assert_int_equal(pool_dataset_create(p, "a", &err), -EEXIST);
	assert_int_equal(pool_dataset_create(p, "images", &err), -EEXIST);
	assert_int_equal(pool_dataset_create(p, "nope/x", &err), -ENOENT);
	assert_int_equal(pool_dataset_create(p, "../x", &err), -EINVAL);
	assert_int_equal(pool_snapshot_create(p, "b@s", &err), -ENOENT);
	assert_int_equal(pool_snapshot_create(p, "a@s", &err), 0);
	assert_int_equal(pool_snapshot_create(p, "a@s", &err), -EEXIST);
	assert_int_equal(pool_clone(p, "a@nope", "b", &err), -ENOENT);
	assert_int_equal(pool_clone(p, "a@s", "a", &err), -EEXIST);
	assert_int_equal(pool_clone(p, "a@s", "b", &err), 0);
	/* Destroying what a clone depends on is refused. */
	assert_int_equal(pool_snapshot_destroy(p, "a@s", &err), -EBUSY);
	assert_non_null(strstr(err.msg, "b"));
	assert_int_equal(pool_dataset_destroy(p, "a", &err), -EBUSY);
	assert_true(pool_dataset_exists(p, "a@s"));
	assert_true(pool_dataset_exists(p, "a"));
	assert_int_equal(pool_dataset_destroy(p, "b", &err), 0);
	assert_false(pool_dataset_exists(p, "b"));
	assert_int_equal(pool_dataset_destroy(p, "a", &err), 0);
	assert_false(pool_dataset_exists(p, "a"));
	assert_false(pool_dataset_exists(p, "a@s"));
	struct pool_entry *e;
	size_t n;
	assert_int_equal(pool_list(p, &e, &n, &err), 0);
	assert_int_equal(n, 0);
	pool_entries_free(e, n);
	assert_int_equal(pool_dataset_destroy(p, "a", &err), -ENOENT);
}

static void test_rename_carries_snapshots_and_origins(void **state)
{
	struct pool *p = *state;
	NEED_POOL(p);
	struct hull_err err = {0};
	assert_int_equal(pool_dataset_create(p, "images/x-partial", &err), 0);
	assert_int_equal(
	    pool_snapshot_create(p, "images/x-partial@final", &err), 0);
	assert_int_equal(pool_clone(p, "images/x-partial@final", "inst", &err),
			 0);
	assert_int_equal(
	    pool_dataset_rename(p, "images/x-partial", "images/x", &err), 0);
	assert_false(pool_dataset_exists(p, "images/x-partial"));
	assert_true(pool_dataset_exists(p, "images/x@final"));
	char *o = NULL;
	assert_int_equal(pool_origin_get(p, "inst", &o, &err), 0);
	assert_string_equal(o, "images/x@final");
	free(o);
	assert_int_equal(pool_dataset_rename(p, "images/x", "inst", &err),
			 -EEXIST);
	assert_int_equal(pool_dataset_rename(p, "nope", "y", &err), -ENOENT);
	/* Nested datasets move with their parent. */
	assert_int_equal(pool_dataset_create(p, "inst/root", &err), 0);
	assert_int_equal(pool_dataset_rename(p, "inst", "inst2", &err), 0);
	assert_true(pool_dataset_exists(p, "inst2/root"));
	assert_false(pool_dataset_exists(p, "inst/root"));
	assert_int_equal(pool_dataset_rename(p, "inst2", "inst2/root/x", &err),
			 -EINVAL);
	struct pool_entry *e;
	size_t n;
	assert_int_equal(
	    pool_list_select(p, NULL, POOL_LIST_NO_SPACE, &e, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(e[0].name, "images/x");
	assert_string_equal(e[1].name, "images/x@final");
	assert_true(e[1].snapshot);
	assert_string_equal(e[2].name, "inst2");
	assert_string_equal(e[2].origin, "images/x@final");
	assert_string_equal(e[3].name, "inst2/root");
	pool_entries_free(e, n);
	/* Destroy is recursive over nested datasets. */
	assert_int_equal(pool_dataset_destroy(p, "inst2", &err), 0);
	assert_false(pool_dataset_exists(p, "inst2/root"));
}

static void test_rollback(void **state)
{
	struct pool *p = *state;
	NEED_POOL(p);
	struct hull_err err = {0};
	assert_int_equal(pool_dataset_create(p, "r", &err), 0);
	char *path = pool_dataset_path(p, "r");
	char *f = xasprintf("%s/f", path);
	char *g = xasprintf("%s/g", path);
	write_file(f, "before");
	assert_int_equal(pool_snapshot_create(p, "r@s", &err), 0);
	write_file(f, "after");
	write_file(g, "new");
	assert_int_equal(pool_rollback(p, "r@s", &err), 0);
	char *t = read_text(f);
	assert_string_equal(t, "before");
	free(t);
	assert_false(hull_path_exists(g));
	/* Still writable after. */
	write_file(g, "again");
	/* Datasets nested in it stay as they are, with their files. */
	assert_int_equal(pool_dataset_create(p, "r/child", &err), 0);
	char *c = xasprintf("%s/child/c", path);
	write_file(c, "child data");
	assert_int_equal(pool_rollback(p, "r@s", &err), 0);
	t = read_text(c);
	assert_string_equal(t, "child data");
	free(t);
	assert_false(hull_path_exists(g));
	assert_true(pool_dataset_exists(p, "r/child"));
	assert_int_equal(pool_snapshot_create(p, "r/child@cs", &err), 0);
	assert_int_equal(pool_dataset_destroy(p, "r", &err), 0);
	assert_false(pool_dataset_exists(p, "r/child"));
	free(c);
	assert_int_equal(pool_rollback(p, "r@nope", &err), -ENOENT);
	free(g);
	free(f);
	free(path);
}

/* An incremental stream received aside (a live migration's target QEMU
 * holds the dataset's files): the snapshot arrives with the stream's
 * content, the head keeps its own. */
static void test_receive_aside(void **state)
{
	struct pool *p = *state;
	NEED_POOL(p);
	struct hull_err err = {0};
	assert_int_equal(pool_dataset_create(p, "v", &err), 0);
	char *path = pool_dataset_path(p, "v");
	char *f = xasprintf("%s/f", path);
	write_file(f, "one");
	assert_int_equal(pool_snapshot_create(p, "v@a", &err), 0);
	write_file(f, "two");
	assert_int_equal(pool_snapshot_create(p, "v@b", &err), 0);
	char *sf = xasprintf("%s/stream", workdir);
	int fd = open(sf, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(pool_send(p, "v@b", "v@a", fd, &err), 0);
	/* This pool as the receiver's: b not here yet, the head in use. */
	assert_int_equal(pool_snapshot_destroy(p, "v@b", &err), 0);
	write_file(f, "held");
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(pool_receive_aside(p, "v", fd, &err), 0);
	close(fd);
	char *t = read_text(f);
	assert_string_equal(t, "held");
	free(t);
	char *spath = pool_dataset_path(p, "v@b");
	char *bf = xasprintf("%s/f", spath);
	t = read_text(bf);
	assert_string_equal(t, "two");
	free(t);
	/* Never a new dataset. */
	fd = open(sf, O_RDONLY | O_CLOEXEC);
	assert_int_equal(pool_receive_aside(p, "w", fd, &err), -ENOENT);
	assert_false(pool_dataset_exists(p, "w"));
	close(fd);
	unlink(sf);
	free(bf);
	free(spath);
	free(sf);
	free(f);
	free(path);
}

static void test_quota_and_space(void **state)
{
	struct pool *p = *state;
	NEED_POOL(p);
	struct hull_err err = {0};
	assert_int_equal(pool_dataset_create(p, "q", &err), 0);
	int r = pool_quota_set(p, "q", 1 << 20, &err);
	if (pool_backend_get(p) == POOL_BACKEND_DIR) {
		assert_int_equal(r, -ENOTSUP);
		return;
	}
	assert_int_equal(r, 0);
	struct pool_entry *e;
	size_t n;
	assert_int_equal(pool_list(p, &e, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].quota, 1 << 20);
	pool_entries_free(e, n);
	assert_int_equal(pool_quota_set(p, "q", 0, &err), 0);
	assert_int_equal(pool_list(p, &e, &n, &err), 0);
	assert_int_equal(e[0].quota, 0);
	pool_entries_free(e, n);
	assert_int_equal(pool_quota_set(p, "nope", 1, &err), -ENOENT);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char *tmpl =
	    xasprintf("%s/hull-unit-pool-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
	workdir = mkdtemp(tmpl);
	if (!workdir)
		return 1;
	const struct CMUnitTest pure[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_name_encoding),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_layouts),
	    cmocka_unit_test(test_scrub_status_parse),
	    cmocka_unit_test(test_dirstream_opening),
	};
#define BOTH(t) cmocka_unit_test_setup_teardown(t, setup_dir, pool_teardown)
#define BTRFS(t) cmocka_unit_test_setup_teardown(t, setup_btrfs, pool_teardown)
	const struct CMUnitTest dir[] = {
	    BOTH(test_create_snapshot_clone),
	    BOTH(test_refusals_change_nothing),
	    BOTH(test_rename_carries_snapshots_and_origins),
	    BOTH(test_rollback),
	    BOTH(test_receive_aside),
	    BOTH(test_quota_and_space),
	};
	const struct CMUnitTest btrfs[] = {
	    BTRFS(test_create_snapshot_clone),
	    BTRFS(test_refusals_change_nothing),
	    BTRFS(test_rename_carries_snapshots_and_origins),
	    BTRFS(test_rollback),
	    BTRFS(test_receive_aside),
	    BTRFS(test_quota_and_space),
	};
	int failed =
	    cmocka_run_group_tests_name("pool names", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("pool dir", dir, NULL, NULL);
	failed += cmocka_run_group_tests_name("pool btrfs", btrfs, NULL, NULL);
	hull_rm_rf(workdir, NULL);
	free(tmpl);
	return failed;
}
