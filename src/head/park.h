/*
 * park.h - requests answered later: a handler with nothing to say yet (an
 * agent asking for tasks while none is queued) parks its connection
 * instead of answering, and hull-api runs it again when woken: at once
 * when this process queues something under the connection's key, and at
 * the latest after PARK_TICK_MS (what another hull-api on the same
 * database queued), until the request's own deadline.
 *
 * A parked connection is suspended (libmicrohttpd's suspend/resume), so
 * it holds up no one on the single handler thread. park_add and the
 * handler thread's park_wake are called on that thread; the ticker thread
 * only resumes.
 */
#ifndef HULL_HEAD_PARK_H
#define HULL_HEAD_PARK_H

/* How late a change made by another process is seen. */
#define PARK_TICK_MS 1000

struct park;

/* A set of parked connections with its ticker thread. */
struct park *park_new(void);
/* Resumes every parked connection and stops the ticker: before the
 * daemon stops (libmicrohttpd cannot stop with suspended connections).
 * A park_add after it does not keep its connection suspended. */
void park_stop(struct park *pk);
/* park_stop, then frees: after the daemon stopped (its handler thread
 * may still park until then). */
void park_free(struct park *pk);

/* Suspends conn (struct MHD_Connection) under key. */
void park_add(struct park *pk, void *conn, const char *key);
/* Resumes the connections parked under key. */
void park_wake(struct park *pk, const char *key);
#endif
