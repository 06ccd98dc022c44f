/*
 * iothread.c - the epoll loop every device's non-exit I/O runs on.
 *
 * Handlers are registered with a small heap record that epoll hands back;
 * records stay valid until the process ends (devices live as long as the
 * VM), so a deleted fd's late event cannot touch freed memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "vmm/iothread.h"

struct io_watch {
	int fd;
	io_handler_fn fn;
	void *arg;
	struct io_watch *next;
};

static int epfd = -1;
static struct io_watch *watches;

int io_init(struct hull_err *err)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return hull_err_sys(err, errno, "epoll_create1");
	return 0;
}

void io_fini(void)
{
	while (watches) {
		struct io_watch *n = watches->next;
		free(watches);
		watches = n;
	}
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}

unsigned io_fds(int *out, unsigned max)
{
	if (epfd < 0 || !max)
		return 0;
	out[0] = epfd;
	return 1;
}

static struct io_watch *find(int fd)
{
	for (struct io_watch *w = watches; w; w = w->next)
		if (w->fd == fd)
			return w;
	return NULL;
}

int io_add(int fd, uint32_t events, io_handler_fn fn, void *arg,
	   struct hull_err *err)
{
	struct io_watch *w = find(fd);
	if (!w) {
		w = xcalloc(1, sizeof(*w));
		w->next = watches;
		watches = w;
	}
	w->fd = fd;
	w->fn = fn;
	w->arg = arg;
	struct epoll_event ev = {.events = events, .data.ptr = w};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return hull_err_sys(err, errno, "epoll_ctl");
	return 0;
}

int io_mod(int fd, uint32_t events, io_handler_fn fn, void *arg)
{
	struct io_watch *w = find(fd);
	if (!w)
		return -ENOENT;
	w->fn = fn;
	w->arg = arg;
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void io_del(int fd)
{
	struct io_watch *w = find(fd);
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	if (w)
		w->fd = -1;
}

int io_run(struct vm *vm)
{
	struct epoll_event evs[16];
	for (;;) {
		pthread_mutex_lock(&vm->lock);
		int why = vm->exit_reason;
		pthread_mutex_unlock(&vm->lock);
		if (why != VM_RUNNING)
			return why;
		int n = epoll_wait(epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			vm_request_exit(vm, VM_EXIT_ERROR);
			continue;
		}
		for (int i = 0; i < n; i++) {
			struct io_watch *w = evs[i].data.ptr;
			if (w->fd >= 0)
				w->fn(w->arg, evs[i].events);
			/* nothing more once the VM is ending: after a live
			 * migration's hand-over the guest's queued disk
			 * requests are the target's, and one run here too
			 * would write the disk under it */
			pthread_mutex_lock(&vm->lock);
			why = vm->exit_reason;
			pthread_mutex_unlock(&vm->lock);
			if (why != VM_RUNNING)
				break;
		}
	}
}
