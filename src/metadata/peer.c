/*
 * peer.c - the metadata socket's peer check (see peer.h).
 */
#include "metadata/peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Linux 6.5; older headers lack it, older kernels answer ENOPROTOOPT. */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static bool path_within(const char *path, size_t n, const char *rel)
{
	size_t r = strlen(rel);
	if (n < r + 1 || path[0] != '/' || memcmp(path + 1, rel, r) != 0)
		return false;
	return n == r + 1 || path[r + 1] == '/';
}

bool metadata_peer_cgroup_within(const char *text, size_t len, const char *rel)
{
	const char *v2 = NULL, *mem = NULL;
	size_t v2n = 0, memn = 0;
	const char *p = text, *end = text + len;

	if (!rel || !*rel)
		return false;
	/* Lines "<id>:<controllers>:<path>"; a path may hold ':' itself. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *c1 = memchr(p, ':', (size_t)(le - p));
		const char *c2 =
		    c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
		if (c2) {
			const char *ctl = c1 + 1;
			size_t ctln = (size_t)(c2 - ctl);
			bool is_mem = false;
			/* controllers: comma-separated, e.g. "cpu,cpuacct" */
			for (const char *w = ctl; w < c2;) {
				const char *comma =
				    memchr(w, ',', (size_t)(c2 - w));
				const char *we = comma ? comma : c2;
				if ((size_t)(we - w) == 6 &&
				    !memcmp(w, "memory", 6))
					is_mem = true;
				w = we + 1;
			}
			if (is_mem) {
				mem = c2 + 1;
				memn = (size_t)(le - mem);
			} else if (ctln == 0 && c1 - p == 1 && *p == '0') {
				v2 = c2 + 1;
				v2n = (size_t)(le - v2);
			}
		}
		p = le + 1;
	}
	if (mem)
		return path_within(mem, memn, rel);
	if (v2)
		return path_within(v2, v2n, rel);
	return false;
}

static bool pid_in_cgroup(pid_t pid, const char *rel)
{
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf))
			break;
	}
	close(fd);
	return got < sizeof(buf) && metadata_peer_cgroup_within(buf, got, rel);
}

bool metadata_peer_allowed(int fd, const char *rel, uid_t *uid, pid_t *pid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (uid)
		*uid = (uid_t)-1;
	if (pid)
		*pid = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    len != sizeof(cr))
		return false;
	if (uid)
		*uid = cr.uid;
	if (pid)
		*pid = cr.pid;
	if (cr.uid == 0)
		return true;
	/* pid 0: the peer is in a pid namespace the server cannot see into
	 * (not below the server's), so not one of the instance's. */
	if (!rel || cr.pid <= 0)
		return false;
	int pidfd = -1;
	len = sizeof(pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
		/* Kernels before 6.5: the pid alone. */
		if (errno != ENOPROTOOPT && errno != EINVAL)
			return false;
		pidfd = -1;
	}
	bool ok = pid_in_cgroup(cr.pid, rel);
	if (pidfd >= 0) {
		/* The pid still names the process that connected: a
		 * process that has exited could have had its pid reused by
		 * one of the instance's before the cgroup was read.
		 * (Signal 0 checks permission too: EPERM still means alive.) */
		if (ok &&
		    syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 &&
		    errno != EPERM)
			ok = false;
		close(pidfd);
	}
	return ok;
}
