/*
 * boot_timer.c - a benchmark aid in the spirit of Firecracker's boot timer:
 * the test guest's very first instruction writes port 0x440, and the VMM
 * prints the host's CLOCK_MONOTONIC time at that moment, so a benchmark can
 * measure from its own fork to the first guest instruction.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "vmm/devices.h"

static atomic_bool fired;
_Atomic long long boot_timer_main_ns, boot_timer_run_ns;

long long boot_timer_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void timer_write(void *dev, uint64_t off, const uint8_t *data,
			unsigned len)
{
	if (atomic_exchange(&fired, true))
		return;
	long long now = boot_timer_now();
	/* also where the time went: main() entered, first KVM_RUN issued */
	fprintf(stderr, "hull-vmm: boot timer: %lld main %lld run %lld\n", now,
		(long long)boot_timer_main_ns, (long long)boot_timer_run_ns);
}

static const struct vm_io_ops timer_ops = {NULL, timer_write};

int boot_timer_init(struct vm *vm, struct hull_err *err)
{
	return vm_pio_register(vm, 0x440, 4, &timer_ops, NULL, err);
}
