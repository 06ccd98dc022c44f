/*
 * dev.h - the zone's /dev: a small tmpfs with null, zero, full, random,
 * urandom, tty, console (the supervisor's pty), ptmx + a private devpts
 * instance, shm, and the usual fd/stdin/stdout/stderr links.
 */
#ifndef HULL_ZONE_DEV_H
#define HULL_ZONE_DEV_H
#include "lib/err.h"
/* Runs after pivot_root with /proc mounted; console_fd is an open_tree
 * clone of the console pty slave, or -1. */
int zone_dev_populate(int console_fd, struct hull_err *err);
#endif
