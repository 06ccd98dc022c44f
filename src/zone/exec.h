/*
 * exec.h - running a command inside a running zone (zlogin).
 *
 * The caller joins the zone's namespaces and forks; the child joins the
 * zone's cgroup, gets the zone's capability bounding set and seccomp
 * filter, keeps only stdio, and execs the command from the zone's own
 * filesystem. Only the host-side parent (never visible in the zone's pid
 * namespace) relays the pty and collects the exit status.
 *
 * The calling program should run from a sealed copy (zone/sealed.h), and
 * the child is not dumpable until its exec, so a zone process can reach
 * neither the host binary nor the child's /proc files meanwhile.
 */
#ifndef HULL_ZONE_EXEC_H
#define HULL_ZONE_EXEC_H
#include <stdbool.h>
#include "lib/err.h"

struct zone_exec_opts {
	const char *uuid;
	char **argv;	   /* the command, looked up in the zone's PATH */
	char **envp;	   /* its environment */
	bool tty;	   /* run it on a new pty of the zone; relay in/out */
	int in_fd, out_fd; /* the host side of the relay (tty) */
};

/* Returns the command's exit code (128 + signal when killed), or a
 * negative error (nothing ran). */
int zone_exec(const struct zone_exec_opts *o, struct hull_err *err);
#endif
