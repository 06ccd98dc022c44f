/*
 * seccomp.h - the syscall filter of every zone process (init and zlogin).
 *
 * A deny list that answers EPERM: loading kernel modules, kexec, reboot
 * commands other than those a pid namespace turns into "kill my init",
 * keyctl and friends (the keyring is not namespaced), bpf, perf_event_open,
 * open_by_handle_at (the "shocker" escape), swap, accounting, clock
 * setting, I/O ports, userfaultfd, new user namespaces (unshare/clone with
 * CLONE_NEWUSER; clone3 answers ENOSYS so libc falls back to clone, whose
 * flags a filter can see), and the btrfs ioctls that make or destroy
 * subvolumes and snapshots or touch quotas (below). For the lx brand
 * uname(2) goes to the supervisor through a user-notification listener.
 *
 * Why btrfs: a zone's quota is a limit on its dataset's qgroup, and a
 * subvolume made inside the dataset (BTRFS_IOC_SUBVOL_CREATE needs only
 * write access to a directory) gets a qgroup of its own, unlimited, so a
 * zone could write past its quota without end. Only the creator can name
 * a qgroup for the new subvolume to join (qgroup_inherit), so the only
 * bound that holds is to refuse making one. Destroying one is refused
 * with it (a zone has none of its own to destroy), and the quota and
 * qgroup ioctls (which want CAP_SYS_ADMIN, which a hull:sys_admin zone
 * has) so that no zone lifts its own limit.
 */
#ifndef HULL_ZONE_SECCOMP_H
#define HULL_ZONE_SECCOMP_H
#include <linux/filter.h>
#include <stdbool.h>
#include "lib/err.h"
/* Loads the filter into the calling thread. With notify_uname, returns the
 * listener descriptor (>= 0, close-on-exec) the caller must pass to the
 * supervisor, else 0; notify_sethostname sends sethostname(2) there too
 * (for zones that lack CAP_SYS_ADMIN over their uts namespace). */
int zone_seccomp_load(bool notify_uname, bool notify_sethostname,
		      struct hull_err *err);
/* The btrfs part alone as a classic BPF program (everything else
 * allowed), for a process that loads it between fork and exec with
 * seccomp(SECCOMP_SET_MODE_FILTER) once it has no_new_privs: a VM's
 * emulator, whose run directory on the pool it may write. The caller
 * frees prog->filter. */
int zone_seccomp_btrfs_prog(struct sock_fprog *prog, struct hull_err *err);
#endif
