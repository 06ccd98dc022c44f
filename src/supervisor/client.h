/*
 * client.h - what vmadm (and zlogin) use to start, ask and clean up a
 * zone's supervisor. See docs/internals.md for the files and protocol.
 */
#ifndef HULL_SUPERVISOR_CLIENT_H
#define HULL_SUPERVISOR_CLIENT_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/err.h"

/* Runs hull-supervisor UUID and waits until the zone's init runs; on
 * failure err holds the supervisor's one error line and nothing is left. */
int supervisor_start(const char *uuid, struct hull_err *err);
/* supervisor_start in two halves, for work done while the supervisor
 * boots: supervisor_spawn runs it, supervisor_spawn_wait reads its report
 * and reaps it (call it exactly once after a successful spawn). */
struct supervisor_spawn {
	pid_t pid;
	int fd; /* the report's pipe */
};
int supervisor_spawn(const char *uuid, struct supervisor_spawn *sp,
		     struct hull_err *err);
int supervisor_spawn_wait(struct supervisor_spawn *sp, struct hull_err *err);
/* Is the supervisor alive (it holds the lock on run/supervisor.pid)? */
bool supervisor_alive(const char *uuid);
/* The derived state: supervisor alive and the zone's payload cgroup (its
 * init, a VM's emulator) populated. A supervisor alive with an empty
 * payload is readying the instance (an HVM boot loader runs, or it waits
 * between boots, or it tears down): vmadm shows that as "ready". */
bool zone_is_running(const char *uuid);
/* The zone's cgroup holds processes, whether or not a supervisor is alive.
 * Without one, they are what a killed supervisor left (an emulator that
 * has its disks open): the instance is "down" until zone_cleanup() (vmadm
 * stop -F, start, delete) kills them. */
bool zone_cgroup_busy(const char *uuid);
/* One request, one answer (a new reference). An answer {"ok":false} is an
 * error carrying the supervisor's message. timeout_ms < 0 waits forever. */
int supervisor_request(const char *uuid, json_t *req, json_t **resp,
		       int timeout_ms, struct hull_err *err);
/* Stop (graceful, timeout_s then kill; force: kill now); returns once the
 * supervisor has exited. A zone that is not running is fine. A forced stop
 * needs no instance lock and always ends the instance: a supervisor that
 * does not answer it within SUPERVISOR_FORCE_STOP_MS is SIGKILLed and what
 * it leaves cleaned up. */
#define SUPERVISOR_FORCE_STOP_MS 15000
int supervisor_stop(const char *uuid, int timeout_s, bool force,
		    struct hull_err *err);
int supervisor_reboot(const char *uuid, int timeout_s, bool force,
		      struct hull_err *err);
/* signal: a name ("SIGTERM", "HUP") or number. */
int supervisor_kill(const char *uuid, const char *signal, struct hull_err *err);
/* The status object (see docs/internals.md); NULL when not running. */
json_t *supervisor_status(const char *uuid, struct hull_err *err);
/* The pid of init (host view), or -1. */
pid_t zone_init_pid(const char *uuid, struct hull_err *err);
/* Applies the record's limits to the running zone's cgroup (vmadm update). */
int zone_limits_update(const char *uuid, struct hull_err *err);
/* Removes what a dead supervisor left (processes in the cgroup, the
 * cgroup, run files), and a stopped zone's kept cgroup tree. EBUSY when a
 * supervisor is alive. */
int zone_cleanup(const char *uuid, struct hull_err *err);
/* The same, for the supervisor itself, which holds the pid lock. */
int zone_cleanup_locked(const char *uuid, struct hull_err *err);
/* zone_cleanup_locked, but the emptied cgroup tree stays (a boot follows
 * and writes its limits again); ports and antispoof chains are looked for
 * only when net is set (a killed predecessor may have left them). */
int zone_cleanup_keep_cgroup(const char *uuid, bool net, struct hull_err *err);
/* The last exit of init: SmartOS's exit_status (status>>8, or -signal) and
 * exit_timestamp (ISO-8601). ENOENT when the zone never exited. */
int zone_lastexited_read(const char *uuid, int *exit_status, char ts[32],
			 struct hull_err *err);
/* Attaches in_fd/out_fd to the zone's console until the console closes or
 * a 0x1d byte (^]) arrives on in_fd. The caller sets the terminal mode. */
int zone_console_attach(const char *uuid, int in_fd, int out_fd,
			struct hull_err *err);
/* A new connection to the console (a zone's pty, a VM's COM1): bytes
 * both ways. The caller closes it. */
int zone_console_connect(const char *uuid, struct hull_err *err);
/* Sets the console's window size (TIOCSWINSZ on a zone's pty; a VM's
 * serial line has none, and the request does nothing there). */
int zone_console_winsize(const char *uuid, unsigned rows, unsigned cols,
			 struct hull_err *err);
/* A connection to the VM's VNC relay, at what the supervisor wrote in
 * run/vnc.json ({host, port}); -ENOENT when it has none. */
int zone_vnc_connect(const char *uuid, struct hull_err *err);
/* The last max bytes (or fewer) of logs/console.log in a new buffer
 * (*out, caller frees; NULL and 0 when there is no log yet). */
int zone_console_tail(const char *uuid, size_t max, char **out, size_t *n,
		      struct hull_err *err);
#endif
