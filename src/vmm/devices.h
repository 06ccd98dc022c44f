/*
 * devices.h - the legacy PC devices every hull-vmm guest gets: two 8250
 * UARTs, the i8042 (for reset), the CMOS RTC and the power-management ports.
 */
#ifndef HULL_VMM_DEVICES_H
#define HULL_VMM_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "vmm/vm.h"

struct serial;
struct i8042;
struct rtc;

/*
 * Device state for memory snapshots (snapshot.c), each in a fixed
 * little-endian layout (docs/hull-vmm.md): X_save writes it into buf (at
 * most max bytes) and returns its length (0: buf too small); X_load puts
 * it back, returning 0 or -EINVAL when the length or a value is wrong.
 * Both take the device's lock; interrupt lines follow the loaded state.
 */
#define DEVICE_STATE_MAX 8192
size_t serial_save(struct serial *s, uint8_t *buf, size_t max);
int serial_load(struct serial *s, const uint8_t *buf, size_t len);
size_t i8042_save(struct i8042 *k, uint8_t *buf, size_t max);
int i8042_load(struct i8042 *k, const uint8_t *buf, size_t len);
size_t rtc_save(struct rtc *r, uint8_t *buf, size_t max);
int rtc_load(struct rtc *r, const uint8_t *buf, size_t len);
size_t pm_save(struct pm *pm, uint8_t *buf, size_t max);
int pm_load(struct pm *pm, const uint8_t *buf, size_t len);

/* A UART at base (0x3f8 COM1, 0x2f8 COM2) on ISA irq. Output goes to out_fd
 * (-1: discarded); input is fed with serial_input from the I/O thread. */
struct serial *serial_new(struct vm *vm, uint16_t base, unsigned irq,
			  struct hull_err *err);
void serial_set_output(struct serial *s, int out_fd);
/* Keeps the last max bytes written while there is no output (a console
 * socket nobody is connected to) and hands them to the next output set,
 * so a client that connects late (the supervisor's console log) still
 * gets the boot messages. Set-up time only (it allocates). */
void serial_keep_backlog(struct serial *s, size_t max);
/* Queues bytes the guest will read; returns how many fitted. When not all
 * did, serial_room_fd() becomes readable once the guest has read its
 * receive ring down to half: the caller keeps the rest and stops reading
 * its source until then (back-pressure, what RTS/CTS does on a cable). */
size_t serial_input(struct serial *s, const uint8_t *buf, size_t len);
/* An eventfd that says "room again" (read it to reset it), or -1. */
int serial_room_fd(const struct serial *s);
/* Writes out a partial line now (before the VM ends). */
void serial_flush(struct serial *s);
/* Its descriptors (flush timer, room eventfd), for the confinement step. */
unsigned serial_fds(const struct serial *s, int *out, unsigned max);
void serial_free(struct serial *s);

struct i8042 *i8042_new(struct vm *vm, struct hull_err *err);
/* Queues the Ctrl-Alt-Del key sequence (control socket "shutdown"). */
void i8042_ctrl_alt_del(struct i8042 *k);
int rtc_init(struct vm *vm, struct hull_err *err);
int pm_init(struct vm *vm, struct hull_err *err);
/* Presses the ACPI power button: PWRBTN_STS is set and, once the guest
 * enabled it, the SCI is raised until the guest clears the status. */
void pm_power_button(struct pm *pm);
/* Port 0x440: the first write prints the CLOCK_MONOTONIC time in ns on
 * stderr ("hull-vmm: boot timer: NS main NS run NS": also when main()
 * started and when vCPU 0 first entered KVM_RUN), for the start-up
 * benchmark. */
int boot_timer_init(struct vm *vm, struct hull_err *err);
long long boot_timer_now(void);
extern _Atomic long long boot_timer_main_ns, boot_timer_run_ns;

#endif
