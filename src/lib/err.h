/*
 * err.h - the one error convention of hull.
 *
 * A function that can fail returns 0 or a negative errno-style code and fills
 * a caller-owned struct hull_err with a human reason. Setting the error
 * returns the code, so a failing branch is one line:
 *
 *     return hull_err_set(err, EINVAL, "quota: not a size: %s", s);
 *
 * Callers add context on the way up with hull_err_prefix(). Library code
 * never prints; only the edges (a program's main, a daemon's dispatcher) do.
 */
#ifndef HULL_ERR_H
#define HULL_ERR_H

#include <stdarg.h>

#define HULL_ERR_MSG_MAX 1024

struct hull_err {
	int code;		    /* positive errno value, 0 when clear */
	char msg[HULL_ERR_MSG_MAX]; /* one line, no trailing newline */
};

/* Sets err (may be NULL) and returns -code. */
int hull_err_set(struct hull_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like hull_err_set, and appends ": strerror(code)". */
int hull_err_sys(struct hull_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to the message and returns -err->code. */
int hull_err_prefix(struct hull_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void hull_err_clear(struct hull_err *err);

#endif
