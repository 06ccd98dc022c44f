/*
 * test_fw.c - the firewall: rule parser and printer, rule records, the
 * nftables compiler, and loading a ruleset in a network namespace of the
 * test's own.
 */
#include <errno.h>
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

#include "fw/delta.h"
#include "fw/inst.h"
#include "fw/nft.h"
#include "fw/reload.h"
#include "fw/rule.h"
#include "fw/store.h"
#include "fw/text.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"

static void assert_canon(const char *in, const char *want)
{
	struct hull_err err = {0};
	char *got = fw_rule_canonical(in, &err);
	if (!got)
		fail_msg("%s: refused: %s", in, err.msg);
	assert_string_equal(got, want);
	/* The canonical text is a fixed point. */
	char *again = fw_rule_canonical(got, &err);
	assert_non_null(again);
	assert_string_equal(again, want);
	free(again);
	free(got);
}

static void assert_refused(const char *in, const char *msg_part)
{
	struct hull_err err = {0};
	char *got = fw_rule_canonical(in, &err);
	if (got)
		fail_msg("%s: accepted as %s", in, got);
	assert_int_equal(err.code, EINVAL);
	if (msg_part && !strstr(err.msg, msg_part))
		fail_msg("%s: message '%s' lacks '%s'", in, err.msg, msg_part);
}

static void test_canonical_forms(void **state)
{
	assert_canon("from any to all vms allow tcp port 22",
		     "FROM any TO all vms ALLOW tcp PORT 22");
	assert_canon("FROM (any) TO (all vms) BLOCK udp (PORT ALL)",
		     "FROM any TO all vms BLOCK udp PORT all");
	assert_canon(
	    "FROM tag role = db TO tag \"role\" = www ALLOW tcp PORT 5432",
	    "FROM tag \"role\" = \"db\" TO tag \"role\" = \"www\" ALLOW tcp "
	    "PORT 5432");
	/* Targets sorted by kind, then text; duplicates dropped; a bare tag
	 * swallows its valued forms. */
	assert_canon(
	    "FROM (vm 9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d OR tag b OR "
	    "ip 198.51.100.7 OR tag a = x OR tag a OR subnet 192.0.2.0/24 "
	    "OR ip 192.0.2.1 OR ip 192.0.2.1) TO any ALLOW tcp PORT 1",
	    "FROM (ip 192.0.2.1 OR ip 198.51.100.7 OR subnet 192.0.2.0/24 OR "
	    "tag \"a\" OR tag \"b\" OR vm 9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d)"
	    " TO any ALLOW tcp PORT 1");
	/* Ports: sorted, not deduplicated, PORTS once a range is present. */
	assert_canon(
	    "FROM any TO all vms ALLOW tcp (PORT 80 AND PORT 22 AND PORT 80)",
	    "FROM any TO all vms ALLOW tcp (PORT 22 AND PORT 80 AND PORT 80)");
	assert_canon(
	    "FROM any TO all vms ALLOW tcp PORTS 8000-8100, 443, 80 - 81",
	    "FROM any TO all vms ALLOW tcp PORTS 80 - 81, 443, 8000 - 8100");
	assert_canon("FROM any TO all vms ALLOW tcp PORTS 443, 080",
		     "FROM any TO all vms ALLOW tcp (PORT 80 AND PORT 443)");
	assert_canon(
	    "FROM any TO all vms ALLOW icmp TYPE 8 CODE 0 PRIORITY 007",
	    "FROM any TO all vms ALLOW icmp TYPE 8 CODE 0 PRIORITY 7");
	assert_canon("FROM any TO all vms ALLOW icmp6 TYPE all PRIORITY 0",
		     "FROM any TO all vms ALLOW icmp6 TYPE all");
	assert_canon("FROM all vms TO any BLOCK esp",
		     "FROM all vms TO any BLOCK esp");
	/* Escapes: printed back the way Triton prints them. */
	assert_canon(
	    "FROM tag \"a b\\(\\)\\/\\u00e9\\u0000\\t\" TO any ALLOW ah",
	    "FROM tag \"a b\\(\\)/\xc3\xa9\\u0000\\t\" TO any ALLOW ah");
	assert_canon("FROM tag \"\xc2\xa0\" TO any ALLOW ah",
		     "FROM tag \"\\u00A0\" TO any ALLOW ah");
}

/* Triton's ICMP sort compares with the first element's arity; the order
 * V8's sort leaves is the canonical one. Cases checked against fwrule. */
static void test_icmp_order_quirk(void **state)
{
	assert_canon("FROM all vms TO any ALLOW icmp (TYPE 8 CODE 0 AND TYPE 3 "
		     "AND TYPE 0 CODE 1)",
		     "FROM all vms TO any ALLOW icmp (TYPE 3 AND TYPE 0 CODE 1 "
		     "AND TYPE 8 CODE 0)");
	assert_canon("FROM all vms TO any ALLOW icmp (TYPE 9 AND TYPE 3 CODE 1 "
		     "AND TYPE 0 AND TYPE 2 CODE 0)",
		     "FROM all vms TO any ALLOW icmp (TYPE 0 AND TYPE 9 AND "
		     "TYPE 2 CODE 0 AND TYPE 3 CODE 1)");
}

static void test_refusals(void **state)
{
	assert_refused("", "unexpected end of rule");
	assert_refused("From any TO all vms ALLOW tcp PORT 22", "character 1");
	assert_refused("FROM any TO any ALLOW tcp PORT 22",
		       "does not affect VMs");
	assert_refused("FROM any TO all vms ALLOW tcp PORT 0", "character 36");
	assert_refused("FROM any TO all vms ALLOW tcp PORT 65536", "'65536'");
	assert_refused("FROM any TO all vms ALLOW tcp PORTS 90-80",
		       "ends before");
	assert_refused("FROM any TO all vms ALLOW tcp PORTS 1-2-3", "'1-2-3'");
	assert_refused("FROM any TO all vms ALLOW tcp PORT 22 PRIORITY 101",
		       "101");
	assert_refused("FROM ip 0.0.0.0 TO all vms ALLOW tcp PORT 1", "IPv4");
	assert_refused("FROM ip 01.2.3.4 TO all vms ALLOW tcp PORT 1", "IPv4");
	assert_refused("FROM ip 2001:DB8::1 TO all vms ALLOW tcp PORT 1",
		       "unexpected word '2001'");
	assert_refused("FROM subnet 192.0.2.0/33 TO all vms ALLOW tcp PORT 1",
		       "invalid subnet");
	assert_refused("FROM vm 1F0E3A2B-4C5D-4E6F-8A9B-0C1D2E3F4A5B TO any "
		       "ALLOW tcp PORT 1",
		       "invalid UUID");
	assert_refused("FROM (any OR tag a) TO all vms ALLOW tcp PORT 1",
		       "')'");
	assert_refused("FROM ip 2001:db8::1 TO all vms ALLOW icmp TYPE 8",
		       "non-IPv4");
	assert_refused("FROM tag \"a\\x\" TO all vms ALLOW tcp PORT 1",
		       "unexpected text");
	assert_refused("FROM all vms TO any ALLOW tcp PORT 22 junk", "'junk'");
	assert_refused("FROM tag \xff TO all vms ALLOW tcp PORT 1", "UTF-8");
	/* 25 targets on a side, 25 ports. */
	char *big = xstrdup("FROM (tag a");
	for (int i = 0; i < 24; i++) {
		char *n = xasprintf("%s OR tag t%d", big, i);
		free(big);
		big = n;
	}
	char *r = xasprintf("%s) TO any ALLOW tcp PORT 1", big);
	assert_refused(r, "24 targets");
	free(r);
	free(big);
	big = xstrdup("FROM all vms TO any ALLOW tcp PORTS 1");
	for (int i = 2; i <= 25; i++) {
		char *n = xasprintf("%s, %d", big, i);
		free(big);
		big = n;
	}
	assert_refused(big, "24 ports");
	free(big);
}

static void test_subnet_parse(void **state)
{
	uint8_t a[16];
	bool v4;
	int plen;
	assert_true(fw_subnet_parse("010.0.0.0/8", a, &v4, &plen));
	assert_true(v4);
	assert_int_equal(plen, 8);
	assert_int_equal(a[12], 10);
	assert_true(fw_subnet_parse("1:2:3:4::5:6:7:8/64", a, &v4, &plen));
	assert_false(v4);
	assert_false(fw_subnet_parse("1::2::3/64", a, &v4, &plen));
	assert_false(fw_subnet_parse("2001:db8::/129", a, &v4, &plen));
	assert_true(fw_is_ipv6_node("1:2:3:4:5:6:7::"));
	assert_false(fw_is_ipv6_node("1:2:3:4:5:6:7:8::"));
	assert_false(fw_is_ipv4_node("1.2.3.04"));
}

static void test_record_json(void **state)
{
	struct hull_err err = {0};
	json_t *j = json_pack(
	    "{s:s,s:b,s:s}", "rule", "from any to all vms allow tcp port 22",
	    "enabled", 1, "owner_uuid", "cccccccc-0000-4000-8000-000000000001");
	struct fw_rec rec;
	assert_int_equal(fw_rec_from_json(j, NULL, &rec, &err), 0);
	json_decref(j);
	assert_string_equal(rec.text, "FROM any TO all vms ALLOW tcp PORT 22");
	json_t *out = fw_rec_to_json(&rec);
	assert_true(json_is_true(json_object_get(out, "enabled")));
	assert_null(json_object_get(out, "global"));
	assert_non_null(json_object_get(out, "version"));
	json_decref(out);
	fw_rec_free(&rec);

	j = json_pack("{s:s,s:b,s:s}", "rule",
		      "FROM any TO all vms ALLOW tcp PORT 1", "global", 1,
		      "owner_uuid", "cccccccc-0000-4000-8000-000000000001");
	assert_int_equal(fw_rec_from_json(j, NULL, &rec, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "both global and owner_uuid"));
	fw_rec_free(&rec);
	json_decref(j);
	j = json_pack("{s:s,s:s}", "rule",
		      "FROM any TO all vms ALLOW tcp PORT 1", "colour", "red");
	assert_int_equal(fw_rec_from_json(j, NULL, &rec, &err), -EINVAL);
	fw_rec_free(&rec);
	json_decref(j);
}

static struct fw_inst make_inst(const char *uuid, const char *ifname,
				const char *ip, const char *tag)
{
	char *s = xasprintf(
	    "{\"uuid\":\"%s\",\"owner_uuid\":"
	    "\"cccccccc-0000-4000-8000-000000000001\","
	    "\"firewall_enabled\":true,\"tags\":{\"role\":\"%s\"},"
	    "\"nics\":[{\"host_ifname\":\"%s\",\"ips\":[\"%s/24\"]}]}",
	    uuid, tag, ifname, ip);
	json_t *j = json_loads(s, 0, NULL);
	free(s);
	struct fw_inst in;
	struct hull_err err;
	assert_int_equal(fw_inst_from_json(j, &in, &err), 0);
	json_decref(j);
	return in;
}

#define UA "aaaaaaaa-0000-4000-8000-000000000001"
#define UB "bbbbbbbb-0000-4000-8000-000000000002"

static char *compile_rules(const char **texts, size_t n, struct fw_inst *in,
			   size_t nin)
{
	struct fw_rule *rules = xcalloc(n, sizeof(*rules));
	struct fw_crule *cr = xcalloc(n, sizeof(*cr));
	for (size_t i = 0; i < n; i++) {
		struct hull_err err;
		assert_int_equal(fw_rule_parse(texts[i], &rules[i], &err), 0);
		cr[i].uuid = "r";
		cr[i].rule = &rules[i];
	}
	char *out = fw_nft_compile("hull_t", cr, n, in, nin);
	for (size_t i = 0; i < n; i++)
		fw_rule_free(&rules[i]);
	free(rules);
	free(cr);
	return out;
}

static void test_compile_semantics(void **state)
{
	struct fw_inst in[2] = {make_inst(UA, "vha", "192.0.2.10", "web"),
				make_inst(UB, "vhb", "198.51.100.10", "db")};
	const char *rules[] = {
	    "FROM tag role = web TO tag role = db ALLOW tcp PORT 5432",
	    "FROM any TO all vms BLOCK tcp PORT 5432 PRIORITY 2",
	    ("FROM any TO vm " UB " ALLOW tcp PORT 5432 PRIORITY 2"),
	    ("FROM vm " UA " TO any BLOCK udp PORTS 53, 50-60"),
	};
	char *nft = compile_rules(rules, 4, in, 2);
	/* B's inbound: priority 2 first, ALLOW before BLOCK at a tie, then
	 * the web->db rule resolved to A's address; then drop. */
	const char *b = strstr(nft, "chain i-" UB);
	assert_non_null(b);
	const char *allow2 = strstr(b, "tcp dport 5432 accept");
	const char *block2 = strstr(b, "tcp dport 5432 drop");
	const char *web =
	    strstr(b, "ip saddr 192.0.2.10 tcp dport 5432 accept");
	assert_non_null(allow2);
	assert_non_null(block2);
	assert_non_null(web);
	assert_true(allow2 < block2 && block2 < web);
	/* A's outbound: the overlapping ports merged into one set. */
	const char *a = strstr(nft, "chain o-" UA);
	assert_non_null(strstr(a, "udp dport 50-60 drop"));
	assert_non_null(strstr(nft, "\"vha\" : jump o-" UA));
	assert_non_null(strstr(nft, "\"vhb\" : jump i-" UB));
	/* Bridged packets reach the inet hooks named after the bridge: the
	 * same chains are entered by the instances' addresses too. */
	assert_non_null(strstr(nft, "192.0.2.10 : jump o-" UA));
	assert_non_null(strstr(nft, "198.51.100.10 : jump i-" UB));
	assert_non_null(strstr(nft, "ip daddr vmap @to-addr4"));
	assert_non_null(strstr(nft, "ip saddr vmap @from-addr4"));
	free(nft);
	/* With FW_NFT_BRIDGE, a bridge port is dispatched from table bridge
	 * (and only there); a routed port stays in table inet. */
	in[1].nics[0].bridged = true;
	{
		struct fw_rule pr[4];
		struct fw_crule cr[4];
		struct hull_err e;
		for (size_t k = 0; k < 4; k++) {
			assert_int_equal(fw_rule_parse(rules[k], &pr[k], &e),
					 0);
			cr[k] = (struct fw_crule){"r", NULL, &pr[k]};
		}
		char *both =
		    fw_nft_compile_flags("hull_t", cr, 4, in, 2, FW_NFT_BRIDGE);
		const char *br = strstr(both, "table bridge hull_t {");
		assert_non_null(br);
		assert_non_null(strstr(br, "chain i-" UB));
		assert_non_null(strstr(br, "\"vhb\" : jump i-" UB));
		assert_null(strstr(br, "chain i-" UA));
		const char *inet = strstr(both, "table inet hull_t {");
		assert_true(inet < br);
		assert_null(memmem(inet, (size_t)(br - inet), "\"vhb\"", 5));
		free(both);
		char *plain = fw_nft_compile_flags("hull_t", cr, 4, in, 2, 0);
		assert_null(strstr(plain, "table bridge"));
		free(plain);
		for (size_t k = 0; k < 4; k++)
			fw_rule_free(&pr[k]);
	}
	in[1].nics[0].bridged = false;
	/* An instance with its firewall off gets no chains. */
	in[1].firewall_enabled = false;
	nft = compile_rules(rules, 4, in, 2);
	assert_null(strstr(nft, "chain i-" UB));
	free(nft);
	fw_inst_free(&in[0]);
	fw_inst_free(&in[1]);
}

/* Loads a compiled ruleset in a fresh network namespace of this process,
 * then replaces it, then removes it. */
static void test_load_in_netns(void **state)
{
	if (geteuid() != 0)
		skip(); /* needs root for a network namespace and nftables */
	if (unshare(CLONE_NEWNET) < 0)
		fail_msg("unshare(CLONE_NEWNET): %s", strerror(errno));
	/* A pool root of its own first: a load keeps its copy there. */
	char tmpl[] = "/tmp/hull-test-fw-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	setenv("HULL_ROOT", tmpl, 1);
	assert_string_equal(hull_root(), tmpl);
	struct fw_inst in[2] = {make_inst(UA, "vha", "192.0.2.10", "web"),
				make_inst(UB, "vhb", "2001:db8::10", "db")};
	const char *rules[] = {
	    ("FROM (tag role = web OR subnet 198.51.100.0/24 OR ip "
	     "2001:db8::1) "
	     "TO tag role = db ALLOW tcp PORTS 1-100, 50-200"),
	    "FROM all vms TO all vms ALLOW icmp6 TYPE 128",
	    "FROM any TO all vms ALLOW icmp (TYPE 8 AND TYPE 0 CODE 0)",
	};
	char *nft = compile_rules(rules, 3, in, 2);
	struct hull_err err = {0};
	if (fw_nft_apply("hull_t", nft, false, false, &err) < 0)
		fail_msg("load: %s\n%s", err.msg, nft);
	assert_non_null(strstr(nft, "ip6 daddr vmap @to-addr6"));
	/* Replacing works the same way, and a broken ruleset changes nothing.
	 */
	if (fw_nft_apply("hull_t", nft, false, false, &err) < 0)
		fail_msg("reload: %s", err.msg);
	assert_int_equal(fw_nft_apply("hull_t",
				      "table inet hull_t { chain x { junk } }",
				      false, false, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "nftables:"));
	assert_int_equal(fw_nft_remove("hull_t", &err), 0);
	free(nft);

	/* The table an older hull shared among pools: this pool's (it names
	 * only UA and UB) or another's (it names an instance not in in). */
	char *legacy = compile_rules(rules, 3, in, 2);
	char *old = strstr(legacy, "hull_t");
	memcpy(old, "hull  ", 6); /* "table inet hull {" with two blanks */
	if (fw_nft_apply(FW_NFT_LEGACY_TABLE, legacy, false, false, &err) < 0)
		fail_msg("legacy: %s", err.msg);
	assert_true(fw_nft_legacy_ours(in, 2));
	assert_false(fw_nft_legacy_ours(in, 1));
	assert_false(fw_nft_legacy_ours(in + 1, 1));
	free(legacy);

	/* fw_reload: from records on disk to the live filter. */
	char *cfg = hull_root_path("%s/config", UB);
	assert_int_equal(hull_mkdir_p(cfg, 0755, &err), 0);
	char *vm = xasprintf("%s/vm.json", cfg);
	const char *rec = "{\"uuid\":\"" UB "\",\"firewall_enabled\":true,"
			  "\"nics\":[{\"host_ifname\":\"vhb\","
			  "\"ips\":[\"192.0.2.11/24\"]}]}";
	assert_int_equal(
	    hull_file_write_atomic(vm, rec, strlen(rec), 0644, &err), 0);
	json_t *j =
	    json_pack("{s:s,s:b}", "rule",
		      "FROM any TO all vms ALLOW tcp PORT 4242", "enabled", 1);
	struct fw_rec r;
	assert_int_equal(fw_rec_from_json(j, NULL, &r, &err), 0);
	json_decref(j);
	assert_int_equal(fw_store_save(&r, &err), 0);
	fw_rec_free(&r);
	/* The legacy table names UA, which this pool does not have: the
	 * reload leaves it to UA's pool. */
	if (fw_reload(false, &err) < 0)
		fail_msg("fw_reload: %s", err.msg);
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	char *own = xasprintf("list chain inet %s i-" UB, fw_nft_table());
	assert_int_equal(strncmp(fw_nft_table(), "hull_", 5), 0);
	assert_int_equal(strlen(fw_nft_table()), 5 + 12);
	assert_int_equal(nft_run_cmd_from_buffer(ctx, own), 0);
	assert_non_null(
	    strstr(nft_ctx_get_output_buffer(ctx), "tcp dport 4242 accept"));
	assert_int_equal(nft_run_cmd_from_buffer(ctx, "list table inet hull"),
			 0);
	/* Once UA is this pool's too, its reload drops the legacy table in
	 * the same transaction that loads its own. */
	char *vma = hull_root_path("%s/config/vm.json", UA);
	char *cfga = hull_root_path("%s/config", UA);
	assert_int_equal(hull_mkdir_p(cfga, 0755, &err), 0);
	const char *reca = "{\"uuid\":\"" UA "\",\"nics\":[]}";
	assert_int_equal(
	    hull_file_write_atomic(vma, reca, strlen(reca), 0644, &err), 0);
	if (fw_reload(false, &err) < 0)
		fail_msg("fw_reload: %s", err.msg);
	assert_int_not_equal(
	    nft_run_cmd_from_buffer(ctx, "list table inet hull"), 0);
	assert_int_not_equal(
	    nft_run_cmd_from_buffer(ctx, "list table bridge hull"), 0);
	assert_int_equal(nft_run_cmd_from_buffer(ctx, own), 0);
	nft_ctx_free(ctx);
	free(own);
	free(vma);
	free(cfga);
	assert_int_equal(fw_nft_remove(fw_nft_table(), &err), 0);
	assert_int_equal(hull_rm_rf(tmpl, &err), 0);
	free(vm);
	free(cfg);
	fw_inst_free(&in[0]);
	fw_inst_free(&in[1]);
}

/* fw_delta: only what differs, in an order nftables accepts. */
static void test_delta(void **state)
{
	(void)state;
	const char *old =
	    "table inet t {\n"
	    "\tset s1 {\n\t\ttype ipv4_addr\n\t\telements = { 192.0.2.1, "
	    "192.0.2.2 }\n\t}\n"
	    "\tchain i-a {\n\t\tct state invalid drop\n\t\tdrop\n\t}\n"
	    "\tchain i-b {\n\t\tip saddr @s1 accept\n\t\tdrop\n\t}\n"
	    "\tmap to-inst {\n\t\ttype ifname : verdict\n"
	    "\t\telements = { \"va\" : jump i-a, \"vb\" : jump i-b }\n\t}\n"
	    "\tchain forward {\n\t\ttype filter hook forward priority filter; "
	    "policy accept;\n\t\toifname vmap @to-inst\n\t}\n"
	    "}\n";
	char *d = fw_delta(old, old);
	assert_non_null(d);
	assert_string_equal(d, "");
	free(d);
	/* b's chain changes and a goes: b is refilled, a's element and
	 * chain go (element first), the unused set last; the base chain is
	 * not touched. */
	const char *new =
	    "table inet t {\n"
	    "\tchain i-b {\n\t\ttcp dport 22 accept\n\t\tdrop\n\t}\n"
	    "\tmap to-inst {\n\t\ttype ifname : verdict\n"
	    "\t\telements = { \"vb\" : jump i-b }\n\t}\n"
	    "\tchain forward {\n\t\ttype filter hook forward priority filter; "
	    "policy accept;\n\t\toifname vmap @to-inst\n\t}\n"
	    "}\n";
	d = fw_delta(old, new);
	assert_non_null(d);
	assert_string_equal(
	    d, "flush chain inet t i-b\n"
	       "table inet t {\n\tchain i-b {\n\t\ttcp dport 22 accept\n"
	       "\t\tdrop\n\t}\n}\n"
	       "delete element inet t to-inst { \"va\" }\n"
	       "flush chain inet t i-a\ndelete chain inet t i-a\n"
	       "delete set inet t s1\n");
	free(d);
	/* and back: the set and chain come before the map element that
	 * jumps to the chain */
	d = fw_delta(new, old);
	assert_non_null(d);
	const char *set = strstr(d, "\tset s1 {");
	const char *chain = strstr(d, "\tchain i-a {");
	const char *elem =
	    strstr(d, "add element inet t to-inst { \"va\" : jump i-a }");
	assert_true(set && chain && elem && set < chain && chain < elem);
	assert_null(strstr(d, "forward"));
	free(d);
	/* a new table comes whole, a table that went is deleted */
	d = fw_delta(old, "");
	assert_string_equal(d, "delete table inet t\n");
	free(d);
	d = fw_delta("", old);
	assert_string_equal(d, old);
	free(d);
	/* text it does not know, or a map whose type changed: NULL */
	assert_null(fw_delta("table inet t {\n\tjunk\n}\n", old));
	assert_null(fw_delta(old, "table inet t {\n"));
	char *retyped = xstrdup(old);
	memcpy(strstr(retyped, "type ifname"), "type ipv4_a", 11);
	assert_null(fw_delta(old, retyped));
	free(retyped);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_canonical_forms),
	    cmocka_unit_test(test_icmp_order_quirk),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_subnet_parse),
	    cmocka_unit_test(test_record_json),
	    cmocka_unit_test(test_compile_semantics),
	    cmocka_unit_test(test_delta),
	    cmocka_unit_test(test_load_in_netns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
