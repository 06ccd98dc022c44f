/*
 * control.h - the supervisor's control protocol (docs/internals.md): one
 * JSON object per line. Parsing is pure (tests/fuzz/fuzz_control.c): the
 * socket is root-only, but a request is still checked field by field.
 */
#ifndef HULL_SUPERVISOR_CONTROL_H
#define HULL_SUPERVISOR_CONTROL_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/err.h"

#define CONTROL_LINE_MAX 4096
#define CONTROL_DEFAULT_TIMEOUT 60

enum control_cmd {
	CONTROL_STATUS,
	CONTROL_STOP,
	CONTROL_REBOOT,
	CONTROL_KILL,
	CONTROL_UPDATE,
	CONTROL_LISTENER, /* a uname listener (lx zlogin) rides along */
	CONTROL_WINSIZE,  /* the console's window size (a zone's pty) */
	CONTROL_MOVE,	  /* bhyve: live move to a fresh hull-vmm (vmmove.h) */
	CONTROL_MIGRATE,  /* kvm: live migration to a new QEMU (vm_migrate.h) */
};

struct control_req {
	enum control_cmd cmd;
	int timeout_s;		   /* stop, reboot */
	bool force;		   /* stop, reboot */
	int signo;		   /* kill */
	unsigned short rows, cols; /* winsize: 1..1000 each */
	int downtime_ms;	   /* move, migrate: 1..60000, 0: default */
	bool auto_converge;	   /* move, migrate */
	int bandwidth_mib;	   /* move: MiB/s, 1..1048576; 0: no cap */
	long long max_bandwidth;   /* migrate: bytes/s, 0..2^40; 0: no cap */
	int max_passes;		   /* migrate: 0..1000; 0: default */
};

int control_request_parse(const char *line, size_t len, struct control_req *req,
			  struct hull_err *err);
/* "SIGTERM", "TERM", "term", "15", "SIGRTMIN+3": the number, or -EINVAL. */
int control_signal_parse(const char *s);
#endif
