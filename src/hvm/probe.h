/*
 * probe.h - does this host's /dev/kvm run full guests? The kvm brand uses
 * KVM when it does and QEMU's TCG when it does not; the bhyve brand needs
 * it. /dev/kvm can exist and speak the API while running only small
 * guests (a paravirtual nested mode, as on the machine hull is built on:
 * DESIGN.md), so the API alone is not enough: the CPU must also show
 * hardware virtualization (vmx or svm) in /proc/cpuinfo.
 */
#ifndef HULL_HVM_PROBE_H
#define HULL_HVM_PROBE_H

#include <stdbool.h>
#include <stddef.h>

/* Pure: does a /proc/cpuinfo text list vmx or svm among its flags? */
bool hvm_cpuinfo_has_virt(const char *text, size_t len);

/* /dev/kvm speaks the API and the CPU has vmx or svm. */
bool hvm_kvm_full(void);

#endif
