/*
 * mask.c - masked and read-only paths in a zone's /proc and /sys.
 *
 * The list follows what the kernel exposes without namespacing: a zone
 * must not read host memory (kcore), kernel pointers and timers
 * (kallsyms, timer_list, sched_debug), keys, or poke the host (sysrq-trigger,
 * /proc/sys outside net). Missing paths are fine: kernels differ.
 */
#include "zone/mask.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const masked_files[] = {
    "/proc/kcore",	   "/proc/keys",	"/proc/key-users",
    "/proc/timer_list",	   "/proc/sched_debug", "/proc/latency_stats",
    "/proc/sysrq-trigger", "/proc/kallsyms",	"/proc/kmsg",
    "/proc/kpagecount",	   "/proc/kpageflags",	"/proc/kpagecgroup",
    "/proc/config.gz",	   "/proc/vmallocinfo",
};

static const char *const masked_dirs[] = {
    "/proc/acpi",	   "/proc/scsi",
    "/proc/driver",	   "/proc/fs/nfsd",
    "/sys/firmware",	   "/sys/kernel/debug",
    "/sys/kernel/tracing", "/sys/kernel/security",
    "/sys/fs/bpf",	   "/sys/devices/virtual/powercap",
};

static const char *const readonly[] = {
    "/proc/sys",
    "/proc/irq",
    "/proc/bus",
    "/proc/fs",
};

static int bind_ro(const char *path, bool ro, struct hull_err *err)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return errno == ENOENT
			   ? 0
			   : hull_err_sys(err, errno, "bind %s", path);
	unsigned long f =
	    MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (mount(NULL, path, NULL, f | (ro ? MS_RDONLY : 0), NULL) < 0)
		return hull_err_sys(err, errno, "remount %s", path);
	return 0;
}

int zone_mask_apply(struct hull_err *err)
{
	int r;
	for (size_t i = 0; i < sizeof(readonly) / sizeof(*readonly); i++)
		if ((r = bind_ro(readonly[i], true, err)) < 0)
			return r;
	/* The zone's own network stack stays tunable. */
	if ((r = bind_ro("/proc/sys/net", false, err)) < 0)
		return r;
	for (size_t i = 0; i < sizeof(masked_files) / sizeof(*masked_files);
	     i++) {
		struct stat st;
		if (stat(masked_files[i], &st) < 0 || S_ISDIR(st.st_mode))
			continue;
		if (mount("/dev/null", masked_files[i], NULL, MS_BIND, NULL) <
		    0)
			return hull_err_sys(err, errno, "mask %s",
					    masked_files[i]);
	}
	for (size_t i = 0; i < sizeof(masked_dirs) / sizeof(*masked_dirs);
	     i++) {
		struct stat st;
		if (stat(masked_dirs[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (mount("tmpfs", masked_dirs[i], "tmpfs",
			  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=0,mode=555") < 0)
			return hull_err_sys(err, errno, "mask %s",
					    masked_dirs[i]);
	}
	return 0;
}
