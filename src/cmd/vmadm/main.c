/*
 * vmadm - manage instances (zones, later VMs) from SmartOS payloads.
 *
 * Invocation, output and exit conventions follow SmartOS's vmadm
 * (spec/smartos.md §1.1): `vmadm <command> [-d] [-v] [args]`, exit 0 on
 * success, 1 on error, 2 on a usage error; success messages on stderr,
 * machine-readable output on stdout.
 *
 * The work is the instance library's (include/hull/instance.h); vmadm
 * parses arguments, calls it once and prints.
 *
 * Test hook: HULL_TEST_CRASH_AT=<step> makes vmadm kill itself with
 * SIGKILL right after that step of `create` (pending, clone, quota, record,
 * done), reported by the library's progress callback, so tests can check
 * that a create killed at any moment leaves no trace or a `failed`
 * instance.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/vmadm/vmadm.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/subcmd.h"
#include "lib/xalloc.h"

static const struct subcmd subcommands[] = {
    {"create", NULL, vmadm_create, "create [-f <filename>]", SUBCMD_ROOT},
    {"validate", NULL, vmadm_validate,
     "validate create [-f <filename>]\n"
     "       vmadm validate update <brand> [-f <filename>]",
     0},
    {"delete", "destroy", vmadm_delete, "delete <uuid>", SUBCMD_ROOT},
    {"get", "json", vmadm_get, "get <uuid>", SUBCMD_ROOT},
    /* list -h forces the header */
    {"list", NULL, vmadm_list,
     "list [-p] [-H] [-o field,...] [-s field,...] [field=value ...]",
     SUBCMD_ROOT | SUBCMD_OWN_HELP},
    {"lookup", NULL, vmadm_lookup,
     "lookup [-j|-1] [-o field,...] [field=value ...]", SUBCMD_ROOT},
    {"info", NULL, vmadm_info, "info <uuid> [type,...]", SUBCMD_ROOT},
    {"update", NULL, vmadm_update,
     "update <uuid> [-f <filename>]\n"
     "       vmadm update <uuid> property=value [property=value ...]",
     SUBCMD_ROOT},
    {"start", "boot", vmadm_start, "start <uuid>", SUBCMD_ROOT},
    {"stop", "halt", vmadm_stop, "stop <uuid> [-F] [-t timeout]", SUBCMD_ROOT},
    {"reboot", NULL, vmadm_reboot, "reboot <uuid> [-F]", SUBCMD_ROOT},
    {"kill", NULL, vmadm_kill, "kill [-s SIGNAL|-SIGNAL] <uuid>", SUBCMD_ROOT},
    {"console", NULL, vmadm_console, "console <uuid>", SUBCMD_ROOT},
    {"sysrq", NULL, vmadm_sysrq, "sysrq <uuid> <nmi|screenshot>", SUBCMD_ROOT},
    {"events", NULL, vmadm_events, "events [-f] [-j] [-r] [uuid]", SUBCMD_ROOT},
    {"create-snapshot", NULL, vmadm_snapshot_create,
     "create-snapshot [-m|--memory] <uuid> <snapname>", SUBCMD_ROOT},
    {"delete-snapshot", NULL, vmadm_snapshot_delete,
     "delete-snapshot <uuid> <snapname>", SUBCMD_ROOT},
    {"rollback-snapshot", NULL, vmadm_snapshot_rollback,
     "rollback-snapshot <uuid> <snapname>", SUBCMD_ROOT},
    {"send", NULL, vmadm_send, "send <uuid> [-i <snapshot>] [--live]",
     SUBCMD_ROOT},
    {"receive", "recv", vmadm_receive, "receive [-f <filename>]", SUBCMD_ROOT},
    {"migrate", NULL, vmadm_migrate,
     "migrate <uuid> --live [--downtime <ms>] [--auto-converge] "
     "[--bandwidth <MiB/s>]",
     SUBCMD_ROOT},
    {"autoboot", NULL, vmadm_autoboot, "autoboot", SUBCMD_ROOT},
};

/* vmadm's own help word besides help, -h and --help. */
static enum subcmd_opt option(const char *arg, int left)
{
	return !strcmp(arg, "-?") ? SUBCMD_OPT_HELP : SUBCMD_OPT_STOP;
}

/* Every command needs root (or a pool root of the caller's own, as the
 * tests have); all but validate need an initialised pool. */
static int before(const struct subcmd *c)
{
	if (geteuid() != 0 && !getenv("HULL_ROOT")) {
		fprintf(stderr, "FATAL: cannot run because: vmadm must be run "
				"as root\n");
		return VMADM_USAGE;
	}
	struct hull_err err;
	if ((c->flags & SUBCMD_ROOT) && hull_root_check(&err) < 0)
		return vmadm_fail_err(&err);
	return -1;
}

static const struct subcmd_prog prog = {
    .name = "vmadm",
    .cmds = subcommands,
    .ncmds = sizeof(subcommands) / sizeof(subcommands[0]),
    .flags = SUBCMD_SCAN_HELP,
    .usage_exit = VMADM_USAGE,
    .usage_head = "Usage: vmadm <command> [-d] [-v] [command-specific "
		  "arguments]\n\n",
    .list_prefix = "vmadm ",
    .usage_tail = "\nautoboot starts every instance with autoboot=true "
		  "(run once after the host boots).\n",
    .unknown_prefix = "Invalid command: \"",
    .unknown_suffix = "\" (see vmadm --help)",
    .cmd_help_prefix = "Usage: vmadm ",
    .option = option,
    .before = before,
};

int vmadm_usage(const char *cmd)
{
	const struct subcmd *c = subcmd_find(&prog, cmd);
	if (c)
		fprintf(stderr, "Usage: vmadm %s\n", c->usage);
	else
		subcmd_usage(&prog, stderr);
	return VMADM_USAGE;
}

int vmadm_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return VMADM_ERROR;
}

int vmadm_fail_err(const struct hull_err *err)
{
	fprintf(stderr, "%s\n", err->msg);
	return VMADM_ERROR;
}

void vmadm_getopt_reset(void)
{
	optind = 0; /* glibc: 0 re-initialises, also the '+' scanning mode */
	opterr = 0;
}

json_t *vmadm_read_payload(const char *file, const char *action,
			   struct hull_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	if (file) {
		if (!hull_path_exists(file)) {
			hull_err_set(err, ENOENT, "File: %s does not exist.",
				     file);
			return NULL;
		}
		if (hull_file_read(file, HULL_JSON_MAX_FILE, &buf, &len, err) <
		    0)
			return NULL;
	} else {
		if (isatty(STDIN_FILENO)) {
			hull_err_set(err, EINVAL,
				     "Will not %s from stdin when stdin is a "
				     "tty.",
				     action);
			return NULL;
		}
		size_t cap = 0;
		for (;;) {
			if (len + 4096 + 1 > cap) {
				cap = cap ? cap * 2 : 16384;
				if (cap > HULL_JSON_MAX_FILE) {
					free(buf);
					hull_err_set(err, EFBIG,
						     "Invalid JSON payload: "
						     "larger than %u bytes",
						     HULL_JSON_MAX_FILE);
					return NULL;
				}
				buf = xrealloc(buf, cap);
			}
			ssize_t n = read(STDIN_FILENO, buf + len, 4096);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				free(buf);
				hull_err_sys(err, errno, "read payload");
				return NULL;
			}
			if (n == 0)
				break;
			len += (size_t)n;
		}
		if (!buf)
			buf = xstrdup("");
		buf[len] = '\0';
	}
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!j)
		hull_err_set(err, EINVAL, "Invalid JSON payload: %s (line %d)",
			     je.text, je.line);
	return j;
}

static void progress(enum hull_step step, const char *uuid, const char *msg,
		     void *arg)
{
	static const char *const crash_steps[] = {
	    [HULL_STEP_PENDING] = "pending", [HULL_STEP_CLONE] = "clone",
	    [HULL_STEP_QUOTA] = "quota",     [HULL_STEP_RECORD] = "record",
	    [HULL_STEP_DONE] = "done",
	};
	if (step == HULL_STEP_WARNING)
		fprintf(stderr, "%s\n", msg);
	else if (step == HULL_STEP_CREATED)
		fprintf(stderr, "Successfully created VM %s\n", uuid);
	const char *at = getenv("HULL_TEST_CRASH_AT");
	if (at && (size_t)step < sizeof(crash_steps) / sizeof(*crash_steps) &&
	    crash_steps[step] && !strcmp(at, crash_steps[step]))
		raise(SIGKILL);
}

const struct hull_progress vmadm_progress = {.fn = progress};

int main(int argc, char **argv)
{
	return subcmd_main(&prog, argc, argv);
}
