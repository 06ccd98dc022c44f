/*
 * control.h - the control socket: a unix stream socket speaking JSON lines.
 * Each request is one object {"command": "status"|"pause"|"resume"|
 * "shutdown"|"powerdown"|"nmi"|"snapshot"|"stop"}; each answer one object
 * {"ok": true,
 * ...} or
 * {"ok": false, "error": "..."} (docs/hull-vmm.md).
 */
#ifndef HULL_VMM_CONTROL_H
#define HULL_VMM_CONTROL_H

#include <stddef.h>

#include "lib/err.h"
#include "vmm/vm.h"

struct control;

struct control *control_open(struct vm *vm, const char *path,
			     struct hull_err *err);
unsigned control_fds(struct control *c, int *out, unsigned max);
void control_close(struct control *c);

/* Executes one request line; returns the answer line (caller frees, no
 * newline). Pure apart from the VM actions it asks for. */
char *control_handle(struct vm *vm, const char *line, size_t len);
/* The same with a descriptor that came with the request (SCM_RIGHTS),
 * or -1; borrowed ("snapshot" writes the state file to it). */
char *control_handle_fd(struct vm *vm, const char *line, size_t len, int fd);

#endif
