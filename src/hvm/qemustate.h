/*
 * qemustate.h - a kvm-brand VM's memory and device state, saved and
 * loaded by QEMU's own migration machinery driven over QMP (qmp.h): the
 * kvm half of memory snapshots (hull/snapshot.h).
 *
 * Saving: `stop`, then `migrate` to a descriptor handed over with getfd
 * (a "fd:" URI; never "exec:", which the QEMU sandbox denies anyway),
 * waited for with query-migrate; QEMU is left paused, its disks flushed,
 * so the caller snapshots them and then resumes it (`cont`). Loading:
 * QEMU started with `-incoming defer` gets `migrate-incoming` from a
 * descriptor it inherited, and `cont` once the state is in (the stream
 * records that the guest was paused when it was saved).
 *
 * QEMU's stream has no checksum of its own, and QEMU exits when a load
 * fails, so the file is checked before QEMU sees it: hull writes a small
 * sum file beside it ({"format": "qemu", "size", "sha256"}) and the
 * rollback compares both, and QEMU's magic and version, first.
 */
#ifndef HULL_HVM_QEMUSTATE_H
#define HULL_HVM_QEMUSTATE_H

#include <stdint.h>

#include "hvm/qmp.h"
#include "lib/err.h"

/* The sum file beside the state file, in the instance's dataset. */
#define HVM_QEMU_STATE_SUM_SUFFIX ".sum"

struct hvm_qemu_state_sum {
	uint64_t size;
	char sha256[65]; /* lower-case hex */
};

/* Pauses the guest and writes its state to fd (owned by the caller; QEMU
 * gets a copy). Returns with the guest paused, also on failure past
 * `stop`: the caller resumes it. */
int hvm_qemu_state_save(struct hvm_qmp *q, int fd, int timeout_ms,
			struct hull_err *err);

/* Loads the state from descriptor number qemu_fd, open in QEMU (started
 * with -incoming defer), and resumes the guest. */
int hvm_qemu_state_load(struct hvm_qmp *q, int qemu_fd, int timeout_ms,
			struct hull_err *err);

/* Reads fd from its start: checks QEMU's magic and version and computes
 * the size and SHA-256 into *out. */
int hvm_qemu_state_digest(int fd, struct hvm_qemu_state_sum *out,
			  struct hull_err *err);

/* The sum file's text (owned: free) and its parser (pure). */
char *hvm_qemu_state_sum_format(const struct hvm_qemu_state_sum *s);
int hvm_qemu_state_sum_parse(const char *buf, size_t len,
			     struct hvm_qemu_state_sum *out,
			     struct hull_err *err);

#endif
