/*
 * loader.h - the boot loader's sandbox. The guest writes its own disk, so
 * the firmware-less boot loader (bootdisk.h: libext2fs and the bootcfg.h
 * parsers) never reads it as root: it runs in a child of its own, as
 * vmd's privilege-separated processes do.
 *
 * The child's privilege budget, all of it:
 *   - descriptors: the boot disk, opened read-only by the parent; two
 *     empty files to write the kernel and initrd copies into (created by
 *     the parent, O_EXCL and O_NOFOLLOW, in the run folder); one end of a
 *     socket pair for its one result message. Nothing else is open.
 *   - ids: the instance's uid and gid (its hull_userns range's first ids;
 *     65534 for an instance without a range), no supplementary groups,
 *     inside a user namespace of its own (in which it holds no
 *     capability after set-up), with mount and network namespaces of
 *     their own; no_new_privs; killed with its parent.
 *   - system calls: a seccomp allow-list of what reading a disk through
 *     descriptors and writing to them needs (no open, no socket, no exec,
 *     no mount, no ptrace); anything else fails with EPERM.
 *   - limits: HVM_LOADER_CPU_S of CPU, HVM_LOADER_MEM_MIB of new address
 *     space, files up to the copies' bounds, no core files; the parent
 *     kills it after HVM_LOADER_WALL_S.
 * The parent reads one size-checked JSON message back, checks every field
 * and the copies' sizes, and only then renames the copies into place.
 */
#ifndef HULL_HVM_LOADER_H
#define HULL_HVM_LOADER_H

#include <sys/types.h>

#include "hvm/bootdisk.h"
#include "lib/err.h"

#define HVM_LOADER_WALL_S 30
#define HVM_LOADER_CPU_S 20
#define HVM_LOADER_MEM_MIB 512
#define HVM_LOADER_NOBODY 65534
/* The leaf of the instance's cgroup the child runs in. */
#define HVM_LOADER_CGROUP_LEAF "loader"

struct zone_cgroup;

struct hvm_loader_cfg {
	const char *disk; /* the boot disk (a file or a block device) */
	const char *dir;  /* where kernel, initrd and .stamp go, or NULL */
	uid_t uid;	  /* the child's ids; 0: HVM_LOADER_NOBODY */
	gid_t gid;
	int wall_s; /* 0: HVM_LOADER_WALL_S */
	/* The instance's cgroup (made, with its limits), or NULL: the child
	 * joins its leaf HVM_LOADER_CGROUP_LEAF before it starts, so the
	 * VM's memory, cpu_cap and pids limits bound it too. */
	struct zone_cgroup *cg;
};

struct hvm_loader;

/* Starts the child. *out owns it until hvm_loader_finish or _cancel. */
int hvm_loader_start(const struct hvm_loader_cfg *cfg, struct hvm_loader **out,
		     struct hull_err *err);
/* A descriptor that becomes readable when the child has ended (a pidfd),
 * for an event loop. */
int hvm_loader_fd(const struct hvm_loader *l);
/* The wall-clock limit in seconds the caller enforces. */
int hvm_loader_wall_s(const struct hvm_loader *l);
/* Once the child has ended: reaps it, checks its answer, puts the copies
 * in place. Frees l. */
int hvm_loader_finish(struct hvm_loader *l, struct hvm_boot *out,
		      struct hull_err *err);
/* Kills and reaps the child, removes its half-written copies, frees l.
 * Accepts NULL. */
void hvm_loader_cancel(struct hvm_loader *l);

/* The child's resource limits, applied to the calling process: cpu_s of
 * CPU (SIGXCPU, then SIGKILL a second later), mem_mib of address space
 * beyond what it has now, files up to the copies' bounds, a few
 * descriptors, no core files, no new processes. The child applies them
 * with HVM_LOADER_CPU_S and HVM_LOADER_MEM_MIB; exposed for the unit
 * tests. */
int hvm_loader_limits_set(unsigned cpu_s, unsigned mem_mib);

/* The whole of it, waiting: start, wait up to the wall-clock limit,
 * finish (or cancel: "took longer than N s"). */
int hvm_boot_load(const struct hvm_loader_cfg *cfg, struct hvm_boot *out,
		  struct hull_err *err);

#endif
