/*
 * live_opts.h - how a live switch's pre-copy may run (the migration's
 * begin options, docs/hull-api.md "migrate"): the channel's cap, the
 * longest pause the guest may see and whether its vCPUs may be throttled
 * until the last pass fits in it.
 */
#ifndef HULL_AGENT_LIVE_OPTS_H
#define HULL_AGENT_LIVE_OPTS_H

#include <stdbool.h>
#include <stdint.h>

/* QEMU's default downtime-limit, hull-vmm's too */
#define LIVE_DOWNTIME_MS_DEFAULT 300
/* passes before a pre-copy that does not converge gives up */
#define LIVE_MAX_PASSES 30

struct live_opts {
	int64_t limit_bytes_s; /* 0: no cap */
	int downtime_ms;       /* 1 to 60000 */
	bool auto_converge;
};

#endif
