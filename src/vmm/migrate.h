/*
 * migrate.h - live migration of a running VM between two hull-vmm
 * processes, over a connected stream socket (docs/hull-vmm.md "Live
 * migration"; the stream's layout is migfmt.h).
 *
 * Source: the control socket's "migrate" hands over the socket; pre-copy
 * then runs on the I/O thread while the guest runs (KVM's dirty log, plus
 * the pages devices wrote), one bounded chunk per writable event, so the
 * devices keep being served. When the pages left would go over within
 * the downtime limit, the vCPUs pause, the last pages and every vCPU and
 * device state go over, and the target's "ready" is answered with "go";
 * the source then ends with exit status 4. Anything else (no convergence,
 * a broken connection, a target that dies) resumes the guest here.
 *
 * Target: hull-vmm --incoming fd=N reads the stream into a VM set up as
 * for a boot, before its vCPU threads exist, and after confinement asks
 * the source for the hand-over; without it the guest never runs here.
 */
#ifndef HULL_VMM_MIGRATE_H
#define HULL_VMM_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "vmm/vm.h"

struct migrate_opts {
	uint64_t downtime_ns;	 /* default 300 ms, as QEMU's downtime-limit */
	uint64_t bandwidth;	 /* bytes per second, 0: as fast as it goes */
	unsigned max_iterations; /* passes before giving up (default 30) */
	bool auto_converge;	 /* throttle the vCPUs instead of giving up */
};

/* Before confinement, on a VM that may be migrated away later: the
 * timers the source side needs (vm->mig). */
int migrate_init(struct vm *vm, struct hull_err *err);
unsigned migrate_fds(struct vm *vm, int *out, unsigned max);
void migrate_fini(struct vm *vm);

/* Source: starts migrating to sock. Takes sock always, and reply_fd (a
 * control client, which gets one JSON line when the migration ends) on
 * success only. Fails at once when one runs already. */
int migrate_start(struct vm *vm, int sock, int reply_fd,
		  const struct migrate_opts *o, struct hull_err *err);

/* Target: reads the whole stream from sock into vm (created, platform
 * set up, vCPUs created, not started) and loads its state. */
int migrate_receive(struct vm *vm, int sock, struct hull_err *err);
/* Target, once the stream has ended (the source paused, its disks
 * still): takes the disks, checking each against the size the source
 * sent. gate < 0: opens the configured paths now. Otherwise gate is the
 * --incoming disks= socket: says "W" on it and waits (while watching
 * sock for the source giving up) for one byte and either no descriptor
 * (open the configured paths) or one per disk in order, which it takes.
 * Never locks: migrate_receive_commit does, after "go". */
int migrate_receive_disks(struct vm *vm, int sock, int gate,
			  struct hull_err *err);
/* Target, right before the guest would run: says "ready", waits for
 * the source's "go", and locks the disks the source has let go. */
int migrate_receive_commit(struct vm *vm, int sock, struct hull_err *err);

#endif
