/*
 * vmmove.h - the live move of a running bhyve VM to a fresh hull-vmm on
 * the same host (vmadm migrate --live; docs/vmadm.md, docs/hull-vmm.md
 * "Live migration"), the upgrade path for the emulator's binary:
 *
 *   1. a second hull-vmm starts in a hull of its own, in the instance's
 *      cgroup (its memory limit raised to hold both copies meanwhile),
 *      with the same devices, the taps the supervisor kept (vm.h: a tap
 *      is single-queue, so the same open tap is handed in) and its
 *      sockets in run/vm/move/, waiting on one end of a socket pair
 *      (--incoming fd=N);
 *   2. the other end goes to the running hull-vmm's control socket with
 *      "migrate" (SCM_RIGHTS): pre-copy, pause, hand-over;
 *   3. its answer comes on that connection, read from the loop (the
 *      console is served meanwhile). Moved: the new hull-vmm's console
 *      is connected and its sockets renamed over the old ones in run/vm/,
 *      and done() gets them; the old one ends with status 4. Not moved:
 *      the new one is killed, the old one runs on, done() says why.
 *
 * The supervisor routes every reaped child through sv_vmmove_reaped
 * first: the new emulator's end, and the old one's while the answer is
 * pending (its status 4, or a death that failed the move), are the
 * move's. The cgroup's limit goes back once only one emulator is left.
 */
#ifndef HULL_SUPERVISOR_VMMOVE_H
#define HULL_SUPERVISOR_VMMOVE_H
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "lib/err.h"
#include "supervisor/vm.h"

#define SV_VMMOVE_SUBDIR "move"

struct sv_vmmove_opts {
	int downtime_ms; /* 0: hull-vmm's default (300) */
	bool auto_converge;
	int bandwidth_mib; /* MiB/s; 0: no cap */
};

struct sv_vmmove_result {
	bool moved;
	pid_t pid;	/* moved: the new emulator */
	int console_fd; /* moved: its COM1, connected (owned by the callee) */
	json_t *answer; /* hull-vmm's answer (borrowed for the call) */
	const char *error; /* not moved: why */
	bool old_ended;	   /* not moved, and the old emulator is gone too */
	int old_status;	   /* then its wait status */
};

/* Starts a move of vm's running hull-vmm (proc->pid). done(data, res)
 * comes later, from the loop, exactly once. Refused (one line in err,
 * nothing started) for QEMU, without a running emulator, or while a
 * move is under way. */
int sv_vmmove_start(struct sv_vm *vm, const struct sv_vmmove_opts *o,
		    void (*done)(void *data, struct sv_vmmove_result *res),
		    void *data, struct hull_err *err);

/* A reaped child: true when it was the move's (see above). */
bool sv_vmmove_reaped(struct sv_vm *vm, pid_t pid, int status);

/* The old emulator (pid old) ended with status 4, a hand-over, with no
 * move known: its supervisor died during a move, and we are its
 * successor. The new hull-vmm is found in the instance's cgroup and
 * taken over as done() would have (res, as for done(); 0), or -ENOENT
 * when there is none. */
int sv_vmmove_recover(struct sv_vm *vm, pid_t old,
		      struct sv_vmmove_result *res);

/* The instance goes down: forgets any move (its processes die with the
 * cgroup), calling nothing. */
void sv_vmmove_cancel(struct sv_vm *vm);

#endif
