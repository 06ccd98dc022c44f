/*
 * fuzz_qmp.c - one line from QEMU's QMP socket (hvm_qmp_reply_parse):
 * QEMU runs guest-driven code, so its answers are untrusted.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hvm/qmp.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hull_err err;
	json_t *v = NULL;
	int kind = hvm_qmp_reply_parse((const char *)data, size, &v, &err);
	if ((kind == HVM_QMP_EVENT && !json_is_string(v)) ||
	    (kind != HVM_QMP_RETURN && kind != HVM_QMP_EVENT && v))
		abort();
	json_decref(v);
	return 0;
}
