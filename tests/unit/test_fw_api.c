/*
 * test_fw_api.c - the firewall through its library API alone
 * (hull/firewall.h): rules added, enabled, disabled, updated and deleted
 * on a temporary pool, each change checked in the live nftables filter of
 * a private network namespace; failures that change nothing; concurrent
 * callers in several threads.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nftables/libnftables.h>

#include "fw/nft.h"
#include "hull/firewall.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"

#define VM "6d2f0a4e-1b7c-4e58-9a3d-2c1f00000001"
#define R1 "0b7e2d2a-3c4f-4a1b-8e9d-000000000001"

static char pool[64];

/* The live chain of VM's instance, as nft lists it. */
static char *live_chain(void)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	char *cmd = xasprintf("list chain inet %s i-" VM, fw_nft_table());
	char *out = NULL;
	if (nft_run_cmd_from_buffer(ctx, cmd) == 0)
		out = xstrdup(nft_ctx_get_output_buffer(ctx));
	free(cmd);
	nft_ctx_free(ctx);
	return out;
}

static bool live_has(const char *what)
{
	char *c = live_chain();
	bool r = c && strstr(c, what);
	free(c);
	return r;
}

/* hull_root() is read once per process: one pool for the whole group,
 * its rules and filter cleared after each test. */
static int setup(void **state)
{
	if (geteuid() != 0)
		return 0; /* each test skips */
	if (unshare(CLONE_NEWNET) < 0)
		fail_msg("unshare(CLONE_NEWNET): %s", strerror(errno));
	snprintf(pool, sizeof(pool), "/tmp/hull-test-fwapi-XXXXXX");
	assert_non_null(mkdtemp(pool));
	setenv("HULL_ROOT", pool, 1);
	struct hull_err err;
	char *cfg = hull_root_path("%s/config", VM);
	assert_int_equal(hull_mkdir_p(cfg, 0755, &err), 0);
	char *vm = xasprintf("%s/vm.json", cfg);
	const char *rec = "{\"uuid\":\"" VM "\",\"firewall_enabled\":true,"
			  "\"nics\":[{\"host_ifname\":\"vhapi0\","
			  "\"ips\":[\"192.0.2.21/24\"]}]}";
	assert_int_equal(
	    hull_file_write_atomic(vm, rec, strlen(rec), 0644, &err), 0);
	free(vm);
	free(cfg);
	return 0;
}

static int teardown(void **state)
{
	if (geteuid() != 0)
		return 0;
	struct hull_err err;
	fw_nft_remove(fw_nft_table(), &err);
	assert_int_equal(hull_rm_rf(pool, &err), 0);
	return 0;
}

static int clear_rules(void **state)
{
	if (geteuid() != 0)
		return 0;
	struct hull_err err;
	char *rules = hull_root_path("var/fw/rules");
	assert_int_equal(hull_rm_rf(rules, &err), 0);
	free(rules);
	return hull_fw_reload(NULL, &err) < 0 ? -1 : 0;
}

static size_t nrules(void)
{
	json_t *all;
	struct hull_err err;
	if (hull_fw_rules_list(&all, &err) < 0)
		fail_msg("list: %s", err.msg);
	size_t n = json_array_size(all);
	json_decref(all);
	return n;
}

static void test_rule_lifecycle(void **state)
{
	if (geteuid() != 0)
		skip(); /* needs root for a network namespace and nftables */
	struct hull_err err = {0};
	json_t *added = NULL;
	json_t *pl = json_pack("[{s:s,s:s,s:b,s:s}]", "uuid", R1, "rule",
			       "FROM any TO all vms ALLOW tcp PORT 4242",
			       "enabled", 1, "description", "web");
	char *ruleset = NULL;
	struct hull_fw_opts o = {.ruleset = &ruleset};
	if (hull_fw_rules_add(pl, &o, &added, &err) < 0)
		fail_msg("add: %s", err.msg);
	json_decref(pl);
	assert_int_equal(json_array_size(added), 1);
	json_t *r = json_array_get(added, 0);
	assert_string_equal(hull_json_str(r, "uuid", ""), R1);
	assert_string_equal(hull_json_str(r, "rule", ""),
			    "FROM any TO all vms ALLOW tcp PORT 4242");
	assert_true(json_is_true(json_object_get(r, "global")));
	json_decref(added);
	assert_non_null(ruleset);
	assert_non_null(strstr(ruleset, "tcp dport 4242 accept"));
	free(ruleset);
	assert_true(live_has("tcp dport 4242 accept"));

	/* get and list see it. */
	json_t *got;
	assert_int_equal(hull_fw_rule_get(R1, &got, &err), 0);
	assert_string_equal(hull_json_str(got, "description", ""), "web");
	json_decref(got);
	assert_int_equal(nrules(), 1);

	/* A uuid already stored, a bad rule: errors, nothing changes. */
	pl = json_pack("[{s:s,s:s}]", "uuid", R1, "rule",
		       "FROM any TO all vms ALLOW tcp PORT 1");
	assert_int_equal(hull_fw_rules_add(pl, NULL, NULL, &err), -EEXIST);
	json_decref(pl);
	pl = json_pack("[{s:s},{s:s}]", "rule",
		       "FROM any TO all vms ALLOW tcp PORT 5555", "rule",
		       "FROM any TO all vms FROB");
	assert_true(hull_fw_rules_add(pl, NULL, NULL, &err) < 0);
	assert_int_equal(strncmp(err.msg, "rule 1: ", 8), 0);
	json_decref(pl);
	assert_int_equal(nrules(), 1);
	assert_false(live_has("5555"));

	/* disable, enable. */
	const char *ids[] = {R1};
	json_t *ch;
	assert_int_equal(hull_fw_rules_enable(ids, 1, false, NULL, &ch, &err),
			 0);
	assert_true(
	    json_is_false(json_object_get(json_array_get(ch, 0), "enabled")));
	json_decref(ch);
	assert_false(live_has("4242"));
	assert_int_equal(hull_fw_rules_enable(ids, 1, true, NULL, NULL, &err),
			 0);
	assert_true(live_has("tcp dport 4242 accept"));

	/* update: the fields given change, the others stay. */
	pl = json_pack("[{s:s,s:s}]", "uuid", R1, "rule",
		       "FROM any TO all vms ALLOW tcp PORT 4343");
	assert_int_equal(hull_fw_rules_update(pl, NULL, NULL, &err), 0);
	json_decref(pl);
	assert_int_equal(hull_fw_rule_get(R1, &got, &err), 0);
	assert_string_equal(hull_json_str(got, "description", ""), "web");
	assert_true(json_is_true(json_object_get(got, "enabled")));
	json_decref(got);
	assert_true(live_has("tcp dport 4343 accept"));
	assert_false(live_has("4242"));

	/* dry run: checked, nothing written or loaded. */
	pl = json_pack("[{s:s,s:b}]", "rule",
		       "FROM any TO all vms ALLOW tcp PORT 6000", "enabled", 1);
	struct hull_fw_opts dry = {.dry_run = true};
	assert_int_equal(hull_fw_rules_add(pl, &dry, NULL, &err), 0);
	json_decref(pl);
	assert_int_equal(nrules(), 1);
	assert_false(live_has("6000"));

	/* The instance's firewall: stop, start. */
	assert_int_equal(hull_fw_instance_set(VM, false, NULL, &err), 0);
	assert_null(live_chain());
	assert_int_equal(hull_fw_instance_set(VM, true, NULL, &err), 0);
	assert_true(live_has("4343"));
	assert_int_equal(
	    hull_fw_instance_set("00000000-0000-4000-8000-000000000000", true,
				 NULL, &err),
	    -ENOENT);

	/* delete: an unknown uuid among them deletes nothing. */
	const char *two[] = {R1, "00000000-0000-4000-8000-000000000009"};
	assert_int_equal(hull_fw_rules_delete(two, 2, NULL, &err), -ENOENT);
	assert_string_equal(err.msg, "unknown rule: "
				     "00000000-0000-4000-8000-000000000009");
	assert_int_equal(nrules(), 1);
	assert_int_equal(hull_fw_rules_delete(ids, 1, NULL, &err), 0);
	assert_int_equal(nrules(), 0);
	assert_false(live_has("4343"));
	assert_int_equal(hull_fw_rule_get(R1, &got, &err), -ENOENT);
	assert_int_equal(hull_fw_reload(NULL, &err), 0);
}

#define NTHREADS 4
#define PER_THREAD 5

static void *adder(void *arg)
{
	long t = (long)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		struct hull_err err;
		char *text = xasprintf("FROM any TO all vms ALLOW tcp PORT %ld",
				       7000 + t * 100 + i);
		json_t *pl =
		    json_pack("[{s:s,s:b}]", "rule", text, "enabled", 1);
		int rc = hull_fw_rules_add(pl, NULL, NULL, &err);
		json_decref(pl);
		free(text);
		if (rc < 0)
			return xstrdup(err.msg);
	}
	return NULL;
}

static void test_concurrent_adds(void **state)
{
	if (geteuid() != 0)
		skip(); /* needs root for a network namespace and nftables */
	pthread_t th[NTHREADS];
	for (long t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, adder, (void *)t),
				 0);
	for (int t = 0; t < NTHREADS; t++) {
		void *res;
		pthread_join(th[t], &res);
		if (res)
			fail_msg("thread %d: %s", t, (char *)res);
	}
	assert_int_equal(nrules(), NTHREADS * PER_THREAD);
	/* The last load has every rule. */
	for (long t = 0; t < NTHREADS; t++) {
		char port[16];
		snprintf(port, sizeof(port), "%ld", 7000 + t * 100 + 4);
		assert_true(live_has(port));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_rule_lifecycle, clear_rules),
	    cmocka_unit_test_teardown(test_concurrent_adds, clear_rules),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
