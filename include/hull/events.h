/*
 * hull/events.h - the stream of instance changes (vmadm events, SmartOS's
 * vminfod events) as a library.
 *
 * A stream watches the pool root with inotify and rescans the instances
 * on each wake and at least once a timeout; each rescan diffs the instance
 * objects against the previous scan's and reports "create", "modify"
 * (with its changes, as vminfod has them: path, prettyPath, action,
 * oldValue, newValue) and "delete". A stream is one caller's: several
 * streams (in threads or processes) may be open at once, each seeing every
 * change; one stream must not be used from two threads at once. No locks:
 * records are replaced atomically.
 */
#ifndef HULL_EVENTS_H
#define HULL_EVENTS_H

#include <jansson.h>

#include "lib/err.h"

struct hull_events;

/* Called once per change: type "create", "modify" or "delete"; vm the
 * instance object (for delete, its last); changes the array of changes
 * for "modify", else NULL. All borrowed for the call. */
typedef void (*hull_event_fn)(const char *type, json_t *vm, json_t *changes,
			      void *arg);

/* Opens a stream of every instance (uuid NULL) or of one. The instances
 * that exist now are its starting point: they are not reported. *out is
 * the caller's (hull_events_close). */
int hull_events_open(const char *uuid, struct hull_events **out,
		     struct hull_err *err);

/* The descriptor that becomes readable when something may have changed,
 * for a caller's own poll loop (then call hull_events_wait with 0). */
int hull_events_fd(const struct hull_events *ev);

/* Waits up to timeout_ms (-1: until a change wakes it) for a change, then
 * rescans and calls fn for each change found. Returns the number of
 * changes reported, or a negative code. */
int hull_events_wait(struct hull_events *ev, int timeout_ms, hull_event_fn fn,
		     void *arg, struct hull_err *err);

/* Closes a stream; NULL is fine. */
void hull_events_close(struct hull_events *ev);

#endif
