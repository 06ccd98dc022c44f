/*
 * store_driver.h - what a storage driver gives store.c: a connection that
 * runs one SQL statement at a time with text parameters ("?" placeholders,
 * as SQLite writes them; the PostgreSQL driver renumbers them to $1...)
 * and returns the rows as text. Everything else (the schema, the
 * migrations, etags, indexes) lives once in store.c.
 */
#ifndef HULL_HEAD_STORE_DRIVER_H
#define HULL_HEAD_STORE_DRIVER_H
#include <jansson.h>
#include "lib/err.h"

struct store_conn; /* a driver's connection */

struct store_driver {
	const char *name;
	int (*open)(const char *url, struct store_conn **out,
		    struct hull_err *err);
	void (*close)(struct store_conn *c);
	/* Runs sql with n text parameters (NULL is SQL NULL). When rows is
	 * not NULL, *rows is a new array of arrays of strings (NULL columns
	 * as JSON null). When changes is not NULL, *changes is the number of
	 * rows an INSERT, UPDATE or DELETE touched. A unique-key violation is
	 * -EEXIST. */
	int (*exec)(struct store_conn *c, const char *sql, int n,
		    const char *const *params, json_t **rows, long *changes,
		    struct hull_err *err);
	/* The statement that opens a write transaction and takes the lock
	 * that serialises migrations and writers. */
	const char *begin_sql;
	const char *migrate_lock_sql; /* run inside it before migrating */
};

extern const struct store_driver store_sqlite_driver;
extern const struct store_driver store_pg_driver;
#endif
