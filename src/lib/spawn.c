/*
 * spawn.c - posix_spawn with captured output (see spawn.h).
 *
 * Output goes to memfds rather than pipes: the child can write any amount
 * without the parent polling, and we read it back after the child exits.
 */
#include "lib/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/xalloc.h"

extern char **environ;

/* Reads a whole memfd back from its start. */
static char *memfd_slurp(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return xstrdup("");
	char *buf = xmalloc((size_t)st.st_size + 1);
	ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* The last non-empty line of s, trimmed, in place. */
static const char *last_line(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	char *nl = strrchr(s, '\n');
	return nl ? nl + 1 : s;
}

int hull_run(char *const argv[], int in_fd, int out_fd, char **out,
	     struct hull_err *err)
{
	int errfd = memfd_create("hull-stderr", MFD_CLOEXEC);
	int capfd = -1, nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (errfd < 0 || nullfd < 0) {
		int e = errno;
		if (errfd >= 0)
			close(errfd);
		if (nullfd >= 0)
			close(nullfd);
		return hull_err_sys(err, e, "run %s", argv[0]);
	}
	if (out_fd < 0 && out) {
		capfd = memfd_create("hull-stdout", MFD_CLOEXEC);
		if (capfd < 0) {
			int e = errno;
			close(errfd);
			close(nullfd);
			return hull_err_sys(err, e, "run %s", argv[0]);
		}
	}

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_fd >= 0 ? in_fd : nullfd, 0);
	posix_spawn_file_actions_adddup2(
	    &fa, out_fd >= 0 ? out_fd : (capfd >= 0 ? capfd : nullfd), 1);
	posix_spawn_file_actions_adddup2(&fa, errfd, 2);

	/* A child must not inherit a blocked or ignored SIGPIPE/SIGCHLD. */
	posix_spawnattr_t attr;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
					    POSIX_SPAWN_SETSIGDEF);

	pid_t pid;
	int r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(nullfd);
	if (r != 0) {
		close(errfd);
		if (capfd >= 0)
			close(capfd);
		return hull_err_sys(err, r, "run %s", argv[0]);
	}

	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	char *errtext = memfd_slurp(errfd);
	close(errfd);
	if (capfd >= 0) {
		*out = memfd_slurp(capfd);
		close(capfd);
	}

	int ret = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		const char *line = last_line(errtext);
		if (*line)
			ret = hull_err_set(err, EIO, "%s: %s", argv[0], line);
		else if (WIFSIGNALED(status))
			ret = hull_err_set(err, EIO, "%s: killed by signal %d",
					   argv[0], WTERMSIG(status));
		else
			ret =
			    hull_err_set(err, EIO, "%s: exited with status %d",
					 argv[0], WEXITSTATUS(status));
		if (out && capfd >= 0) {
			free(*out);
			*out = NULL;
		}
	}
	free(errtext);
	return ret;
}
