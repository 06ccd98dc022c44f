/*
 * seccomp.c - the zone's syscall deny list (libseccomp).
 *
 * A deny list, not an allow list: zones run whole distributions whose
 * syscall needs are open-ended, so the filter names what reaches outside
 * the zone's namespaces. Denied calls fail with EPERM, as Docker's and
 * LXC's profiles do, so software that probes (systemd) degrades gracefully.
 */
#include "zone/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/reboot.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/xalloc.h"

static const char *const denied[] = {
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "kexec_load",
    "kexec_file_load",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "open_by_handle_at",
    "name_to_handle_at",
    "swapon",
    "swapoff",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "stime",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "userfaultfd",
    "quotactl",
    "nfsservctl",
    "get_kernel_syms",
    "query_module",
    "uselib",
    "vm86",
    "vm86old",
    "pciconfig_read",
    "pciconfig_write",
    "syslog",
};

/* What makes or destroys a subvolume or a snapshot, and what sets quotas
 * (seccomp.h says why). FICLONE and friends share the btrfs ioctl type
 * and stay allowed: cp --reflink uses them, and a clone is charged to the
 * qgroup it lands in. */
static const unsigned long btrfs_denied[] = {
    BTRFS_IOC_SUBVOL_CREATE, BTRFS_IOC_SUBVOL_CREATE_V2,
    BTRFS_IOC_SNAP_CREATE,   BTRFS_IOC_SNAP_CREATE_V2,
    BTRFS_IOC_SNAP_DESTROY,  BTRFS_IOC_SNAP_DESTROY_V2,
    BTRFS_IOC_QUOTA_CTL,     BTRFS_IOC_QGROUP_ASSIGN,
    BTRFS_IOC_QGROUP_CREATE, BTRFS_IOC_QGROUP_LIMIT,
    BTRFS_IOC_QUOTA_RESCAN,  BTRFS_IOC_DEFAULT_SUBVOL,
};

static int deny_btrfs(scmp_filter_ctx ctx)
{
	/* The kernel reads the request as an unsigned int: compare the low
	 * 32 bits only, so that high bits set in the register do not slip
	 * past the filter. */
	for (size_t i = 0; i < sizeof(btrfs_denied) / sizeof(*btrfs_denied);
	     i++) {
		int r = seccomp_rule_add(
		    ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, btrfs_denied[i]));
		if (r < 0)
			return r;
	}
	return 0;
}

int zone_seccomp_btrfs_prog(struct sock_fprog *prog, struct hull_err *err)
{
	prog->filter = NULL;
	prog->len = 0;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return hull_err_set(err, ENOMEM, "seccomp_init");
	int fd = -1, r = deny_btrfs(ctx);
	if (r < 0)
		goto fail;
	/* libseccomp 2.5 exports to a descriptor only */
	fd = memfd_create("hull-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = seccomp_export_bpf(ctx, fd)) < 0)
		goto fail;
	off_t len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || len % sizeof(struct sock_filter) ||
	    len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		r = -EINVAL;
		goto fail;
	}
	prog->filter = xmalloc((size_t)len);
	if (pread(fd, prog->filter, (size_t)len, 0) != len) {
		r = -EIO;
		free(prog->filter);
		prog->filter = NULL;
		goto fail;
	}
	prog->len = (unsigned short)(len / sizeof(struct sock_filter));
	close(fd);
	seccomp_release(ctx);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return hull_err_sys(err, -r, "seccomp filter");
}

int zone_seccomp_load(bool notify_uname, bool notify_sethostname,
		      struct hull_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return hull_err_set(err, ENOMEM, "seccomp_init");
	int r = 0;
	/* Filters built here run in the zone's processes only; the
	 * supervisor's own syscalls are not filtered. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (size_t i = 0; i < sizeof(denied) / sizeof(*denied); i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) <
		    0)
			goto fail;
	}
	if ((r = deny_btrfs(ctx)) < 0)
		goto fail;
	/* reboot(2) in a pid namespace only ends that namespace (restart,
	 * halt, power off, ctrl-alt-del); anything else (kexec, suspend) is
	 * refused. */
	if ((r = seccomp_rule_add(
		 ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(reboot), 1,
		 SCMP_A2(SCMP_CMP_EQ, LINUX_REBOOT_CMD_KEXEC))) < 0 ||
	    (r = seccomp_rule_add(
		 ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(reboot), 1,
		 SCMP_A2(SCMP_CMP_EQ, LINUX_REBOOT_CMD_SW_SUSPEND))) < 0)
		goto fail;
	/* No new user namespaces: unshare and clone show their flags;
	 * clone3 hides them behind a pointer, so it answers ENOSYS and libc
	 * falls back to clone. */
	if ((r = seccomp_rule_add(
		 ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
		 SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))) <
		0 ||
	    (r = seccomp_rule_add(
		 ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
		 SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))) <
		0 ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
				  0)) < 0)
		goto fail;
	/* lx: uname answers with the LX identity, and sethostname (which
	 * needs the CAP_SYS_ADMIN a zone lacks) is done by the supervisor. */
	if (notify_uname &&
	    ((r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(uname), 0)) <
		 0 ||
	     (notify_sethostname &&
	      (r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(sethostname),
				    0)) < 0)))
		goto fail;
	if ((r = seccomp_load(ctx)) < 0)
		goto fail;
	if (notify_uname) {
		int fd = seccomp_notify_fd(ctx);
		if (fd < 0) {
			r = fd;
			goto fail;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		seccomp_release(ctx);
		return fd;
	}
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	return hull_err_sys(err, -r, "seccomp filter");
}
