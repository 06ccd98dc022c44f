/*
 * test_placement.c - placement's filters, scorers and their signs, hints
 * and the datacenter reserve, against a throwaway SQLite store.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "head/affinity.h"
#include "head/placecfg.h"
#include "head/placement.h"
#include "head/servers.h"
#include "head/store.h"

#define S1 "11111111-1111-4111-8111-111111111111"
#define S2 "22222222-2222-4222-8222-222222222222"
#define S3 "33333333-3333-4333-8333-333333333333"
#define OWNER "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"

struct fx {
	char dir[64];
	struct store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/hull-test-place-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char url[128];
	snprintf(url, sizeof(url), "sqlite:%s/state.db", f->dir);
	struct hull_err err = {0};
	assert_int_equal(store_open(url, &f->s, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* A running server: ram MiB (0.85 of it bookable), 10 GiB of pool,
 * cpus, and whether it runs HVM. */
static void server(struct store *s, const char *uuid, long ram, int cpus,
		   bool hvm)
{
	json_t *v = json_pack(
	    "{s:s, s:I, s:I, s:I, s:i, s:b, s:{s:b, s:b}}", "uuid", uuid, "ram",
	    (json_int_t)ram, "disk_pool_size_bytes", (json_int_t)10240 << 20,
	    "heartbeat_ms", (json_int_t)head_now_ms(), "cpus", cpus, "reserved",
	    0, "sysinfo", "HVM API", hvm, "Bhyve Capable", hvm);
	assert_int_equal(store_put(s, "servers", uuid, v, NULL, NULL, NULL), 0);
	json_decref(v);
}

static void machine(struct store *s, const char *id, const char *srv,
		    const char *owner, long mem, long cap, const char *name)
{
	json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "id", id,
			      "server", srv, "owner", owner, "name", name,
			      "memory", (json_int_t)mem, "disk",
			      (json_int_t)1024, "state", "running");
	if (cap)
		json_object_set_new(v, "cpu_cap", json_integer(cap));
	assert_int_equal(store_put(s, "machines", id, v, NULL, NULL, NULL), 0);
	json_decref(v);
}

static const char *nth(json_t *a, size_t i)
{
	return json_string_value(json_array_get(a, i));
}

static json_t *choose(struct store *s, const struct placement_req *rq)
{
	json_t *c = NULL;
	struct hull_err err = {0};
	assert_int_equal(placement_choose(s, rq, &c, &err), 0);
	return c;
}

static void set(struct store *s, const char *json)
{
	json_t *p = json_loads(json, 0, NULL);
	assert_non_null(p);
	struct hull_err err = {0};
	if (placement_cfg_update(s, p, &err) < 0)
		fail_msg("%s", err.msg);
	json_decref(p);
}

/* The default spreads (more unreserved RAM first); pack reverses it; a
 * positive owner weight moves an owner's next machine away from its
 * others. */
static void test_signs(void **state)
{
	struct store *s = ((struct fx *)*state)->s;
	server(s, S1, 8192, 4, false);
	server(s, S2, 8192, 4, false);
	machine(s, "m1", S1, "other", 2048, 0, "a");
	machine(s, "m2", S2, OWNER, 512, 0, "b");
	struct placement_req rq = {
	    .ram_mib = 256, .disk_mib = 100, .owner = OWNER};
	json_t *c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 2);
	assert_string_equal(nth(c, 0), S2); /* more RAM left */
	json_decref(c);
	set(s, "{\"mode\": \"pack\"}");
	c = choose(s, &rq);
	assert_string_equal(nth(c, 0), S1);
	json_decref(c);
	/* Spreading the owner, heavier than spreading RAM: S1 has none of
	 * OWNER's machines. */
	set(s, "{\"mode\": \"spread\", \"weights\": {\"owner\": 5}}");
	c = choose(s, &rq);
	assert_string_equal(nth(c, 0), S1);
	json_decref(c);
	/* Packing with the owner kept together: beside its own on S2,
	 * although S1 has less RAM left. */
	set(s, "{\"mode\": \"pack\", \"weights\": {\"owner\": -5}}");
	struct placement_cfg cfg;
	assert_int_equal(placement_cfg_load(s, &cfg, NULL), 0);
	assert_true(cfg.w_ram == -2 && cfg.w_disk == -1 && cfg.w_owner == -5);
	c = choose(s, &rq);
	assert_string_equal(nth(c, 0), S2);
	json_decref(c);
	json_t *j = placement_cfg_json(&cfg);
	assert_string_equal(json_string_value(json_object_get(j, "mode")),
			    "pack");
	json_decref(j);
}

/* CPU: a capped request needs cpu_cap / ratio free; one uncapped machine
 * leaves a server no CPU to book. Overprovisioned RAM; HVM brands count
 * in full and need an HVM server; the machine limit. */
static void test_filters(void **state)
{
	struct store *s = ((struct fx *)*state)->s;
	server(s, S1, 4096, 1, false); /* 3481 MiB, 100 of cpu */
	server(s, S2, 4096, 1, true);
	machine(s, "m1", S1, "o", 256, 300, "a");
	machine(s, "m2", S2, "o", 256, 0, "b"); /* uncapped */
	struct placement_req rq = {
	    .ram_mib = 256, .disk_mib = 100, .cpu_cap = 100};
	json_t *c = choose(s, &rq);
	/* S1: 100 - 300/4 = 25 >= 100/4; S2 has an uncapped machine. */
	assert_int_equal(json_array_size(c), 1);
	assert_string_equal(nth(c, 0), S1);
	json_decref(c);
	rq.cpu_cap = 104; /* 104 / 4 = 26 > 25 */
	c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 0);
	json_decref(c);

	/* RAM ratio 2: a 4000 MiB zone needs 2000 (both fit); a bhyve VM
	 * counts in full (neither has 4000) and runs on S2 only. */
	set(s, "{\"overprovision_ratios\": {\"ram\": 2}}");
	rq = (struct placement_req){.ram_mib = 4000, .disk_mib = 100};
	c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 2);
	json_decref(c);
	rq.brand = "bhyve";
	c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 0);
	json_decref(c);
	rq.ram_mib = 1024;
	c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 1);
	assert_string_equal(nth(c, 0), S2);
	json_decref(c);
	/* The limit of machines per server, and a booking refused by it. */
	set(s, "{\"vm_limit\": 1}");
	rq = (struct placement_req){.ram_mib = 10, .disk_mib = 10};
	c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 0);
	json_decref(c);
	assert_int_equal(placement_take(s, S1, &rq, NULL), -ENOSPC);
	/* Bad settings are refused, nothing written. */
	json_t *bad =
	    json_pack("{s:{s:f}}", "overprovision_ratios", "ram", 0.5);
	struct hull_err err = {0};
	assert_int_equal(placement_cfg_update(s, bad, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "overprovision ratio ram"));
	json_decref(bad);
	bad = json_pack("{s:s}", "mode", "fill");
	assert_int_equal(placement_cfg_update(s, bad, &err), -EINVAL);
	json_decref(bad);
}

/* Affinity: hard == pins, hard != excludes, soft ones prefer; a hard ==
 * that matches nothing is an error; another owner's instances never
 * match. */
static void test_affinity(void **state)
{
	struct store *s = ((struct fx *)*state)->s;
	server(s, S1, 8192, 4, false);
	server(s, S2, 8192, 4, false);
	server(s, S3, 8192, 4, false);
	machine(s, "11111111-0000-4000-8000-000000000001", S1, OWNER, 4096, 0,
		"db0");
	machine(s, "11111111-0000-4000-8000-000000000002", S2, OWNER, 512, 0,
		"web0");
	machine(s, "11111111-0000-4000-8000-000000000003", S3, "other", 512, 0,
		"db1");
	struct hull_err err = {0};
	json_t *h = NULL;
	json_t *body = json_pack("{s:[s]}", "affinity", "instance==db0");
	assert_int_equal(affinity_hints(s, OWNER, body, &h, &err), 0);
	struct placement_req rq = {.ram_mib = 64, .disk_mib = 64, .hints = h};
	json_t *c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 1);
	assert_string_equal(nth(c, 0), S1);
	json_decref(c);
	json_decref(h);
	json_decref(body);

	body = json_pack("{s:[s]}", "affinity", "instance!=db*");
	assert_int_equal(affinity_hints(s, OWNER, body, &h, &err), 0);
	rq.hints = h;
	c = choose(s, &rq); /* db1 is another owner's: S3 stays */
	assert_int_equal(json_array_size(c), 2);
	assert_string_equal(nth(c, 0), S2); /* equal: by uuid */
	assert_string_equal(nth(c, 1), S3);
	json_decref(c);
	json_decref(h);
	json_decref(body);

	/* Soft: near db0 (S1 has the least RAM, spread would avoid it). */
	body = json_pack("{s:[s]}", "affinity", "instance==~/^db[0-9]$/");
	assert_int_equal(affinity_hints(s, OWNER, body, &h, &err), 0);
	rq.hints = h;
	c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 1);
	assert_string_equal(nth(c, 0), S1);
	json_decref(c);
	json_decref(h);
	json_decref(body);

	/* locality far, not strict: away from web0 when possible. */
	body = json_pack("{s:{s:[s]}}", "locality", "far",
			 "11111111-0000-4000-8000-000000000002");
	assert_int_equal(affinity_hints(s, OWNER, body, &h, &err), 0);
	rq.hints = h;
	c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 2);
	assert_string_equal(nth(c, 0), S3);
	json_decref(c);
	json_decref(h);
	json_decref(body);

	body = json_pack("{s:[s]}", "affinity", "instance==db1");
	assert_int_equal(affinity_hints(s, OWNER, body, &h, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no instance matches"));
	json_decref(body);
	body = json_pack("{s:[s]}", "affinity", "instance<>db1");
	assert_int_equal(affinity_hints(s, OWNER, body, &h, &err), -EINVAL);
	json_decref(body);
	body = json_pack("{s:[s]}", "affinity", "role==/[/");
	assert_int_equal(affinity_hints(s, OWNER, body, &h, &err), -EINVAL);
	json_decref(body);
}

/* The reserve: ordinary placement never books into it, failover may;
 * the largest-servers form; what it shows. */
static void test_reserve(void **state)
{
	struct store *s = ((struct fx *)*state)->s;
	server(s, S1, 4096, 2, false); /* 3481 each */
	server(s, S2, 4096, 2, false);
	set(s, "{\"reserve\": {\"share\": 0.5}}");
	json_t *cap = NULL;
	assert_int_equal(placement_capacity(s, &cap, NULL), 0);
	json_t *ram = json_object_get(cap, "ram");
	assert_int_equal(json_integer_value(json_object_get(ram, "total")),
			 6962);
	assert_int_equal(json_integer_value(json_object_get(ram, "reserve")),
			 3481);
	assert_int_equal(json_integer_value(json_object_get(ram, "free")),
			 3481);
	json_decref(cap);
	struct placement_req rq = {.ram_mib = 3000, .disk_mib = 100};
	json_t *c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 2);
	json_decref(c);
	assert_int_equal(placement_take(s, S1, &rq, NULL), 0);
	machine(s, "m1", S1, "o", 3000, 0, "a");
	/* 481 MiB of ordinary room left; 1000 more would eat the reserve. */
	rq.ram_mib = 1000;
	c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 0);
	json_decref(c);
	assert_int_equal(placement_take(s, S2, &rq, NULL), -ENOSPC);
	rq.use_reserve = true;
	c = choose(s, &rq);
	assert_int_equal(json_array_size(c), 1);
	assert_string_equal(nth(c, 0), S2);
	json_decref(c);
	assert_int_equal(placement_take(s, S2, &rq, NULL), 0);
	/* The largest server's worth: 3481 held back. */
	set(s, "{\"reserve\": {\"largest\": 1}}");
	assert_int_equal(placement_capacity(s, &cap, NULL), 0);
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(cap, "ram"), "reserve")),
			 3481);
	json_decref(cap);
	set(s, "{\"reserve\": null}");
	struct placement_cfg cfg;
	assert_int_equal(placement_cfg_load(s, &cfg, NULL), 0);
	assert_true(cfg.reserve_share == 0 && cfg.reserve_largest == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_signs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_affinity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reserve, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
