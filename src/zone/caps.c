/*
 * caps.c - the capability bounding set of a zone.
 *
 * Dropped: what changes the host beyond the zone's namespaces (modules,
 * raw I/O, clocks, audit, MAC policy, kernel log, swap, bpf, perf) and
 * what would defeat the runtime's own defences: CAP_SYS_PTRACE (with it a
 * zone could read a joining zlogin's /proc/<pid>/ files before it drops
 * to the zone's binary), CAP_MKNOD (only the nodes hull makes in /dev).
 * CAP_SYS_ADMIN goes too unless the record asks for it (see
 * zone_config.sys_admin): without user namespaces it would let a zone
 * root mount a fresh procfs without the masks.
 *
 * limit_priv (privs.h) moves capabilities across that line: sys_time
 * keeps CAP_SYS_TIME (the clock is the host's, as a SmartOS zone given
 * sys_time sets the system's), "-net_rawaccess" drops CAP_NET_RAW.
 */
#include "zone/caps.h"

#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>

static const cap_value_t dropped[] = {
    CAP_SYS_MODULE,
    CAP_SYS_RAWIO,
    CAP_SYS_TIME,
    CAP_SYS_PTRACE,
    CAP_SYS_PACCT,
    CAP_MKNOD,
    CAP_AUDIT_CONTROL,
    CAP_AUDIT_READ,
    CAP_MAC_ADMIN,
    CAP_MAC_OVERRIDE,
    CAP_SYSLOG,
    CAP_WAKE_ALARM,
    CAP_BLOCK_SUSPEND,
    CAP_LINUX_IMMUTABLE,
#ifdef CAP_BPF
    CAP_BPF,
#endif
#ifdef CAP_PERFMON
    CAP_PERFMON,
#endif
#ifdef CAP_CHECKPOINT_RESTORE
    CAP_CHECKPOINT_RESTORE,
#endif
};

static bool dropped_by_default(int cap, bool sys_admin)
{
	if (cap == CAP_SYS_ADMIN)
		return !sys_admin;
	for (size_t i = 0; i < sizeof(dropped) / sizeof(*dropped); i++)
		if (dropped[i] == cap)
			return true;
	return false;
}

bool zone_caps_dropped(int cap, bool sys_admin, const struct zone_privs *privs)
{
	uint64_t bit = cap >= 0 && cap < 64 ? 1ULL << cap : 0;
	if (privs && (privs->drop & bit))
		return true;
	/* limit_priv never adds CAP_SYS_ADMIN (privs.h). */
	if (privs && (privs->add & bit) && cap != CAP_SYS_ADMIN)
		return false;
	return dropped_by_default(cap, sys_admin);
}

int zone_caps_drop_all(void)
{
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	cap_t none = cap_init();
	if (!none)
		return -ENOMEM;
	int r = cap_set_proc(none) < 0 ? -errno : 0;
	cap_free(none);
	return r;
}

int zone_caps_drop(bool sys_admin, const struct zone_privs *privs,
		   struct hull_err *err)
{
	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		if (!zone_caps_dropped(c, sys_admin, privs))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return hull_err_sys(err, errno, "drop capability %d",
					    c);
	}
	/* Capabilities the kernel knows but libcap does not: drop too. */
	for (int c = CAP_LAST_CAP + 1; c < 64; c++)
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return hull_err_sys(err, errno, "clear ambient capabilities");
	/* Inheritable is ANDed with the bounding set at exec only for file
	 * caps; clear it so nothing dropped survives through it. */
	cap_t c = cap_get_proc();
	if (!c)
		return hull_err_sys(err, errno, "cap_get_proc");
	int r = 0;
	for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++)
		if (zone_caps_dropped(v, sys_admin, privs))
			cap_set_flag(c, CAP_INHERITABLE, 1, &v, CAP_CLEAR);
	if (cap_set_proc(c) < 0)
		r = hull_err_sys(err, errno, "cap_set_proc");
	cap_free(c);
	return r;
}
