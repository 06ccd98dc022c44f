/*
 * loop.c - a minimal epoll loop: a table of (fd, callback, data).
 */
#include "supervisor/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lib/xalloc.h"

struct sv_watch {
	int fd;
	sv_loop_fn fn;
	void *data;
	struct sv_watch *next;
};

struct sv_loop {
	int ep;
	struct sv_watch *watches;
};

struct sv_loop *sv_loop_new(struct hull_err *err)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		hull_err_sys(err, errno, "epoll_create1");
		return NULL;
	}
	struct sv_loop *l = xcalloc(1, sizeof(*l));
	l->ep = ep;
	return l;
}

void sv_loop_free(struct sv_loop *l)
{
	if (!l)
		return;
	while (l->watches) {
		struct sv_watch *w = l->watches;
		l->watches = w->next;
		free(w);
	}
	close(l->ep);
	free(l);
}

int sv_loop_add(struct sv_loop *l, int fd, uint32_t events, sv_loop_fn fn,
		void *data, struct hull_err *err)
{
	struct sv_watch *w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->fn = fn;
	w->data = data;
	struct epoll_event ev = {.events = events, .data.ptr = w};
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(w);
		return hull_err_sys(err, errno, "epoll_ctl add");
	}
	w->next = l->watches;
	l->watches = w;
	return 0;
}

static struct sv_watch *find(struct sv_loop *l, int fd)
{
	for (struct sv_watch *w = l->watches; w; w = w->next)
		if (w->fd == fd)
			return w;
	return NULL;
}

int sv_loop_mod(struct sv_loop *l, int fd, uint32_t events)
{
	struct sv_watch *w = find(l, fd);
	if (!w)
		return -ENOENT;
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void sv_loop_del(struct sv_loop *l, int fd)
{
	for (struct sv_watch **pp = &l->watches; *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd) {
			struct sv_watch *w = *pp;
			*pp = w->next;
			epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
			/* A callback may delete a watch whose event is still
			 * pending in this round: mark it dead, free it later.
			 */
			w->fn = NULL;
			w->next = NULL;
			free(w);
			return;
		}
	}
}

int sv_loop_run_once(struct sv_loop *l, int timeout_ms)
{
	struct epoll_event evs[16];
	int n = epoll_wait(l->ep, evs, 16, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* Callbacks may remove other watches: look each one up again. */
	int fds[16];
	for (int i = 0; i < n; i++)
		fds[i] = ((struct sv_watch *)evs[i].data.ptr)->fd;
	for (int i = 0; i < n; i++) {
		struct sv_watch *w = find(l, fds[i]);
		if (w && w == evs[i].data.ptr && w->fn)
			w->fn(l, w->fd, evs[i].events, w->data);
	}
	return n;
}
