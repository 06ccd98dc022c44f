/*
 * test_vmm_iothread.c - the I/O loop (src/vmm/iothread.c) stops handling
 * events as soon as one handler has ended the VM, even events that came
 * in the same epoll_wait: after a live migration's hand-over, a disk
 * request the guest queued before the pause is the target's, and the
 * source running it too would write the disk under the target.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/iothread.h"
#include "vmm/vm.h"

static unsigned calls;

/* io_run's own way to end the VM (kvm.c's, which this test does not
 * link) */
void vm_request_exit(struct vm *vm, enum vm_exit_reason why)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->exit_reason == VM_RUNNING)
		vm->exit_reason = why;
	pthread_mutex_unlock(&vm->lock);
}

/* each handler ends the VM, as the migration's hand-over does */
static void ends_the_vm(void *arg, uint32_t events)
{
	struct vm *vm = arg;
	(void)events;
	calls++;
	pthread_mutex_lock(&vm->lock);
	vm->exit_reason = VM_EXIT_MIGRATED;
	pthread_mutex_unlock(&vm->lock);
}

static void test_nothing_after_the_end(void **state)
{
	(void)state;
	static struct vm vm;
	struct hull_err err = {0};
	memset(&vm, 0, sizeof(vm));
	pthread_mutex_init(&vm.lock, NULL);
	vm.exit_reason = VM_RUNNING;
	assert_int_equal(io_init(&err), 0);
	int fds[3];
	uint64_t one = 1;
	for (unsigned i = 0; i < 3; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		assert_true(fds[i] >= 0);
		/* all three readable before the loop's first epoll_wait */
		assert_int_equal(write(fds[i], &one, 8), 8);
		assert_int_equal(
		    io_add(fds[i], EPOLLIN, ends_the_vm, &vm, &err), 0);
	}
	assert_int_equal(io_run(&vm), VM_EXIT_MIGRATED);
	assert_int_equal(calls, 1);
	io_fini();
	for (unsigned i = 0; i < 3; i++)
		close(fds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nothing_after_the_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
