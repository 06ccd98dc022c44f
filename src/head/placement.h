/*
 * placement.h - which compute node a new machine goes to: the simplest
 * correct subset of DAPI (sdc-designation; spec triton-wave2.md 4.1).
 *
 * Hard filters: the server is running (heartbeat fresh), not reserved,
 * and has at least the machine's RAM and disk unreserved (servers.h's
 * arithmetic). Then one scorer: most unreserved RAM first (spread), ties
 * by uuid so that the order is stable. More scorers, locality hints and
 * the datacenter-wide reserve plug in here.
 *
 * Booking is a conditional write of the server record (its etag) in the
 * transaction that writes the machine, so two creates racing for the last
 * room on a server cannot both book it, in one hull-api or in several on
 * one database.
 */
#ifndef HULL_HEAD_PLACEMENT_H
#define HULL_HEAD_PLACEMENT_H
#include <jansson.h>

#include "head/store.h"
#include "lib/err.h"

/* The uuids of the servers that pass the filters, best first (new
 * reference). An empty array when none does. */
int placement_candidates(struct store *s, long ram_mib, long disk_mib,
			 json_t **uuids, struct hull_err *err);

/* Inside a transaction: rechecks server against the filters and books
 * it (a write under its etag). -ENOSPC when it no longer fits or runs,
 * -ECANCELED when another writer got there first. */
int placement_book(struct store *s, const char *server, long ram_mib,
		   long disk_mib, struct hull_err *err);
#endif
