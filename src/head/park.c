/*
 * park.c - parked requests: see park.h.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "head/park.h"
#include "lib/xalloc.h"

struct parked {
	struct MHD_Connection *conn;
	char *key;
};

struct park {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t ticker;
	bool stop;
	struct parked *list;
	size_t n, cap;
};

/* Resumes the connections parked under key (every one when key is
 * NULL); the lock is held. */
static void resume_where(struct park *pk, const char *key)
{
	size_t j = 0;
	for (size_t i = 0; i < pk->n; i++) {
		if (key && strcmp(pk->list[i].key, key)) {
			pk->list[j++] = pk->list[i];
			continue;
		}
		MHD_resume_connection(pk->list[i].conn);
		free(pk->list[i].key);
	}
	pk->n = j;
}

static void *tick(void *arg)
{
	struct park *pk = arg;
	pthread_mutex_lock(&pk->lock);
	while (!pk->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += PARK_TICK_MS / 1000;
		until.tv_nsec += (long)(PARK_TICK_MS % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&pk->cond, &pk->lock, &until);
		resume_where(pk, NULL);
	}
	pthread_mutex_unlock(&pk->lock);
	return NULL;
}

struct park *park_new(void)
{
	struct park *pk = xcalloc(1, sizeof(*pk));
	pthread_mutex_init(&pk->lock, NULL);
	pthread_cond_init(&pk->cond, NULL);
	if (pthread_create(&pk->ticker, NULL, tick, pk) != 0)
		abort(); /* no thread at start-up: nothing sensible to do */
	return pk;
}

void park_stop(struct park *pk)
{
	if (!pk)
		return;
	pthread_mutex_lock(&pk->lock);
	bool was = pk->stop;
	pk->stop = true;
	pthread_cond_signal(&pk->cond);
	resume_where(pk, NULL);
	pthread_mutex_unlock(&pk->lock);
	if (!was)
		pthread_join(pk->ticker, NULL);
}

void park_free(struct park *pk)
{
	if (!pk)
		return;
	park_stop(pk);
	free(pk->list);
	pthread_cond_destroy(&pk->cond);
	pthread_mutex_destroy(&pk->lock);
	free(pk);
}

void park_add(struct park *pk, void *conn, const char *key)
{
	pthread_mutex_lock(&pk->lock);
	if (pk->stop) {
		/* The daemon is stopping (a request that came in after
		 * park_stop): suspended and at once marked for resuming, which
		 * libmicrohttpd's stop accepts. */
		MHD_suspend_connection(conn);
		MHD_resume_connection(conn);
		pthread_mutex_unlock(&pk->lock);
		return;
	}
	if (pk->n == pk->cap) {
		pk->cap = pk->cap ? pk->cap * 2 : 16;
		pk->list = xrealloc(pk->list, pk->cap * sizeof(*pk->list));
	}
	pk->list[pk->n++] = (struct parked){conn, xstrdup(key)};
	MHD_suspend_connection(conn);
	pthread_mutex_unlock(&pk->lock);
}

void park_wake(struct park *pk, const char *key)
{
	pthread_mutex_lock(&pk->lock);
	resume_where(pk, key);
	pthread_mutex_unlock(&pk->lock);
}
