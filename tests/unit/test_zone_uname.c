/*
 * test_zone_uname.c - the lx uname handler (zone/uname.h) against real
 * seccomp user notifications: a child of the test installs a filter that
 * sends its uname(2) to a listener the test holds, as an lx zone's
 * processes send theirs to the supervisor.
 *
 * What must hold: a live caller gets the LX identity in its buffer; a
 * caller that died, and whose pid now names another process, is answered
 * with an error and that other process is never written, whether it died
 * before the handler's check or right after it (the pid-reuse window).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "zone/uname.h"

/* The caller's uname buffer; at the same address in every fork of the
 * test, so the process that takes a dead caller's pid has it too. */
static struct utsname target;

/* A process that holds target filled with 'V' and, asked, sends it. */
struct victim {
	pid_t pid;
	int ready[2], ask[2], out[2];
};

static __attribute__((noreturn)) void victim_run(struct victim *v)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves nothing */
	memset(&target, 'V', sizeof(target));
	(void)!write(v->ready[1], "r", 1);
	char c;
	(void)!read(v->ask[0], &c, 1);
	(void)!write(v->out[1], &target, sizeof(target));
	_exit(0);
}

static void victim_pipes(struct victim *v)
{
	assert_int_equal(pipe(v->ready), 0);
	assert_int_equal(pipe(v->ask), 0);
	assert_int_equal(pipe(v->out), 0);
}

/* Starts the victim, with pid want when want > 0 (clone3's set_tid: the
 * dead caller's pid, reused). */
static pid_t victim_start(struct victim *v, pid_t want)
{
	pid_t pid;
	if (want > 0) {
		pid_t tid = want;
		struct clone_args a = {.exit_signal = SIGCHLD,
				       .set_tid = (uintptr_t)&tid,
				       .set_tid_size = 1};
		pid = (pid_t)syscall(SYS_clone3, &a, sizeof(a));
	} else {
		pid = fork();
	}
	if (pid == 0)
		victim_run(v);
	if (pid > 0) {
		char c;
		assert_int_equal(read(v->ready[0], &c, 1), 1);
	}
	v->pid = pid;
	return pid;
}

/* True when the victim's buffer is as it left it. */
static bool victim_untouched(struct victim *v)
{
	struct utsname got;
	(void)!write(v->ask[1], "a", 1);
	assert_int_equal(read(v->out[0], &got, sizeof(got)), sizeof(got));
	waitpid(v->pid, NULL, 0);
	int *fds[] = {v->ready, v->ask, v->out};
	for (size_t i = 0; i < 3; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
	struct utsname want;
	memset(&want, 'V', sizeof(want));
	return memcmp(&got, &want, sizeof(got)) == 0;
}

/* When set, the next check of a notification that says it still stands
 * is followed at once by the caller's death and its pid's reuse by the
 * victim: the window between the handler's check and its write. */
static pid_t reuse_after_check;
static struct victim *reuse_victim;

/* Stands in for libseccomp's (the handler calls it by name). */
int seccomp_notify_id_valid(int fd, uint64_t id)
{
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
		return -errno;
	if (reuse_after_check > 0) {
		pid_t pid = reuse_after_check;
		reuse_after_check = 0;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		victim_start(reuse_victim, pid);
	}
	return 0;
}

/* A child whose uname(2) goes to a listener; *listener is our copy. It
 * reports uname's result and its buffer on result. */
static pid_t caller_start(int *listener, int result[2])
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(result), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		if (!ctx ||
		    seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(uname), 0) <
			0 ||
		    seccomp_load(ctx) < 0)
			_exit(1);
		int fd = seccomp_notify_fd(ctx);
		(void)!write(p[1], &fd, sizeof(fd));
		memset(&target, 0, sizeof(target));
		int r = uname(&target) == 0 ? 0 : errno;
		(void)!write(result[1], &r, sizeof(r));
		(void)!write(result[1], &target, sizeof(target));
		_exit(0);
	}
	close(p[1]);
	close(result[1]);
	int fd = -1;
	assert_int_equal(read(p[0], &fd, sizeof(fd)), sizeof(fd));
	close(p[0]);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	assert_true(pidfd >= 0);
	*listener = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	assert_true(*listener >= 0);
	close(pidfd);
	return pid;
}

static void test_live_caller_gets_the_lx_identity(void **state)
{
	int listener, result[2];
	pid_t pid = caller_start(&listener, result);
	struct hull_err err = {0};
	assert_int_equal(zone_uname_handle(listener, "4.19.0", &err), 0);
	int r = -1;
	struct utsname u, host;
	assert_int_equal(read(result[0], &r, sizeof(r)), sizeof(r));
	assert_int_equal(read(result[0], &u, sizeof(u)), sizeof(u));
	assert_int_equal(r, 0);
	assert_string_equal(u.version, ZONE_LX_VERSION);
	assert_string_equal(u.release, "4.19.0");
	uname(&host);
	assert_string_equal(u.sysname, host.sysname);
	assert_string_equal(u.nodename, host.nodename);
	waitpid(pid, NULL, 0);
	close(result[0]);
	close(listener);
}

/* The caller died before the handler looked; its pid now names another
 * process (here simply another pid is given: what a reused pid looks
 * like to the handler). */
static void test_dead_caller_is_answered_without_writing(void **state)
{
	int listener, result[2];
	pid_t pid = caller_start(&listener, result);
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	assert_int_equal(seccomp_notify_alloc(&req, &resp), 0);
	assert_int_equal(seccomp_notify_receive(listener, req), 0);
	assert_int_equal((pid_t)req->pid, pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	struct victim v;
	victim_pipes(&v);
	assert_true(victim_start(&v, 0) > 0);
	req->pid = (uint32_t)v.pid;
	assert_true(zone_uname_answer(listener, req, "4.19.0") < 0);
	req->data.nr = SYS_sethostname;
	req->data.args[1] = 4;
	assert_true(zone_uname_answer(listener, req, NULL) < 0);
	assert_true(victim_untouched(&v));
	seccomp_notify_free(req, resp);
	close(result[0]);
	close(listener);
}

/* The caller dies right after the handler found its notification still
 * pending, and its pid is at once reused by the victim (clone3 with
 * set_tid: needs CAP_SYS_ADMIN). The handler still writes only where the
 * caller was. */
static void test_pid_reused_after_the_check_is_not_written(void **state)
{
	if (geteuid() != 0)
		skip(); /* choosing a pid needs CAP_SYS_ADMIN */
	int listener, result[2];
	pid_t pid = caller_start(&listener, result);
	struct victim v;
	victim_pipes(&v);
	v.pid = -1;
	reuse_victim = &v;
	reuse_after_check = pid;
	struct hull_err err = {0};
	int r = zone_uname_handle(listener, "4.19.0", &err);
	assert_int_equal(reuse_after_check, 0); /* the check did run */
	assert_int_equal(v.pid, pid);		/* and the pid was reused */
	assert_true(victim_untouched(&v));
	/* A caller gone by the time of the answer is no error. */
	assert_int_equal(r, 0);
	close(result[0]);
	close(listener);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_live_caller_gets_the_lx_identity),
	    cmocka_unit_test(test_dead_caller_is_answered_without_writing),
	    cmocka_unit_test(test_pid_reused_after_the_check_is_not_written),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
