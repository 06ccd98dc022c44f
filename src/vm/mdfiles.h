/*
 * mdfiles.h - large metadata values kept beside the instance record.
 *
 * A guest's PUT rewrites and fsyncs the instance record, so every byte the
 * record holds is paid again on every PUT. Large customer_metadata and
 * internal_metadata values therefore live in side files and the record
 * names them:
 *
 *   <dir>/vm.json                  "hull_metadata_files": {
 *                                     "customer_metadata": {
 *                                       "<key>": {"sha256": "<hex>",
 *                                                 "size": <bytes>}},
 *                                     "internal_metadata": {...}}
 *   <dir>/metadata/<sha256>        the value's bytes, root-only (0600)
 *
 * A value so kept is absent from customer_metadata / internal_metadata in
 * the file, so a reader that does not know the property sees the key as
 * missing, never the reference as the value. Files are named by the
 * SHA-256 of their content: a new value is a new file, written (fsync'd)
 * before the record that names it, and a replaced or deleted value's file
 * is removed only after the record that no longer names it is in place,
 * so a crash at any moment leaves a record whose every side file is
 * there. A snapshot of the instance dataset holds config/ whole, record
 * and side files together.
 *
 * Every reader of a whole record goes through vm_mdfiles_load() (or
 * vm_mdfiles_inline() on a record it parsed) and gets the VM object as it
 * was before side files existed; every writer goes through
 * vm_mdfiles_save(), under the instance lock.
 */
#ifndef HULL_VM_MDFILES_H
#define HULL_VM_MDFILES_H

#include <jansson.h>
#include <stddef.h>

#include "lib/err.h"

/* The record property naming the side files. */
#define VM_MDFILES_PROP "hull_metadata_files"
/* The folder beside the record that holds them. */
#define VM_MDFILES_DIR "metadata"
/* A value this large (JSON-escaped, as the record would hold it) always
 * goes to a side file: a few ssh keys or a short user-script stay in the
 * record, so `vmadm list` and a GET read one file for them, while one
 * large value costs a PUT no more than a 4 KiB write. */
#define VM_MDFILES_VALUE_MIN 4096u
/* Past this many bytes of metadata keys and values in the record, the
 * largest remaining values (of VM_MDFILES_SPILL_MIN bytes or more, a
 * reference being about 100) go to side files too, so many values just
 * under VM_MDFILES_VALUE_MIN cannot grow the record either. */
#define VM_MDFILES_INLINE_MAX (64u * 1024)
#define VM_MDFILES_SPILL_MIN 256u

/* What a long-lived reader and writer (the metadata server) knows about
 * the side files, so that a PUT of a small value neither re-reads nor
 * re-hashes the large ones: values by content hash, hashes by value. */
struct vm_mdfiles_cache;
struct vm_mdfiles_cache *vm_mdfiles_cache_new(void);
void vm_mdfiles_cache_free(struct vm_mdfiles_cache *c);

/* Puts the values that rec (a record parsed from <dir>/vm.json) names in
 * side files back into its customer_metadata / internal_metadata and
 * removes the reference property. A record without one is left as it
 * is. ENOENT when a side file is missing (a writer may have replaced the
 * record since it was read: read it again), EIO when one does not hold
 * what the record says. c may be NULL. rec is unchanged on failure. */
int vm_mdfiles_inline(json_t *rec, const char *dir, struct vm_mdfiles_cache *c,
		      struct hull_err *err);

/* Reads the record file at path with its side files (rereading when a
 * concurrent writer replaced it). Returns a new reference or NULL. */
json_t *vm_mdfiles_load(const char *path, struct vm_mdfiles_cache *c,
			struct hull_err *err);

/* Writes rec (a whole record, as vm_mdfiles_load returns it) to path:
 * large values to side files first, then the record atomically, then the
 * side files nothing names any more are removed. References rec itself
 * still holds (a record read without vm_mdfiles_inline) are kept for the
 * keys it does not hold inline. rec is not changed. The caller holds the
 * instance lock. */
int vm_mdfiles_save(const char *path, json_t *rec, struct vm_mdfiles_cache *c,
		    struct hull_err *err);

/* The same for the first record of a new instance (a create): side files
 * fsync'd, the record's data fsync'd before its rename, but not its
 * folder (hull_file_write_ordered, lib/fileio.h). The caller fsyncs the
 * folder (hull_fsync_dir) before it reports the instance created; until
 * then a crash may leave the folder without a record. */
int vm_mdfiles_save_first(const char *path, json_t *rec, struct hull_err *err);

#endif
