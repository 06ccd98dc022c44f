/*
 * test_zone_userns.c - the pure parts of user-namespaced zones: parsing
 * /etc/subuid, picking a free id range, and the record's hull:userns flag
 * and hull_userns range.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "zone/config.h"
#include "zone/idrange.h"

#define UUID "5a1c8e3e-0f33-4c4f-9b9e-2f3d1f1e0a11"
#define SZ ZONE_IDRANGE_SIZE

static int parse(const char *text, const char *name, struct zone_idrange *r)
{
	return zone_subid_parse(text, strlen(text), name, r);
}

static void test_subid_parse(void **state)
{
	struct zone_idrange r;
	assert_int_equal(parse("root:100000:65536\n", "root", &r), 0);
	assert_int_equal(r.start, 100000);
	assert_int_equal(r.count, 65536);
	/* Other names, comments, blank lines, CRLF; the first match wins. */
	assert_int_equal(parse("# x\n\nrooty:1:2\nlxd:5:6\r\nroot:7:8\r\n"
			       "root:9:10\n",
			       "root", &r),
			 0);
	assert_int_equal(r.start, 7);
	assert_int_equal(r.count, 8);
	/* No newline at the end. */
	assert_int_equal(parse("root:1000000:1000000000", "root", &r), 0);
	assert_int_equal(r.count, 1000000000);
	assert_int_equal(parse("lxd:1:2\n", "root", &r), -ENOENT);
	assert_int_equal(parse("", "root", &r), -ENOENT);
	/* Malformed: not decimal, missing field, signs, past 32 bits. */
	assert_int_equal(parse("root:x:1\n", "root", &r), -EINVAL);
	assert_int_equal(parse("root:1\n", "root", &r), -EINVAL);
	assert_int_equal(parse("root:-1:5\n", "root", &r), -EINVAL);
	assert_int_equal(parse("root:1:\n", "root", &r), -EINVAL);
	assert_int_equal(parse("root:4294967295:2\n", "root", &r), -EINVAL);
	assert_int_equal(parse("root:99999999999:2\n", "root", &r), -EINVAL);
	assert_int_equal(parse("root:1:2:3\n", "root", &r), -EINVAL);
}

static void test_pick(void **state)
{
	struct zone_idrange pool = {1000000, 4 * SZ};
	uint32_t u, g;
	assert_int_equal(zone_idrange_pick(pool, pool, NULL, NULL, 0, &u, &g),
			 0);
	assert_int_equal(u, 1000000);
	assert_int_equal(g, 1000000);
	/* The first slot taken: the second. */
	struct zone_idrange used[3] = {{1000000, SZ}};
	assert_int_equal(zone_idrange_pick(pool, pool, used, used, 1, &u, &g),
			 0);
	assert_int_equal(u, 1000000 + SZ);
	/* A hole is reused (a deleted instance's range). */
	used[0] = (struct zone_idrange){1000000 + SZ, SZ};
	assert_int_equal(zone_idrange_pick(pool, pool, used, used, 1, &u, &g),
			 0);
	assert_int_equal(u, 1000000);
	/* A range recorded off the grid blocks every slot it touches. */
	used[0] = (struct zone_idrange){1000000 + 10, SZ};
	assert_int_equal(zone_idrange_pick(pool, pool, used, used, 1, &u, &g),
			 0);
	assert_int_equal(u, 1000000 + 2 * SZ);
	/* Only a gid taken is enough to skip a slot. */
	struct zone_idrange gused[1] = {{1000000, 1}};
	struct zone_idrange uused[1] = {{5, 1}};
	assert_int_equal(zone_idrange_pick(pool, pool, uused, gused, 1, &u, &g),
			 0);
	assert_int_equal(g, 1000000 + SZ);
	/* Different pools for uids and gids: the same slot in each. */
	struct zone_idrange gpool = {3000000, 8 * SZ};
	assert_int_equal(zone_idrange_pick(pool, gpool, NULL, NULL, 0, &u, &g),
			 0);
	assert_int_equal(u, 1000000);
	assert_int_equal(g, 3000000);
	/* Spent: four ranges in a pool of four. */
	struct zone_idrange full[4];
	for (int i = 0; i < 4; i++)
		full[i] = (struct zone_idrange){1000000 + i * SZ, SZ};
	assert_int_equal(zone_idrange_pick(pool, pool, full, full, 4, &u, &g),
			 -ENOSPC);
	/* A pool smaller than one range holds none; the default has 16384. */
	struct zone_idrange tiny = {1000000, SZ - 1};
	assert_int_equal(zone_idrange_pick(tiny, tiny, NULL, NULL, 0, &u, &g),
			 -ENOSPC);
	struct zone_idrange def = {ZONE_IDRANGE_DEFAULT_START,
				   ZONE_IDRANGE_DEFAULT_COUNT};
	struct zone_idrange last = {ZONE_IDRANGE_DEFAULT_START,
				    ZONE_IDRANGE_DEFAULT_COUNT - SZ};
	assert_int_equal(zone_idrange_pick(def, def, &last, &last, 1, &u, &g),
			 0);
	assert_int_equal(u, ZONE_IDRANGE_DEFAULT_START +
				ZONE_IDRANGE_DEFAULT_COUNT - SZ);
	/* Id 0 and the top of the id space are never handed out. */
	struct zone_idrange zero = {0, 2 * SZ};
	assert_int_equal(zone_idrange_pick(zero, zero, NULL, NULL, 0, &u, &g),
			 0);
	assert_int_equal(u, SZ);
	struct zone_idrange top = {UINT32_MAX - SZ + 1, SZ};
	assert_int_equal(zone_idrange_pick(top, top, NULL, NULL, 0, &u, &g),
			 -ENOSPC);
}

static int cfg_of(const char *text, struct zone_config *cfg,
		  struct hull_err *err)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	assert_non_null(j);
	int r = zone_config_parse(j, cfg, err);
	json_decref(j);
	return r;
}

static void test_config_userns(void **state)
{
	struct zone_config cfg;
	struct hull_err err = {0};
	assert_int_equal(cfg_of("{\"uuid\":\"" UUID "\"}", &cfg, &err), 0);
	assert_false(cfg.userns);
	zone_config_fini(&cfg);
	assert_int_equal(
	    cfg_of("{\"uuid\":\"" UUID "\",\"internal_metadata\":"
		   "{\"hull:userns\":\"true\"},\"hull_userns\":{\"uid\":"
		   "2147483648,\"gid\":2147549184,\"count\":65536}}",
		   &cfg, &err),
	    0);
	assert_true(cfg.userns);
	assert_int_equal(cfg.userns_uid, 2147483648u);
	assert_int_equal(cfg.userns_gid, 2147549184u);
	assert_int_equal(cfg.userns_count, 65536);
	zone_config_fini(&cfg);
	assert_int_equal(cfg_of("{\"uuid\":\"" UUID "\",\"internal_metadata\":"
				"{\"hull:userns\":\"false\"}}",
				&cfg, &err),
			 0);
	assert_false(cfg.userns);
	zone_config_fini(&cfg);
	/* Refused, naming the property. */
	static const char *const bad[] = {
	    "{\"hull:userns\":\"yes\"}",
	    "{\"hull:userns\":true}",
	    "{\"hull:userns\":\"TRUE\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "{\"uuid\":\"" UUID "\",\"internal_metadata\":%s}",
			 bad[i]);
		assert_int_equal(cfg_of(text, &cfg, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "hull:userns"));
		zone_config_fini(&cfg);
	}
	/* The flag without a sane range. */
	static const char *const ranges[] = {
	    "",
	    ",\"hull_userns\":{\"uid\":0,\"gid\":5,\"count\":65536}",
	    ",\"hull_userns\":{\"uid\":7,\"gid\":5,\"count\":10}",
	    ",\"hull_userns\":{\"uid\":4294967295,\"gid\":5,\"count\":65536}",
	    ",\"hull_userns\":{\"uid\":\"1\",\"gid\":5,\"count\":65536}",
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(*ranges); i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "{\"uuid\":\"" UUID "\",\"internal_metadata\":"
			 "{\"hull:userns\":\"true\"}%s}",
			 ranges[i]);
		assert_int_equal(cfg_of(text, &cfg, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "hull_userns"));
		zone_config_fini(&cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_subid_parse),
	    cmocka_unit_test(test_pick),
	    cmocka_unit_test(test_config_userns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
