/*
 * vmadm - manage instances (zones, later VMs) from SmartOS payloads.
 *
 * Invocation, output and exit conventions follow SmartOS's vmadm
 * (spec/smartos.md §1.1): `vmadm <command> [-d] [-v] [args]`, exit 0 on
 * success, 1 on error, 2 on a usage error; success messages on stderr,
 * machine-readable output on stdout.
 *
 * Test hook: HULL_TEST_CRASH_AT=<step> makes vmadm kill itself with
 * SIGKILL right after that step of `create` (pending, clone, quota, record,
 * done), so tests can check that a create killed at any moment leaves no
 * trace or a `failed` instance.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cmd/vmadm/vmadm.h"
#include "inst/record.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/xalloc.h"

struct subcommand {
	const char *name;
	const char *alias;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static const struct subcommand subcommands[] = {
    {"create", NULL, vmadm_create, "create [-f <filename>]"},
    {"validate", NULL, vmadm_validate,
     "validate create [-f <filename>]\n"
     "       vmadm validate update <brand> [-f <filename>]"},
    {"delete", "destroy", vmadm_delete, "delete <uuid>"},
    {"get", "json", vmadm_get, "get <uuid>"},
    {"list", NULL, vmadm_list,
     "list [-p] [-H] [-o field,...] [-s field,...] [field=value ...]"},
    {"lookup", NULL, vmadm_lookup,
     "lookup [-j|-1] [-o field,...] [field=value ...]"},
    {"info", NULL, vmadm_info, "info <uuid> [type,...]"},
    {"update", NULL, vmadm_update,
     "update <uuid> [-f <filename>]\n"
     "       vmadm update <uuid> property=value [property=value ...]"},
    {"start", "boot", vmadm_start, "start <uuid>"},
    {"stop", "halt", vmadm_stop, "stop <uuid> [-F] [-t timeout]"},
    {"reboot", NULL, vmadm_reboot, "reboot <uuid> [-F]"},
    {"kill", NULL, vmadm_kill, "kill [-s SIGNAL|-SIGNAL] <uuid>"},
    {"console", NULL, vmadm_console, "console <uuid>"},
    {"sysrq", NULL, vmadm_sysrq, "sysrq <uuid> <nmi|screenshot>"},
    {"events", NULL, vmadm_events, "events [-f] [-j] [-r] [uuid]"},
    {"create-snapshot", NULL, vmadm_snapshot_create,
     "create-snapshot <uuid> <snapname>"},
    {"delete-snapshot", NULL, vmadm_snapshot_delete,
     "delete-snapshot <uuid> <snapname>"},
    {"rollback-snapshot", NULL, vmadm_snapshot_rollback,
     "rollback-snapshot <uuid> <snapname>"},
    {"autoboot", NULL, vmadm_autoboot, "autoboot"},
};

#define NSUB (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage_all(FILE *f)
{
	fprintf(f, "Usage: vmadm <command> [-d] [-v] [command-specific "
		   "arguments]\n\n");
	for (size_t i = 0; i < NSUB; i++)
		fprintf(f, "  vmadm %s\n", subcommands[i].usage);
	fprintf(f, "\nautoboot starts every instance with autoboot=true "
		   "(run once after the host boots).\n");
}

int vmadm_usage(const char *cmd)
{
	for (size_t i = 0; i < NSUB; i++)
		if (!strcmp(cmd, subcommands[i].name)) {
			fprintf(stderr, "Usage: vmadm %s\n",
				subcommands[i].usage);
			return VMADM_USAGE;
		}
	usage_all(stderr);
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

void vmadm_print_warnings(json_t *warnings)
{
	size_t i;
	json_t *e;
	json_array_foreach(warnings, i, e)
	    fprintf(stderr, "%s\n", json_string_value(e));
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

static int lock_instance(const char *uuid, bool wait, struct hull_err *err);

int vmadm_lock(const char *uuid, struct hull_err *err)
{
	return lock_instance(uuid, true, err);
}

int vmadm_lock_try(const char *uuid, struct hull_err *err)
{
	return lock_instance(uuid, false, err);
}

static int lock_instance(const char *uuid, bool wait, struct hull_err *err)
{
	return inst_lock(uuid, wait, err);
}

void vmadm_test_crash(const char *step)
{
	const char *at = getenv("HULL_TEST_CRASH_AT");
	if (at && !strcmp(at, step))
		raise(SIGKILL);
}

unsigned vmadm_rand32(void)
{
	unsigned v;
	while (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		;
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_all(stderr);
		return VMADM_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "--help") || !strcmp(cmd, "-?")) {
		usage_all(stdout);
		return VMADM_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("vmadm (hull) %s\n", HULL_VERSION);
		return VMADM_OK;
	}
	const struct subcommand *c = NULL;
	for (size_t i = 0; i < NSUB; i++)
		if (!strcmp(cmd, subcommands[i].name) ||
		    (subcommands[i].alias &&
		     !strcmp(cmd, subcommands[i].alias)))
			c = &subcommands[i];
	if (!c) {
		fprintf(stderr, "Invalid command: \"%s\" (see vmadm --help)\n",
			cmd);
		return VMADM_USAGE;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			if (!strcmp(c->name, "list"))
				break; /* list -h forces the header */
			printf("Usage: vmadm %s\n", c->usage);
			return VMADM_OK;
		}
	if (geteuid() != 0 && !getenv("HULL_ROOT")) {
		fprintf(stderr, "FATAL: cannot run because: vmadm must be run "
				"as root\n");
		return VMADM_USAGE;
	}
	struct hull_err err;
	if (strcmp(c->name, "validate") && hull_root_check(&err) < 0)
		return vmadm_fail_err(&err);
	return c->run(argc - 1, argv + 1);
}
