/*
 * hull-supervisor - the per-instance supervisor (docs/hull-supervisor.md).
 *
 * `hull-supervisor UUID` daemonises: the foreground process waits until
 * the zone's init runs and exits 0, or prints the one error line and exits
 * 1. With --ready-fd N the caller reads that report on its own descriptor
 * N instead ("OK" or the error line). --foreground keeps it attached.
 *
 * The process that runs the instance forks: the parent becomes
 * hull-holder (docs/internals.md, "The holder"), the child the
 * supervisor. `hull-supervisor --adopt FD UUID` is how the holder starts
 * a successor to a supervisor that died.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "inst/record.h"
#include "lib/fileio.h"
#include "lib/prog.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "supervisor/metadata_hook.h"
#include "supervisor/net_hook.h"
#include "supervisor/supervisor.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: hull-supervisor [--ready-fd N] [--foreground] UUID\n"
		   "       hull-supervisor --adopt FD UUID  (hull-holder's)\n"
		   "Creates the zone UUID and supervises it until it stops.\n"
		   "Normally started by `vmadm start`, not by hand.\n");
}

/* Detaches from the caller: new session, stdin /dev/null, stdout and
 * stderr to the instance's supervisor.log, no inherited descriptors but
 * the ready pipe (moved to 3). */
static int daemonise(const char *uuid, int *ready_fd)
{
	_cleanup_free_ char *logs = hull_root_path("%s/logs", uuid);
	hull_mkdir_p(logs, 0700, NULL);
	_cleanup_free_ char *log = xasprintf("%s/supervisor.log", logs);
	int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (lfd < 0 || nfd < 0)
		return -errno;
	if (setsid() < 0 && getpid() != getsid(0))
		return -errno;
	if (dup2(nfd, 0) < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0)
		return -errno;
	if (*ready_fd != 3) {
		if (dup2(*ready_fd, 3) < 0)
			return -errno;
		*ready_fd = 3;
	}
	fcntl(3, F_SETFD, FD_CLOEXEC);
	syscall(SYS_close_range, 4, ~0U, 0);
	return 0;
}

/* Forks the supervisor and becomes its holder (hull-holder): returns in
 * the child only, with the holder's socket in *holder_fd. Without
 * hull-holder (not installed) the supervisor runs alone: it cannot be
 * adopted then. */
static void holder_start(const char *uuid, int ready_fd, int *holder_fd)
{
	*holder_fd = -1;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	_cleanup_free_ char *holder = hull_helper_find("hull-holder");
	int sp[2];
	if (n <= 0 || !holder ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		fprintf(stderr, "hull-supervisor: no holder: the instance "
				"cannot outlive this supervisor\n");
		return;
	}
	self[n] = '\0';
	/* Whatever we leave when we die is the holder's to reap: init, the
	 * emulator (kept across the holder's exec). */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t pid = fork();
	if (pid < 0) {
		close(sp[0]);
		close(sp[1]);
		return;
	}
	if (pid == 0) {
		close(sp[0]);
		prctl(PR_SET_CHILD_SUBREAPER, 0);
		*holder_fd = sp[1];
		return;
	}
	close(sp[1]);
	if (ready_fd >= 0)
		close(ready_fd);
	char fd[16], spid[16];
	snprintf(fd, sizeof(fd), "%d", sp[0]);
	snprintf(spid, sizeof(spid), "%d", (int)pid);
	fcntl(sp[0], F_SETFD, 0);
	char *argv[] = {holder, fd, self, (char *)uuid, spid, NULL};
	execv(holder, argv);
	/* No holder after all: wait for the supervisor as one would. */
	fprintf(stderr, "hull-supervisor: exec %s: %s\n", holder,
		strerror(errno));
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

static int run(const char *uuid, int ready_fd)
{
	int holder_fd;
	holder_start(uuid, ready_fd, &holder_fd);
	return supervisor_run(uuid, ready_fd, holder_fd, false);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"ready-fd", required_argument, NULL, 'r'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"adopt", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int ready_fd = -1, adopt_fd = -1, c;
	bool foreground = false;
	opterr = 0; /* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			ready_fd = atoi(optarg);
			if (ready_fd < 0 || fcntl(ready_fd, F_GETFD) < 0) {
				fprintf(stderr,
					"hull-supervisor: --ready-fd %s: not "
					"open\n",
					optarg);
				return 2;
			}
			break;
		case 'f':
			foreground = true;
			break;
		case 'a':
			adopt_fd = atoi(optarg);
			if (adopt_fd < 3 || fcntl(adopt_fd, F_GETFD) < 0) {
				fprintf(stderr,
					"hull-supervisor: --adopt %s: not "
					"open\n",
					optarg);
				return 2;
			}
			fcntl(adopt_fd, F_SETFD, FD_CLOEXEC);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr,
				"hull-supervisor: unknown option '%s' (see "
				"hull-supervisor --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	const char *uuid = argv[optind];
	if (!hull_uuid_valid(uuid)) {
		fprintf(stderr, "hull-supervisor: not a uuid: %s\n", uuid);
		return 2;
	}
	_cleanup_free_ char *inst = inst_record_path(uuid);
	if (!hull_path_exists(inst)) {
		fprintf(stderr, "hull-supervisor: no such instance %s\n", uuid);
		return 1;
	}
	supervisor_hook_register(&metadata_hook);
	supervisor_hook_register(&net_hook);
	zone_start_set_prepare(net_hook_prepare);
	if (adopt_fd >= 0)
		return supervisor_run(uuid, -1, adopt_fd, true);
	if (foreground)
		return run(uuid, ready_fd);

	/* Without --ready-fd the foreground process is the reporter. */
	int p[2] = {-1, -1};
	if (ready_fd < 0) {
		if (pipe2(p, O_CLOEXEC) < 0) {
			perror("hull-supervisor: pipe");
			return 1;
		}
		ready_fd = p[1];
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("hull-supervisor: fork");
		return 1;
	}
	if (pid == 0) {
		if (p[0] >= 0)
			close(p[0]);
		int r = daemonise(uuid, &ready_fd);
		if (r < 0) {
			dprintf(ready_fd, "daemonise: %s\n", strerror(-r));
			_exit(1);
		}
		_exit(run(uuid, ready_fd));
	}
	if (p[0] < 0)
		return 0; /* the caller reads the report on its descriptor */
	close(p[1]);
	char buf[1024];
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	if (strcmp(buf, "OK") == 0)
		return 0;
	fprintf(stderr, "hull-supervisor: %s\n", *buf ? buf : "exited early");
	return 1;
}
