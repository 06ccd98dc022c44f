/*
 * root.h - the pool root: /zones, or $HULL_ROOT when set. Every program
 * honours HULL_ROOT, so tests and users can run independent pools side by
 * side on one host.
 */
#ifndef HULL_ROOT_H
#define HULL_ROOT_H

#include "lib/err.h"

#define HULL_DEFAULT_ROOT "/zones"

/* The pool root, without a trailing slash. Borrowed, valid until exit. */
const char *hull_root(void);

/* root + "/" + the formatted relative path; caller frees. */
char *hull_root_path(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* A short name for this pool among the pools of the host: 12 hex digits
 * of the SHA-256 of the root's canonical path (the path as given when it
 * does not resolve). Host-wide objects one pool owns (its nftables tables)
 * carry it, so two pools never touch each other's. Borrowed, valid until
 * exit. */
const char *hull_root_tag(void);

/* Fails with a message naming `hull init` unless the pool is initialised. */
int hull_root_check(struct hull_err *err);

#endif
