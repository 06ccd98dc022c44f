/*
 * vm_migrate.h - a kvm-brand VM's live migration on one host: from its
 * QEMU to a new QEMU under the same supervisor, in the same hull and
 * cgroup, through QEMU's own pre-copy migration (docs/vmadm.md
 * "migrate").
 *
 *   1. the target's argv is the source's own (hvm/qemumig.h), with its
 *      copies of the taps (taken from the source with pidfd_getfd: a
 *      single-queue tap cannot be opened twice), its sockets under
 *      mig-* names and -incoming defer; it starts in the hull with room
 *      in the cgroup for two guests;
 *   2. a socketpair carries the stream: the target inherits one end and
 *      gets migrate-incoming fd:N, the source gets the other with getfd
 *      and migrate fd:NAME after downtime-limit, max-bandwidth and the
 *      auto-converge capability are set;
 *   3. the event loop polls query-migrate (a timer, every 10 ms; the
 *      console and control go on meanwhile). A migration still copying
 *      after max_passes dirty-page passes (without auto-converge) or
 *      timeout_s is cancelled (migrate_cancel): the guest runs on in the
 *      source;
 *   4. once the target runs the guest, the source quits, the target's
 *      sockets take the usual names, and the supervisor adopts it (its
 *      pid, console, QMP; the VNC relay and the metadata server connect
 *      again); the cgroup's memory limit goes back to one guest.
 * Any failure before the switch kills the target and leaves the guest
 * running on the source (resumed with `cont` if QEMU had paused it).
 */
#ifndef HULL_SUPERVISOR_VM_MIGRATE_H
#define HULL_SUPERVISOR_VM_MIGRATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"
#include "supervisor/vm.h"

#define SV_VM_MIG_DOWNTIME_MS 300 /* QEMU's own default */
#define SV_VM_MIG_PASSES 30
#define SV_VM_MIG_TIMEOUT_S 600

struct sv_vm_mig_opts {
	int downtime_ms;       /* 1..60000 */
	bool auto_converge;    /* throttle the vCPUs rather than give up */
	int64_t max_bandwidth; /* bytes/s; 0: no cap (one host) */
	int max_passes;	       /* without auto-converge; 0: the default */
	int timeout_s;	       /* 0: the default */
};

/* What the supervisor does at the switch: take pid and console (a
 * connected socket, now the supervisor's) as the instance's. */
struct sv_vm_mig_switch {
	pid_t pid;
	int console_fd;
};

/* done(data, 0, result, NULL) after the switch (result: the figures,
 * borrowed for the call), or done(data, r < 0, NULL, err) with the guest
 * on the source. sw is called just before done on success. */
struct sv_vm_mig_cb {
	void (*sw)(void *data, const struct sv_vm_mig_switch *s);
	void (*done)(void *data, int r, json_t *result, struct hull_err *err);
	void *data;
};

/* Starts the migration of the running kvm VM in vm; the loop carries it
 * on. Fails at once (nothing left) for another brand, or one running. */
int sv_vm_migrate_start(struct sv_vm *vm, const struct sv_vm_mig_opts *o,
			const struct sv_vm_mig_cb *cb, struct hull_err *err);
bool sv_vm_migrating(const struct sv_vm *vm);
/* Ends a migration under way (the source went away, a forced stop):
 * the target is killed, done is called with why. */
void sv_vm_migrate_abort(struct sv_vm *vm, const char *why);

/* An adopter's first step for a kvm VM: a migration its predecessor left
 * under way (the target's mig-* sockets are there) ends with the guest
 * in the source (migrate_cancel, the target told to quit, `cont` if QEMU
 * had paused it). */
int sv_vm_migrate_recover(struct sv_vm *vm, struct hull_err *err);

#endif
