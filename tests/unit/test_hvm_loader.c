/*
 * test_hvm_loader.c - the boot loader child's resource limits
 * (hvm_loader_limits_set, src/hvm/loader.h), applied in a forked child as
 * the loader applies them: a child that asks for more memory than its
 * bound is refused, one that spins past its CPU time is killed.
 *
 * The bounded walk keeps libext2fs far below HVM_LOADER_MEM_MIB and
 * HVM_LOADER_CPU_S on any disk (tests/integration/test_hvm_loader.py), so
 * no disk can push the real loader over them: the mechanism is tested
 * here, with lower numbers.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hvm/loader.h"

/* Runs fn in a forked child under the limits (cpu_s, mem_mib); returns
 * its wait status. */
static int in_child(unsigned cpu_s, unsigned mem_mib, int (*fn)(void))
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (hvm_loader_limits_set(cpu_s, mem_mib) < 0)
			_exit(100);
		_exit(fn());
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* 0: a mapping past the bound was refused and one within it was not. */
static int alloc_past_bound(void)
{
	size_t big = (size_t)256 << 20;
	void *p = mmap(NULL, big, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		return 1;
	size_t small = (size_t)8 << 20;
	p = mmap(NULL, small, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? 2 : 0;
}

static void test_memory_bound(void **state)
{
	(void)state;
	int st = in_child(10, 64, alloc_past_bound);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int spin(void)
{
	volatile uint64_t n = 0;
	for (;;)
		n++;
	return 0;
}

static void test_cpu_bound(void **state)
{
	(void)state;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int st = in_child(1, 64, spin);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* SIGXCPU at the soft limit (its default action ends the process),
	 * SIGKILL at the hard one a second later */
	assert_true(WIFSIGNALED(st));
	assert_true(WTERMSIG(st) == SIGXCPU || WTERMSIG(st) == SIGKILL);
	/* 1 s of CPU; wall time more on a loaded host, never unbounded */
	assert_true(t1.tv_sec - t0.tv_sec < 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memory_bound),
	    cmocka_unit_test(test_cpu_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
