/*
 * spawn.h - running a helper program (mkfs.btrfs, btrfs send/receive, cp)
 * without a shell, capturing its stderr so a failure becomes one clear line.
 */
#ifndef HULL_SPAWN_H
#define HULL_SPAWN_H

#include "lib/err.h"

/*
 * Runs argv[0] (looked up in PATH) with argv, waits for it.
 *   in_fd:  its stdin, or -1 for /dev/null.
 *   out_fd: its stdout, or -1: then captured into *out when out is not NULL
 *           (a new NUL-terminated string the caller frees), else discarded.
 * A non-zero exit is an error whose message is the program's last line of
 * stderr (or its exit status when it printed nothing).
 */
int hull_run(char *const argv[], int in_fd, int out_fd, char **out,
	     struct hull_err *err);

#endif
