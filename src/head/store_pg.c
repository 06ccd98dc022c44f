/*
 * store_pg.c - the PostgreSQL driver of the head node's store, through
 * libpq: one connection, text parameters ("?" in store.c's SQL renumbered
 * to $1...), text results. Several hull-api processes may share one
 * database: writes run in transactions, and migrations take an advisory
 * lock so that two processes starting at once migrate once.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "head/store_driver.h"
#include "lib/xalloc.h"

struct store_conn {
	PGconn *pg;
};

/* libpq prints notices ("relation already exists, skipping") to stderr by
 * default; library code never prints. */
static void pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int pg_open(const char *url, struct store_conn **out,
		   struct hull_err *err)
{
	PGconn *pg = PQconnectdb(url);
	if (!pg)
		return hull_err_set(err, ENOMEM, "postgresql: out of memory");
	if (PQstatus(pg) != CONNECTION_OK) {
		/* libpq's message may span lines: keep the first. */
		const char *m = PQerrorMessage(pg);
		size_t len = strcspn(m, "\n");
		int r = hull_err_set(err, ECONNREFUSED, "postgresql: %.*s",
				     (int)len, m);
		PQfinish(pg);
		return r;
	}
	PQsetNoticeProcessor(pg, pg_quiet, NULL);
	struct store_conn *c = xcalloc(1, sizeof(*c));
	c->pg = pg;
	*out = c;
	return 0;
}

static void pg_close(struct store_conn *c)
{
	if (!c)
		return;
	PQfinish(c->pg);
	free(c);
}

/* "? ... ?" to "$1 ... $2"; store.c's SQL has no '?' inside literals. */
static char *renumber(const char *sql)
{
	size_t n = strlen(sql);
	char *out = xmalloc(n * 4 + 1), *o = out;
	int k = 0;
	for (const char *p = sql; *p; p++) {
		if (*p == '?')
			o += sprintf(o, "$%d", ++k);
		else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

static int pg_exec(struct store_conn *c, const char *sql, int n,
		   const char *const *params, json_t **rows, long *changes,
		   struct hull_err *err)
{
	char *q = renumber(sql);
	PGresult *res = PQexecParams(c->pg, q, n, NULL, params, NULL, NULL, 0);
	free(q);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *m =
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		if (!m)
			m = PQerrorMessage(c->pg);
		int code = EIO;
		if (state && !strcmp(state, "23505")) /* unique_violation */
			code = EEXIST;
		else if (state &&
			 (!strcmp(state, "40001") || !strcmp(state, "40P01")))
			code = EBUSY; /* serialization failure, deadlock */
		size_t len = strcspn(m, "\n");
		int r =
		    hull_err_set(err, code, "postgresql: %.*s", (int)len, m);
		PQclear(res);
		return r;
	}
	if (rows) {
		json_t *a = json_array();
		int nr = PQntuples(res), nc = PQnfields(res);
		for (int i = 0; i < nr; i++) {
			json_t *row = json_array();
			for (int j = 0; j < nc; j++)
				json_array_append_new(
				    row,
				    PQgetisnull(res, i, j)
					? json_null()
					: json_string(PQgetvalue(res, i, j)));
			json_array_append_new(a, row);
		}
		*rows = a;
	}
	if (changes) {
		const char *t = PQcmdTuples(res);
		*changes = t && *t ? atol(t) : 0;
	}
	PQclear(res);
	return 0;
}

const struct store_driver store_pg_driver = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .begin_sql = "BEGIN",
    /* A constant key: every hull-api on this database migrates in turn. */
    .migrate_lock_sql = "SELECT pg_advisory_xact_lock(1752516972)",
};
