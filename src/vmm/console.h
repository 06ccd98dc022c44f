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
struct virtio_dev;

/* kind/path as in the config; the descriptors it opens are reported by
 * console_fds for the confinement step. */
struct console *console_open(struct serial *ser, enum vmm_console_kind kind,
			     const char *path, struct hull_err *err);
/* Starts watching input on the I/O thread. */
int console_start(struct console *c, struct hull_err *err);
/* Writes bytes where the console's output goes now (virtio-console). */
void console_output(struct console *c, const uint8_t *buf, size_t len);
/* Routes input to a virtio console once its driver is ready. */
void console_set_virtio(struct console *c, struct virtio_dev *v);
unsigned console_fds(struct console *c, int *out, unsigned max);
void console_close(struct console *c);

#endif
