/*
 * seccomp.c - the confinement hull-vmm applies to itself once set-up is
 * done (see confine.h for the budget): descriptors closed, capabilities
 * dropped, no_new_privs, and a seccomp allow-list synchronised to all
 * threads whose default action kills the whole process.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

#include "vmm/confine.h"

int confine_close_fds(const int *keep, unsigned n, struct hull_err *err)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return hull_err_sys(err, errno, "open /proc/self/fd");
	int dfd = dirfd(d);
	int close_list[1024];
	unsigned nclose = 0;
	struct dirent *e;
	while ((e = readdir(d)) && nclose < 1024) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd <= 2 || fd == dfd)
			continue;
		bool kept = false;
		for (unsigned i = 0; i < n; i++)
			kept |= keep[i] == fd;
		if (!kept)
			close_list[nclose++] = fd;
	}
	closedir(d);
	for (unsigned i = 0; i < nclose; i++)
		close(close_list[i]);
	return 0;
}

int confine_drop_caps(struct hull_err *err)
{
	/* The bounding set can only shrink with CAP_SETPCAP; without it there
	 * is nothing in it to fear once the sets below are empty and
	 * no_new_privs is on. */
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	cap_t caps = cap_init(); /* all clear */
	if (!caps)
		return hull_err_sys(err, errno, "cap_init");
	int r = cap_set_proc(caps);
	int e = errno;
	cap_free(caps);
	if (r < 0)
		return hull_err_sys(err, e, "drop capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return hull_err_sys(err, errno, "no_new_privs");
	return 0;
}

/* System calls allowed with any arguments. */
static const int plain[] = {
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(pread64),
    SCMP_SYS(pwrite64),
    SCMP_SYS(preadv),
    SCMP_SYS(pwritev),
    SCMP_SYS(preadv2),
    SCMP_SYS(pwritev2),
    SCMP_SYS(lseek),
    SCMP_SYS(fsync),
    SCMP_SYS(fdatasync),
    SCMP_SYS(fallocate),
    SCMP_SYS(ftruncate), /* sizing a snapshot's state file */
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(close),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(accept4),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendmsg),
    SCMP_SYS(shutdown),
    SCMP_SYS(futex),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(tgkill),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(sched_yield),
    SCMP_SYS(madvise),
    SCMP_SYS(flock), /* disks change hands in a live migration */
    SCMP_SYS(munmap),
    SCMP_SYS(brk),
    SCMP_SYS(mremap),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(getrandom),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(timerfd_settime),
    SCMP_SYS(timerfd_gettime),
};

/* The only ioctls after set-up: running vCPUs, interrupts, and wiring
 * virtio queues when the guest's driver enables them. */
static const unsigned long ioctls[] = {
    KVM_RUN,
    KVM_IRQ_LINE,
    KVM_GET_REGS,
    KVM_GET_SREGS,
    KVM_SIGNAL_MSI,
    KVM_IRQFD,
    KVM_IOEVENTFD,
    KVM_SET_GSI_ROUTING,
    TUNSETOFFLOAD,
    /* reading the state for a memory snapshot (snapshot.c) */
    KVM_GET_FPU,
    KVM_GET_XSAVE,
    KVM_GET_XCRS,
    KVM_GET_LAPIC,
    KVM_GET_VCPU_EVENTS,
    KVM_GET_MP_STATE,
    KVM_GET_DEBUGREGS,
    KVM_GET_MSRS,
    KVM_GET_MSR_INDEX_LIST,
    KVM_GET_IRQCHIP,
    KVM_GET_PIT2,
    KVM_GET_CLOCK,
    /* live migration (migrate.c): dirty page logging */
    KVM_GET_DIRTY_LOG,
    KVM_SET_USER_MEMORY_REGION,
};

/* HULL_VMM_SECCOMP_DEBUG=1: report the refused call instead of dying
 * silently (for developing the allow-list; the filter still refuses). */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[64];
	int n =
	    snprintf(msg, sizeof(msg), "hull-vmm: seccomp refused syscall %d\n",
		     si->si_syscall);
	if (write(2, msg, (size_t)n) < 0) {
		/* nothing more to do */
	}
	_exit(159);
}

int confine_seccomp(struct hull_err *err)
{
	bool debug = getenv("HULL_VMM_SECCOMP_DEBUG") != NULL;
	if (debug) {
		struct sigaction sa = {.sa_sigaction = on_sigsys,
				       .sa_flags = SA_SIGINFO};
		sigaction(SIGSYS, &sa, NULL);
	}
	scmp_filter_ctx ctx =
	    seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	int r = 0;
	if (!ctx)
		return hull_err_set(err, ENOMEM, "seccomp_init");
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]) && !r; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain[i], 0);
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]) && !r; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, ioctls[i]));
	/* Restoring the terminal mode of stdin on the way out. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
				     SCMP_A0(SCMP_CMP_EQ, 0),
				     SCMP_A1(SCMP_CMP_EQ, TCSETS));
	/* Memory for malloc and thread stacks, never executable. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		return hull_err_sys(err, -r, "seccomp");
	return 0;
}
