/*
 * change.c - vmadm's commands that change instances: create, validate,
 * delete, update, start, stop, reboot, kill, console, autoboot, sysrq and
 * the snapshots. Each parses its arguments, makes one call into the
 * instance library (include/hull/instance.h, hull/snapshot.h) and prints
 * SmartOS's messages.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/vmadm/vmadm.h"
#include "hull/snapshot.h"
#include "lib/json.h"
#include "supervisor/client.h"
#include "vm/payload.h"

int vmadm_create(int argc, char **argv)
{
	const char *file = NULL;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+f:dv")) != -1) {
		if (c == 'f')
			file = optarg;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("create");
	}
	if (optind != argc)
		return vmadm_usage("create");
	struct hull_err err;
	json_t *payload = vmadm_read_payload(file, "create", &err);
	if (!payload)
		return vmadm_fail_err(&err);
	char uuid[HULL_INSTANCE_UUID_LEN + 1];
	int r = hull_instance_create(payload, &vmadm_progress, uuid, &err);
	json_decref(payload);
	return r < 0 ? vmadm_fail_err(&err) : VMADM_OK;
}

static void print_warning(enum hull_step step, const char *uuid,
			  const char *msg, void *arg)
{
	if (step == HULL_STEP_WARNING)
		fprintf(stderr, "%s\n", msg);
}

int vmadm_validate(int argc, char **argv)
{
	const char *file = NULL;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+f:dv")) != -1) {
		if (c == 'f')
			file = optarg;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("validate");
	}
	/* operands: create | update <brand>, -f may also follow them */
	const char *action = optind < argc ? argv[optind++] : NULL;
	const char *brand = NULL;
	if (action && !strcmp(action, "update"))
		brand = optind < argc ? argv[optind++] : NULL;
	while ((c = getopt(argc, argv, "f:dv")) != -1) {
		if (c == 'f')
			file = optarg;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("validate");
	}
	if (!action || optind != argc ||
	    (strcmp(action, "create") && strcmp(action, "update")) ||
	    (!strcmp(action, "update") && !brand))
		return vmadm_usage("validate");
	struct hull_err err;
	json_t *payload = vmadm_read_payload(file, "validate", &err);
	if (!payload)
		return vmadm_fail_err(&err);
	json_t *bad = NULL;
	struct hull_progress pr = {.fn = print_warning};
	int r = hull_instance_validate(payload, !strcmp(action, "update"),
				       brand, &bad, &pr, &err);
	if (r < 0) {
		if (bad)
			hull_json_print(bad);
		json_decref(bad);
		json_decref(payload);
		return vmadm_fail_err(&err);
	}
	if (!brand)
		brand = hull_json_str(payload, "brand", "joyent");
	printf("VALID '%s' payload for %s brand VMs.\n", action, brand);
	json_decref(payload);
	return VMADM_OK;
}

/* The one operand UUID of a command whose only options are -d and -v. */
static const char *one_uuid(int argc, char **argv, const char *cmd)
{
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+dv")) != -1)
		if (c != 'd' && c != 'v')
			return NULL;
	return optind == argc - 1 ? argv[optind] : NULL;
}

int vmadm_delete(int argc, char **argv)
{
	const char *uuid = one_uuid(argc, argv, "delete");
	if (!uuid)
		return vmadm_usage("delete");
	struct hull_err err;
	if (hull_instance_delete(uuid, &vmadm_progress, &err) < 0)
		return vmadm_fail_err(&err);
	fprintf(stderr, "Successfully deleted VM %s\n", uuid);
	return VMADM_OK;
}

int vmadm_update(int argc, char **argv)
{
	const char *file = NULL;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+f:dv")) != -1) {
		if (c == 'f')
			file = optarg;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("update");
	}
	if (optind >= argc)
		return vmadm_usage("update");
	const char *uuid = argv[optind++];
	/* -f may follow the uuid too */
	while ((c = getopt(argc, argv, "+f:dv")) != -1) {
		if (c == 'f')
			file = optarg;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("update");
	}
	if (file && optind < argc)
		return vmadm_usage("update");
	/* An unknown or failed instance is refused before the payload is
	 * read (stdin may be a terminal). */
	struct hull_err err;
	json_t *probe = hull_instance_get(uuid, &err);
	if (!probe)
		return vmadm_fail_err(&err);
	bool failed = !strcmp(hull_json_str(probe, "state", ""), "failed");
	json_decref(probe);
	if (failed)
		return vmadm_fail("Cannot update VM %s: state is failed", uuid);
	json_t *payload =
	    optind < argc
		? vm_payload_from_args(argc - optind, argv + optind, &err)
		: vmadm_read_payload(file, "update", &err);
	if (!payload)
		return vmadm_fail_err(&err);
	int r = hull_instance_update(uuid, payload, &vmadm_progress, &err);
	json_decref(payload);
	if (r < 0)
		return vmadm_fail_err(&err);
	fprintf(stderr, "Successfully updated VM %s\n", uuid);
	return VMADM_OK;
}

int vmadm_start(int argc, char **argv)
{
	const char *uuid = one_uuid(argc, argv, "start");
	if (!uuid)
		return vmadm_usage("start");
	struct hull_err err;
	int r = hull_instance_start(uuid, &vmadm_progress, &err);
	if (r < 0)
		return vmadm_fail_err(&err);
	if (r > 0)
		fprintf(stderr, "VM %s is already running\n", uuid);
	else
		fprintf(stderr, "Successfully started VM %s\n", uuid);
	return VMADM_OK;
}

static int stop_or_reboot(int argc, char **argv, bool reboot)
{
	const char *cmd = reboot ? "reboot" : "stop";
	bool force = false;
	int timeout = 60, c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, reboot ? "Fdv" : "Ft:dv")) != -1) {
		if (c == 'F') {
			force = true;
		} else if (c == 't') {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (!*optarg || *end || t < 0 || t > 86400)
				return vmadm_fail("Invalid timeout \"%s\"",
						  optarg);
			timeout = (int)t;
		} else if (c != 'd' && c != 'v') {
			return vmadm_usage(cmd);
		}
	}
	const char *uuid = optind == argc - 1 ? argv[optind] : NULL;
	if (!uuid)
		return vmadm_usage(cmd);
	struct hull_err err;
	int r = reboot
		    ? hull_instance_reboot(uuid, force, &vmadm_progress, &err)
		    : hull_instance_stop(uuid, force, timeout, &vmadm_progress,
					 &err);
	if (r < 0)
		return vmadm_fail_err(&err);
	if (r > 0)
		fprintf(stderr, "VM %s is already not running\n", uuid);
	else
		fprintf(stderr, "Successfully completed %s for VM %s\n", cmd,
			uuid);
	return VMADM_OK;
}

int vmadm_stop(int argc, char **argv)
{
	return stop_or_reboot(argc, argv, false);
}

int vmadm_reboot(int argc, char **argv)
{
	return stop_or_reboot(argc, argv, true);
}

int vmadm_kill(int argc, char **argv)
{
	const char *sig = "SIGTERM";
	/* -SIG form: `vmadm kill -KILL uuid` / `-9` */
	if (argc >= 3 && argv[1][0] == '-' && argv[1][1] &&
	    strcmp(argv[1], "-s") && strcmp(argv[1], "-d") &&
	    strcmp(argv[1], "-v")) {
		sig = argv[1] + 1;
		argv++;
		argc--;
	}
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+s:dv")) != -1) {
		if (c == 's')
			sig = optarg;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("kill");
	}
	const char *uuid = optind == argc - 1 ? argv[optind] : NULL;
	if (!uuid)
		return vmadm_usage("kill");
	struct hull_err err;
	if (hull_instance_kill(uuid, sig, &err) < 0)
		return vmadm_fail_err(&err);
	fprintf(stderr, "Sent signal \"%s\" to init process for VM %s\n", sig,
		uuid);
	return VMADM_OK;
}

int vmadm_console(int argc, char **argv)
{
	const char *uuid = one_uuid(argc, argv, "console");
	if (!uuid)
		return vmadm_usage("console");
	struct hull_err err;
	json_t *vm = hull_instance_get(uuid, &err);
	if (!vm)
		return vmadm_fail_err(&err);
	bool running = !strcmp(hull_json_str(vm, "state", ""), "running");
	json_decref(vm);
	if (!running)
		return vmadm_fail("Cannot connect to console of VM %s: VM is "
				  "not running",
				  uuid);
	struct termios saved, raw;
	bool tty = tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		fprintf(stderr,
			"[Connected to VM %s console; ^] to detach]\r\n", uuid);
	}
	int r = zone_console_attach(uuid, STDIN_FILENO, STDOUT_FILENO, &err);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		fprintf(stderr, "\n[Detached from VM %s console]\n", uuid);
	}
	return r < 0 ? vmadm_fail_err(&err) : VMADM_OK;
}

int vmadm_autoboot(int argc, char **argv)
{
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+dv")) != -1)
		if (c != 'd' && c != 'v')
			return vmadm_usage("autoboot");
	if (optind != argc)
		return vmadm_usage("autoboot");
	struct hull_err err;
	json_t *all = hull_instance_list(NULL, 0, NULL, &err);
	if (!all)
		return vmadm_fail_err(&err);
	int rc = VMADM_OK;
	size_t i;
	json_t *vm;
	json_array_foreach(all, i, vm)
	{
		const char *uuid = hull_json_str(vm, "uuid", "");
		if (!hull_json_bool(vm, "autoboot", false) ||
		    strcmp(hull_json_str(vm, "state", ""), "stopped"))
			continue;
		if (hull_instance_start(uuid, &vmadm_progress, &err) < 0) {
			vmadm_fail_err(&err);
			rc = VMADM_ERROR;
		} else {
			fprintf(stderr, "Successfully started VM %s\n", uuid);
		}
	}
	json_decref(all);
	return rc;
}

int vmadm_sysrq(int argc, char **argv)
{
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+dv")) != -1)
		if (c != 'd' && c != 'v')
			return vmadm_usage("sysrq");
	if (optind != argc - 2)
		return vmadm_usage("sysrq");
	const char *uuid = argv[optind], *type = argv[optind + 1];
	if (!hull_sysrq_type_valid(type)) {
		fprintf(stderr, "Invalid sysrq type: %s\n", type);
		return vmadm_usage("sysrq");
	}
	struct hull_err err;
	char *ppm = NULL;
	if (hull_instance_sysrq(uuid, type, &ppm, &err) < 0)
		return vmadm_fail_err(&err);
	if (ppm)
		printf("%s\n", ppm);
	free(ppm);
	fprintf(stderr, "Sent %s sysrq to VM %s\n", type, uuid);
	return VMADM_OK;
}

enum snap_op { SNAP_CREATE, SNAP_DELETE, SNAP_ROLLBACK };

static int snapshot_cmd(int argc, char **argv, enum snap_op op)
{
	static const char *const cmds[] = {"create-snapshot", "delete-snapshot",
					   "rollback-snapshot"};
	const char *cmd = cmds[op];
	/* create-snapshot -m|--memory (hull): the VM's memory too */
	static const struct option memopt[] = {
	    {"memory", no_argument, NULL, 'm'}, {NULL, 0, NULL, 0}};
	unsigned flags = 0;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt_long(argc, argv, op == SNAP_CREATE ? "+dvm" : "+dv",
				op == SNAP_CREATE ? memopt : memopt + 1,
				NULL)) != -1) {
		if (c == 'm')
			flags |= HULL_SNAPSHOT_MEMORY;
		else if (c != 'd' && c != 'v')
			return vmadm_usage(cmd);
	}
	if (optind != argc - 2)
		return vmadm_usage(cmd);
	const char *uuid = argv[optind], *name = argv[optind + 1];
	struct hull_err err;
	int r = op == SNAP_CREATE
		    ? hull_snapshot_create_flags(uuid, name, flags,
						 &vmadm_progress, &err)
		: op == SNAP_DELETE
		    ? hull_snapshot_delete(uuid, name, &vmadm_progress, &err)
		    : hull_snapshot_rollback(uuid, name, &vmadm_progress, &err);
	if (r < 0)
		return vmadm_fail_err(&err);
	if (op == SNAP_CREATE)
		fprintf(stderr, "Created snapshot %s for VM %s\n", name, uuid);
	else if (op == SNAP_DELETE)
		fprintf(stderr, "Deleted snapshot %s for VM %s\n", name, uuid);
	else
		fprintf(stderr, "Rolled back VM %s to snapshot %s\n", uuid,
			name);
	return VMADM_OK;
}

int vmadm_snapshot_create(int argc, char **argv)
{
	return snapshot_cmd(argc, argv, SNAP_CREATE);
}

int vmadm_snapshot_delete(int argc, char **argv)
{
	return snapshot_cmd(argc, argv, SNAP_DELETE);
}

int vmadm_snapshot_rollback(int argc, char **argv)
{
	return snapshot_cmd(argc, argv, SNAP_ROLLBACK);
}
