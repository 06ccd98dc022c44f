/*
 * start.h - starting a zone's init: the supervisor's one call into the
 * container runtime.
 */
#ifndef HULL_ZONE_START_H
#define HULL_ZONE_START_H
#include <sys/types.h>
#include "lib/err.h"
#include "zone/cgroup.h"
#include "zone/config.h"

struct zone_proc {
	pid_t pid;	/* init, as the host sees it */
	int console_fd; /* pty master (owned), the zone's /dev/console */
	int notify_fd;	/* lx: uname listener (owned), else -1 */
	/* The pty slave, held open (owned) so the master never reads EIO
	 * while init (systemd) has no descriptor of /dev/console open: the
	 * console stays logged and drained for the zone's whole life. */
	int console_hold_fd;
};

/*
 * Creates init in new namespaces inside cg (which must exist), with the
 * zone's root, /dev, /proc, /sys, capabilities and seccomp filter, and
 * returns once init has been exec'd (or failed, with nothing left running).
 * The caller reaps init (it is our child) and owns out's descriptors.
 */
int zone_start(const struct zone_config *cfg, struct zone_cgroup *cg,
	       struct zone_proc *out, struct hull_err *err);
void zone_proc_close(struct zone_proc *p);

/*
 * A step of the caller's run in the parent once init's namespaces exist
 * and before init runs (the supervisor plugs the zone's network in here,
 * src/supervisor/net_hook.c). A failure aborts the start like any other.
 * NULL (the default): none.
 */
typedef int (*zone_prepare_fn)(const struct zone_config *cfg, pid_t init,
			       struct hull_err *err);
void zone_start_set_prepare(zone_prepare_fn fn);
#endif
