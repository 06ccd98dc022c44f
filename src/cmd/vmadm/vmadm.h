/*
 * vmadm.h - the subcommands of vmadm, one function each, and the helpers
 * they share. main.c dispatches; change.c has the transactions (create,
 * validate, delete, update, start, stop, reboot, kill, sysrq, snapshots,
 * autoboot, console), view.c what reads (get, list, lookup, info,
 * events). Each parses its arguments, makes one call into the instance
 * library (include/hull/instance.h) and prints.
 *
 * Each returns the process exit code (0 ok, 1 error, 2 usage) after
 * printing: success messages and errors go to stderr, machine-readable
 * output to stdout (spec/smartos.md §1.1).
 */
#ifndef HULL_CMD_VMADM_H
#define HULL_CMD_VMADM_H

#include <jansson.h>
#include <stdbool.h>

#include "hull/instance.h"
#include "lib/err.h"

enum vmadm_exit {
	VMADM_OK = 0,
	VMADM_ERROR = 1,
	VMADM_USAGE = 2,
};

/* main.c */
int vmadm_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vmadm_fail_err(const struct hull_err *err);
int vmadm_usage(const char *cmd);
/* Reads a JSON payload from file (NULL: stdin, refused when a tty). */
json_t *vmadm_read_payload(const char *file, const char *action,
			   struct hull_err *err);
/* The progress reporter every transaction gets: warnings and create's
 * success line on stderr; the test hook HULL_TEST_CRASH_AT (main.c). */
extern const struct hull_progress vmadm_progress;
/* Resets getopt; returns the index of the first operand. */
void vmadm_getopt_reset(void);

/* change.c */
int vmadm_create(int argc, char **argv);
int vmadm_validate(int argc, char **argv);
int vmadm_delete(int argc, char **argv);
int vmadm_update(int argc, char **argv);
int vmadm_start(int argc, char **argv);
int vmadm_stop(int argc, char **argv);
int vmadm_reboot(int argc, char **argv);
int vmadm_kill(int argc, char **argv);
int vmadm_console(int argc, char **argv);
int vmadm_autoboot(int argc, char **argv);
int vmadm_sysrq(int argc, char **argv);
int vmadm_snapshot_create(int argc, char **argv);
int vmadm_snapshot_delete(int argc, char **argv);
int vmadm_snapshot_rollback(int argc, char **argv);

/* move.c */
int vmadm_send(int argc, char **argv);
int vmadm_receive(int argc, char **argv);
int vmadm_migrate(int argc, char **argv);

/* view.c */
int vmadm_get(int argc, char **argv);
int vmadm_list(int argc, char **argv);
int vmadm_lookup(int argc, char **argv);
int vmadm_info(int argc, char **argv);
int vmadm_events(int argc, char **argv);

#endif
