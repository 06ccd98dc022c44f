/*
 * store_sqlite.c - the SQLite driver of the head node's store: one file,
 * mode 0600 (the state holds account keys and join tokens), in WAL mode so
 * that readers do not wait for a writer, with a busy timeout so that two
 * processes on one file take turns instead of failing.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "head/store_driver.h"
#include "lib/xalloc.h"

struct store_conn {
	sqlite3 *db;
};

/* Long enough for another process's write transaction (a create books
 * capacity in one), short enough that a stuck writer surfaces. */
#define BUSY_TIMEOUT_MS 10000

static int sq_err(sqlite3 *db, int rc, struct hull_err *err, const char *what)
{
	int code = EIO;
	int primary = rc & 0xff;
	if (primary == SQLITE_CONSTRAINT)
		code = EEXIST;
	else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
		code = EBUSY;
	else if (primary == SQLITE_CANTOPEN || primary == SQLITE_PERM ||
		 primary == SQLITE_READONLY)
		code = EACCES;
	return hull_err_set(err, code, "sqlite: %s: %s", what,
			    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int sq_open(const char *path, struct store_conn **out,
		   struct hull_err *err)
{
	/* Make the file 0600 before SQLite opens it: its -wal and -shm
	 * files take the database file's mode. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "sqlite: %s", path);
	if (fchmod(fd, 0600) < 0) {
		int e = errno;
		close(fd);
		return hull_err_sys(err, e, "sqlite: chmod %s", path);
	}
	close(fd);
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(
	    path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		int r = sq_err(db, rc, err, path);
		sqlite3_close(db);
		return r;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	char *msg = NULL;
	rc = sqlite3_exec(db,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
			  NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int r = hull_err_set(err, EIO, "sqlite: %s: %s", path,
				     msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		sqlite3_close(db);
		return r;
	}
	struct store_conn *c = xcalloc(1, sizeof(*c));
	c->db = db;
	*out = c;
	return 0;
}

static void sq_close(struct store_conn *c)
{
	if (!c)
		return;
	sqlite3_close(c->db);
	free(c);
}

static int sq_exec(struct store_conn *c, const char *sql, int n,
		   const char *const *params, json_t **rows, long *changes,
		   struct hull_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(c->db, rc, err, sql);
	for (int i = 0; i < n; i++) {
		rc = params[i] ? sqlite3_bind_text(st, i + 1, params[i], -1,
						   SQLITE_STATIC)
			       : sqlite3_bind_null(st, i + 1);
		if (rc != SQLITE_OK) {
			int r = sq_err(c->db, rc, err, sql);
			sqlite3_finalize(st);
			return r;
		}
	}
	json_t *res = rows ? json_array() : NULL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!res)
			continue;
		int cols = sqlite3_column_count(st);
		json_t *row = json_array();
		for (int i = 0; i < cols; i++) {
			const unsigned char *t = sqlite3_column_text(st, i);
			/* Our own text, parsed (and so checked) by the
			 * caller: not checked twice. */
			json_array_append_new(
			    row, t ? json_stringn_nocheck(
					 (const char *)t,
					 (size_t)sqlite3_column_bytes(st, i))
				   : json_null());
		}
		json_array_append_new(res, row);
	}
	if (rc != SQLITE_DONE) {
		int r = sq_err(c->db, rc, err, sql);
		sqlite3_finalize(st);
		json_decref(res);
		return r;
	}
	sqlite3_finalize(st);
	if (changes)
		*changes = sqlite3_changes(c->db);
	if (rows)
		*rows = res;
	return 0;
}

const struct store_driver store_sqlite_driver = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    /* IMMEDIATE takes the write lock at once, so two writers serialise at
     * BEGIN (under the busy timeout) instead of deadlocking on upgrade. */
    .begin_sql = "BEGIN IMMEDIATE",
    .migrate_lock_sql = NULL,
};
