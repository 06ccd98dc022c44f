/*
 * event.h - telling a hull_image_events callback (hull/image.h) what
 * happened; for the image library's own files.
 */
#ifndef HULL_IMAGE_EVENT_H
#define HULL_IMAGE_EVENT_H

#include <stdint.h>

#include "hull/image.h"

/* Calls ev's callback with e, when there is one. */
void image_event(const struct hull_image_events *ev,
		 const struct hull_image_event *e);

/* NODES_DROPPED (when nodes > 0), then INSTALLED, for manifest m. */
void image_event_installed(const struct hull_image_events *ev, json_t *m,
			   uint64_t nodes, int depth);

#endif
