/*
 * txn.h - what the files of src/inst share behind the public API
 * (include/hull/instance.h, snapshot.h, events.h). create.c has create,
 * validate and delete, show.c get and list, update.c update, lifecycle.c
 * start/stop/reboot/kill and the instance lock, snapshot.c the
 * snapshots, events.c the change stream, sysrq.c sysrq, hvm.c the HVM
 * brands' part of create and update, net.c nics and firewall.
 */
#ifndef HULL_INST_TXN_H
#define HULL_INST_TXN_H

#include <jansson.h>
#include <stdbool.h>

#include "hull/instance.h"
#include "lib/err.h"

/* Reports a step through pr (which may be NULL or have no fn). */
void inst_progress(const struct hull_progress *pr, enum hull_step step,
		   const char *uuid, const char *msg);
/* Reports each line of a JSON array of strings as HULL_STEP_WARNING. */
void inst_warnings(const struct hull_progress *pr, const char *uuid,
		   json_t *warnings);
unsigned inst_rand32(void);

/* HVM brands (hvm.c): checks limits and disks[], fills in what the
 * image and brand give; then, in the new dataset, makes the disk files. */
struct pool;
int inst_hvm_plan(struct pool *pool, json_t *vm, struct hull_err *err);
int inst_hvm_disks_make(json_t *vm, struct hull_err *err);
/* update's add_disks: plan disks[first..] (hvm_disks_plan_added), make
 * their files (removed again on failure), or remove them (after a later
 * step failed). */
int inst_hvm_disks_plan_added(json_t *vm, size_t first, struct hull_err *err);
int inst_hvm_disks_make_from(json_t *vm, size_t first, struct hull_err *err);
void inst_hvm_disks_unmake(json_t *vm, size_t first, size_t end);

/* lifecycle.c */
/* Starts uuid; the caller holds its lock. 1 when already running. */
int inst_start_locked(const char *uuid, const struct hull_progress *pr,
		      struct hull_err *err);
/* The same for an instance whose record a create has just written
 * (vm_record_save_first): its folder is fsync'd while the supervisor
 * boots, and before this returns, whether the start worked or not (a
 * failed fsync is the error when the start worked). */
int inst_start_locked_first(const char *uuid, const struct hull_progress *pr,
			    struct hull_err *err);
/* Stops uuid if running (force: kill at once); the caller holds its lock. */
int inst_stop_locked(const char *uuid, bool force, int timeout,
		     const struct hull_progress *pr, struct hull_err *err);
/* Applies live resource limits of a running instance. */
int inst_apply_live(const char *uuid, struct hull_err *err);

/* net.c */
/* Makes a running zone's ports match vm's nics (old_nics: before the
 * update); nothing when it is not running. */
int inst_nics_live(const char *uuid, json_t *old_nics, json_t *vm,
		   struct hull_err *err);
/* Recompiles and loads the firewall for all instances (fw_reload). */
int inst_fw_reload(struct hull_err *err);
/* The same after a create or delete of vm: nothing when the filter cannot
 * depend on it (fw_reload_for). */
int inst_fw_reload_for(json_t *vm, struct hull_err *err);

#endif
