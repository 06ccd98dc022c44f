/*
 * uname.c - answering an lx zone's uname(2) from the supervisor.
 *
 * The notification carries the caller's pid and its buffer address. We
 * read the caller's utsname by joining its uts namespace for one uname()
 * call, overlay the LX fields, write the struct into the caller with
 * process_vm_writev, and check the notification is still valid before and
 * after touching the caller (the pid could have been reused).
 */
#include "zone/uname.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
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
	if (uname_of(req->pid, &u) < 0 ||
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
