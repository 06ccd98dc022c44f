/*
 * test_zone.c - the zone runtime's pure parts: the instance record,
 * docker:user, the LX uname overlay, the capability policy, and the
 * supervisor's control protocol.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/capability.h>

#include <cmocka.h>

#include "lib/json.h"
#include "supervisor/control.h"
#include "zone/caps.h"
#include "zone/config.h"
#include "zone/devfilter.h"
#include "zone/uname.h"
#include "zone/user.h"

#define UUID "5a1c8e3e-0f33-4c4f-9b9e-2f3d1f1e0a11"

static json_t *rec(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	assert_non_null(j);
	return j;
}

static bool strv_has(char **v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

static void test_config_defaults(void **state)
{
	json_t *j = rec("{\"uuid\":\"" UUID "\",\"brand\":\"joyent\","
			"\"max_physical_memory\":256,\"cpu_cap\":0}");
	struct zone_config c;
	struct hull_err err = {0};
	assert_int_equal(zone_config_parse(j, &c, &err), 0);
	assert_string_equal(c.hostname, UUID);
	assert_string_equal(c.argv[0], "/sbin/init");
	assert_null(c.argv[1]);
	assert_true(strv_has(c.envp, "container=hull"));
	assert_int_equal(c.restart, ZONE_RESTART_ALWAYS);
	assert_int_equal(c.limits.max_physical_memory, 256);
	assert_int_equal(c.limits.cpu_cap, 0);
	assert_int_equal(c.limits.max_lwps, -1);
	assert_null(c.kernel_version);
	zone_config_fini(&c);
	json_decref(j);
}

/* A record without cpu_cap (vmadm update cpu_cap=0 removes it) is
 * uncapped, so a running zone's old cap is lifted, not kept. */
static void test_limits_without_cpu_cap_lift_the_cap(void **state)
{
	json_t *j = rec("{\"uuid\":\"" UUID "\",\"max_lwps\":40}");
	struct inst_limits l;
	zone_limits_from_json(j, &l);
	assert_int_equal(l.cpu_cap, 0);
	assert_int_equal(l.max_lwps, 40);
	assert_int_equal(l.cpu_shares, -1);
	json_decref(j);
}

/* Runs a device program as the kernel would, for the instructions
 * zone_devfilter_build emits: returns r0 at exit, or -1 on anything else
 * (an unknown instruction, a jump out of the program). */
static int devfilter_run(const struct bpf_insn *p, int n, unsigned type,
			 unsigned access, unsigned major, unsigned minor)
{
	uint32_t ctx[3] = {access << 16 | type, major, minor};
	uint64_t r[11] = {0};
	for (int pc = 0, steps = 0; pc >= 0 && pc < n && steps < 1000;
	     pc++, steps++) {
		const struct bpf_insn *i = &p[pc];
		switch (i->code) {
		case BPF_LDX | BPF_W | BPF_MEM:
			if (i->src_reg != BPF_REG_1 || i->off % 4 || i->off > 8)
				return -1;
			r[i->dst_reg] = ctx[i->off / 4];
			break;
		case BPF_ALU | BPF_MOV | BPF_X:
			r[i->dst_reg] = (uint32_t)r[i->src_reg];
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			r[i->dst_reg] =
			    (uint32_t)r[i->dst_reg] & (uint32_t)i->imm;
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm;
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			r[i->dst_reg] = (uint64_t)(int64_t)i->imm;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
			if (r[i->dst_reg] != (uint64_t)(int64_t)i->imm)
				pc += i->off;
			break;
		case BPF_JMP | BPF_EXIT:
			return (int)r[0];
		default:
			return -1;
		}
	}
	return -1;
}

static void test_devfilter_allows_what_it_lists(void **state)
{
	static const char *const rules[] = {"c 1:3 rwm", "c 136:* rwm",
					    "b 8:* r", "c *:9 rw"};
	struct bpf_insn p[ZONE_DEVFILTER_MAX_INSNS];
	struct hull_err err = {0};
	int n = zone_devfilter_build(rules, 4, p, &err);
	assert_true(n > 0 && n <= ZONE_DEVFILTER_MAX_INSNS);
	const unsigned c = BPF_DEVCG_DEV_CHAR, b = BPF_DEVCG_DEV_BLOCK;
	const unsigned rd = BPF_DEVCG_ACC_READ, wr = BPF_DEVCG_ACC_WRITE,
		       mk = BPF_DEVCG_ACC_MKNOD;
	assert_int_equal(devfilter_run(p, n, c, rd | wr, 1, 3), 1);
	assert_int_equal(devfilter_run(p, n, c, mk, 1, 3), 1);
	assert_int_equal(devfilter_run(p, n, c, rd, 1, 4), 0);
	assert_int_equal(devfilter_run(p, n, b, rd, 1, 3), 0);
	assert_int_equal(devfilter_run(p, n, c, rd | wr, 136, 7), 1);
	assert_int_equal(devfilter_run(p, n, b, rd, 8, 0), 1);
	assert_int_equal(devfilter_run(p, n, b, wr, 8, 0), 0);
	assert_int_equal(devfilter_run(p, n, b, mk, 8, 16), 0);
	assert_int_equal(devfilter_run(p, n, c, rd | wr, 42, 9), 1);
	assert_int_equal(devfilter_run(p, n, c, mk, 42, 9), 0);
	assert_int_equal(devfilter_run(p, n, b, rd, 7, 0), 0);
	/* No rule: nothing is allowed. */
	n = zone_devfilter_build(rules, 0, p, &err);
	assert_int_equal(devfilter_run(p, n, c, rd, 1, 3), 0);
}

/* A VM's double hull: the zone's whitelist, /dev/kvm and up to 32 disks
 * that are device nodes (src/hvm/vmmzone.c) fit in one program, whose
 * last rules still match; more than ZONE_DEVFILTER_MAX_RULES is refused. */
static void test_devfilter_vm_hull_rules(void **state)
{
	char buf[ZONE_DEVFILTER_MAX_RULES + 1][24];
	const char *rules[ZONE_DEVFILTER_MAX_RULES + 1];
	size_t n = 0;
	for (int m = 0; m < 10; m++)
		snprintf(buf[n++], sizeof(buf[0]), "c 1:%d rwm", m);
	snprintf(buf[n++], sizeof(buf[0]), "c 10:232 rwm");
	for (int d = 0; d < 32; d++)
		snprintf(buf[n++], sizeof(buf[0]), "b 259:%d %s", d,
			 d % 2 ? "rw" : "r");
	for (size_t i = 0; i < n; i++)
		rules[i] = buf[i];
	struct bpf_insn p[ZONE_DEVFILTER_MAX_INSNS];
	struct hull_err err = {0};
	int k = zone_devfilter_build(rules, n, p, &err);
	assert_true(k > 0 && k <= ZONE_DEVFILTER_MAX_INSNS);
	const unsigned c = BPF_DEVCG_DEV_CHAR, b = BPF_DEVCG_DEV_BLOCK;
	const unsigned rd = BPF_DEVCG_ACC_READ, wr = BPF_DEVCG_ACC_WRITE;
	assert_int_equal(devfilter_run(p, k, c, rd | wr, 10, 232), 1);
	assert_int_equal(devfilter_run(p, k, c, rd | wr, 10, 237), 0);
	assert_int_equal(devfilter_run(p, k, b, rd, 259, 30), 1);
	assert_int_equal(devfilter_run(p, k, b, wr, 259, 30), 0); /* ro */
	assert_int_equal(devfilter_run(p, k, b, rd | wr, 259, 31), 1);
	assert_int_equal(devfilter_run(p, k, b, rd, 259, 32), 0);
	assert_int_equal(devfilter_run(p, k, b, rd, 8, 0), 0);
	while (n <= ZONE_DEVFILTER_MAX_RULES) {
		snprintf(buf[n], sizeof(buf[0]), "c 4:%zu rw", n);
		rules[n] = buf[n];
		n++;
	}
	assert_int_equal(zone_devfilter_build(rules, n, p, &err), -EINVAL);
}

static void test_devfilter_refuses_bad_rules(void **state)
{
	static const char *const bad[] = {"a 1:3 rwm",	"c 1:3",    "c 1-3 rw",
					  "c x:3 r",	"c 1:3 rx", "c 1:3 ",
					  "c 1:3 rwm ", "c -1:3 r"};
	struct bpf_insn p[ZONE_DEVFILTER_MAX_INSNS];
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct hull_err err = {0};
		assert_int_equal(zone_devfilter_build(&bad[i], 1, p, &err),
				 -EINVAL);
		assert_non_null(strstr(err.msg, "bad rule"));
	}
}

static void test_config_lx_and_resolvers(void **state)
{
	json_t *j =
	    rec("{\"uuid\":\"" UUID "\",\"brand\":\"lx\",\"kernel_version\":"
		"\"3.13.0\",\"resolvers\":[\"192.0.2.1\"],\"hostname\":\"h\","
		"\"restart_init\":false}");
	struct zone_config c;
	assert_int_equal(zone_config_parse(j, &c, NULL), 0);
	assert_int_equal(c.brand, INST_BRAND_LX);
	assert_string_equal(c.kernel_version, "3.13.0");
	assert_string_equal(c.resolvers[0], "192.0.2.1");
	assert_int_equal(c.restart, ZONE_RESTART_NEVER);
	zone_config_fini(&c);
	json_decref(j);
}

static void test_config_docker_keys(void **state)
{
	json_t *j =
	    rec("{\"uuid\":\"" UUID "\",\"brand\":\"lx\",\"docker\":true,"
		"\"internal_metadata\":{"
		"\"docker:entrypoint\":\"[\\\"/entry\\\"]\","
		"\"docker:cmd\":\"[\\\"a\\\",\\\"b\\\"]\","
		"\"docker:env\":\"[\\\"PATH=/x\\\",\\\"A=1\\\"]\","
		"\"docker:workdir\":\"/srv\",\"docker:user\":\"www:1\","
		"\"docker:restartpolicy\":\"on-failure:3\"}}");
	struct zone_config c;
	assert_int_equal(zone_config_parse(j, &c, NULL), 0);
	assert_string_equal(c.argv[0], "/entry");
	assert_string_equal(c.argv[1], "a");
	assert_string_equal(c.argv[2], "b");
	assert_null(c.argv[3]);
	assert_true(strv_has(c.envp, "PATH=/x")); /* the image's PATH wins */
	assert_false(strv_has(c.envp, "PATH=/usr/local/sbin:/usr/local/bin:"
				      "/usr/sbin:/usr/bin:/sbin:/bin"));
	assert_string_equal(c.workdir, "/srv");
	assert_string_equal(c.user, "www:1");
	assert_int_equal(c.restart, ZONE_RESTART_ON_FAILURE);
	assert_int_equal(c.restart_max, 3);
	zone_config_fini(&c);
	json_decref(j);
}

static void test_config_filesystems(void **state)
{
	json_t *j = rec("{\"uuid\":\"" UUID "\",\"filesystems\":["
			"{\"type\":\"lofs\",\"source\":\"/srv/a\","
			"\"target\":\"/data\",\"options\":[\"ro\","
			"\"nodevice\"]},"
			"{\"type\":\"lofs\",\"source\":\"/srv/b\","
			"\"target\":\"/var/log\",\"options\":[\"ro\","
			"\"rw\",\"noexec\"]}]}");
	struct zone_config c;
	assert_int_equal(zone_config_parse(j, &c, NULL), 0);
	assert_int_equal(c.nfs, 2);
	assert_string_equal(c.fs[0].source, "/srv/a");
	assert_string_equal(c.fs[0].target, "/data");
	assert_true(c.fs[0].ro);
	assert_false(c.fs[0].noexec);
	assert_false(c.fs[1].ro); /* the last of ro and rw wins */
	assert_true(c.fs[1].noexec);
	zone_config_fini(&c);
	json_decref(j);

	static const char *const bad[] = {
	    "{\"type\":\"lofs\",\"source\":\"/a\",\"target\":\"/\"}",
	    "{\"type\":\"lofs\",\"source\":\"/a\",\"target\":\"d\"}",
	    "{\"type\":\"lofs\",\"source\":\"/a\",\"target\":\"/d/..\"}",
	    "{\"type\":\"lofs\",\"source\":\"/a\",\"target\":\"/d//e\"}",
	    "{\"type\":\"lofs\",\"source\":\"/a\",\"target\":\"/d/\"}",
	    "{\"type\":\"lofs\",\"source\":\"/a/./b\",\"target\":\"/d\"}",
	    "{\"type\":\"ufs\",\"source\":\"/a\",\"target\":\"/d\"}",
	    "{\"source\":\"/a\",\"target\":\"/d\"}",
	    "{\"type\":\"lofs\",\"source\":\"/a\",\"target\":\"/d\","
	    "\"options\":[\"devices\"]}",
	    "{\"type\":\"lofs\",\"source\":\"/a\",\"target\":\"/d\","
	    "\"options\":\"ro\"}",
	    "{\"type\":\"lofs\",\"source\":\"/a\",\"target\":\"/d\","
	    "\"raw\":\"/dev/x\"}",
	};
	char why[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		json_t *e = rec(bad[i]);
		assert_false(zone_fs_check(e, false, why, sizeof(why)));
		json_decref(e);
	}
	/* update_filesystems entries name the target and what changes. */
	json_t *e = rec("{\"target\":\"/d\",\"options\":[\"ro\"]}");
	assert_true(zone_fs_check(e, true, why, sizeof(why)));
	assert_false(zone_fs_check(e, false, why, sizeof(why)));
	json_decref(e);
	json_t *twice = rec("[{\"type\":\"lofs\",\"source\":\"/a\","
			    "\"target\":\"/d\"},{\"type\":\"lofs\","
			    "\"source\":\"/b\",\"target\":\"/d\"}]");
	assert_false(zone_fs_check_list(twice, why, sizeof(why)));
	assert_string_equal(why, "target /d is used twice");
	json_decref(twice);
}

static void test_config_refuses_bad_records(void **state)
{
	static const char *const bad[] = {
	    "[]",
	    "{\"uuid\":\"nope\"}",
	    "{\"uuid\":\"" UUID "\",\"brand\":\"bhyve\"}",
	    "{\"uuid\":\"" UUID "\",\"init_name\":\"sbin/init\"}",
	    "{\"uuid\":\"" UUID "\",\"docker\":true}",
	    "{\"uuid\":\"" UUID "\",\"docker\":true,\"internal_metadata\":"
	    "{\"docker:cmd\":\"[1]\"}}",
	    "{\"uuid\":\"" UUID "\",\"docker\":true,\"internal_metadata\":"
	    "{\"docker:cmd\":\"[\\\"x\\\"]\",\"docker:workdir\":\"rel\"}}",
	    "{\"uuid\":\"" UUID "\",\"resolvers\":\"192.0.2.1\"}",
	    "{\"uuid\":\"" UUID "\",\"filesystems\":[{\"type\":\"lofs\","
	    "\"source\":\"/a\",\"target\":\"rel\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		json_t *j = rec(bad[i]);
		struct zone_config c;
		struct hull_err err = {0};
		assert_true(zone_config_parse(j, &c, &err) < 0);
		assert_int_equal(err.code, EINVAL);
		zone_config_fini(&c);
		json_decref(j);
	}
}

static void test_user_resolve(void **state)
{
	const char *pw =
	    "root:x:0:0::/root:/bin/sh\nwww:x:33:44::/:/bin/false\n";
	const char *gr = "root:x:0:\nstaff:x:50:\n";
	uid_t u;
	gid_t g;
	assert_int_equal(zone_user_resolve("www", pw, gr, &u, &g, NULL), 0);
	assert_int_equal(u, 33);
	assert_int_equal(g, 44);
	assert_int_equal(zone_user_resolve("1000:2000", pw, gr, &u, &g, NULL),
			 0);
	assert_int_equal(u, 1000);
	assert_int_equal(g, 2000);
	assert_int_equal(zone_user_resolve("www:staff", pw, gr, &u, &g, NULL),
			 0);
	assert_int_equal(g, 50);
	assert_int_equal(zone_user_resolve("ww", pw, gr, &u, &g, NULL),
			 -ENOENT);
	assert_int_equal(zone_user_resolve("www:nogroup", pw, gr, &u, &g, NULL),
			 -ENOENT);
	assert_int_equal(zone_user_resolve("x", NULL, NULL, &u, &g, NULL),
			 -ENOENT);
}

static void test_uname_lx_overlay(void **state)
{
	struct utsname u;
	memset(&u, 0, sizeof(u));
	strcpy(u.sysname, "Linux");
	strcpy(u.nodename, "web");
	strcpy(u.release, "6.1.0");
	zone_uname_lx(&u, "4.3.0");
	assert_string_equal(u.release, "4.3.0");
	assert_string_equal(u.version, "BrandZ virtual linux");
	assert_string_equal(u.nodename, "web");
	zone_uname_lx(&u, NULL);
	assert_string_equal(u.release, "4.3.0");
}

static void test_caps_policy(void **state)
{
	assert_true(zone_caps_dropped(CAP_SYS_MODULE, true, NULL));
	assert_true(zone_caps_dropped(CAP_SYS_PTRACE, true, NULL));
	assert_true(zone_caps_dropped(CAP_MKNOD, true, NULL));
	assert_false(zone_caps_dropped(CAP_SYS_ADMIN, true, NULL));
	assert_true(zone_caps_dropped(CAP_SYS_ADMIN, false, NULL));
	assert_false(zone_caps_dropped(CAP_NET_ADMIN, true, NULL));
	assert_false(zone_caps_dropped(CAP_CHOWN, false, NULL));
}

static struct zone_privs privs_of(const char *s, json_t *warnings, int *rc)
{
	struct zone_privs p;
	struct hull_err e = {0};
	json_t *v = json_string(s);
	*rc = zone_privs_parse(v, &p, warnings, &e);
	json_decref(v);
	return p;
}

static void test_limit_priv_maps_onto_caps(void **state)
{
	int rc;
	json_t *w = json_array();
	struct zone_privs p = privs_of("default", w, &rc);
	assert_int_equal(rc, 0);
	assert_true(p.add == 0 && p.drop == 0);
	assert_int_equal(json_array_size(w), 0);
	p = privs_of("default,sys_time,-net_rawaccess,!proc_priocntl", w, &rc);
	assert_int_equal(rc, 0);
	assert_false(zone_caps_dropped(CAP_SYS_TIME, false, &p));
	assert_true(zone_caps_dropped(CAP_SYS_TIME, false, NULL));
	assert_true(zone_caps_dropped(CAP_NET_RAW, false, &p));
	assert_true(zone_caps_dropped(CAP_SYS_NICE, false, &p));
	assert_false(zone_caps_dropped(CAP_CHOWN, false, &p));
	assert_int_equal(json_array_size(w), 0);
	/* never CAP_SYS_ADMIN through limit_priv; a warning instead */
	p = privs_of("default,sys_admin,sys_mount", w, &rc);
	assert_int_equal(rc, 0);
	assert_true(zone_caps_dropped(CAP_SYS_ADMIN, false, &p));
	assert_int_equal(json_array_size(w), 2);
	p = privs_of("default,-sys_mount", w, &rc);
	assert_true(zone_caps_dropped(CAP_SYS_ADMIN, true, &p));
	json_array_clear(w);
	/* no Linux meaning: one warning each, however often named */
	p = privs_of("default,dtrace_proc,dtrace_user,dtrace_proc", w, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(json_array_size(w), 2);
	assert_non_null(strstr(json_string_value(json_array_get(w, 0)),
			       "dtrace_proc has no Linux counterpart"));
	p = privs_of("default,sys_tyme", w, &rc);
	assert_int_equal(rc, -EINVAL);
	json_t *arr = json_pack("[ss]", "default", "sys_time");
	struct hull_err e = {0};
	assert_int_equal(zone_privs_parse(arr, &p, NULL, &e), 0);
	assert_false(zone_caps_dropped(CAP_SYS_TIME, false, &p));
	json_decref(arr);
	json_decref(w);
}

static void test_control_parse(void **state)
{
	struct control_req r;
	struct hull_err err = {0};
	const char *s = "{\"cmd\":\"stop\",\"timeout\":5,\"force\":true}";
	assert_int_equal(control_request_parse(s, strlen(s), &r, &err), 0);
	assert_int_equal(r.cmd, CONTROL_STOP);
	assert_int_equal(r.timeout_s, 5);
	assert_true(r.force);
	s = "{\"cmd\":\"reboot\"}";
	assert_int_equal(control_request_parse(s, strlen(s), &r, &err), 0);
	assert_int_equal(r.timeout_s, CONTROL_DEFAULT_TIMEOUT);
	s = "{\"cmd\":\"kill\",\"signal\":\"HUP\"}";
	assert_int_equal(control_request_parse(s, strlen(s), &r, &err), 0);
	assert_int_equal(r.signo, SIGHUP);
	s = "{\"cmd\":\"winsize\",\"rows\":37,\"cols\":111}";
	assert_int_equal(control_request_parse(s, strlen(s), &r, &err), 0);
	assert_int_equal(r.cmd, CONTROL_WINSIZE);
	assert_int_equal(r.rows, 37);
	assert_int_equal(r.cols, 111);
	s = "{\"cmd\":\"migrate\",\"live\":true,\"downtime_limit\":50,"
	    "\"auto_converge\":true,\"max_bandwidth\":1000000}";
	assert_int_equal(control_request_parse(s, strlen(s), &r, &err), 0);
	assert_int_equal(r.cmd, CONTROL_MIGRATE);
	assert_int_equal(r.downtime_ms, 50);
	assert_true(r.auto_converge);
	assert_int_equal(r.max_bandwidth, 1000000);
	s = "{\"cmd\":\"migrate\",\"live\":true}";
	assert_int_equal(control_request_parse(s, strlen(s), &r, &err), 0);
	assert_int_equal(r.downtime_ms, 0);
	assert_false(r.auto_converge);
	s = "{\"cmd\":\"move\",\"downtime_ms\":50,\"auto_converge\":true,"
	    "\"bandwidth_mib\":64}";
	assert_int_equal(control_request_parse(s, strlen(s), &r, &err), 0);
	assert_int_equal(r.cmd, CONTROL_MOVE);
	assert_int_equal(r.downtime_ms, 50);
	assert_true(r.auto_converge);
	assert_int_equal(r.bandwidth_mib, 64);
	s = "{\"cmd\":\"move\"}";
	assert_int_equal(control_request_parse(s, strlen(s), &r, &err), 0);
	assert_int_equal(r.downtime_ms, 0);
	assert_false(r.auto_converge);
	assert_int_equal(r.bandwidth_mib, 0);
	static const char *const bad[] = {
	    "{\"cmd\":\"move\",\"downtime_ms\":0}",
	    "{\"cmd\":\"move\",\"downtime_ms\":60001}",
	    "{\"cmd\":\"move\",\"downtime_ms\":\"5\"}",
	    "{\"cmd\":\"move\",\"auto_converge\":1}",
	    "{\"cmd\":\"move\",\"bandwidth_mib\":0}",
	    "",
	    "[]",
	    "{}",
	    "{\"cmd\":1}",
	    "{\"cmd\":\"dance\"}",
	    "{\"cmd\":\"stop\",\"timeout\":-1}",
	    "{\"cmd\":\"stop\",\"force\":1}",
	    "{\"cmd\":\"kill\",\"signal\":\"SIGNOPE\"}",
	    "{\"cmd\":\"kill\",\"signal\":999}",
	    "{\"cmd\":\"winsize\"}",
	    "{\"cmd\":\"winsize\",\"rows\":0,\"cols\":80}",
	    "{\"cmd\":\"winsize\",\"rows\":24,\"cols\":1001}",
	    "{\"cmd\":\"winsize\",\"rows\":\"24\",\"cols\":80}",
	    "{\"cmd\":\"migrate\"}",
	    "{\"cmd\":\"migrate\",\"live\":true,\"downtime_limit\":0}",
	    "{\"cmd\":\"migrate\",\"live\":true,\"downtime_limit\":60001}",
	    "{\"cmd\":\"migrate\",\"live\":true,\"auto_converge\":1}",
	    "{\"cmd\":\"migrate\",\"live\":true,\"max_bandwidth\":-1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(
		    control_request_parse(bad[i], strlen(bad[i]), &r, &err),
		    -EINVAL);
}

static void test_signal_names(void **state)
{
	assert_int_equal(control_signal_parse("SIGTERM"), SIGTERM);
	assert_int_equal(control_signal_parse("term"), SIGTERM);
	assert_int_equal(control_signal_parse("9"), SIGKILL);
	assert_int_equal(control_signal_parse("SIGRTMIN+3"), SIGRTMIN + 3);
	assert_int_equal(control_signal_parse("0"), -EINVAL);
	assert_int_equal(control_signal_parse("RTMIN+99"), -EINVAL);
	assert_int_equal(control_signal_parse("9999"), -EINVAL);
	assert_int_equal(control_signal_parse(""), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_defaults),
	    cmocka_unit_test(test_limits_without_cpu_cap_lift_the_cap),
	    cmocka_unit_test(test_devfilter_allows_what_it_lists),
	    cmocka_unit_test(test_devfilter_refuses_bad_rules),
	    cmocka_unit_test(test_devfilter_vm_hull_rules),
	    cmocka_unit_test(test_config_lx_and_resolvers),
	    cmocka_unit_test(test_config_docker_keys),
	    cmocka_unit_test(test_config_filesystems),
	    cmocka_unit_test(test_config_refuses_bad_records),
	    cmocka_unit_test(test_user_resolve),
	    cmocka_unit_test(test_uname_lx_overlay),
	    cmocka_unit_test(test_caps_policy),
	    cmocka_unit_test(test_limit_priv_maps_onto_caps),
	    cmocka_unit_test(test_control_parse),
	    cmocka_unit_test(test_signal_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
