/*
 * hull/instance.h - hull's instance transactions as a library: what vmadm
 * does, callable by any program (a long-running agent included) without
 * the CLI in the loop. vmadm itself is argument parsing, one call from
 * here and printing. Snapshots are in hull/snapshot.h, the change stream
 * in hull/events.h.
 *
 * The pool root is the one of lib/root.h: $HULL_ROOT, else /zones, read
 * once per process. Everything else is passed in; nothing here prints,
 * exits, reads argv or keeps state between calls, so every function may
 * be called repeatedly, and from several threads or processes at once.
 *
 * Locking. Each instance has one lock, an exclusive flock(2) on
 * R/<uuid>/config/.lock (held by an open file description, so it
 * serialises threads of one process as well as processes; the kernel
 * drops it when its holder dies). Every transaction that changes an
 * instance (update, delete, start, stop, reboot, snapshots) takes it for
 * its whole duration and re-reads the record under it, so concurrent calls
 * on one instance run one after the other, each seeing the last one's
 * result; calls on different instances run in parallel. A create holds
 * the pending lock of its new uuid (R/var/pending/<uuid>.lock) until its
 * record is complete. Two exceptions, both as vmadm has them: a forced
 * stop does not wait for a holder of the lock that is blocked on a live
 * instance (it tells the supervisor to stop at once, then takes the
 * lock), and kill and sysrq take no lock (they only talk to the running
 * supervisor, which serialises its own requests). get, list and the
 * events stream read without locks: each record is replaced atomically
 * (rename), so a reader sees the old or the new one, never a torn one.
 * The supervisor never takes the instance lock.
 *
 * Errors. Each function that can fail returns a negative errno-style code
 * (or NULL) and fills the caller's struct hull_err (lib/err.h; may be
 * NULL) with one human line, the text vmadm prints. Codes worth telling
 * apart: -ENOENT (no such instance, snapshot or image), -EEXIST (a
 * duplicate uuid or snapshot name), -EINVAL (a payload, filter, name or
 * state that does not allow the request), -EPERM
 * (indestructible_zoneroot), -EBUSY (a change that needs the instance
 * stopped). A refused transaction leaves nothing half-done.
 *
 * Ownership. Arguments are borrowed for the call. Returned json_t values
 * are new references the caller releases with json_decref(); returned
 * strings are the caller's to free().
 */
#ifndef HULL_INSTANCE_H
#define HULL_INSTANCE_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"

/* The length of an instance uuid, without its NUL. */
#define HULL_INSTANCE_UUID_LEN 36

/* The steps a long transaction reports while it runs, in this order
 * within each transaction. */
enum hull_step {
	/* A warning line SmartOS prints for this payload (msg). */
	HULL_STEP_WARNING,
	/* create: the pending record is written (from here a crash leaves a
	 * `failed` instance that delete removes). */
	HULL_STEP_PENDING,
	/* create: the instance's dataset is cloned from its image (or made,
	 * for the HVM brands). */
	HULL_STEP_CLONE,
	/* create: the dataset's quota is set. */
	HULL_STEP_QUOTA,
	/* create: config/vm.json is written: the instance is complete. */
	HULL_STEP_RECORD,
	/* create: the pending record is removed. */
	HULL_STEP_DONE,
	/* create: done, firewall reloaded; a start follows when autoboot. */
	HULL_STEP_CREATED,
	/* start (and create's autoboot, rollback's restart): the supervisor
	 * is being started. */
	HULL_STEP_BOOT,
	/* start: the instance's init (an HVM instance's emulator) runs. */
	HULL_STEP_RUNNING,
	/* stop, reboot, delete, rollback: the supervisor is asked to stop
	 * (or reboot) the instance. */
	HULL_STEP_STOPPING,
	/* stop, delete, rollback: the instance is down. */
	HULL_STEP_STOPPED,
	/* snapshots: the dataset's snapshot is made, destroyed or rolled
	 * back (msg: the snapshot's name). */
	HULL_STEP_SNAPSHOT,
};

/* A progress callback: called in the calling thread, possibly with the
 * instance's lock held, so it must not call back into this library for
 * the same instance (it would wait on itself). uuid is the instance's
 * (NULL for warnings before a create has one), msg the step's text or
 * NULL; both borrowed for the call. */
struct hull_progress {
	void (*fn)(enum hull_step step, const char *uuid, const char *msg,
		   void *arg);
	void *arg;
};

/*
 * Creates an instance from a SmartOS create payload (vmadm create):
 * validates it (warnings through progress), checks the image, clones it,
 * writes the record, reloads the firewall, and starts the instance when
 * its autoboot is true (the default). Locks: the new uuid's pending lock;
 * the instance lock for the boot.
 *
 * uuid_out receives the new instance's uuid as soon as it exists, and
 * stays "" while it does not: a failed create with uuid_out[0] == '\0'
 * left nothing; one with a uuid created the instance and failed to boot it
 * (err: "start <uuid>: ..."), and the instance stays, stopped.
 */
int hull_instance_create(json_t *payload, const struct hull_progress *pr,
			 char uuid_out[HULL_INSTANCE_UUID_LEN + 1],
			 struct hull_err *err);

/*
 * Checks a payload without changing anything (vmadm validate): a create
 * payload (update false, brand NULL) or an update payload for brand. On a
 * refusal *bad (when bad is not NULL) receives the object of the invalid
 * properties, {"bad_values": [...], ...} as vmadm prints it. Warnings go
 * through progress. No lock, no pool needed.
 */
int hull_instance_validate(json_t *payload, bool update, const char *brand,
			   json_t **bad, const struct hull_progress *pr,
			   struct hull_err *err);

/*
 * Applies an update payload (vmadm update) under the instance lock:
 * properties, quota, disks (stopped HVM instances), nics and limits of a
 * running instance at once, the firewall reloaded. The payload is not
 * changed.
 */
int hull_instance_update(const char *uuid, json_t *payload,
			 const struct hull_progress *pr, struct hull_err *err);

/*
 * Deletes an instance (vmadm delete): stops it at once when running,
 * destroys its dataset and record, reloads the firewall. A create that
 * never completed (state failed) is removed under its pending lock.
 */
int hull_instance_delete(const char *uuid, const struct hull_progress *pr,
			 struct hull_err *err);

/*
 * Starts an instance (vmadm start) under its lock and sets its autoboot.
 * Returns 0 once its init runs, 1 when it was already running, or a
 * negative code (-EINVAL for a failed or provisioning instance).
 */
int hull_instance_start(const char *uuid, const struct hull_progress *pr,
			struct hull_err *err);

/*
 * Stops an instance (vmadm stop) and clears its autoboot: gracefully,
 * killing it after timeout_s seconds, or at once with force (see the lock
 * exception above). Returns 0 when it stopped it, 1 when the instance was
 * not running, or a negative code.
 */
int hull_instance_stop(const char *uuid, bool force, int timeout_s,
		       const struct hull_progress *pr, struct hull_err *err);

/*
 * Reboots a running instance (vmadm reboot; force: without waiting for a
 * clean shutdown). -EINVAL when it is not running.
 */
int hull_instance_reboot(const char *uuid, bool force,
			 const struct hull_progress *pr, struct hull_err *err);

/*
 * Sends a signal (a name, "SIGTERM" or "HUP", or a number; NULL is
 * SIGTERM) to a running instance's init (vmadm kill). No lock. -EINVAL
 * when it is not running or the signal is unknown.
 */
int hull_instance_kill(const char *uuid, const char *signal,
		       struct hull_err *err);

/* True when type is a request hull_instance_sysrq knows ("nmi",
 * "screenshot"). */
bool hull_sysrq_type_valid(const char *type);

/*
 * Sends an HVM instance a sysrq request (vmadm sysrq): "nmi", or
 * "screenshot" (kvm brand) whose PPM file's path lands in *screenshot
 * (caller frees; NULL for nmi). No lock.
 */
int hull_instance_sysrq(const char *uuid, const char *type, char **screenshot,
			struct hull_err *err);

/*
 * Moves a running bhyve VM to a fresh hull-vmm on this host while it
 * runs (vmadm migrate --live: live migration between two emulator
 * processes, the upgrade path for hull-vmm's binary; docs/vmadm.md).
 * downtime_ms: the pause the guest may see (0: hull-vmm's 300 ms);
 * auto_converge: throttle the guest's vCPUs when it dirties memory
 * faster than it can be sent; bandwidth_mib: a cap on what is copied
 * per second (MiB/s; 0: none). On success *result (caller frees) is
 * hull-vmm's answer (iterations, bytes, memory_bytes, zero_pages,
 * downtime_ns, total_ns, throttle) and the new emulator's pid; on any
 * failure the VM runs on in the emulator it had. No lock: the record is
 * not changed.
 */
int hull_instance_move_live(const char *uuid, int downtime_ms,
			    bool auto_converge, int bandwidth_mib,
			    json_t **result, struct hull_err *err);

/*
 * A running kvm VM's live migration on this host (vmadm migrate --live,
 * through hull_instance_move_live):
 * from its QEMU to a new one, through QEMU's pre-copy migration; on any
 * failure (no convergence within the downtime limit without
 * auto_converge, the target gone) the guest runs on in the old one. The
 * supervisor does the work (src/supervisor/vm_migrate.h). No lock: the
 * record does not change.
 */
struct hull_live_opts {
	int downtime_ms;	 /* 0: 300 ms, QEMU's default */
	bool auto_converge;	 /* throttle the guest rather than give up */
	long long max_bandwidth; /* bytes/s; 0: no cap */
};
struct hull_live_result {
	long long downtime_ms, total_ms, passes, transferred;
	int pid, source_pid; /* the new and the old QEMU */
};
int hull_instance_migrate_live(const char *uuid, const struct hull_live_opts *o,
			       struct hull_live_result *res,
			       struct hull_err *err);

/*
 * The instance object as vmadm get shows it (stored properties, derived
 * state and runtime fields). NULL with -ENOENT in err when there is none.
 */
json_t *hull_instance_get(const char *uuid, struct hull_err *err);

/*
 * Every instance matching all filters (vmadm list and lookup), as an array
 * of instance objects with vmadm list's added fields (type, ram for zones,
 * hvm). A filter is KEY=VALUE, KEY=~REGEX, KEY<NUMBER or KEY>NUMBER, as
 * vmadm has them (vm/filter.h). sort (NULL: the pool's order) is a comma
 * list of fields, each optionally prefixed by - (descending) or +.
 */
json_t *hull_instance_list(const char *const *filters, size_t nfilters,
			   const char *sort, struct hull_err *err);

/*
 * The instance lock itself, for a caller that must keep an instance still
 * across several reads. Returns the lock's descriptor (release it with
 * hull_instance_unlock) or a negative code: -ENOENT when the instance has
 * no complete record, -EWOULDBLOCK (err untouched) when wait is false and
 * another holds it. The transactions above take it themselves: do not
 * call them for this instance while holding it.
 */
int hull_instance_lock(const char *uuid, bool wait, struct hull_err *err);
void hull_instance_unlock(int lock);

#endif
