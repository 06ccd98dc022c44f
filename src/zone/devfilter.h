/*
 * devfilter.h - the zone's device whitelist on a cgroup v2 host.
 *
 * v1 has the devices controller (devices.allow/deny); v2 has none, and
 * filters device access with a BPF program of type CGROUP_DEVICE attached
 * to the cgroup. The same whitelist ("c 1:3 rwm", "c 136:* rwm", ... as v1
 * writes it) becomes a program that allows what it lists and refuses the
 * rest. It is attached to the zone's limits level, which the zone cannot
 * reach (and its seccomp filter refuses bpf(2)), with BPF_F_ALLOW_MULTI so
 * that a filter the host put higher up keeps applying too. A VM's double
 * hull gets the zone's whitelist plus /dev/kvm and its disks that are
 * device nodes (at most 32), hence room for 64 rules.
 */
#ifndef HULL_ZONE_DEVFILTER_H
#define HULL_ZONE_DEVFILTER_H
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

#include "lib/err.h"

/* Room for the program of up to this many rules. */
#define ZONE_DEVFILTER_MAX_RULES 64
#define ZONE_DEVFILTER_MAX_INSNS (8 + 7 * ZONE_DEVFILTER_MAX_RULES)

/* Builds the program for rules (v1 whitelist lines: TYPE MAJOR:MINOR ACCESS,
 * TYPE c or b, MAJOR and MINOR a number or *, ACCESS of r, w, m) into insns
 * (room for ZONE_DEVFILTER_MAX_INSNS); returns the instruction count, or
 * -EINVAL for a line it cannot read. Pure: no I/O. */
int zone_devfilter_build(const char *const *rules, size_t n,
			 struct bpf_insn *insns, struct hull_err *err);
/* Loads the program for rules and attaches it to the cgroup folder dir. */
int zone_devfilter_attach(const char *dir, const char *const *rules, size_t n,
			  struct hull_err *err);
#endif
