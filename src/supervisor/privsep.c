/*
 * privsep.c - dropping to an unprivileged child's budget (see privsep.h).
 */
#include "supervisor/privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "inst/inst.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "vm/proptable.h"

const char *const sv_privsep_base[] = {
    "read", "write", "readv", "writev", "close", "fcntl", "fstat", "mmap",
    "munmap", "mremap", "brk", "madvise", "mprotect", "futex", "exit",
    "exit_group", "rt_sigreturn", "rt_sigprocmask", "getpid", "gettid",
    "clock_gettime", "gettimeofday", "restart_syscall",
    /* AddressSanitizer's runtime, in a running process */
    "sigaltstack", "sched_yield", "prlimit64", "getrlimit", NULL};

static const char *const md_server_calls[] = {
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "accept4",
    "getsockopt",    "sendto",	  "recvfrom",	"getppid",     NULL};

static int md_server_rules(scmp_filter_ctx ctx)
{
	/* openat read-only (world-readable /proc/PID/cgroup; the uid owns
	 * no file), and pidfd_send_signal with signal 0 only. */
	int r = seccomp_rule_add(
	    ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ,
		    O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE,
		    O_RDONLY));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
				     SCMP_SYS(pidfd_send_signal), 1,
				     SCMP_A1(SCMP_CMP_EQ, 0));
	return r;
}

static const char *const md_keeper_calls[] = {
    "openat",	 "newfstatat", "statx",	    "lseek",	       "pread64",
    "pwrite64",	 "flock",      "nanosleep", "clock_nanosleep", "rename",
    "renameat",	 "renameat2",  "unlink",    "unlinkat",	       "mkdir",
    "mkdirat",	 "fsync",      "fdatasync", "getdents64",      "fchmod",
    "ftruncate", "sendto",     "recvfrom",  "umask",	       "getppid",
    "rmdir",	 NULL};

static const char *const vnc_relay_calls[] = {
    "epoll_create1", "epoll_ctl",	"epoll_wait", "epoll_pwait",
    "accept4",	     "sendto",		"recvfrom",   "recvmsg",
    "sendmsg",	     "timerfd_settime", "getppid",    NULL};

static const struct {
	const char *const *calls;
	int (*rules)(scmp_filter_ctx ctx); /* with arguments; or NULL */
} policies[] = {
    [SV_PRIVSEP_MD_SERVER] = {md_server_calls, md_server_rules},
    [SV_PRIVSEP_MD_KEEPER] = {md_keeper_calls, NULL},
    [SV_PRIVSEP_VNC_RELAY] = {vnc_relay_calls, NULL},
};

void sv_privsep_close_all_but(int *keep, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && keep[j] < keep[j - 1]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	unsigned from = 3;
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < from)
			continue;
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1,
				0);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void sv_privsep_ids_for(const char *uuid, bool hvm, uid_t range_uid,
			gid_t range_gid, enum sv_privsep_role role, uid_t *uid,
			gid_t *gid)
{
	if (hvm && range_uid && range_gid) {
		*uid = range_uid + (uid_t)role;
		*gid = range_gid + (gid_t)role;
		return;
	}
	uint32_t slot = fnv1a(uuid) % SV_PRIVSEP_ID_SLOTS;
	*uid = *gid = SV_PRIVSEP_ID_BASE + 2 * slot + (uint32_t)role - 1;
}

int sv_privsep_ids(const char *uuid, enum sv_privsep_role role, uid_t *uid,
		   gid_t *gid, struct hull_err *err)
{
	struct inst inst;
	int r = inst_load(uuid, &inst, err);
	if (r < 0)
		return r;
	uint32_t u = 0, g = 0;
	/* The range's own bound (vm/idmap.c hands out whole slots below
	 * 2^32 - 65536), checked again: the +role must stay inside it. */
	if (inst.ids.set && inst.ids.uid <= UINT32_MAX - 65536 &&
	    inst.ids.gid <= UINT32_MAX - 65536)
		u = inst.ids.uid, g = inst.ids.gid;
	sv_privsep_ids_for(uuid, inst_is_hvm(&inst), (uid_t)u, (gid_t)g, role,
			   uid, gid);
	inst_fini(&inst);
	return 0;
}

static int filter_load(enum sv_privsep_policy policy, struct hull_err *err)
{
	if ((size_t)policy >= sizeof(policies) / sizeof(policies[0]))
		return hull_err_set(err, EINVAL, "seccomp: no policy %d",
				    (int)policy);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return hull_err_set(err, ENOMEM, "seccomp: init");
	int r = 0;
	const char *const *lists[] = {sv_privsep_base, policies[policy].calls};
	for (size_t l = 0; l < 2 && !r; l++)
		for (const char *const *n = lists[l]; *n && !r; n++) {
			int nr = seccomp_syscall_resolve_name(*n);
			if (nr != __NR_SCMP_ERROR)
				r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr,
						     0);
		}
	if (!r && policies[policy].rules)
		r = policies[policy].rules(ctx);
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r < 0 ? hull_err_sys(err, -r, "seccomp") : 0;
}

int sv_privsep_enter(uid_t uid, gid_t gid, enum sv_privsep_policy policy,
		     struct hull_err *err)
{
	/* The bounding set needs CAP_SETPCAP to shrink: first, as root. */
	for (int c = 0; c < 64; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return hull_err_sys(err, errno, "drop capability %d",
					    c);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return hull_err_sys(err, errno, "clear ambient capabilities");
	if (uid != 0 &&
	    (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	     setresuid(uid, uid, uid) < 0))
		return hull_err_sys(err, errno, "become %u:%u", (unsigned)uid,
				    (unsigned)gid);
	/* setresuid away from 0 emptied the other sets; root's are emptied
	 * here (the bounding set is already). */
	cap_t none = cap_init();
	int r = none && cap_set_proc(none) == 0 ? 0 : -errno;
	cap_free(none);
	if (r < 0)
		return hull_err_sys(err, -r, "drop capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return hull_err_sys(err, errno, "no_new_privs");
	/* A change of credentials clears the parent-death signal. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The first time conversion of a process (sv_log's gmtime_r) reads
	 * /etc/localtime with stdio (openat, newfstatat): a child forked
	 * before its supervisor logged anything (an adopter) would die of
	 * that under the filter. Done here, once, before it. */
	tzset();
	return filter_load(policy, err);
}
