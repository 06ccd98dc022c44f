/*
 * hull/snapshot.h - an instance's snapshots (vmadm create-snapshot,
 * delete-snapshot, rollback-snapshot) as a library.
 *
 * As on SmartOS: a snapshot of the instance's dataset named
 * <uuid>@vmsnap-<name>, listed newest first in the instance's `snapshots`
 * property as {name, created_at}; OS brands and bhyve (kvm only with
 * HULL_SNAPSHOT_MEMORY; SmartOS refuses kvm). Locking, errors and
 * ownership are those of hull/instance.h: each call holds the instance
 * lock for its whole duration, so concurrent snapshot calls on one
 * instance run one after the other (two creates of one name: one
 * succeeds, the other fails with -EEXIST).
 */
#ifndef HULL_SNAPSHOT_H
#define HULL_SNAPSHOT_H

#include <stdbool.h>

#include "hull/instance.h"

/* True when name is a valid snapshot name: 1 to 64 of A-Z a-z 0-9 and
 * - _ . : % */
bool hull_snapshot_name_valid(const char *name);

/* Makes snapshot name of the instance. -EEXIST when it exists. */
int hull_snapshot_create(const char *uuid, const char *name,
			 const struct hull_progress *pr, struct hull_err *err);

/* The name of the memory and device state file in a bhyve or kvm
 * instance's dataset (and so in its snapshots); a kvm VM's has its sum
 * file beside it (hvm/qemustate.h). */
#define HULL_VMSTATE_FILE "vmstate"

/* A marker beside it: the next start of a kvm VM runs QEMU paused and
 * waiting for a live migration's stream (`-S -incoming defer`), which
 * the agent gives it over QMP (agent/live_kvm.h). Used once: the start
 * removes it. */
#define HULL_VMSTATE_INCOMING "vmstate.incoming"

/*
 * HULL_SNAPSHOT_MEMORY (a running bhyve or kvm VM): the snapshot also holds
 * the guest's memory and device state, taken with its disks while it is
 * paused; it is listed with "memory": true, and rolling back to it
 * resumes the guest where it was (and starts a stopped VM).
 */
#define HULL_SNAPSHOT_MEMORY 1u
int hull_snapshot_create_flags(const char *uuid, const char *name,
			       unsigned flags, const struct hull_progress *pr,
			       struct hull_err *err);

/* Destroys snapshot name. -ENOENT when there is none. */
int hull_snapshot_delete(const char *uuid, const char *name,
			 const struct hull_progress *pr, struct hull_err *err);

/*
 * Puts the instance's dataset back to snapshot name: stops the instance
 * (reported as HULL_STEP_STOPPING/STOPPED), rolls back, destroys every
 * newer snapshot, and starts it again when it was running. The record is
 * kept as it is now, less the destroyed snapshots.
 */
int hull_snapshot_rollback(const char *uuid, const char *name,
			   const struct hull_progress *pr,
			   struct hull_err *err);

#endif
