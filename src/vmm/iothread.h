/*
 * iothread.h - the I/O loop: epoll over console input, sockets, ioeventfds
 * and taps. The main thread runs it after the vCPUs start; it returns when
 * the VM ends (vm->wake_fd fires and exit_reason is set).
 */
#ifndef HULL_VMM_IOTHREAD_H
#define HULL_VMM_IOTHREAD_H

#include <stdint.h>

#include "lib/err.h"
#include "vmm/vm.h"

/* Called on the I/O thread with the ready epoll events. */
typedef void (*io_handler_fn)(void *arg, uint32_t events);

int io_init(struct hull_err *err);
void io_fini(void);
/* The loop's own descriptor, for the confinement step. */
unsigned io_fds(int *out, unsigned max);

/* Watches fd for events (EPOLLIN/EPOLLOUT...); arg is passed back. */
int io_add(int fd, uint32_t events, io_handler_fn fn, void *arg,
	   struct hull_err *err);
int io_mod(int fd, uint32_t events, io_handler_fn fn, void *arg);
void io_del(int fd);

/* Runs until the VM ends; returns its exit reason. */
int io_run(struct vm *vm);

#endif
