/*
 * fuzz_sv_qmp_event.c - one line from QEMU's QMP socket as the supervisor
 * reads it (sv_vm_qmp_event: a SHUTDOWN event, and whether its reason is
 * a reset).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "supervisor/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int ev = sv_vm_qmp_event((const char *)data, size);
	if (ev != SV_VM_EV_OTHER && ev != SV_VM_EV_SHUTDOWN &&
	    ev != SV_VM_EV_RESET)
		abort();
	return 0;
}
