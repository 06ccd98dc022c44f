/*
 * qemumig.h - the kvm brand's live migration between two QEMU processes
 * on one host, the pure half: the target's argv made from the source's
 * own command line, and QEMU's migration status read from query-migrate.
 * The supervisor (supervisor/vm_migrate.h) drives it over QMP.
 *
 * The target runs the source's argv (read from /proc/PID/cmdline, so
 * every device, ROM and RAM block matches, as QEMU's migration requires)
 * with three changes: each "-netdev tap,...,fd=N" names the target's
 * copy of that tap; the sockets in the run directory get the prefix
 * HVM_QEMU_MIG_PREFIX, so the source's stay reachable until the switch
 * (and after a failed migration); and "-incoming defer" replaces any
 * -incoming the source had.
 */
#ifndef HULL_HVM_QEMUMIG_H
#define HULL_HVM_QEMUMIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define HVM_QEMU_MIG_PREFIX "mig-"
#define HVM_QEMU_MIG_TAPS_MAX 16

/* /proc/PID/cmdline (NUL-separated, untrusted: QEMU's memory) to an argv
 * (owned: hull_strv_free). Pure. */
char **hvm_qemu_cmdline_parse(const char *buf, size_t len,
			      struct hull_err *err);

/* The tap descriptor numbers in argv's "-netdev tap,...,fd=N", in order.
 * Returns how many (at most max), or < 0. Pure. */
int hvm_qemu_argv_taps(char *const *argv, int *fds, size_t max,
		       struct hull_err *err);

/* The target's argv (owned) from the source's: taps renumbered to
 * tap_fds (as many as hvm_qemu_argv_taps found), run_dir's sockets
 * prefixed, "-incoming defer". Pure. */
char **hvm_qemu_migrate_argv(char *const *argv, const char *run_dir,
			     const int *tap_fds, size_t ntaps,
			     struct hull_err *err);

/* query-migrate's answer, the parts the driver reads. */
enum hvm_qemu_mig_state {
	HVM_QEMU_MIG_NONE,
	HVM_QEMU_MIG_ACTIVE, /* setup, active, device, pre-switchover... */
	HVM_QEMU_MIG_COMPLETED,
	HVM_QEMU_MIG_FAILED,
	HVM_QEMU_MIG_CANCELLED,
};

struct hvm_qemu_mig_stat {
	enum hvm_qemu_mig_state state;
	int64_t passes;	     /* ram.dirty-sync-count */
	int64_t downtime_ms; /* once completed */
	int64_t total_ms;
	int64_t transferred;  /* ram.transferred, bytes */
	int64_t remaining;    /* ram.remaining, bytes */
	int64_t throttle_pct; /* cpu-throttle-percentage (auto-converge) */
	char error[256];
};

void hvm_qemu_mig_stat_parse(const json_t *v, struct hvm_qemu_mig_stat *out);

#endif
