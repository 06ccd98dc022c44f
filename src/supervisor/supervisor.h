/*
 * supervisor.h - one supervisor per running zone (docs/internals.md).
 *
 * It creates the zone and stays its parent: reaps init, records its exit
 * (R/<uuid>/lastexited), restarts it per policy, holds its console pty
 * (logged to logs/console.log, shared over run/console.sock), answers
 * lx uname(2) notifications, and serves run/control.sock. Single-threaded,
 * one epoll loop; its state is the running zone plus files it can rebuild.
 *
 * Privilege budget: it runs as root because it creates namespaces, mounts
 * (in the zone's mount namespace only), cgroups and writes into the zone's
 * memory for uname; it holds no other privilege-bearing state.
 */
#ifndef HULL_SUPERVISOR_SUPERVISOR_H
#define HULL_SUPERVISOR_SUPERVISOR_H
#include <stdbool.h>
#include <sys/types.h>
#include "lib/err.h"
#include "supervisor/loop.h"
#include "zone/config.h"

struct supervisor;

/*
 * The hook for parts that live in the supervisor's loop, such as the
 * metadata server: zone_started runs after each boot of the zone (init is
 * pid, the loop is where to add descriptors with sv_loop_add), zone_stopped
 * after init exited, before a reboot or the end. Register from
 * hull-supervisor's main before supervisor_run.
 */
struct sv_hook {
	const char *name;
	int (*zone_started)(struct sv_loop *loop, const struct zone_config *cfg,
			    pid_t init, struct hull_err *err);
	void (*zone_stopped)(struct sv_loop *loop,
			     const struct zone_config *cfg);
	/* optional: a live move (vmmove.h) replaced the VM's emulator with
	 * pid, which listens on the same sockets */
	void (*emulator_moved)(struct sv_loop *loop,
			       const struct zone_config *cfg, pid_t pid);
};
void supervisor_hook_register(const struct sv_hook *hook);

/*
 * Runs the supervisor of uuid until the zone stops for good. ready_fd (or
 * -1) gets "OK\n" once init runs, or one error line; it is closed then.
 * holder_fd (or -1: none) is the socket to hull-holder, our parent
 * (holder.h); with adopt, the instance is the one the holder kept from a
 * dead predecessor, and nothing is booted unless it was not running.
 * Returns the exit code for main.
 */
int supervisor_run(const char *uuid, int ready_fd, int holder_fd, bool adopt);
#endif
