/*
 * fuzz_control.c - supervisor control requests.
 */
#include <stddef.h>
#include <stdint.h>

#include "supervisor/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_req r;
	control_request_parse((const char *)data, size, &r, NULL);
	return 0;
}
