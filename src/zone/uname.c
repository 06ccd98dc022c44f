/*
 * uname.c - answering an lx zone's uname(2) from the supervisor.
 *
 * The notification carries the caller's pid and its buffer address. We
 * read the caller's utsname by joining its uts namespace for one uname()
 * call, overlay the LX fields, write the struct into the caller with
 * process_vm_writev, and check the notification is still valid before and
 * after touching the caller (the pid could have been reused).
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
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

void zone_uname_lx(struct utsname *u, const char *release)
{
	if (release && *release)
		snprintf(u->release, sizeof(u->release), "%s", release);
	snprintf(u->version, sizeof(u->version), "%s", ZONE_LX_VERSION);
}

/* uname() as seen in pid's uts namespace. */
static int uname_of(pid_t pid, struct utsname *u)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/uts", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	int self = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	int r = -EIO;
	if (fd >= 0 && self >= 0 && setns(fd, CLONE_NEWUTS) == 0) {
		r = uname(u) == 0 ? 0 : -errno;
		if (setns(self, CLONE_NEWUTS) < 0)
			r = -errno; /* cannot happen: we came from there */
	}
	if (fd >= 0)
		close(fd);
	if (self >= 0)
		close(self);
	return r;
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

/* sethostname(name, len) on behalf of pid, in its uts namespace: 0 or
 * the negative errno the caller gets. */
static int sethostname_for(int notify_fd, const struct seccomp_notif *req)
{
	uint64_t len = req->data.args[1];
	char name[HOST_NAME_MAX + 1];
	if (len > HOST_NAME_MAX)
		return -EINVAL;
	if (euid_of(req->pid) != 0)
		return -EPERM;
	struct iovec local = {name, len};
	struct iovec remote = {(void *)(uintptr_t)req->data.args[0], len};
	if (len && process_vm_readv(req->pid, &local, 1, &remote, 1, 0) !=
		       (ssize_t)len)
		return -EFAULT;
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/uts", (int)req->pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	int self = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	int r = -EIO;
	/* The pid is the caller's still (checked after opening its ns). */
	if (fd >= 0 && self >= 0 &&
	    seccomp_notify_id_valid(notify_fd, req->id) == 0 &&
	    setns(fd, CLONE_NEWUTS) == 0) {
		r = sethostname(name, len) == 0 ? 0 : -errno;
		if (setns(self, CLONE_NEWUTS) < 0)
			r = -errno; /* cannot happen: we came from there */
	}
	if (fd >= 0)
		close(fd);
	if (self >= 0)
		close(self);
	return r;
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
	resp->error = 0;
	struct utsname u;
	memset(&u, 0, sizeof(u));
	if (req->data.nr == SYS_sethostname) {
		resp->error = sethostname_for(notify_fd, req);
	} else if (uname_of(req->pid, &u) < 0 ||
		   seccomp_notify_id_valid(notify_fd, req->id) < 0) {
		resp->error = -EFAULT;
	} else {
		zone_uname_lx(&u, release);
		struct iovec local = {&u, sizeof(u)};
		struct iovec remote = {(void *)(uintptr_t)req->data.args[0],
				       sizeof(u)};
		if (process_vm_writev(req->pid, &local, 1, &remote, 1, 0) !=
		    (ssize_t)sizeof(u))
			resp->error = -EFAULT;
	}
	r = seccomp_notify_respond(notify_fd, resp);
	seccomp_notify_free(req, resp);
	if (r < 0 && r != -ENOENT)
		return hull_err_sys(err, -r, "seccomp respond");
	return 0;
}
