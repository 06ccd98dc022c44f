/*
 * lifecycle.c - start, stop, reboot and kill an instance
 * (include/hull/instance.h; vmadm start, stop, reboot, kill).
 *
 * A running instance is one whose supervisor (`hull-supervisor UUID`)
 * holds the lock on run/supervisor.pid and whose cgroup holds processes;
 * these start the supervisor and talk to it through the client of
 * src/supervisor/client.h (docs/internals.md). A start or stop holds the
 * instance lock for its whole duration; the supervisor never takes it.
 * One exception: a forced stop asks a live supervisor to stop without
 * waiting for the lock (lock_for_force_stop).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inst/record.h"
#include "inst/txn.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/xalloc.h"
#include "supervisor/client.h"
#include "vm/record.h"

/* 1: changed, 0: it was so already, < 0: failed. */
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
		if (r == 0)
			r = 1;
	}
	json_decref(vm);
	return r;
}

/*
 * set_autoboot(uuid, true) for a start, in one fsync instead of two
 * (inst_record_save_stored_ordered): a crash leaves the old record or the
 * new one, whole, and only a crash within the pool's commit interval of
 * the start (btrfs: 30 s) loses the flag, as a crash within ZFS's 5 s
 * does for SmartOS's zonecfg. The record is edited as stored, its side
 * files untouched. 1: changed, 0: it was so already, < 0: failed.
 */
static int set_autoboot_on(const char *uuid, struct hull_err *err)
{
	struct hull_err e2;
	json_t *rec = inst_record_load_stored(uuid, &e2);
	if (!rec) {
		/* no record yet: the pending one of a create (set_autoboot
		 * leaves it alone) */
		if (e2.code == ENOENT)
			return set_autoboot(uuid, true, err);
		if (err)
			*err = e2;
		return -e2.code;
	}
	int r = 0;
	if (!hull_json_bool(rec, "autoboot", false)) {
		char now[32];
		vm_time_iso(now);
		json_object_set_new(rec, "autoboot", json_true());
		json_object_set_new(rec, "last_modified", json_string(now));
		r = inst_record_save_stored_ordered(rec, err);
		if (r == 0)
			r = 1;
	}
	json_decref(rec);
	return r;
}

/* fsync of the record's folder after a create's first record, 0 or < 0. */
static int sync_config(const char *uuid, struct hull_err *err)
{
	_cleanup_free_ char *dir = inst_config_dir(uuid);
	return hull_fsync_dir(dir, err);
}

/* first: the record was just written by vm_record_save_first. */
static int start_locked(const char *uuid, bool first,
			const struct hull_progress *pr, struct hull_err *err)
{
	if (supervisor_alive(uuid))
		return first ? sync_config(uuid, err) : 1;
	inst_progress(pr, HULL_STEP_BOOT, uuid, NULL);
	struct supervisor_spawn sp;
	int r = supervisor_spawn(uuid, &sp, err);
	if (r < 0) {
		if (first)
			sync_config(uuid, NULL);
		return r;
	}
	/* A create's record: its rename made durable on this CPU while the
	 * supervisor boots on another. */
	struct hull_err serr = {0};
	int sr = first ? sync_config(uuid, &serr) : 0;
	/* autoboot is recorded (one fsync) while the supervisor boots the
	 * zone on another CPU, and put back if the boot fails. The
	 * supervisor reads the record once, old or new: either is whole,
	 * and they differ in autoboot and last_modified only. */
	struct hull_err aerr = {0};
	int ar = set_autoboot_on(uuid, &aerr);
	if ((r = supervisor_spawn_wait(&sp, err)) < 0) {
		if (ar > 0)
			set_autoboot(uuid, false, NULL);
		return r;
	}
	inst_progress(pr, HULL_STEP_RUNNING, uuid, NULL);
	if (sr < 0 || ar < 0) {
		if (err)
			*err = sr < 0 ? serr : aerr;
		return sr < 0 ? sr : ar;
	}
	return 0;
}

int inst_start_locked(const char *uuid, const struct hull_progress *pr,
		      struct hull_err *err)
{
	return start_locked(uuid, false, pr, err);
}

int inst_start_locked_first(const char *uuid, const struct hull_progress *pr,
			    struct hull_err *err)
{
	return start_locked(uuid, true, pr, err);
}

int inst_stop_locked(const char *uuid, bool force, int timeout,
		     const struct hull_progress *pr, struct hull_err *err)
{
	if (!supervisor_alive(uuid))
		/* a supervisor killed earlier may have left a cgroup and run
		 * files behind */
		return zone_cleanup(uuid, err);
	inst_progress(pr, HULL_STEP_STOPPING, uuid, NULL);
	int r = supervisor_stop(uuid, timeout, force, err);
	if (r == 0)
		inst_progress(pr, HULL_STEP_STOPPED, uuid, NULL);
	return r;
}

int inst_apply_live(const char *uuid, struct hull_err *err)
{
	int r = zone_limits_update(uuid, err);
	return r < 0
		   ? hull_err_prefix(err, "apply limits to running VM %s", uuid)
		   : 0;
}

int hull_instance_start(const char *uuid, const struct hull_progress *pr,
			struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	json_t *vm = vm_record_load(uuid, err);
	if (!vm)
		return -err->code;
	const char *state = hull_json_str(vm, "state", "");
	if (!strcmp(state, "failed") || !strcmp(state, "provisioning")) {
		int r =
		    hull_err_set(err, EINVAL, "Cannot start VM %s: state is %s",
				 uuid, state);
		json_decref(vm);
		return r;
	}
	json_decref(vm);
	int lock = inst_lock(uuid, true, err);
	int r = lock < 0 ? lock : inst_start_locked(uuid, pr, err);
	hull_lock_release(lock);
	if (r < 0)
		hull_err_prefix(err, "start %s", uuid);
	return r;
}

/*
 * The instance lock for a forced stop, which works at once at any moment:
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
		int lock = inst_lock(uuid, false, err);
		if (lock != -EWOULDBLOCK)
			return lock;
		if (supervisor_alive(uuid)) {
			int r = supervisor_stop(uuid, 0, true, err);
			if (r < 0)
				return r;
			*stopped = true;
			return inst_lock(uuid, true, err);
		}
		/* a start about to run its supervisor, or a command on a
		 * stopped instance: ask again shortly */
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static int stop_or_reboot(const char *uuid, bool reboot, bool force,
			  int timeout, const struct hull_progress *pr,
			  struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	json_t *vm = vm_record_load(uuid, err);
	if (!vm)
		return -err->code;
	json_decref(vm);
	bool stopped = false;
	int lock = force && !reboot ? lock_for_force_stop(uuid, &stopped, err)
				    : inst_lock(uuid, true, err);
	if (lock < 0)
		return lock;
	int r = 0;
	if (!supervisor_alive(uuid)) {
		zone_cleanup(uuid, NULL);
		if (!reboot)
			set_autoboot(uuid, false, NULL);
		hull_lock_release(lock);
		if (reboot)
			return hull_err_set(err, EINVAL,
					    "Cannot reboot VM %s: VM is not "
					    "running",
					    uuid);
		if (stopped)
			inst_progress(pr, HULL_STEP_STOPPED, uuid, NULL);
		return stopped ? 0 : 1;
	}
	inst_progress(pr, HULL_STEP_STOPPING, uuid, NULL);
	if (reboot) {
		r = supervisor_reboot(uuid, timeout, force, err);
	} else {
		r = supervisor_stop(uuid, force ? 0 : timeout, force, err);
		if (r == 0) {
			inst_progress(pr, HULL_STEP_STOPPED, uuid, NULL);
			r = set_autoboot(uuid, false, err);
			if (r > 0)
				r = 0;
		}
	}
	hull_lock_release(lock);
	if (r < 0)
		return hull_err_prefix(err, "%s %s", reboot ? "reboot" : "stop",
				       uuid);
	return 0;
}

int hull_instance_stop(const char *uuid, bool force, int timeout_s,
		       const struct hull_progress *pr, struct hull_err *err)
{
	return stop_or_reboot(uuid, false, force, timeout_s, pr, err);
}

int hull_instance_reboot(const char *uuid, bool force,
			 const struct hull_progress *pr, struct hull_err *err)
{
	return stop_or_reboot(uuid, true, force, 60, pr, err);
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

int hull_instance_kill(const char *uuid, const char *signal,
		       struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	if (!signal)
		signal = "SIGTERM";
	int running = record_running(uuid, err);
	if (running < 0)
		return running;
	if (!running)
		return hull_err_set(err, EINVAL,
				    "Cannot send signal to VM %s: VM is not "
				    "running",
				    uuid);
	int r = supervisor_kill(uuid, signal, err);
	return r < 0 ? hull_err_prefix(err, "kill %s", uuid) : 0;
}
