/*
 * loader.c - the boot loader's sandbox (see loader.h): the child that
 * runs hvm_boot_scan on a guest's disk, and the parent's side that starts
 * it, bounds it in time and checks what it says.
 */
#include "hvm/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <jansson.h>
#include <linux/fs.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hvm/parttab.h"
#include "lib/xalloc.h"
#include "zone/caps.h"
#include "zone/cgroup.h"

#define MSG_MAX (128u << 10) /* the child's answer */
#define STAMP_MAX (64u << 10)
#define PATH_LEN_MAX 4096

/* The child's descriptors, at fixed numbers. */
enum { FD_SOCK = 3, FD_DISK, FD_KERNEL, FD_INITRD, FD_FIRST_FREE };

struct hvm_loader {
	pid_t pid;
	int pidfd, sock, disk_fd, kfd, ifd;
	int wall_s;
	char *disk, *dir, *ktmp, *itmp;
	char *old_stamp;
	int64_t have_kernel, have_initrd;
};

/* ---- the child --------------------------------------------------------- */

/* What the child may call: reading and writing through the descriptors it
 * holds, memory, and leaving. */
static int seccomp_install(void)
{
	static const char *const allowed[] = {
	    "read",
	    "write",
	    "pread64",
	    "pwrite64",
	    "readv",
	    "writev",
	    "preadv",
	    "pwritev",
	    "lseek",
	    "close",
	    "fstat",
	    "fcntl",
	    "copy_file_range",
	    "ftruncate",
	    "fadvise64",
	    "mmap",
	    "munmap",
	    "mremap",
	    "brk",
	    "madvise",
	    "mprotect",
	    "futex",
	    "exit",
	    "exit_group",
	    "rt_sigreturn",
	    "rt_sigprocmask",
	    "getpid",
	    "gettid",
	    "getrandom",
	    "clock_gettime",
	    "gettimeofday",
	    "sched_yield",
	    "getrlimit",
	    "prlimit64",
	    "sigaltstack",
	    "sendto",
	    "getuid",
	    "geteuid",
	    "getgid",
	    "getegid",
	    "fsync",
	    "fdatasync",
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return -ENOMEM;
	int r = 0;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(*allowed) && !r; i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);
		if (nr != __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	/* fstat through fstatat(fd, "", AT_EMPTY_PATH) only */
	if (!r)
		r = seccomp_rule_add(
		    ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
		    SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
	/* libext2fs asks a block device its sizes */
	static const unsigned long ioctls[] = {BLKSSZGET,    BLKPBSZGET,
					       BLKGETSIZE64, BLKROGET,
					       BLKALIGNOFF,  BLKDISCARDZEROES};
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(*ioctls) && !r; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, ioctls[i]));
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

/* The address space the child has now (a sanitizer's shadow included),
 * so the limit is what it may add. */
static unsigned long long vm_size_now(void)
{
	unsigned long long pages = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * (unsigned long long)sysconf(_SC_PAGESIZE);
}

int hvm_loader_limits_set(unsigned cpu_s, unsigned mem_mib)
{
	struct {
		int res;
		rlim_t soft, hard;
	} lim[] = {
	    {RLIMIT_CPU, cpu_s, (rlim_t)cpu_s + 1},
	    {RLIMIT_AS, vm_size_now() + ((rlim_t)mem_mib << 20), 0},
	    {RLIMIT_FSIZE,
	     HVM_BOOT_INITRD_MAX > HVM_BOOT_KERNEL_MAX ? HVM_BOOT_INITRD_MAX
						       : HVM_BOOT_KERNEL_MAX,
	     0},
	    {RLIMIT_NOFILE, FD_FIRST_FREE + 4, 0},
	    {RLIMIT_CORE, 0, 0},
	    {RLIMIT_NPROC, 0, 0},
	};
	for (size_t i = 0; i < sizeof(lim) / sizeof(*lim); i++) {
		struct rlimit rl = {lim[i].soft,
				    lim[i].hard ? lim[i].hard : lim[i].soft};
		if (setrlimit(lim[i].res, &rl) < 0)
			return -errno;
	}
	return 0;
}

static json_t *answer_json(const struct hvm_boot *b,
			   const struct hvm_boot_copy *cp)
{
	json_t *ird = json_array();
	for (size_t i = 0; i < b->ent.ninitrd; i++)
		json_array_append_new(ird, json_string(b->ent.initrd[i]));
	json_t *o = json_pack("{s:b, s:i, s:i, s:s, s:o, s:s}", "ok", 1,
			      "source", (int)b->ent.source, "partition",
			      (int)b->partition, "kernel", b->ent.kernel,
			      "initrd", ird, "cmdline", b->ent.cmdline);
	if (b->ent.title)
		json_object_set_new(o, "title", json_string(b->ent.title));
	if (cp) {
		json_object_set_new(o, "stamp", json_string(cp->stamp));
		json_object_set_new(o, "kernel_size",
				    json_integer((json_int_t)cp->kernel_size));
		json_object_set_new(o, "initrd_size",
				    json_integer((json_int_t)cp->initrd_size));
		json_object_set_new(o, "reused", json_boolean(cp->reused));
	}
	return o;
}

static void answer(const json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	if (s)
		(void)!write(FD_SOCK, s, strlen(s));
	free(s);
}

static void fail_answer(int code, const char *msg)
{
	json_t *o =
	    json_pack("{s:b, s:i, s:s}", "ok", 0, "code", code, "error", msg);
	answer(o);
	json_decref(o);
}

struct child_args {
	const char *disk;
	bool copy;
	const char *old_stamp;
	int64_t have_kernel, have_initrd;
};

static _Noreturn void child_main(const struct child_args *a, pid_t parent)
{
	if (getppid() != parent)
		_exit(1);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	/* The parent writes our uid and gid maps, then says go. */
	char go = 0;
	if (read(FD_SOCK, &go, 1) != 1 || go != 'g')
		_exit(1);
	const char *step = "ids";
	int r = 0;
	/* uid and gid 0 here are the instance's ids outside */
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		r = -errno;
	if (!r && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		r = -errno;
	/* a credential change clears the parent-death signal */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	struct hull_err lerr = {0};
	/* libext2fs is loaded on first use: here, while files can be read */
	if (!r && (r = hvm_boot_ext2fs_load(&lerr)) < 0)
		step = "libext2fs";
	if (!r && (r = hvm_loader_limits_set(HVM_LOADER_CPU_S,
					     HVM_LOADER_MEM_MIB)) < 0)
		step = "limits";
	if (!r && (r = zone_caps_drop_all()) < 0)
		step = "capabilities";
	if (!r && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		step = "no_new_privs";
	}
	if (!r && (r = seccomp_install()) < 0)
		step = "seccomp";
	if (r < 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "boot loader sandbox: %s: %s", step,
			 strerror(-r));
		fail_answer(-r, msg);
		_exit(1);
	}
	/* From here on only the descriptors 3 to 6 reach anything. */
	struct hull_err err = {0};
	struct hvm_boot b;
	struct hvm_boot_copy cp = {.kernel_fd = FD_KERNEL,
				   .initrd_fd = FD_INITRD,
				   .old_stamp = a->old_stamp,
				   .have_kernel = a->have_kernel,
				   .have_initrd = a->have_initrd};
	r = hvm_boot_scan(FD_DISK, a->disk, a->copy ? &cp : NULL, &b, &err);
	if (r < 0) {
		fail_answer(-r, err.msg);
		_exit(1);
	}
	json_t *o = answer_json(&b, a->copy ? &cp : NULL);
	answer(o);
	/* _exit: no atexit handlers (a leak checker's would need more than
	 * the filter allows) */
	_exit(0);
}

/* ---- the parent -------------------------------------------------------- */

static int map_write(pid_t pid, const char *file, const char *line,
		     struct hull_err *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	ssize_t n = write(fd, line, strlen(line));
	int e = errno;
	close(fd);
	if (n != (ssize_t)strlen(line))
		return hull_err_sys(err, n < 0 ? e : EIO, "write %s", path);
	return 0;
}

/* Maps the child's uid and gid 0 onto uid and gid outside. As root any
 * ids; otherwise only our own (and setgroups denied, as the kernel
 * requires). */
static int maps_write(pid_t pid, uid_t uid, gid_t gid, struct hull_err *err)
{
	char line[64];
	int r;
	if (geteuid() != 0 &&
	    (r = map_write(pid, "setgroups", "deny", err)) < 0)
		return r;
	snprintf(line, sizeof(line), "0 %u 1\n", (unsigned)uid);
	if ((r = map_write(pid, "uid_map", line, err)) < 0)
		return r;
	snprintf(line, sizeof(line), "0 %u 1\n", (unsigned)gid);
	return map_write(pid, "gid_map", line, err);
}

/* The size of a regular file at path (never followed), or -1. */
static int64_t file_size(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
		return (int64_t)st.st_size;
	return -1;
}

/* The stamp of the copies in place. The folder is writable from inside
 * the emulator's hull: a link or a FIFO planted as the stamp is neither
 * followed nor waited on, only a regular file of bounded size is read. */
static char *stamp_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
				O_NOCTTY);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *s = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size < (off_t)STAMP_MAX) {
		s = xcalloc(1, (size_t)st.st_size + 1);
		ssize_t n = pread(fd, s, (size_t)st.st_size, 0);
		if (n != st.st_size || strlen(s) != (size_t)n) {
			free(s);
			s = NULL;
		}
	}
	close(fd);
	return s;
}

/* An empty file for a copy, never through what was planted there. */
static int tmp_create(const char *path, struct hull_err *err)
{
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "create %s", path);
	return fd;
}

static void loader_free(struct hvm_loader *l)
{
	if (!l)
		return;
	int *fds[] = {&l->pidfd, &l->sock, &l->disk_fd, &l->kfd, &l->ifd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(*fds); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	if (l->ktmp)
		unlink(l->ktmp);
	if (l->itmp)
		unlink(l->itmp);
	free(l->disk);
	free(l->dir);
	free(l->ktmp);
	free(l->itmp);
	free(l->old_stamp);
	free(l);
}

/* Puts fd at number want in the child (dup2 clears close-on-exec, which
 * does not matter: the child never execs). */
static bool fd_place(int fd, int want)
{
	return dup2(fd, want) == want;
}

int hvm_loader_start(const struct hvm_loader_cfg *cfg, struct hvm_loader **out,
		     struct hull_err *err)
{
	*out = NULL;
	struct hvm_loader *l = xcalloc(1, sizeof(*l));
	l->pid = -1;
	l->pidfd = l->sock = l->disk_fd = l->kfd = l->ifd = -1;
	l->wall_s = cfg->wall_s > 0 ? cfg->wall_s : HVM_LOADER_WALL_S;
	l->disk = xstrdup(cfg->disk);
	l->have_kernel = l->have_initrd = -1;
	int r;
	l->disk_fd = open(cfg->disk, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (l->disk_fd < 0) {
		r = hull_err_sys(err, errno, "%s", cfg->disk);
		goto fail;
	}
	struct stat st;
	if (fstat(l->disk_fd, &st) < 0 ||
	    !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		r = hull_err_set(err, EINVAL,
				 "%s: not a disk file or block device",
				 cfg->disk);
		goto fail;
	}
	if (cfg->dir) {
		l->dir = xstrdup(cfg->dir);
		_cleanup_free_ char *sp = xasprintf("%s/.stamp", cfg->dir);
		_cleanup_free_ char *kp = xasprintf("%s/kernel", cfg->dir);
		_cleanup_free_ char *ip = xasprintf("%s/initrd", cfg->dir);
		l->old_stamp = stamp_read(sp);
		l->have_kernel = file_size(kp);
		l->have_initrd = file_size(ip);
		l->ktmp = xasprintf("%s/kernel.tmp", cfg->dir);
		l->itmp = xasprintf("%s/initrd.tmp", cfg->dir);
		if ((l->kfd = tmp_create(l->ktmp, err)) < 0 ||
		    (l->ifd = tmp_create(l->itmp, err)) < 0) {
			r = -err->code;
			goto fail;
		}
	}
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		r = hull_err_sys(err, errno, "socketpair");
		goto fail;
	}
	struct child_args a = {.disk = cfg->disk,
			       .copy = cfg->dir != NULL,
			       .old_stamp = l->old_stamp,
			       .have_kernel = l->have_kernel,
			       .have_initrd = l->have_initrd};
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	/* exit_signal 0: the supervisor's waitpid(-1) for its emulator
	 * never reaps the loader; its pidfd says when it is done. */
	ca.flags = CLONE_PIDFD | CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET;
	ca.pidfd = (uint64_t)(uintptr_t)&l->pidfd;
	pid_t parent = getpid();
	long pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0) {
		/* Only system calls before child_main. The parent-death
		 * signal first: until the descriptors below are closed this
		 * child holds the supervisor's lock, which must not outlive
		 * the supervisor. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		int keep[] = {sp[1], l->disk_fd, l->kfd, l->ifd};
		int tmp[4];
		for (int i = 0; i < 4; i++)
			tmp[i] =
			    keep[i] >= 0 ? fcntl(keep[i], F_DUPFD, 16) : -1;
		for (int i = 0; i < 4; i++) {
			if (tmp[i] < 0)
				close(FD_SOCK + i);
			else if (!fd_place(tmp[i], FD_SOCK + i))
				_exit(1);
		}
		close_range(FD_FIRST_FREE, ~0u, 0);
		child_main(&a, parent);
	}
	close(sp[1]);
	l->sock = sp[0];
	if (pid < 0) {
		r = hull_err_sys(err, errno, "boot loader: clone3");
		goto fail;
	}
	l->pid = (pid_t)pid;
	uid_t uid = cfg->uid ? cfg->uid : HVM_LOADER_NOBODY;
	gid_t gid = cfg->gid ? cfg->gid : HVM_LOADER_NOBODY;
	if (geteuid() != 0) {
		uid = geteuid();
		gid = getegid();
	}
	if ((r = maps_write(l->pid, uid, gid, err)) < 0) {
		hull_err_prefix(err, "boot loader");
		goto fail;
	}
	/* Into the instance's cgroup before it allocates: memory is charged
	 * where it is first touched. */
	if (cfg->cg &&
	    (r = zone_cgroup_attach_leaf(cfg->cg, HVM_LOADER_CGROUP_LEAF,
					 l->pid, err)) < 0) {
		hull_err_prefix(err, "boot loader");
		goto fail;
	}
	if (send(l->sock, "g", 1, MSG_NOSIGNAL) != 1) {
		r = hull_err_sys(err, errno, "boot loader: start");
		goto fail;
	}
	*out = l;
	return 0;
fail:
	hvm_loader_cancel(l);
	return r;
}

int hvm_loader_fd(const struct hvm_loader *l)
{
	return l->pidfd;
}

int hvm_loader_wall_s(const struct hvm_loader *l)
{
	return l->wall_s;
}

void hvm_loader_cancel(struct hvm_loader *l)
{
	if (!l)
		return;
	if (l->pid > 0) {
		kill(l->pid, SIGKILL);
		while (waitpid(l->pid, NULL, __WALL) < 0 && errno == EINTR)
			;
	}
	loader_free(l);
}

/* A guest's words in a message: printable ASCII only. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

/* A string field of at most max bytes without NUL; NULL when absent or
 * bad. */
static const char *field_str(json_t *o, const char *key, size_t max)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		return NULL;
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (n > max || strlen(s) != n)
		return NULL;
	return s;
}

static int bad_answer(struct hull_err *err, const char *what)
{
	return hull_err_set(err, EIO, "boot loader: a bad answer (%s)", what);
}

/* The entry of an answer, checked. */
static int answer_entry(json_t *o, struct hvm_boot *b, struct hull_err *err)
{
	json_t *src = json_object_get(o, "source");
	json_t *part = json_object_get(o, "partition");
	const char *kernel = field_str(o, "kernel", PATH_LEN_MAX);
	const char *cmdline = field_str(o, "cmdline", HVM_BOOTCFG_CMDLINE_MAX);
	json_t *ird = json_object_get(o, "initrd");
	json_t *title = json_object_get(o, "title");
	if (!json_is_integer(src) || json_integer_value(src) < HVM_BOOT_GRUB ||
	    json_integer_value(src) > HVM_BOOT_NEWEST)
		return bad_answer(err, "source");
	if (!json_is_integer(part) || json_integer_value(part) < 0 ||
	    json_integer_value(part) > HVM_PART_MAX)
		return bad_answer(err, "partition");
	if (!kernel || !*kernel)
		return bad_answer(err, "kernel");
	if (!cmdline)
		return bad_answer(err, "cmdline");
	if (!json_is_array(ird) ||
	    json_array_size(ird) > HVM_BOOTCFG_INITRD_MAX)
		return bad_answer(err, "initrd");
	if (title && !field_str(o, "title", HVM_BOOTCFG_TEXT_MAX))
		return bad_answer(err, "title");
	b->ent.source = (enum hvm_boot_source)json_integer_value(src);
	b->partition = (unsigned)json_integer_value(part);
	b->ent.kernel = xstrdup(kernel);
	b->ent.cmdline = xstrdup(cmdline);
	if (title)
		b->ent.title = xstrdup(json_string_value(title));
	for (size_t i = 0; i < json_array_size(ird); i++) {
		json_t *v = json_array_get(ird, i);
		if (!json_is_string(v) ||
		    json_string_length(v) > PATH_LEN_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    !json_string_length(v))
			return bad_answer(err, "initrd");
		b->ent.initrd[b->ent.ninitrd++] = xstrdup(json_string_value(v));
	}
	return 0;
}

/* The copies: reused as they are, or the new ones checked and renamed into
 * place, then the stamp. */
static int answer_copies(struct hvm_loader *l, json_t *o, struct hvm_boot *b,
			 struct hull_err *err)
{
	const char *stamp = field_str(o, "stamp", STAMP_MAX);
	json_t *ks = json_object_get(o, "kernel_size");
	json_t *is = json_object_get(o, "initrd_size");
	json_t *reused = json_object_get(o, "reused");
	if (!stamp || !json_is_integer(ks) || !json_is_integer(is) ||
	    !json_is_boolean(reused))
		return bad_answer(err, "copies");
	int64_t ksize = json_integer_value(ks), isize = json_integer_value(is);
	if (ksize < 0 || (uint64_t)ksize > HVM_BOOT_KERNEL_MAX || isize < 0 ||
	    (uint64_t)isize > HVM_BOOT_INITRD_MAX)
		return bad_answer(err, "sizes");
	bool initrd = b->ent.ninitrd > 0;
	_cleanup_free_ char *kp = xasprintf("%s/kernel", l->dir);
	_cleanup_free_ char *ip = xasprintf("%s/initrd", l->dir);
	_cleanup_free_ char *sp = xasprintf("%s/.stamp", l->dir);
	if (json_is_true(reused)) {
		/* it may say so only of what we told it was there */
		if (!l->old_stamp || strcmp(stamp, l->old_stamp) ||
		    ksize != l->have_kernel ||
		    (initrd ? isize : -1) != l->have_initrd)
			return bad_answer(err, "reuse");
	} else {
		struct stat kst, ist;
		if (fstat(l->kfd, &kst) < 0 || fstat(l->ifd, &ist) < 0)
			return hull_err_sys(err, errno, "boot loader: copies");
		if (kst.st_size != ksize ||
		    (initrd ? ist.st_size != isize : ist.st_size != 0))
			return bad_answer(err, "copy sizes");
		unlink(sp);
		if (rename(l->ktmp, kp) < 0)
			return hull_err_sys(err, errno, "rename %s", l->ktmp);
		free(l->ktmp);
		l->ktmp = NULL;
		if (initrd) {
			if (rename(l->itmp, ip) < 0)
				return hull_err_sys(err, errno, "rename %s",
						    l->itmp);
			free(l->itmp);
			l->itmp = NULL;
		}
		/* The stamp last, after the copies are in place; no fsync:
		 * if it is lost, the next start copies again. */
		_cleanup_free_ char *tmp = xasprintf("%s.tmp", sp);
		unlink(tmp);
		int fd = open(
		    tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
		if (fd >= 0) {
			size_t n = strlen(stamp);
			bool ok = write(fd, stamp, n) == (ssize_t)n;
			ok = close(fd) == 0 && ok;
			if (!ok || rename(tmp, sp) < 0)
				unlink(tmp);
		}
	}
	b->kernel_file = xstrdup(kp);
	b->initrd_file = initrd ? xstrdup(ip) : NULL;
	return 0;
}

int hvm_loader_finish(struct hvm_loader *l, struct hvm_boot *b,
		      struct hull_err *err)
{
	memset(b, 0, sizeof(*b));
	int status = 0;
	pid_t w;
	while ((w = waitpid(l->pid, &status, __WALL)) < 0 && errno == EINTR)
		;
	if (w == l->pid)
		l->pid = -1;
	_cleanup_free_ char *buf = xmalloc(MSG_MAX + 1);
	ssize_t n = recv(l->sock, buf, MSG_MAX + 1, MSG_DONTWAIT | MSG_TRUNC);
	int r;
	if (n <= 0) {
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)
			r = hull_err_set(err, ETIME,
					 "boot loader: over its %d s of CPU "
					 "reading %s",
					 HVM_LOADER_CPU_S, l->disk);
		else if (WIFSIGNALED(status))
			r = hull_err_set(err, EIO,
					 "boot loader: killed by signal %d "
					 "reading %s",
					 WTERMSIG(status), l->disk);
		else
			r = hull_err_set(err, EIO,
					 "boot loader: ended without an answer "
					 "reading %s (status %d)",
					 l->disk, WEXITSTATUS(status));
		goto out;
	}
	if ((size_t)n > MSG_MAX) {
		r = bad_answer(err, "too long");
		goto out;
	}
	json_t *o = json_loadb(buf, (size_t)n, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		r = bad_answer(err, "not JSON");
		goto out;
	}
	if (!json_is_true(json_object_get(o, "ok"))) {
		const char *m = field_str(o, "error", HULL_ERR_MSG_MAX);
		json_int_t c = json_integer_value(json_object_get(o, "code"));
		_cleanup_free_ char *msg =
		    xstrdup(m && *m ? m : "boot loader: failed");
		sanitize(msg);
		r = hull_err_set(err, c > 0 && c < 4096 ? (int)c : EIO, "%s",
				 msg);
		json_decref(o);
		goto out;
	}
	r = answer_entry(o, b, err);
	if (r == 0 && l->dir)
		r = answer_copies(l, o, b, err);
	json_decref(o);
	if (r < 0)
		hvm_boot_fini(b);
out:
	hvm_loader_cancel(l);
	return r;
}

int hvm_boot_load(const struct hvm_loader_cfg *cfg, struct hvm_boot *out,
		  struct hull_err *err)
{
	memset(out, 0, sizeof(*out));
	struct hvm_loader *l;
	int r = hvm_loader_start(cfg, &l, err);
	if (r < 0)
		return r;
	struct pollfd p = {hvm_loader_fd(l), POLLIN, 0};
	int left_ms = hvm_loader_wall_s(l) * 1000;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int n = poll(&p, 1, left_ms);
		if (n > 0)
			return hvm_loader_finish(l, out, err);
		if (n < 0 && errno != EINTR) {
			r = hull_err_sys(err, errno, "boot loader: poll");
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left_ms = hvm_loader_wall_s(l) * 1000 -
			  (int)((t1.tv_sec - t0.tv_sec) * 1000 +
				(t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (n == 0 || left_ms <= 0) {
			r = hull_err_set(err, ETIMEDOUT,
					 "boot loader: took longer than %d s "
					 "reading %s",
					 hvm_loader_wall_s(l), cfg->disk);
			break;
		}
	}
	hvm_loader_cancel(l);
	return r;
}
