/*
 * store.c - the storage interface of store.h over a driver
 * (store_driver.h): the schema and its migrations, the buckets and their
 * indexed fields, etags and conditional writes. The SQL here is the subset
 * SQLite and PostgreSQL both run unchanged (upserts with ON CONFLICT,
 * BIGINT, TEXT).
 *
 * Tables: records (bucket, key) -> etag, value (JSON text), mtime; and
 * record_index (bucket, key, field) -> value, the indexed fields of each
 * record, looked up by (bucket, field, value). One index table for every
 * bucket keeps new buckets free of DDL, as moray's per-bucket columns are
 * not needed at this size.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "head/store.h"
#include "head/store_driver.h"
#include "lib/xalloc.h"

struct store {
	const struct store_driver *drv;
	struct store_conn *conn;
	bool in_txn;
};

/* The buckets and the fields of their records that find can search. */
static const struct bucket {
	const char *name;
	const char *fields[4];
} buckets[] = {
    {"accounts", {"login"}},
    {"keys", {"account", "fingerprint"}},
    {"packages", {"name"}},
    {"networks", {"name", "owner"}},
    {"images", {"owner", "name"}},
    {"machines", {"owner", "name", "server"}},
    {"config", {0}},
    {"join_tokens", {0}},
    {"servers", {"hostname"}},
    {"tasks", {"server", "machine"}},
    {"ips", {"network", "machine"}},
    {"migrations", {"owner"}},
    {"replications", {"source"}},
    {"vlans", {"owner"}},
    {"vnis", {0}},
    {"sessions", {"account"}},
    {"fwrules", {"owner"}},
    {"network_pools", {"name"}},
};

/* Migration N takes the schema from version N-1 to N; never edit one that
 * has shipped, add the next. */
static const char *const migrations[][4] = {
    /* 1 */ {"CREATE TABLE records (bucket TEXT NOT NULL, key TEXT NOT NULL, "
	     "etag TEXT NOT NULL, value TEXT NOT NULL, mtime BIGINT NOT NULL, "
	     "PRIMARY KEY (bucket, key))",
	     "CREATE TABLE record_index (bucket TEXT NOT NULL, key TEXT NOT "
	     "NULL, field TEXT NOT NULL, value TEXT NOT NULL, "
	     "PRIMARY KEY (bucket, key, field))",
	     "CREATE INDEX record_index_lookup ON record_index "
	     "(bucket, field, value)",
	     NULL},
};

static const struct bucket *bucket_find(const char *name)
{
	for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++)
		if (!strcmp(buckets[i].name, name))
			return &buckets[i];
	return NULL;
}

static int exec(struct store *s, const char *sql, int n, const char *const *p,
		json_t **rows, long *changes, struct hull_err *err)
{
	return s->drv->exec(s->conn, sql, n, p, rows, changes, err);
}

static int txn_begin(struct store *s, struct hull_err *err)
{
	return exec(s, s->drv->begin_sql, 0, NULL, NULL, NULL, err);
}

static void txn_rollback(struct store *s)
{
	exec(s, "ROLLBACK", 0, NULL, NULL, NULL, NULL);
}

static int txn_commit(struct store *s, struct hull_err *err)
{
	int r = exec(s, "COMMIT", 0, NULL, NULL, NULL, err);
	if (r < 0)
		txn_rollback(s);
	return r;
}

static int migrate(struct store *s, struct hull_err *err)
{
	int r = txn_begin(s, err);
	if (r < 0)
		return hull_err_prefix(err, "store: begin");
	if (s->drv->migrate_lock_sql &&
	    (r = exec(s, s->drv->migrate_lock_sql, 0, NULL, NULL, NULL, err)) <
		0)
		goto fail;
	r = exec(s,
		 "CREATE TABLE IF NOT EXISTS hull_schema "
		 "(version INTEGER NOT NULL)",
		 0, NULL, NULL, NULL, err);
	if (r < 0)
		goto fail;
	json_t *rows = NULL;
	r = exec(s, "SELECT version FROM hull_schema", 0, NULL, &rows, NULL,
		 err);
	if (r < 0)
		goto fail;
	int have = 0;
	if (json_array_size(rows) > 0) {
		const char *v = json_string_value(
		    json_array_get(json_array_get(rows, 0), 0));
		have = v ? atoi(v) : 0;
	}
	json_decref(rows);
	if (have > STORE_SCHEMA_VERSION) {
		r = hull_err_set(err, EPROTO,
				 "store: schema version %d is newer than this "
				 "hull's %d",
				 have, STORE_SCHEMA_VERSION);
		goto fail;
	}
	for (int v = have + 1; v <= STORE_SCHEMA_VERSION; v++) {
		for (int i = 0; migrations[v - 1][i]; i++) {
			r = exec(s, migrations[v - 1][i], 0, NULL, NULL, NULL,
				 err);
			if (r < 0) {
				hull_err_prefix(err, "store: migration %d", v);
				goto fail;
			}
		}
	}
	if (have != STORE_SCHEMA_VERSION) {
		char ver[16];
		snprintf(ver, sizeof(ver), "%d", STORE_SCHEMA_VERSION);
		const char *p[] = {ver};
		if ((r = exec(s, "DELETE FROM hull_schema", 0, NULL, NULL, NULL,
			      err)) < 0 ||
		    (r = exec(s, "INSERT INTO hull_schema (version) VALUES (?)",
			      1, p, NULL, NULL, err)) < 0)
			goto fail;
	}
	return txn_commit(s, err);
fail:
	txn_rollback(s);
	return r;
}

int store_open(const char *url, struct store **out, struct hull_err *err)
{
	const struct store_driver *drv;
	const char *arg = url;
	if (!strncmp(url, "sqlite:", 7)) {
		drv = &store_sqlite_driver;
		arg = url + 7;
	} else if (!strncmp(url, "postgresql://", 13) ||
		   !strncmp(url, "postgres://", 11)) {
		drv = &store_pg_driver;
	} else {
		return hull_err_set(err, EINVAL,
				    "store: %s: not sqlite:PATH or "
				    "postgresql://...",
				    url);
	}
	struct store *s = xcalloc(1, sizeof(*s));
	s->drv = drv;
	int r = drv->open(arg, &s->conn, err);
	if (r < 0) {
		free(s);
		return r;
	}
	if ((r = migrate(s, err)) < 0) {
		store_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->drv->close(s->conn);
	free(s);
}

const char *store_driver_name(const struct store *s)
{
	return s->drv->name;
}

int store_schema_version(struct store *s, int *version, struct hull_err *err)
{
	json_t *rows = NULL;
	int r = exec(s, "SELECT version FROM hull_schema", 0, NULL, &rows, NULL,
		     err);
	if (r < 0)
		return r;
	const char *v =
	    json_string_value(json_array_get(json_array_get(rows, 0), 0));
	*version = v ? atoi(v) : 0;
	json_decref(rows);
	return 0;
}

static int check_bucket(const char *bucket, const struct bucket **b,
			struct hull_err *err)
{
	*b = bucket_find(bucket);
	if (!*b)
		return hull_err_set(err, EINVAL, "store: no bucket %s", bucket);
	return 0;
}

int store_get(struct store *s, const char *bucket, const char *key,
	      json_t **value, char **etag, struct hull_err *err)
{
	const struct bucket *b;
	int r = check_bucket(bucket, &b, err);
	if (r < 0)
		return r;
	const char *p[] = {bucket, key};
	json_t *rows = NULL;
	r = exec(s,
		 "SELECT etag, value FROM records WHERE bucket = ? AND key = ?",
		 2, p, &rows, NULL, err);
	if (r < 0)
		return r;
	json_t *row = json_array_get(rows, 0);
	if (!row) {
		json_decref(rows);
		return hull_err_set(err, ENOENT, "%s/%s: not found", bucket,
				    key);
	}
	const char *text = json_string_value(json_array_get(row, 1));
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;
	if (!json_is_object(v)) {
		json_decref(v);
		json_decref(rows);
		return hull_err_set(err, EIO, "%s/%s: stored value is not JSON",
				    bucket, key);
	}
	if (etag)
		*etag = xstrdup(json_string_value(json_array_get(row, 0)));
	*value = v;
	json_decref(rows);
	return 0;
}

static void new_etag(char out[17])
{
	unsigned char b[8];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		/* getrandom on 8 bytes does not fail once the pool is up;
		 * mix the clock in rather than abort. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(b, &ts.tv_nsec,
		       sizeof(b) < sizeof(ts.tv_nsec) ? sizeof(b)
						      : sizeof(ts.tv_nsec));
	}
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* The index text of a field's value; NULL when the value is not indexed
 * (absent, an object, an array, null). Caller frees. */
static char *index_text(json_t *v)
{
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "true" : "false");
	return NULL;
}

static int put_locked(struct store *s, const struct bucket *b, const char *key,
		      const char *text, const char *if_etag, const char *etag,
		      json_t *value, struct hull_err *err)
{
	char mtime[32];
	snprintf(mtime, sizeof(mtime), "%lld", (long long)time(NULL));
	int r;
	long changes = 0;
	if (!if_etag) {
		const char *p[] = {b->name, key, etag, text, mtime};
		r = exec(
		    s,
		    "INSERT INTO records (bucket, key, etag, value, mtime) "
		    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (bucket, key) DO "
		    "UPDATE SET etag = excluded.etag, value = "
		    "excluded.value, mtime = excluded.mtime",
		    5, p, NULL, NULL, err);
	} else if (!if_etag[0]) {
		const char *p[] = {b->name, key, etag, text, mtime};
		r = exec(
		    s,
		    "INSERT INTO records (bucket, key, etag, value, mtime) "
		    "VALUES (?, ?, ?, ?, ?)",
		    5, p, NULL, NULL, err);
		if (r == -EEXIST)
			return hull_err_set(err, ECANCELED,
					    "%s/%s: already exists", b->name,
					    key);
	} else {
		const char *p[] = {etag, text, mtime, b->name, key, if_etag};
		r = exec(s,
			 "UPDATE records SET etag = ?, value = ?, mtime = ? "
			 "WHERE bucket = ? AND key = ? AND etag = ?",
			 6, p, NULL, &changes, err);
		if (r == 0 && changes != 1)
			return hull_err_set(err, ECANCELED,
					    "%s/%s: etag conflict (not %s)",
					    b->name, key, if_etag);
	}
	if (r < 0)
		return r;
	const char *dp[] = {b->name, key};
	r = exec(s, "DELETE FROM record_index WHERE bucket = ? AND key = ?", 2,
		 dp, NULL, NULL, err);
	for (int i = 0; r == 0 && i < 4 && b->fields[i]; i++) {
		char *t = index_text(json_object_get(value, b->fields[i]));
		if (!t)
			continue;
		const char *ip[] = {b->name, key, b->fields[i], t};
		r = exec(s,
			 "INSERT INTO record_index (bucket, key, field, value) "
			 "VALUES (?, ?, ?, ?)",
			 4, ip, NULL, NULL, err);
		free(t);
	}
	return r;
}

int store_put(struct store *s, const char *bucket, const char *key,
	      json_t *value, const char *if_etag, char **etag,
	      struct hull_err *err)
{
	const struct bucket *b;
	int r = check_bucket(bucket, &b, err);
	if (r < 0)
		return r;
	if (!json_is_object(value))
		return hull_err_set(err, EINVAL, "%s/%s: not an object", bucket,
				    key);
	char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return hull_err_set(err, ENOMEM, "%s/%s: cannot encode", bucket,
				    key);
	char tag[17];
	new_etag(tag);
	bool own = !s->in_txn;
	if (own && (r = txn_begin(s, err)) < 0)
		goto out;
	r = put_locked(s, b, key, text, if_etag, tag, value, err);
	if (own) {
		if (r < 0)
			txn_rollback(s);
		else
			r = txn_commit(s, err);
	}
	if (r == 0 && etag)
		*etag = xstrdup(tag);
out:
	free(text);
	return r;
}

int store_del(struct store *s, const char *bucket, const char *key,
	      const char *if_etag, struct hull_err *err)
{
	const struct bucket *b;
	int r = check_bucket(bucket, &b, err);
	if (r < 0)
		return r;
	bool own = !s->in_txn;
	if (own && (r = txn_begin(s, err)) < 0)
		return r;
	long changes = 0;
	const char *p[] = {bucket, key, if_etag};
	r = exec(s,
		 if_etag ? "DELETE FROM records WHERE bucket = ? AND key = ? "
			   "AND etag = ?"
			 : "DELETE FROM records WHERE bucket = ? AND key = ?",
		 if_etag ? 3 : 2, p, NULL, &changes, err);
	if (r == 0 && changes == 0) {
		json_t *v = NULL;
		struct hull_err e2;
		bool exists = store_get(s, bucket, key, &v, NULL, &e2) == 0;
		json_decref(v);
		r = exists ? hull_err_set(err, ECANCELED,
					  "%s/%s: etag conflict (not %s)",
					  bucket, key, if_etag)
			   : hull_err_set(err, ENOENT, "%s/%s: not found",
					  bucket, key);
	}
	if (r == 0)
		r = exec(
		    s, "DELETE FROM record_index WHERE bucket = ? AND key = ?",
		    2, p, NULL, NULL, err);
	if (own) {
		if (r < 0)
			txn_rollback(s);
		else
			r = txn_commit(s, err);
	}
	return r;
}

int store_find(struct store *s, const char *bucket, const char *field,
	       const char *value, json_t **out, struct hull_err *err)
{
	const struct bucket *b;
	int r = check_bucket(bucket, &b, err);
	if (r < 0)
		return r;
	json_t *rows = NULL;
	if (field) {
		bool known = false;
		for (int i = 0; i < 4 && b->fields[i]; i++)
			known |= !strcmp(b->fields[i], field);
		if (!known)
			return hull_err_set(err, EINVAL,
					    "store: %s has no index on %s",
					    bucket, field);
		const char *p[] = {bucket, field, value};
		r = exec(s,
			 "SELECT r.value FROM records r JOIN record_index i ON "
			 "i.bucket = r.bucket AND i.key = r.key WHERE r.bucket "
			 "= ? AND i.field = ? AND i.value = ? ORDER BY r.key",
			 3, p, &rows, NULL, err);
	} else {
		const char *p[] = {bucket};
		r = exec(s,
			 "SELECT value FROM records WHERE bucket = ? ORDER BY "
			 "key",
			 1, p, &rows, NULL, err);
	}
	if (r < 0)
		return r;
	json_t *res = json_array();
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row)
	{
		json_t *cell = json_array_get(row, 0);
		const char *text = json_string_value(cell);
		json_t *v =
		    text ? json_loadb(text, json_string_length(cell), 0, NULL)
			 : NULL;
		if (json_is_object(v))
			json_array_append_new(res, v);
		else
			json_decref(v);
	}
	json_decref(rows);
	*out = res;
	return 0;
}

int store_count(struct store *s, const char *bucket, const char *field,
		const char *value, long *n, struct hull_err *err)
{
	const struct bucket *b;
	int r = check_bucket(bucket, &b, err);
	if (r < 0)
		return r;
	bool known = false;
	for (int i = 0; i < 4 && b->fields[i]; i++)
		known |= !strcmp(b->fields[i], field);
	if (!known)
		return hull_err_set(err, EINVAL, "store: %s has no index on %s",
				    bucket, field);
	const char *p[] = {bucket, field, value};
	json_t *rows = NULL;
	r = exec(s,
		 "SELECT count(*) FROM record_index WHERE bucket = ? AND "
		 "field = ? AND value = ?",
		 3, p, &rows, NULL, err);
	if (r < 0)
		return r;
	const char *t =
	    json_string_value(json_array_get(json_array_get(rows, 0), 0));
	*n = t ? strtol(t, NULL, 10) : 0;
	json_decref(rows);
	return 0;
}

int store_txn(struct store *s, int (*fn)(struct store *s, void *ctx), void *ctx,
	      struct hull_err *err)
{
	if (s->in_txn)
		return fn(s, ctx);
	int r = txn_begin(s, err);
	if (r < 0)
		return r;
	s->in_txn = true;
	r = fn(s, ctx);
	s->in_txn = false;
	if (r < 0) {
		txn_rollback(s);
		return r;
	}
	return txn_commit(s, err);
}
