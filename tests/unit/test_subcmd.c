/*
 * test_subcmd.c - the CLIs' one dispatcher: which words are help, options,
 * commands; the exact lines it prints and the exit status it returns, in
 * the three shapes of vmadm, imgadm and fwadm.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/subcmd.h"

static int ran_argc;
static char ran_argv0[64], ran_argv1[64];
static bool json_opt;

static int run_cmd(int argc, char **argv)
{
	ran_argc = argc;
	snprintf(ran_argv0, sizeof(ran_argv0), "%s", argv[0]);
	snprintf(ran_argv1, sizeof(ran_argv1), "%s", argc > 1 ? argv[1] : "");
	return 7;
}

/* Captured output of one subcmd_main call. */
struct out {
	int rc;
	char o[2048], e[2048];
};

static void slurp(FILE *f, char *buf, size_t n)
{
	rewind(f);
	size_t k = fread(buf, 1, n - 1, f);
	buf[k] = '\0';
	fclose(f);
}

static struct out call(const struct subcmd_prog *p, const char *words)
{
	char *argv[16], *copy = strdup(words), *save = NULL;
	int argc = 0;
	argv[argc++] = (char *)p->name;
	for (char *w = strtok_r(copy, " ", &save); w && argc < 15;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	FILE *fo = tmpfile(), *fe = tmpfile();
	assert_non_null(fo);
	assert_non_null(fe);
	fflush(stdout);
	fflush(stderr);
	int so = dup(1), se = dup(2);
	dup2(fileno(fo), 1);
	dup2(fileno(fe), 2);
	ran_argc = 0;
	struct out r;
	r.rc = subcmd_main(p, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	slurp(fo, r.o, sizeof(r.o));
	slurp(fe, r.e, sizeof(r.e));
	free(copy);
	return r;
}

/* vmadm's shape. */
static const struct subcmd vm_cmds[] = {
    {"create", NULL, run_cmd, "create [-f <filename>]", SUBCMD_ROOT},
    {"list", NULL, run_cmd, "list [-p] [-H]", SUBCMD_OWN_HELP},
    {"start", "boot", run_cmd, "start <uuid>", SUBCMD_ROOT},
};

static enum subcmd_opt vm_option(const char *arg, int left)
{
	return strcmp(arg, "-?") ? SUBCMD_OPT_STOP : SUBCMD_OPT_HELP;
}

static bool vm_is_root;
static int vm_before(const struct subcmd *c)
{
	if ((c->flags & SUBCMD_ROOT) && !vm_is_root) {
		fprintf(stderr, "FATAL: must be root\n");
		return 2;
	}
	return -1;
}

static const struct subcmd_prog vmadm = {
    .name = "vmadm",
    .cmds = vm_cmds,
    .ncmds = 3,
    .flags = SUBCMD_SCAN_HELP,
    .usage_exit = 2,
    .usage_head = "Usage: vmadm <command>\n\n",
    .list_prefix = "vmadm ",
    .usage_tail = "\ntail\n",
    .unknown_prefix = "Invalid command: \"",
    .unknown_suffix = "\" (see vmadm --help)",
    .cmd_help_prefix = "Usage: vmadm ",
    .option = vm_option,
    .before = vm_before,
};

static const char vm_usage[] = "Usage: vmadm <command>\n\n"
			       "  vmadm create [-f <filename>]\n"
			       "  vmadm list [-p] [-H]\n"
			       "  vmadm start <uuid>\n"
			       "\ntail\n";

static void test_vmadm_shape(void **state)
{
	struct out r = call(&vmadm, "");
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.e, vm_usage);
	assert_string_equal(r.o, "");
	for (const char *const *w =
		 (const char *const[]){"help", "-h", "--help", "-?",
				       "help create", NULL};
	     *w; w++) {
		r = call(&vmadm, *w);
		assert_int_equal(r.rc, 0);
		assert_string_equal(r.o, vm_usage);
	}
	r = call(&vmadm, "frob");
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.e,
			    "Invalid command: \"frob\" (see vmadm --help)\n");
	r = call(&vmadm, "-x");
	assert_string_equal(r.e,
			    "Invalid command: \"-x\" (see vmadm --help)\n");
	r = call(&vmadm, "--version");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.o, "vmadm (hull) " HULL_VERSION "\n");
	/* A command's own --help, before the root check. */
	vm_is_root = false;
	r = call(&vmadm, "create -f x --help");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.o, "Usage: vmadm create [-f <filename>]\n");
	assert_int_equal(ran_argc, 0);
	r = call(&vmadm, "boot 1234");
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.e, "FATAL: must be root\n");
	assert_int_equal(ran_argc, 0);
	/* list keeps its -h; the alias runs the command. */
	r = call(&vmadm, "list -h");
	assert_int_equal(r.rc, 7);
	assert_string_equal(ran_argv0, "list");
	assert_string_equal(ran_argv1, "-h");
	vm_is_root = true;
	r = call(&vmadm, "boot 1234");
	assert_int_equal(r.rc, 7);
	assert_int_equal(ran_argc, 2);
	assert_string_equal(ran_argv0, "boot");
	assert_string_equal(ran_argv1, "1234");
}

/* imgadm's shape. */
static const struct subcmd img_cmds[] = {
    {"list", NULL, run_cmd, "list installed images", 0},
    {"get", "info", run_cmd, "print info", 0},
    {"secret", NULL, run_cmd, "not listed", SUBCMD_HIDDEN},
};

static enum subcmd_opt img_option(const char *arg, int left)
{
	if (left == 0)
		return SUBCMD_OPT_STOP;
	if (!strcmp(arg, "-E")) {
		json_opt = true;
		return SUBCMD_OPT_TAKEN;
	}
	return strcmp(arg, "-v") ? SUBCMD_OPT_STOP : SUBCMD_OPT_TAKEN;
}

static const struct subcmd_prog imgadm = {
    .name = "imgadm",
    .cmds = img_cmds,
    .ncmds = 3,
    .flags = SUBCMD_HELP_CMD | SUBCMD_LIST_NAMES,
    .usage_exit = 2,
    .usage_head = "usage: imgadm\n",
    .unknown_prefix = "imgadm: unknown command '",
    .unknown_suffix = "' (see imgadm --help)",
    .option = img_option,
};

static void test_imgadm_shape(void **state)
{
	const char *usage = "usage: imgadm\n"
			    "  list       list installed images\n"
			    "  get        print info\n";
	struct out r = call(&imgadm, "help");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.o, usage);
	/* help CMD is CMD --help, under the name the user gave. */
	r = call(&imgadm, "help info");
	assert_int_equal(r.rc, 7);
	assert_int_equal(ran_argc, 2);
	assert_string_equal(ran_argv0, "info");
	assert_string_equal(ran_argv1, "--help");
	r = call(&imgadm, "help nosuch");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.o, usage);
	/* Options need a word after them; alone they are commands. */
	json_opt = false;
	r = call(&imgadm, "-E");
	assert_int_equal(r.rc, 2);
	assert_false(json_opt);
	assert_string_equal(r.e, "imgadm: unknown command '-E' (see imgadm "
				 "--help)\n");
	r = call(&imgadm, "-v -E list -j");
	assert_int_equal(r.rc, 7);
	assert_true(json_opt);
	assert_string_equal(ran_argv0, "list");
	assert_string_equal(ran_argv1, "-j");
	r = call(&imgadm, "secret");
	assert_int_equal(r.rc, 7);
}

/* fwadm's shape. */
static enum subcmd_opt fw_option(const char *arg, int left)
{
	return strcmp(arg, "-j") ? SUBCMD_OPT_STOP : SUBCMD_OPT_TAKEN;
}

static const struct subcmd_prog fwadm = {
    .name = "fwadm",
    .cmds = img_cmds,
    .ncmds = 1,
    .flags = SUBCMD_STRICT_OPTS,
    .usage_exit = 2,
    .usage_head = "usage: fwadm\n",
    .list_prefix = NULL,
    .usage_tail = "end\n",
    .unknown_prefix = "fwadm: unknown command '",
    .unknown_suffix = "' (see fwadm --help)",
    .option = fw_option,
};

static void test_fwadm_shape(void **state)
{
	const char *usage = "usage: fwadm\n  list installed images\nend\n";
	struct out r = call(&fwadm, "-j");
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.e, usage);
	r = call(&fwadm, "-j -x list");
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.e,
			    "fwadm: unknown option '-x' (see fwadm --help)\n");
	assert_int_equal(ran_argc, 0);
	r = call(&fwadm, "-j --help");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.o, usage);
	r = call(&fwadm, "get");
	assert_int_equal(r.rc, 2);
	assert_string_equal(
	    r.e, "fwadm: unknown command 'get' (see fwadm --help)\n");
	r = call(&fwadm, "-j list --help");
	assert_int_equal(r.rc, 7);
	assert_string_equal(ran_argv1, "--help");
	assert_non_null(subcmd_find(&fwadm, "list"));
	assert_null(subcmd_find(&fwadm, "get"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vmadm_shape),
	    cmocka_unit_test(test_imgadm_shape),
	    cmocka_unit_test(test_fwadm_shape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
