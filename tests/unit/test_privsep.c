/*
 * test_privsep.c - the unprivileged children's seccomp budgets are
 * enforced (supervisor/privsep.h): a forked child enters each policy
 * through sv_privsep_enter(), the very call the metadata server, its
 * keeper and the VNC relay make, then makes one system call. A call in
 * the budget returns (the child exits 0); one outside it kills the child
 * with SIGSYS. Needs root (the child changes its ids and drops its
 * bounding set).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/privsep.h"

#define NOBODY 65534

enum probe {
	P_GETPPID,
	P_OPEN_RDONLY,
	P_OPEN_CREATE,
	P_OPEN_RDWR,
	P_SOCKET_INET,
	P_SOCKET_UNIX,
	P_CONNECT,
	P_EXECVE,
	P_PTRACE,
	P_KILL_PARENT,
	P_PIDFD_SIGNAL_0,
	P_PIDFD_SIGNAL_URG,
	P_SETUID,
	P_ACCEPT4,
	P_UNSHARE,
};

static char scratch[] = "/tmp/hull-test-privsep-XXXXXX";

/* The one call, by its number (no libc wrapper that might make others).
 * Returns the child's exit code when the call returns. */
static int probe_run(enum probe p, int pidfd)
{
	char path[sizeof(scratch) + 16];
	char *const argv[] = {"true", NULL};
	long r;
	switch (p) {
	case P_GETPPID:
		r = syscall(SYS_getppid);
		return r > 0 ? 0 : 3;
	case P_OPEN_RDONLY:
		r = syscall(SYS_openat, AT_FDCWD, "/proc/self/status",
			    O_RDONLY | O_CLOEXEC);
		return r >= 0 ? 0 : 3;
	case P_OPEN_CREATE:
		snprintf(path, sizeof(path), "%s/f", scratch);
		r = syscall(SYS_openat, AT_FDCWD, path,
			    O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		return r >= 0 ? 0 : 3;
	case P_OPEN_RDWR:
		r = syscall(SYS_openat, AT_FDCWD, "/proc/self/status",
			    O_RDWR | O_CLOEXEC);
		return 0; /* EACCES or not: it returned */
	case P_SOCKET_INET:
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		return 0;
	case P_SOCKET_UNIX:
		syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
		return 0;
	case P_CONNECT:
		syscall(SYS_connect, -1, NULL, 0);
		return 0;
	case P_EXECVE:
		syscall(SYS_execve, "/bin/true", argv, NULL);
		return 0;
	case P_PTRACE:
		syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL);
		return 0;
	case P_KILL_PARENT:
		syscall(SYS_kill, getppid(), 0);
		return 0;
	case P_PIDFD_SIGNAL_0:
		r = syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0);
		return r == 0 ? 0 : 3;
	case P_PIDFD_SIGNAL_URG:
		/* SIGURG to itself: ignored if it were let through. */
		syscall(SYS_pidfd_send_signal, pidfd, SIGURG, NULL, 0);
		return 0;
	case P_SETUID:
		syscall(SYS_setresuid, 0, 0, 0);
		return 0;
	case P_ACCEPT4:
		syscall(SYS_accept4, -1, NULL, NULL, 0);
		return 0;
	case P_UNSHARE:
		syscall(SYS_unshare, 0);
		return 0;
	}
	return 4;
}

/* The wait status of a child that entered policy as uid and made p. */
static int run_probe(enum sv_privsep_policy policy, uid_t uid, enum probe p)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hull_err err = {0};
		int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		if (pidfd < 0 || sv_privsep_enter(uid, uid, policy, &err) < 0)
			syscall(SYS_exit_group, 2);
		syscall(SYS_exit_group, probe_run(p, pidfd));
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void expect_allowed(enum sv_privsep_policy policy, uid_t uid,
			   enum probe p)
{
	int st = run_probe(policy, uid, p);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("policy %d, probe %d: status %#x (%s %d), expected "
			 "a clean exit",
			 policy, p, st, WIFSIGNALED(st) ? "signal" : "exit",
			 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static void expect_killed(enum sv_privsep_policy policy, uid_t uid,
			  enum probe p)
{
	int st = run_probe(policy, uid, p);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("policy %d, probe %d: status %#x (%s %d), expected "
			 "SIGSYS",
			 policy, p, st, WIFSIGNALED(st) ? "signal" : "exit",
			 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* What no child may do: reach the network, run a program, trace or
 * signal another process, take root back, leave its namespaces. */
static const enum probe forbidden_everywhere[] = {
    P_SOCKET_INET, P_SOCKET_UNIX, P_CONNECT, P_EXECVE,
    P_PTRACE,	   P_KILL_PARENT, P_SETUID,  P_UNSHARE};

static void expect_forbidden_everywhere(enum sv_privsep_policy policy,
					uid_t uid)
{
	for (size_t i = 0;
	     i < sizeof(forbidden_everywhere) / sizeof(forbidden_everywhere[0]);
	     i++)
		expect_killed(policy, uid, forbidden_everywhere[i]);
}

static void need_root(void)
{
	if (geteuid() != 0)
		skip(); /* changing ids and the bounding set needs root */
}

static void test_md_server(void **state)
{
	need_root();
	expect_allowed(SV_PRIVSEP_MD_SERVER, NOBODY, P_GETPPID);
	expect_allowed(SV_PRIVSEP_MD_SERVER, NOBODY, P_OPEN_RDONLY);
	expect_allowed(SV_PRIVSEP_MD_SERVER, NOBODY, P_PIDFD_SIGNAL_0);
	expect_allowed(SV_PRIVSEP_MD_SERVER, NOBODY, P_ACCEPT4);
	/* openat only read-only, pidfd_send_signal only signal 0 */
	expect_killed(SV_PRIVSEP_MD_SERVER, NOBODY, P_OPEN_CREATE);
	expect_killed(SV_PRIVSEP_MD_SERVER, NOBODY, P_OPEN_RDWR);
	expect_killed(SV_PRIVSEP_MD_SERVER, NOBODY, P_PIDFD_SIGNAL_URG);
	expect_forbidden_everywhere(SV_PRIVSEP_MD_SERVER, NOBODY);
}

static void test_md_keeper(void **state)
{
	need_root();
	/* root without capabilities: writes files, nothing else */
	expect_allowed(SV_PRIVSEP_MD_KEEPER, 0, P_GETPPID);
	expect_allowed(SV_PRIVSEP_MD_KEEPER, 0, P_OPEN_CREATE);
	expect_killed(SV_PRIVSEP_MD_KEEPER, 0, P_ACCEPT4);
	expect_killed(SV_PRIVSEP_MD_KEEPER, 0, P_PIDFD_SIGNAL_0);
	expect_forbidden_everywhere(SV_PRIVSEP_MD_KEEPER, 0);
}

static void test_vnc_relay(void **state)
{
	need_root();
	expect_allowed(SV_PRIVSEP_VNC_RELAY, NOBODY, P_GETPPID);
	expect_allowed(SV_PRIVSEP_VNC_RELAY, NOBODY, P_ACCEPT4);
	/* no file at all */
	expect_killed(SV_PRIVSEP_VNC_RELAY, NOBODY, P_OPEN_RDONLY);
	expect_killed(SV_PRIVSEP_VNC_RELAY, NOBODY, P_OPEN_CREATE);
	expect_killed(SV_PRIVSEP_VNC_RELAY, NOBODY, P_PIDFD_SIGNAL_0);
	expect_forbidden_everywhere(SV_PRIVSEP_VNC_RELAY, NOBODY);
}

static void test_unknown_policy_refused(void **state)
{
	need_root();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hull_err err = {0};
		int r = sv_privsep_enter(NOBODY, NOBODY,
					 (enum sv_privsep_policy)77, &err);
		syscall(SYS_exit_group, r == -EINVAL && err.msg[0] ? 0 : 3);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	if (!mkdtemp(scratch)) {
		perror("mkdtemp");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_md_server),
	    cmocka_unit_test(test_md_keeper),
	    cmocka_unit_test(test_vnc_relay),
	    cmocka_unit_test(test_unknown_policy_refused),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	char f[sizeof(scratch) + 16];
	snprintf(f, sizeof(f), "%s/f", scratch);
	unlink(f);
	rmdir(scratch);
	return r;
}
