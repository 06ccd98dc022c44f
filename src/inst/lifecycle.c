/*
 * lifecycle.c - vmadm start, stop, reboot, kill, console and autoboot.
 *
 * A running instance is one whose supervisor (`hull-supervisor UUID`)
 * holds the lock on run/supervisor.pid and whose cgroup holds processes;
 * vmadm starts the supervisor and talks to it through the client of
 * src/supervisor/client.h (docs/internals.md). vmadm holds the instance
 * lock for the whole of a start or stop; the supervisor never takes it.
 * One exception: vmadm stop -F asks a live supervisor to stop without
 * waiting for the lock (lock_for_force_stop).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmd/vmadm/vmadm.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/xalloc.h"
#include "supervisor/client.h"
#include "vm/record.h"

static int set_autoboot(const char *uuid, bool on, struct hull_err *err)
{
	bool pending;
	json_t *vm = vm_record_load_raw(uuid, &pending, err);
	if (!vm)
		return -ENOENT;
	int r = 0;
	if (!pending && hull_json_bool(vm, "autoboot", !on) != on) {
		json_object_set_new(vm, "autoboot", json_boolean(on));
		r = vm_record_save(vm, err);
	}
	json_decref(vm);
	return r;
}

int vmadm_start_locked(const char *uuid, json_t *vm, struct hull_err *err)
{
	(void)vm;
	if (supervisor_alive(uuid))
		return -EALREADY;
	int r = supervisor_start(uuid, err);
	if (r < 0)
		return r;
	return set_autoboot(uuid, true, err);
}

int vmadm_stop_locked(const char *uuid, bool force, int timeout,
		      struct hull_err *err)
{
	if (!supervisor_alive(uuid))
		/* a supervisor killed earlier may have left a cgroup and run
		 * files behind */
		return zone_cleanup(uuid, err);
	return supervisor_stop(uuid, timeout, force, err);
}

int vmadm_apply_live(const char *uuid, struct hull_err *err)
{
	int r = zone_limits_update(uuid, err);
	return r < 0
		   ? hull_err_prefix(err, "apply limits to running VM %s", uuid)
		   : 0;
}

static const char *one_uuid(int argc, char **argv)
{
	return optind == argc - 1 ? argv[optind] : NULL;
}

int vmadm_start(int argc, char **argv)
{
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+dv")) != -1)
		if (c != 'd' && c != 'v')
			return vmadm_usage("start");
	const char *uuid = one_uuid(argc, argv);
	if (!uuid)
		return vmadm_usage("start");
	struct hull_err err;
	json_t *vm = vm_record_load(uuid, &err);
	if (!vm)
		return vmadm_fail_err(&err);
	const char *state = hull_json_str(vm, "state", "");
	if (!strcmp(state, "failed") || !strcmp(state, "provisioning")) {
		vmadm_fail("Cannot start VM %s: state is %s", uuid, state);
		json_decref(vm);
		return VMADM_ERROR;
	}
	int lock = vmadm_lock(uuid, &err);
	int r = lock < 0 ? lock : vmadm_start_locked(uuid, vm, &err);
	hull_lock_release(lock);
	json_decref(vm);
	if (r == -EALREADY) {
		fprintf(stderr, "VM %s is already running\n", uuid);
		return VMADM_OK;
	}
	if (r < 0) {
		hull_err_prefix(&err, "start %s", uuid);
		return vmadm_fail_err(&err);
	}
	fprintf(stderr, "Successfully started VM %s\n", uuid);
	return VMADM_OK;
}

/*
 * The instance lock for vmadm stop -F, which works at once at any moment:
 * while another command holds the lock (a start whose boot loader runs, a
 * stop waiting for a guest to power down, an update) and a supervisor is
 * alive, the supervisor is told to stop at once without the lock. The lock
 * guards the record, and a forced stop writes none of it before the
 * instance is down; the supervisor serialises its own requests. The
 * holder sees its instance end (a start fails with "stopped by a stop
 * request before it booted") and releases the lock; then the lock is taken
 * and autoboot written under it, as in any stop. *stopped says that the
 * supervisor was stopped here.
 */
static int lock_for_force_stop(const char *uuid, bool *stopped,
			       struct hull_err *err)
{
	*stopped = false;
	for (;;) {
		int lock = vmadm_lock_try(uuid, err);
		if (lock != -EWOULDBLOCK)
			return lock;
		if (supervisor_alive(uuid)) {
			int r = supervisor_stop(uuid, 0, true, err);
			if (r < 0)
				return r;
			*stopped = true;
			return vmadm_lock(uuid, err);
		}
		/* a start about to run its supervisor, or a command on a
		 * stopped instance: ask again shortly */
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
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
	const char *uuid = one_uuid(argc, argv);
	if (!uuid)
		return vmadm_usage(cmd);
	struct hull_err err;
	json_t *vm = vm_record_load(uuid, &err);
	if (!vm)
		return vmadm_fail_err(&err);
	json_decref(vm);
	bool stopped = false;
	int lock = force && !reboot ? lock_for_force_stop(uuid, &stopped, &err)
				    : vmadm_lock(uuid, &err);
	if (lock < 0)
		return vmadm_fail_err(&err);
	int r = 0;
	if (!supervisor_alive(uuid)) {
		zone_cleanup(uuid, NULL);
		if (!reboot)
			set_autoboot(uuid, false, NULL);
		hull_lock_release(lock);
		if (reboot)
			return vmadm_fail("Cannot reboot VM %s: VM is not "
					  "running",
					  uuid);
		if (stopped)
			fprintf(stderr,
				"Successfully completed stop for VM %s\n",
				uuid);
		else
			fprintf(stderr, "VM %s is already not running\n", uuid);
		return VMADM_OK;
	}
	if (reboot) {
		r = supervisor_reboot(uuid, timeout, force, &err);
	} else {
		r = supervisor_stop(uuid, force ? 0 : timeout, force, &err);
		if (r == 0)
			r = set_autoboot(uuid, false, &err);
	}
	hull_lock_release(lock);
	if (r < 0) {
		hull_err_prefix(&err, "%s %s", cmd, uuid);
		return vmadm_fail_err(&err);
	}
	fprintf(stderr, "Successfully completed %s for VM %s\n", cmd, uuid);
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

/* 1 when the instance's derived state is running, 0 when not, or a
 * negative code when its record cannot be read. */
static int record_running(const char *uuid, struct hull_err *err)
{
	json_t *vm = vm_record_load(uuid, err);
	if (!vm)
		return -err->code;
	bool running = !strcmp(hull_json_str(vm, "state", ""), "running");
	json_decref(vm);
	return running;
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
	const char *uuid = one_uuid(argc, argv);
	if (!uuid)
		return vmadm_usage("kill");
	struct hull_err err;
	int running = record_running(uuid, &err);
	if (running < 0)
		return vmadm_fail_err(&err);
	if (!running)
		return vmadm_fail("Cannot send signal to VM %s: VM is not "
				  "running",
				  uuid);
	if (supervisor_kill(uuid, sig, &err) < 0) {
		hull_err_prefix(&err, "kill %s", uuid);
		return vmadm_fail_err(&err);
	}
	fprintf(stderr, "Sent signal \"%s\" to init process for VM %s\n", sig,
		uuid);
	return VMADM_OK;
}

int vmadm_console(int argc, char **argv)
{
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+dv")) != -1)
		if (c != 'd' && c != 'v')
			return vmadm_usage("console");
	const char *uuid = one_uuid(argc, argv);
	if (!uuid)
		return vmadm_usage("console");
	struct hull_err err;
	int running = record_running(uuid, &err);
	if (running < 0)
		return vmadm_fail_err(&err);
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
	json_t *all = vm_record_list(&err);
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
		int lock = vmadm_lock(uuid, &err);
		int r = lock < 0 ? lock : vmadm_start_locked(uuid, vm, &err);
		hull_lock_release(lock);
		if (r < 0 && r != -EALREADY) {
			hull_err_prefix(&err, "start %s", uuid);
			vmadm_fail_err(&err);
			rc = VMADM_ERROR;
		} else {
			fprintf(stderr, "Successfully started VM %s\n", uuid);
		}
	}
	json_decref(all);
	return rc;
}
