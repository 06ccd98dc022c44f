/*
 * fuzz_qemu_cmdline.c - QEMU's /proc/PID/cmdline as the kvm brand's live
 * migration reads it (hvm/qemumig.h): parsed, its taps found, the
 * target's argv made. QEMU runs guest-driven code, so its memory is
 * untrusted.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hvm/qemumig.h"
#include "lib/strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hull_err err;
	char **argv = hvm_qemu_cmdline_parse((const char *)data, size, &err);
	if (!argv)
		return 0;
	int taps[HVM_QEMU_MIG_TAPS_MAX];
	int n = hvm_qemu_argv_taps(argv, taps, HVM_QEMU_MIG_TAPS_MAX, &err);
	if (n >= 0) {
		char **t = hvm_qemu_migrate_argv(argv, "/r/run/vm", taps,
						 (size_t)n, &err);
		if (!t)
			abort(); /* the taps it found are the taps it renames */
		hull_strv_free(t);
	}
	hull_strv_free(argv);
	return 0;
}
