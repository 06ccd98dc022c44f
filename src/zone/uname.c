/*
 * uname.c - answering an lx zone's uname(2) from the supervisor.
 *
 * The notification carries the caller's pid and its buffer address. A pid
 * is only a name, and the caller can be killed and its pid reused at any
 * moment, so we first open what we need of the caller by that name (its
 * /proc/PID/mem and uts namespace), then check the notification is still
 * pending (SECCOMP_IOCTL_NOTIF_ID_VALID: then the pid named the caller when
 * we opened them), and from there on touch the caller only through those
 * descriptors. We read its utsname by joining its uts namespace for one
 * uname() call, overlay the LX fields and write the struct into its
 * memory.
 *
 * sethostname(2) comes the same way: a zone holds no CAP_SYS_ADMIN, yet its
 * root may name its own zone, as on SmartOS (systemd, hostnamectl and
 * cloud-init do at boot). The supervisor reads the name from the caller and
 * sets it in the caller's uts namespace, for an effective uid 0 only.
 */
#include "zone/uname.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

void zone_uname_lx(struct utsname *u, const char *release)
{
	if (release && *release)
		snprintf(u->release, sizeof(u->release), "%s", release);
	snprintf(u->version, sizeof(u->version), "%s", ZONE_LX_VERSION);
}

/* What the supervisor touches of the caller, opened by path. */
struct caller {
	int mem; /* /proc/PID/mem: its address space */
	int uts; /* its uts namespace */
	long euid;
};

static void caller_close(struct caller *c)
{
	if (c->mem >= 0)
		close(c->mem);
	if (c->uts >= 0)
		close(c->uts);
	c->mem = c->uts = -1;
}

/* The caller's effective uid, from /proc/PID/status; -1 if unreadable. */
static long euid_of(pid_t pid)
{
	char p[64], buf[4096];
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *u = strstr(buf, "\nUid:");
	long real, eff;
	if (!u || sscanf(u + 5, "%ld %ld", &real, &eff) != 2)
		return -1;
	return eff;
}

/* Opens the caller's memory (mem_flags) and uts namespace (and reads its
 * euid) by its pid, and only then checks that the notification is still
 * pending. The caller is blocked in the syscall until we answer, so a
 * pending notification means req->pid named the caller at every step
 * before; and from here on we reach the caller only through these
 * descriptors, which keep referring to its address space and namespace
 * whatever the pid names later (the caller killed and its pid reused
 * cannot turn our write into a write to another process). 0, -ENOENT
 * (the caller is gone) or -EFAULT. */
static int caller_open(int notify_fd, const struct seccomp_notif *req,
		       int mem_flags, struct caller *c)
{
	char p[64];
	c->euid = -1;
	snprintf(p, sizeof(p), "/proc/%d/mem", (int)req->pid);
	c->mem = open(p, mem_flags | O_CLOEXEC);
	snprintf(p, sizeof(p), "/proc/%d/ns/uts", (int)req->pid);
	c->uts = open(p, O_RDONLY | O_CLOEXEC);
	if (c->mem >= 0 && c->uts >= 0)
		c->euid = euid_of(req->pid);
	if (seccomp_notify_id_valid(notify_fd, req->id) < 0) {
		caller_close(c);
		return -ENOENT;
	}
	if (c->mem < 0 || c->uts < 0) {
		caller_close(c);
		return -EFAULT;
	}
	return 0;
}

/* A user address as an offset into /proc/PID/mem. */
static int mem_offset(uint64_t addr, off_t *off)
{
	if (addr > (uint64_t)INT64_MAX)
		return -EFAULT;
	*off = (off_t)addr;
	return 0;
}

/* uname() as seen in the uts namespace uts. */
static int uname_in(int uts, struct utsname *u)
{
	int self = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	int r = -EIO;
	if (self >= 0 && setns(uts, CLONE_NEWUTS) == 0) {
		r = uname(u) == 0 ? 0 : -errno;
		if (setns(self, CLONE_NEWUTS) < 0)
			r = -errno; /* cannot happen: we came from there */
	}
	if (self >= 0)
		close(self);
	return r;
}

/* uname(buf): the caller's utsname with the LX identity. */
static int uname_for(int notify_fd, const struct seccomp_notif *req,
		     const char *release)
{
	struct caller c;
	off_t off;
	int r = mem_offset(req->data.args[0], &off);
	if (r < 0 || (r = caller_open(notify_fd, req, O_RDWR, &c)) < 0)
		return r == -ENOENT ? -EFAULT : r;
	struct utsname u;
	memset(&u, 0, sizeof(u));
	if ((r = uname_in(c.uts, &u)) == 0) {
		zone_uname_lx(&u, release);
		if (pwrite(c.mem, &u, sizeof(u), off) != (ssize_t)sizeof(u))
			r = -EFAULT;
	}
	caller_close(&c);
	return r < 0 ? -EFAULT : 0;
}

/* sethostname(name, len) on behalf of the caller, in its uts namespace:
 * 0 or the negative errno the caller gets. */
static int sethostname_for(int notify_fd, const struct seccomp_notif *req)
{
	uint64_t len = req->data.args[1];
	char name[HOST_NAME_MAX + 1];
	struct caller c;
	off_t off;
	if (len > HOST_NAME_MAX)
		return -EINVAL;
	int r = mem_offset(req->data.args[0], &off);
	if (r < 0 || (r = caller_open(notify_fd, req, O_RDONLY, &c)) < 0)
		return r == -ENOENT ? -EFAULT : r;
	if (c.euid != 0) {
		caller_close(&c);
		return -EPERM;
	}
	if (len && pread(c.mem, name, len, off) != (ssize_t)len) {
		caller_close(&c);
		return -EFAULT;
	}
	int self = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	r = -EIO;
	if (self >= 0 && setns(c.uts, CLONE_NEWUTS) == 0) {
		r = sethostname(name, len) == 0 ? 0 : -errno;
		if (setns(self, CLONE_NEWUTS) < 0)
			r = -errno; /* cannot happen: we came from there */
	}
	if (self >= 0)
		close(self);
	caller_close(&c);
	return r;
}

int zone_uname_answer(int notify_fd, const struct seccomp_notif *req,
		      const char *release)
{
	if (req->data.nr == SYS_sethostname)
		return sethostname_for(notify_fd, req);
	return uname_for(notify_fd, req, release);
}

int zone_uname_handle(int notify_fd, const char *release, struct hull_err *err)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	int r = seccomp_notify_alloc(&req, &resp);
	if (r < 0)
		return hull_err_sys(err, -r, "seccomp_notify_alloc");
	if ((r = seccomp_notify_receive(notify_fd, req)) < 0) {
		/* The caller died between notification and receive. */
		seccomp_notify_free(req, resp);
		return r == -ENOENT ? 0
				    : hull_err_sys(err, -r, "seccomp receive");
	}
	resp->id = req->id;
	resp->flags = 0;
	resp->val = 0;
	resp->error = zone_uname_answer(notify_fd, req, release);
	r = seccomp_notify_respond(notify_fd, resp);
	/* libseccomp reports any failure as ECANCELED: one for a caller
	 * that died meanwhile is no error of ours. */
	if (r < 0 && seccomp_notify_id_valid(notify_fd, req->id) < 0)
		r = 0;
	seccomp_notify_free(req, resp);
	if (r < 0)
		return hull_err_sys(err, -r, "seccomp respond");
	return 0;
}
