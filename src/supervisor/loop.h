/*
 * loop.h - the supervisor's event loop (epoll), and the hook other parts
 * plug into: anything with a descriptor (the metadata server's listening
 * socket and its connections, a future VMM's console) registers a callback
 * with sv_loop_add() and is served by the same single thread.
 */
#ifndef HULL_SUPERVISOR_LOOP_H
#define HULL_SUPERVISOR_LOOP_H
#include <stdbool.h>
#include <stdint.h>
#include "lib/err.h"

struct sv_loop;
typedef void (*sv_loop_fn)(struct sv_loop *loop, int fd, uint32_t events,
			   void *data);

struct sv_loop *sv_loop_new(struct hull_err *err);
void sv_loop_free(struct sv_loop *loop);
/* Watches fd (borrowed: the caller closes it after sv_loop_del). */
int sv_loop_add(struct sv_loop *loop, int fd, uint32_t events, sv_loop_fn fn,
		void *data, struct hull_err *err);
int sv_loop_mod(struct sv_loop *loop, int fd, uint32_t events);
void sv_loop_del(struct sv_loop *loop, int fd);
/* Runs one round (waits at most timeout_ms, -1 forever). */
int sv_loop_run_once(struct sv_loop *loop, int timeout_ms);
#endif
