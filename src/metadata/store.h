/*
 * store.h - where the metadata server gets an instance record from and
 * writes it back to. The server only sees this interface, so the
 * supervisor (which owns the instance) and the standalone hull-metadata
 * program plug in the same way.
 *
 * The file store reads <dir>/vm.json, the SmartOS VM object vmadm writes,
 * and re-reads it only when the file changed (inode, size or mtime), so a
 * GET costs a stat and `vmadm update` of metadata is seen by the next
 * request. A change is made under <dir>/.lock (the instance lock every hull
 * command takes, waited for at most 250 ms so one long holder cannot
 * stall the server), on a fresh read of the file, and saved atomically.
 * Large metadata values live in side files beside the record
 * (vm/mdfiles.h); the store puts them back on reading, keeps the ones it
 * has read by hash so it does not read them again, and hands them to
 * vm_mdfiles_save() unchanged so a PUT of a small key writes the small
 * record only.
 */
#ifndef HULL_METADATA_STORE_H
#define HULL_METADATA_STORE_H
#include <jansson.h>

#include "lib/err.h"

struct metadata_store {
	/* Returns a new reference to the current record, or NULL with err
	 * set. */
	json_t *(*read)(void *ctx, struct hull_err *err);
	/* Takes the record's lock, reads the record afresh and calls
	 * edit(record, arg). When edit returns 0 the record is saved
	 * atomically; a positive return is a refusal (nothing written) and
	 * is passed back, as is a negative error code (err set). The file
	 * store's copy shares the metadata values themselves with what it
	 * read: edit replaces a value, never changes one in place. */
	int (*modify)(void *ctx, int (*edit)(json_t *record, void *arg),
		      void *arg, struct hull_err *err);
	void *ctx;
	/* Optional: sets (value not NULL) or deletes metadata key as a
	 * guest's PUT or DELETE does. Returns 0, 1 for a refusal (*msg its
	 * reason, owned by the caller, or NULL) or a negative code (err
	 * set). When NULL, metadata_store_change() does it through modify. */
	int (*change)(void *ctx, const char *key, const char *value, size_t len,
		      char **msg, struct hull_err *err);
};

/* A guest's PUT (value not NULL) or DELETE of key through st: its change
 * op, else modify with metadata_apply (resolve.h). Returns as change. */
int metadata_store_change(const struct metadata_store *st, const char *key,
			  const char *value, size_t len, char **msg,
			  struct hull_err *err);

struct metadata_file_store;

/* A store over the record file at path (its lock is .lock beside it).
 * Does not touch the file yet. */
struct metadata_file_store *metadata_file_store_new(const char *path);
void metadata_file_store_free(struct metadata_file_store *fs);
/* Bounds the record rewrites a guest can cause: burst at once, then
 * per_sec a second (default 200, then 20/s); over it a PUT or DELETE
 * fails with EBUSY ("Instance busy, try again") and writes nothing. */
void metadata_file_store_set_rate(struct metadata_file_store *fs,
				  double per_sec, double burst);
/* Fills *out with callbacks bound to fs (which must outlive them). */
void metadata_file_store_bind(struct metadata_file_store *fs,
			      struct metadata_store *out);

#endif
