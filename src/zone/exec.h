/*
 * exec.h - running a command inside a running zone (zlogin).
 *
 * The caller joins the zone's namespaces and forks; the child joins the
 * zone's cgroup, gets the zone's capability bounding set and seccomp
 * filter, starts a session of its own whose stdio is a new pty of the
 * zone or three pipes (never a descriptor of the caller's), and execs the
 * command from the zone's own filesystem. Only the host-side parent (never
 * visible in the zone's pid namespace) relays (relay.h) and collects the
 * exit status.
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
	char **argv; /* the command, looked up in the zone's PATH */
	char **envp; /* its environment */
	bool tty;    /* a new pty of the zone as its stdio, else pipes */
	/* The host's side of the relay, borrowed: what the command reads
	 * (-1: nothing) and where its output goes (with a pty, stdout and
	 * stderr both go to out_fd). */
	int in_fd, out_fd, err_fd;
};

/* Returns the command's exit code (128 + signal when killed), or a
 * negative error (nothing ran). */
int zone_exec(const struct zone_exec_opts *o, struct hull_err *err);
#endif
