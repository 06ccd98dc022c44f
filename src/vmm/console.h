/*
 * console.h - connects a UART to where its bytes go: the VMM's stdio, a
 * pty, or a listening unix socket (one client at a time). Input is read on
 * the I/O thread and queued into the UART.
 */
#ifndef HULL_VMM_CONSOLE_H
#define HULL_VMM_CONSOLE_H

#include "lib/err.h"
#include "vmm/config.h"
#include "vmm/devices.h"

struct console;

/* kind/path as in the config; the descriptors it opens are reported by
 * console_fds for the confinement step. */
struct console *console_open(struct serial *ser, enum vmm_console_kind kind,
			     const char *path, struct hull_err *err);
/* Starts watching input on the I/O thread. */
int console_start(struct console *c, struct hull_err *err);
unsigned console_fds(struct console *c, int *out, unsigned max);
void console_close(struct console *c);

#endif
