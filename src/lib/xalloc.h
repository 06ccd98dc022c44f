/*
 * xalloc.h - allocation that aborts on out-of-memory, so callers never carry
 * an OOM branch (hull's processes are small; OOM is not recoverable there).
 */
#ifndef HULL_XALLOC_H
#define HULL_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For __attribute__((cleanup)): frees *p. */
void hull_freep(void *p);
#define _cleanup_free_ __attribute__((cleanup(hull_freep)))

/* For __attribute__((cleanup)): closes *fd when >= 0. */
void hull_closep(int *fd);
#define _cleanup_close_ __attribute__((cleanup(hull_closep)))

#endif
