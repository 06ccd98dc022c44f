/*
 * qmp.h - a small QMP client for the kvm brand: what the supervisor needs
 * to stop a QEMU guest cleanly (system_powerdown, then quit after the
 * timeout) and to report its state (query-status).
 *
 * QEMU runs guest-driven code, so what it says is read as untrusted:
 * lines are bounded (HVM_QMP_LINE_MAX) and parsed by a pure function
 * (hvm_qmp_reply_parse, fuzzed by tests/fuzz/fuzz_qmp.c); every wait has
 * a deadline.
 */
#ifndef HULL_HVM_QMP_H
#define HULL_HVM_QMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

#define HVM_QMP_LINE_MAX (64u << 10)

enum hvm_qmp_reply {
	HVM_QMP_GREETING = 1,
	HVM_QMP_RETURN,
	HVM_QMP_ERROR, /* the command failed; err says why */
	HVM_QMP_EVENT,
};

/* One line QEMU sent. For RETURN, *ret (may be NULL) gets the "return"
 * value (a new reference); for EVENT, *ret gets the event's name as a
 * JSON string. Returns the kind, or a negative code for a line that is
 * not QMP. */
int hvm_qmp_reply_parse(const char *line, size_t len, json_t **ret,
			struct hull_err *err);

struct hvm_qmp;

/* Connects to QEMU's QMP socket, reads its greeting and leaves
 * negotiation mode (qmp_capabilities). */
struct hvm_qmp *hvm_qmp_open(const char *path, int timeout_ms,
			     struct hull_err *err);
void hvm_qmp_close(struct hvm_qmp *q);

/* Runs cmd (no arguments) and returns its "return" value (new reference)
 * through *ret when ret is non-NULL. Events that arrive meanwhile are
 * skipped. */
int hvm_qmp_execute(struct hvm_qmp *q, const char *cmd, json_t **ret,
		    int timeout_ms, struct hull_err *err);

/* The same with arguments (a JSON object, borrowed; NULL: none). */
int hvm_qmp_execute_args(struct hvm_qmp *q, const char *cmd, json_t *args,
			 json_t **ret, int timeout_ms, struct hull_err *err);

/* hvm_qmp_execute_args with descriptor fd passed along (SCM_RIGHTS), for
 * the commands that take one: getfd, add-fd (fd < 0: none; the others
 * above are this). */
int hvm_qmp_execute_fd(struct hvm_qmp *q, const char *cmd, json_t *args, int fd,
		       json_t **ret, int timeout_ms, struct hull_err *err);

/* Hands QEMU a copy of descriptor fd under name (QMP getfd, the
 * descriptor passed with SCM_RIGHTS), for a later "fd:NAME" URI. */
int hvm_qmp_getfd(struct hvm_qmp *q, const char *name, int fd, int timeout_ms,
		  struct hull_err *err);

/* query-status's "status" ("running", "paused", "shutdown", ...) into
 * out (size n). */
int hvm_qmp_status(struct hvm_qmp *q, char *out, size_t n, int timeout_ms,
		   struct hull_err *err);

/* Stops QEMU the way `vmadm stop` does: asks the guest to power off
 * (system_powerdown, the ACPI power button) and waits up to timeout_ms
 * for QEMU to exit (its QMP connection closes); past that, quit. *forced
 * says whether it came to quit. */
int hvm_qmp_stop(struct hvm_qmp *q, int timeout_ms, bool *forced,
		 struct hull_err *err);

#endif
