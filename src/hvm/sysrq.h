/*
 * sysrq.h - `vmadm sysrq UUID nmi|screenshot` (SmartOS's VM.sysrq): a
 * request to a running VM's emulator, through the sockets in its run
 * directory (R/<uuid>/run/vm):
 *
 *   kvm (QEMU), over its command QMP socket (qemu.h):
 *     nmi         inject-nmi (every vCPU, as QEMU's x86 NMI does);
 *     screenshot  send-key shift (wakes a blanked screen, as SmartOS
 *                 does), then screendump to a file in the run directory,
 *                 which is then copied to where the caller wants it;
 *   bhyve (hull-vmm), over its control socket: nmi only ({"command":
 *     "nmi"}, vCPU 0); hull-vmm has no framebuffer to take a picture of.
 *
 * What the emulator leaves in the run directory is untrusted (it runs
 * guest-driven code): the screenshot is opened without following links,
 * must be a regular file of at most HVM_SYSRQ_PPM_MAX bytes, and is
 * copied, never renamed, into place.
 */
#ifndef HULL_HVM_SYSRQ_H
#define HULL_HVM_SYSRQ_H

#include <stdbool.h>

#include "lib/err.h"

enum hvm_sysrq_req {
	HVM_SYSRQ_NMI,
	HVM_SYSRQ_SCREENSHOT,
};

/* A 4096x4096 RGB picture and its header: far past any VGA mode. */
#define HVM_SYSRQ_PPM_MAX ((48u << 20) + 64u)

/* "nmi" or "screenshot": the request, else -EINVAL. */
int hvm_sysrq_parse(const char *s);

/* Sends req to the emulator whose sockets are in run_dir (kvm: QEMU,
 * else hull-vmm). For a screenshot, out_path receives the PPM image
 * (written atomically, mode 0600; its folder must exist). */
int hvm_sysrq_send(const char *run_dir, bool kvm, enum hvm_sysrq_req req,
		   const char *out_path, struct hull_err *err);

#endif
