/*
 * record.h - instance records on disk and the state derived from the truth.
 *
 *   R/<uuid>/config/vm.json    the record (a SmartOS VM object, without the
 *                              derived fields), written atomically under
 *                              R/<uuid>/config/.lock
 *   R/<uuid>/config/metadata/  large metadata values the record names
 *                              (vm/mdfiles.h); loading puts them back,
 *                              saving takes them out again
 *   R/var/vmadm/pending/<uuid>.json
 *                              the record of a create in progress, written
 *                              before the first slow step and removed once
 *                              vm.json is in place. Its lock file beside it
 *                              is held by the creating vmadm, so a pending
 *                              record whose lock is free is a create that
 *                              died: the instance is `failed`, and delete
 *                              removes it. vmadm receive writes one too,
 *                              marked "hull_receiving" (state `receiving`
 *                              while its lock is held).
 *
 * An instance dataset R/<uuid> with neither is what a host crash can leave
 * of a create whose pending record never reached the disk: it shows as a
 * `failed` instance too.
 *
 * `state`, `zone_state`, `pid`, `boot_timestamp`, `zoneid`, `exit_status`,
 * `exit_timestamp`, `server_uuid` and `platform_buildstamp` are never
 * stored: vm_record_derive() computes them from the supervisor's pid file
 * lock, R/<uuid>/run/init.json (a running instance), R/<uuid>/lastexited
 * (one that is not running) and the host (docs/internals.md).
 */
#ifndef HULL_VM_RECORD_H
#define HULL_VM_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"

/* Paths, caller frees. */
char *vm_record_path(const char *uuid);
char *vm_record_lock_path(const char *uuid);
char *vm_pending_dir(void);
char *vm_pending_path(const char *uuid);
char *vm_pending_lock_path(const char *uuid);

/* True when an instance (record, dataset or pending create) exists. */
bool vm_record_exists(const char *uuid);

/* Loads one instance with its derived fields; ENOENT (with SmartOS's
 * "zoneadm: <uuid>: No such zone configured") when there is none. */
json_t *vm_record_load(const char *uuid, struct hull_err *err);

/* Loads without deriving (what is on disk). */
json_t *vm_record_load_raw(const char *uuid, bool *pending,
			   struct hull_err *err);

/* Writes the pending record of a create (atomically: temp file and
 * rename, but without fsync: see record.c). */
int vm_pending_write(json_t *vm, struct hull_err *err);

/* Strips derived fields, stamps last_modified and writes atomically. The
 * caller holds the instance lock. */
int vm_record_save(json_t *vm, struct hull_err *err);
/* The same for a create's first record: the caller fsyncs its folder
 * (inst_config_dir) before it reports the instance created
 * (inst_record_save_first, inst/record.h). */
int vm_record_save_first(json_t *vm, struct hull_err *err);

/* Adds state and zone_state; pid, boot_timestamp and zoneid when running,
 * else exit_status and exit_timestamp after an exit; server_uuid,
 * platform_buildstamp, and snapshots ([]) when the record has none. */
void vm_record_derive(json_t *vm, bool pending);

/* All instances, derived, in a new array sorted by uuid. Unreadable
 * records are skipped. */
json_t *vm_record_list(struct hull_err *err);

/* True when the instance's supervisor holds its pid file lock. */
bool vm_supervisor_alive(const char *uuid);

/* The instance's fields that are never stored. */
bool vm_field_derived(const char *key);

/* Current time as SmartOS writes it: 2011-12-31T06:38:42.457Z. */
void vm_time_iso(char out[32]);

#endif
