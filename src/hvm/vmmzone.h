/*
 * vmmzone.h - the double hull: a VM's emulator (hull-vmm or QEMU) run
 * inside a zone made for it, so that a guest that breaks out of the
 * emulator lands in a process that sees almost nothing of the host.
 *
 * The emulator gets
 *   - new pid, mount, ipc and uts namespaces and an empty network namespace
 *     (its taps are handed in already open, as descriptors);
 *   - a root that is a private tmpfs (read-only once built) holding only:
 *     the program, its ELF interpreter and shared libraries (ldlist.h),
 *     the files it reads (kernel, initrd), its disks, its run directory
 *     (sockets), /dev/null, /dev/urandom, /dev/kvm (and /dev/net/tun when
 *     asked), and a /proc of its own pid namespace. Each is bind-mounted at
 *     the same path it has on the host, so the emulator's argv is unchanged;
 *     files read-only, nosuid, nodev (but the device nodes), noexec (but the
 *     program and its libraries);
 *   - the cgroup cg (limits: memory ram + overhead, cpu_cap);
 *   - no capabilities at all (bounding, permitted, effective, inheritable,
 *     ambient), and no_new_privs;
 *   - when uid is not 0: that uid and gid (real, effective, saved; no
 *     supplementary groups), set after the capability bounding set is
 *     emptied and before the exec. The hull then hands the emulator what
 *     it must open: its own files (own) and the run directory with the
 *     entries already in it are chowned to uid:gid (never through a
 *     symbolic link; a regular file with other hard links is refused); the
 *     device nodes it needs that are not for everyone (/dev/kvm, a disk
 *     that is a device node) are made anew, owned by uid:gid, mode 0600, in
 *     a tmpfs of the hull's own at /dev (nosuid, noexec, not nodev), the
 *     host's nodes untouched;
 *   - only stdio and the descriptors in keep_fds.
 * hull-vmm then confines itself further (its own seccomp allow-list).
 *
 * The emulator is pid 1 of its namespace: when it ends, anything it left
 * ends too. It must handle SIGTERM itself (hull-vmm and QEMU do): the
 * kernel does not deliver unhandled signals to a namespace's init.
 */
#ifndef HULL_HVM_VMMZONE_H
#define HULL_HVM_VMMZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"
#include "zone/cgroup.h"

#define HVM_HULL_PATHS_MAX 32
/* What hull-vmm dlopen()s during set-up (kernel payloads, initrds): the
 * bhyve brand passes it in dlopen_libs. */
#define HVM_HULL_VMM_DLOPEN "libarchive.so.13"

/* Memory the emulator may use beyond the guest's RAM: its own code, page
 * tables, virtqueue buffers, QEMU's heap. 64 MiB + 1/16 of RAM, at most
 * 1 GiB. */
int64_t hvm_hull_overhead_mib(int64_t ram_mib);

struct hvm_hull_path {
	const char *path; /* absolute host path, bound at the same path */
	bool rw;
	bool own; /* the instance's own file: handed to uid (see above) */
};

struct hvm_hull {
	const char *uuid;  /* the hostname inside */
	char *const *argv; /* argv[0]: the emulator, an absolute path */
	char *const *envp;
	const char *root;    /* an empty host directory: the tmpfs goes there,
				in the hull's mount namespace only */
	const char *run_dir; /* sockets: bound read-write */
	struct hvm_hull_path files[HVM_HULL_PATHS_MAX]; /* disks, kernel, ... */
	size_t nfiles;
	const char *const *dlopen_libs; /* sonames the program dlopen()s */
	size_t ndlopen;
	const int *keep_fds; /* kept open at the same numbers (taps) */
	size_t nkeep_fds;
	bool tun;	 /* also /dev/net/tun */
	int64_t ram_mib; /* > 0: memory.max = ram + overhead */
	int64_t cpu_cap; /* percent of a CPU; 0: none */
	uid_t uid;	 /* the emulator's uid and gid; 0: stays root */
	gid_t gid;
};

/* Creates cg (if needed) and writes the hull's limits (memory ram +
 * overhead, cpu_cap, pids) and device rules; hvm_hull_start does it too.
 * The supervisor calls it first for the boot loader, which runs in a leaf
 * of cg (loader.h) under the same limits. */
int hvm_hull_cgroup_setup(const struct hvm_hull *h, struct zone_cgroup *cg,
			  struct hull_err *err);

/*
 * Starts the emulator in its hull and returns its pid (as the host sees
 * it; our child) once it has been exec'd, or an error with nothing left
 * running. cg is created (if needed), limited and joined; the caller
 * reaps the pid and destroys cg afterwards.
 */
int hvm_hull_start(const struct hvm_hull *h, struct zone_cgroup *cg, pid_t *pid,
		   struct hull_err *err);

#endif
