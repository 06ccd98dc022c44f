/*
 * zone_probe - a tiny static program the zone tests copy into a zone: it
 * makes one syscall a zone must not be allowed and prints the errno name
 * ("OK" when it succeeded), so a test can assert on the filter's answer.
 * "euid" prints the effective uid it runs as (for set-user-ID tests).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/reboot.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A btrfs subvolume named "sub" (or a snapshot of "/" named "snap") made
 * in "/" by the ioctl req; high: with bits above the 32 the kernel reads
 * set in the register, which a filter must not be fooled by. */
static long btrfs_make(unsigned long req, int high)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct btrfs_ioctl_vol_args v1;
	struct btrfs_ioctl_vol_args_v2 v2;
	memset(&v1, 0, sizeof(v1));
	memset(&v2, 0, sizeof(v2));
	int snap =
	    req == BTRFS_IOC_SNAP_CREATE || req == BTRFS_IOC_SNAP_CREATE_V2;
	v1.fd = v2.fd = fd;
	strcpy(v1.name, snap ? "snap" : "sub");
	strcpy(v2.name, snap ? "snap" : "sub");
	int v2req = req == BTRFS_IOC_SUBVOL_CREATE_V2 ||
		    req == BTRFS_IOC_SNAP_CREATE_V2;
	long r = syscall(SYS_ioctl, fd, req | (high ? 1ul << 32 : 0),
			 v2req ? (void *)&v2 : (void *)&v1);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static long probe(const char *name)
{
	if (!strcmp(name, "btrfs_subvol_create"))
		return btrfs_make(BTRFS_IOC_SUBVOL_CREATE, 0);
	if (!strcmp(name, "btrfs_subvol_create_high"))
		return btrfs_make(BTRFS_IOC_SUBVOL_CREATE, 1);
	if (!strcmp(name, "btrfs_subvol_create_v2"))
		return btrfs_make(BTRFS_IOC_SUBVOL_CREATE_V2, 0);
	if (!strcmp(name, "btrfs_snap_create"))
		return btrfs_make(BTRFS_IOC_SNAP_CREATE, 0);
	if (!strcmp(name, "btrfs_snap_create_v2"))
		return btrfs_make(BTRFS_IOC_SNAP_CREATE_V2, 0);
	if (!strcmp(name, "btrfs_qgroup_limit")) {
		struct btrfs_ioctl_qgroup_limit_args a;
		memset(&a, 0, sizeof(a));
		a.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
		a.lim.max_rfer = (unsigned long long)-1;
		int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		long r = ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &a);
		close(fd);
		return r;
	}
	if (!strcmp(name, "keyctl"))
		return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3,
			       0);
	if (!strcmp(name, "add_key"))
		return syscall(SYS_add_key, "user", "hull", "x", 1, -3);
	if (!strcmp(name, "kexec_load"))
		return syscall(SYS_kexec_load, 0, 0, NULL, 0);
	if (!strcmp(name, "kexec_file_load"))
		return syscall(SYS_kexec_file_load, -1, -1, 0, "", 0);
	if (!strcmp(name, "init_module"))
		return syscall(SYS_init_module, NULL, 0, "");
	if (!strcmp(name, "finit_module"))
		return syscall(SYS_finit_module, -1, "", 0);
	if (!strcmp(name, "delete_module"))
		return syscall(SYS_delete_module, "hull_nonexistent", 0);
	if (!strcmp(name, "bpf"))
		return syscall(SYS_bpf, 0, NULL, 0);
	if (!strcmp(name, "perf_event_open"))
		return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
	if (!strcmp(name, "open_by_handle_at"))
		return syscall(SYS_open_by_handle_at, -1, NULL, 0);
	if (!strcmp(name, "unshare_user"))
		return unshare(CLONE_NEWUSER);
	if (!strcmp(name, "clone3"))
		return syscall(SYS_clone3, NULL, 0);
	if (!strcmp(name, "reboot_kexec"))
		return syscall(SYS_reboot, LINUX_REBOOT_MAGIC1,
			       LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC,
			       NULL);
	if (!strcmp(name, "swapon"))
		return syscall(SYS_swapon, "/nonexistent", 0);
	if (!strcmp(name, "mknod_block"))
		return syscall(SYS_mknod, "/tmp/probe-sda", 060600, 0x800);
	if (!strcmp(name, "getpid"))
		return syscall(SYS_getpid) > 0 ? 0 : -1;
	errno = EINVAL;
	return -1;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "euid")) {
			printf("euid %u\n", (unsigned)geteuid());
			continue;
		}
		long r = probe(argv[i]);
		printf("%s %s\n", argv[i],
		       r >= 0 ? "OK" : strerrorname_np(errno));
	}
	return 0;
}
