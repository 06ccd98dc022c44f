/*
 * vmadm.h - the subcommands of vmadm, one function each, and the helpers
 * they share. main.c dispatches; create.c has create/validate/delete,
 * show.c get/list/lookup/info, update.c update, lifecycle.c
 * start/stop/reboot/kill/console/autoboot, events.c events, sysrq.c
 * sysrq.
 *
 * Each returns the process exit code (0 ok, 1 error, 2 usage) after
 * printing: success messages and errors go to stderr, machine-readable
 * output to stdout (spec/smartos.md §1.1).
 */
#ifndef HULL_CMD_VMADM_H
#define HULL_CMD_VMADM_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"

enum vmadm_exit {
	VMADM_OK = 0,
	VMADM_ERROR = 1,
	VMADM_USAGE = 2,
};

/* main.c */
int vmadm_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vmadm_fail_err(const struct hull_err *err);
/* Prints each line of a JSON array of strings to stderr. */
void vmadm_print_warnings(json_t *warnings);
int vmadm_usage(const char *cmd);
/* Reads a JSON payload from file (NULL: stdin, refused when a tty). */
json_t *vmadm_read_payload(const char *file, const char *action,
			   struct hull_err *err);
/* Takes the instance lock (creating config/ if needed); -1 with err. */
int vmadm_lock(const char *uuid, struct hull_err *err);
/* The same without waiting: -EWOULDBLOCK when another command holds it. */
int vmadm_lock_try(const char *uuid, struct hull_err *err);
/* Kills the process with SIGKILL when HULL_TEST_CRASH_AT names step. */
void vmadm_test_crash(const char *step);
unsigned vmadm_rand32(void);
/* Resets getopt; returns the index of the first operand. */
void vmadm_getopt_reset(void);

/* create.c */
int vmadm_create(int argc, char **argv);
/* HVM brands (hvm.c): checks limits and disks[], fills in what the
 * image and brand give; then, in the new dataset, makes the disk files. */
struct pool;
int vmadm_hvm_plan(struct pool *pool, json_t *vm, struct hull_err *err);
int vmadm_hvm_disks_make(json_t *vm, struct hull_err *err);
/* vmadm update's add_disks: plan disks[first..] (hvm_disks_plan_added),
 * make their files (removed again on failure), or remove them (after a
 * later step failed). */
int vmadm_hvm_disks_plan_added(json_t *vm, size_t first, struct hull_err *err);
int vmadm_hvm_disks_make_from(json_t *vm, size_t first, struct hull_err *err);
void vmadm_hvm_disks_unmake(json_t *vm, size_t first, size_t end);
int vmadm_validate(int argc, char **argv);
int vmadm_delete(int argc, char **argv);

/* show.c */
int vmadm_get(int argc, char **argv);
int vmadm_list(int argc, char **argv);
int vmadm_lookup(int argc, char **argv);
int vmadm_info(int argc, char **argv);

/* update.c */
int vmadm_update(int argc, char **argv);

/* lifecycle.c */
int vmadm_start(int argc, char **argv);
int vmadm_stop(int argc, char **argv);
int vmadm_reboot(int argc, char **argv);
int vmadm_kill(int argc, char **argv);
int vmadm_console(int argc, char **argv);
int vmadm_autoboot(int argc, char **argv);
/* Starts uuid; the caller holds its lock. */
int vmadm_start_locked(const char *uuid, json_t *vm, struct hull_err *err);
/* Stops uuid if running (force: kill at once); the caller holds its lock. */
int vmadm_stop_locked(const char *uuid, bool force, int timeout,
		      struct hull_err *err);
/* Applies live resource limits of a running instance. */
int vmadm_apply_live(const char *uuid, struct hull_err *err);

/* net.c */
/* Makes a running zone's ports match vm's nics (old_nics: before the
 * update); nothing when it is not running. */
int vmadm_nics_live(const char *uuid, json_t *old_nics, json_t *vm,
		    struct hull_err *err);
/* Recompiles and loads the firewall for all instances (fw_reload). */
int vmadm_fw_reload(struct hull_err *err);
/* The same after a create or delete of vm: nothing when the filter cannot
 * depend on it (fw_reload_for). */
int vmadm_fw_reload_for(json_t *vm, struct hull_err *err);

/* snapshot.c */
int vmadm_snapshot_create(int argc, char **argv);
int vmadm_snapshot_delete(int argc, char **argv);
int vmadm_snapshot_rollback(int argc, char **argv);

/* sysrq.c */
int vmadm_sysrq(int argc, char **argv);

/* events.c */
int vmadm_events(int argc, char **argv);

#endif
