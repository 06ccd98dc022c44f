/*
 * store.h - the head node's cluster state: one storage interface, two
 * drivers (SQLite, the default, one file; PostgreSQL through libpq, for
 * several hosts or several hull-api processes on one database).
 *
 * The data model is Triton's moray: named buckets of JSON records, each
 * under a key, with an etag that changes on every write so that a writer
 * can say "only if nobody wrote since I read" (put-if-etag), and a few
 * fields of each bucket's records copied into an index that `find` looks
 * up. The buckets and their indexed fields are fixed in store.c; the SQL
 * is written once there, in the subset both databases speak, and each
 * driver only runs it (store_driver.h).
 *
 * Errors: -ENOENT for a missing record, -ECANCELED for an etag conflict
 * (moray's EtagConflictError), anything else from the database with its
 * message. Not thread-safe: one handle per thread.
 */
#ifndef HULL_HEAD_STORE_H
#define HULL_HEAD_STORE_H
#include <jansson.h>
#include "lib/err.h"

/* The schema version this build writes; store_open migrates older ones
 * and refuses newer ones. */
#define STORE_SCHEMA_VERSION 1

struct store; /* opaque */

/* Opens (and creates or migrates) the store at url: "sqlite:PATH" (the
 * file is made mode 0600), or "postgresql://..." / "postgres://..." (a
 * libpq connection URI). */
int store_open(const char *url, struct store **out, struct hull_err *err);
void store_close(struct store *s);
/* "sqlite" or "postgresql". */
const char *store_driver_name(const struct store *s);
/* The schema version the database holds. */
int store_schema_version(struct store *s, int *version, struct hull_err *err);

/* Reads bucket/key: *value (new reference) and, when etag is not NULL,
 * *etag (caller frees). -ENOENT when absent. */
int store_get(struct store *s, const char *bucket, const char *key,
	      json_t **value, char **etag, struct hull_err *err);

/*
 * Writes bucket/key = value (an object). if_etag: NULL writes whatever is
 * there, "" only when the key is new, anything else only when the record's
 * etag is still that (else -ECANCELED, nothing written). The new etag goes
 * to *etag when it is not NULL (caller frees).
 */
int store_put(struct store *s, const char *bucket, const char *key,
	      json_t *value, const char *if_etag, char **etag,
	      struct hull_err *err);

/* Deletes bucket/key, only when its etag is if_etag unless that is NULL.
 * -ENOENT when absent, -ECANCELED on an etag mismatch. */
int store_del(struct store *s, const char *bucket, const char *key,
	      const char *if_etag, struct hull_err *err);

/*
 * The records of bucket whose indexed field equals value, as a new array
 * of objects sorted by key; field NULL lists the whole bucket. Only the
 * bucket's indexed fields can be searched (-EINVAL otherwise).
 */
int store_find(struct store *s, const char *bucket, const char *field,
	       const char *value, json_t **out, struct hull_err *err);

/* How many records of bucket have indexed field equal to value (what
 * store_find would return), without reading them. */
int store_count(struct store *s, const char *bucket, const char *field,
		const char *value, long *n, struct hull_err *err);

/* Runs fn inside one transaction: everything it writes lands together or
 * not at all (fn's negative return rolls back and is returned). */
int store_txn(struct store *s, int (*fn)(struct store *s, void *ctx), void *ctx,
	      struct hull_err *err);
#endif
