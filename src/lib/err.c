/*
 * err.c - filling and prefixing struct hull_err (see err.h).
 */
#include "lib/err.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>

__attribute__((format(printf, 3, 0))) static int
err_vset(struct hull_err *err, int code, const char *fmt, va_list ap)
{
	if (code < 0)
		code = -code;
	if (code == 0)
		code = EIO;
	if (err) {
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	}
	return -code;
}

int hull_err_set(struct hull_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = err_vset(err, code, fmt, ap);
	va_end(ap);
	return r;
}

int hull_err_sys(struct hull_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = err_vset(err, code, fmt, ap);
	va_end(ap);
	if (err) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s",
			 strerror(err->code));
	}
	return r;
}

int hull_err_prefix(struct hull_err *err, const char *fmt, ...)
{
	if (!err)
		return -EIO;
	char old[HULL_ERR_MSG_MAX];
	char ctx[HULL_ERR_MSG_MAX];
	va_list ap;

	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	/* Truncating a long chain of context is fine; the code is kept. */
	if (snprintf(err->msg, sizeof(err->msg), "%s: %s", ctx, old) < 0)
		err->msg[0] = '\0';
	if (err->code == 0)
		err->code = EIO;
	return -err->code;
}

void hull_err_clear(struct hull_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
