/*
 * record.h - where an instance's record lives, and the one way to read,
 * write, lock and walk records. Everything above (zone, net, fw, hvm,
 * metadata, the supervisor, the CLIs) names a record through here.
 *
 *   R/<uuid>/                   the instance dataset
 *   R/<uuid>/config/vm.json     the record: a SmartOS VM object as stored
 *                               (derived fields are added by vm/record.h)
 *   R/<uuid>/config/metadata/   large metadata values the record names in
 *                               side files (vm/mdfiles.h)
 *   R/<uuid>/config/.lock       the instance lock (flock), held by every
 *                               writer of the record
 *
 * Saving is atomic (temp file, fsync, rename), mode 0600: a crash leaves
 * the old record or the new one.
 */
#ifndef HULL_INST_RECORD_H
#define HULL_INST_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

/* The record's path relative to the instance's folder, and to the pool
 * root's descriptor (the listing fast path opens it with openat). */
#define INST_RECORD_REL "config/vm.json"

/* Paths, caller frees. */
char *inst_dir_path(const char *uuid);	  /* R/<uuid> */
char *inst_config_dir(const char *uuid);  /* R/<uuid>/config */
char *inst_record_path(const char *uuid); /* R/<uuid>/config/vm.json */
char *inst_lock_path(const char *uuid);	  /* R/<uuid>/config/.lock */

/* Reads the stored record with its side files. Returns a new reference,
 * or NULL with err set: ENOENT when the instance has no record, EINVAL
 * when the file is not a JSON object. */
json_t *inst_record_load(const char *uuid, struct hull_err *err);

/* Writes rec (which names its uuid) atomically, side files first. The
 * caller holds the instance lock. rec is not changed. */
int inst_record_save(json_t *rec, struct hull_err *err);

/* The first record of a new instance (a create), its folder left to the
 * caller to fsync (vm_mdfiles_save_first, vm/mdfiles.h). */
int inst_record_save_first(json_t *rec, struct hull_err *err);

/* The stored record as it is on disk: no side files read, their
 * references left in place (for an edit of other properties). */
json_t *inst_record_load_stored(const char *uuid, struct hull_err *err);

/* Writes a record inst_record_load_stored() read, references and all,
 * with hull_file_write_ordered (lib/fileio.h): a crash leaves the old or
 * the new record, whole, and the new one survives a crash from the
 * pool's next commit on. The caller holds the instance lock. */
int inst_record_save_stored_ordered(json_t *rec, struct hull_err *err);

/* Takes the instance lock, exclusive, waiting for another holder when
 * wait is set (else -EWOULDBLOCK with err untouched). Never creates the
 * instance's folders: ENOENT for an instance without a config folder (a
 * provision that did not complete, or a deleted instance). Returns the
 * descriptor; hull_lock_release() (lib/lock.h) releases it. */
int inst_lock(const char *uuid, bool wait, struct hull_err *err);

/* Every instance folder of the pool (a valid UUID name), sorted. The
 * array and its strings are the caller's (inst_uuids_free). A missing
 * pool root is an empty pool. */
int inst_uuids(char ***out, size_t *n, struct hull_err *err);
void inst_uuids_free(char **v, size_t n);

enum inst_walk_flag {
	/* A record that does not parse stops the walk with its error
	 * (prefixed with the uuid); by default it is skipped. */
	INST_WALK_STRICT = 1u << 0,
	/* Inline metadata kept in side files (slower; most walkers look at
	 * other properties). */
	INST_WALK_FULL = 1u << 1,
};

/* Calls fn for every instance that has a record, in uuid order, with the
 * record (borrowed for the call). Instances without one (a create in
 * progress, a failed provision) are skipped. A non-zero return of fn
 * stops the walk and is returned. */
int inst_record_foreach(unsigned flags,
			int (*fn)(const char *uuid, json_t *rec, void *arg),
			void *arg, struct hull_err *err);

#endif
