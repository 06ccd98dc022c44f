/*
 * userns.c - the pieces of a userns zone's start (see userns.h).
 */
#include "zone/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int write_map(pid_t pid, const char *file, uint32_t base, uint32_t count,
		     struct hull_err *err)
{
	char path[64], line[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	int n = snprintf(line, sizeof(line), "0 %u %u\n", base, count);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	ssize_t w = write(fd, line, (size_t)n);
	int e = errno;
	close(fd);
	if (w != n)
		return hull_err_sys(err, w < 0 ? e : EIO, "write %s", path);
	return 0;
}

int zone_userns_write_maps(pid_t pid, uint32_t uid, uint32_t gid,
			   uint32_t count, struct hull_err *err)
{
	int r = write_map(pid, "uid_map", uid, count, err);
	return r < 0 ? r : write_map(pid, "gid_map", gid, count, err);
}

int zone_userns_root_ids(struct hull_err *err)
{
	/* A credential change clears the parent-death signal: set it
	 * again. */
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 ||
	    setresuid(0, 0, 0) < 0)
		return hull_err_sys(err, errno, "become the zone's root");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	return 0;
}

pid_t zone_userns_fork_sibling(void)
{
	struct clone_args args;
	memset(&args, 0, sizeof(args));
	/* exit_signal must be 0 with CLONE_PARENT: the child inherits
	 * ours (SIGCHLD) towards our parent. */
	args.flags = CLONE_PARENT;
	long r = syscall(SYS_clone3, &args, sizeof(args));
	return r < 0 ? -errno : (pid_t)r;
}
