/*
 * placement.h - which compute node a new machine goes to: DAPI's model
 * (sdc-designation; spec triton-wave2.md 4, triton.md 5) in hull's terms.
 *
 * Hard filters, in order: the server is running (heartbeat fresh), not
 * reserved, not the excluded one; it can run the brand (bhyve and kvm need
 * the sysinfo's "HVM API", bhyve also "Bhyve Capable"); it holds fewer than
 * vm_limit machines; it has the RAM, disk and (for a package with a
 * cpu_cap) CPU unreserved, after its reservation ratio and the
 * overprovision ratios (placecfg.h); the request's hard affinity holds.
 * A booking must also leave the datacenter-wide reserve untouched unless
 * the request may use it (failover).
 *
 * Then the soft hints (affinity.h): servers far from the named instances
 * are kept when there are any, then among those the near ones; far beats
 * near, as DAPI's.
 *
 * Then the weighted scorers. Each ranks the servers and adds
 * (n-1-i)/(n-1) x |weight| to the server at rank i; servers equal on a
 * scorer's measure share its score. hull's sign, defined here and tested:
 * a POSITIVE weight favours MORE of the measure, i.e.
 *   unreserved_ram, unreserved_disk  > 0 spread, < 0 pack;
 *   owner_spread (fewer machines of the same owner) > 0 spreads an
 *   owner's machines across servers;
 *   random: a random draw per server, for ties.
 * The highest total is the best; ties go by uuid so the order is stable.
 *
 * Booking is a conditional write of the server record (its etag) in the
 * transaction that writes the machine, so two creates racing for the last
 * room on a server cannot both book it, in one hull-api or in several on
 * one database; with a datacenter reserve set, the booking also rewrites
 * the datacenter's booking record, so two creates on different servers
 * cannot both eat into it.
 */
#ifndef HULL_HEAD_PLACEMENT_H
#define HULL_HEAD_PLACEMENT_H
#include <jansson.h>
#include <stdbool.h>

#include "head/store.h"
#include "lib/err.h"

/* What a new machine needs. */
struct placement_req {
	long ram_mib, disk_mib;
	long cpu_cap;	     /* the package's, 100 = one core; 0: uncapped */
	const char *brand;   /* NULL: a zone */
	const char *owner;   /* for owner_spread; NULL: none */
	json_t *hints;	     /* affinity.h's server sets, or NULL */
	const char *exclude; /* a server never chosen, or NULL */
	bool use_reserve;    /* may book into the datacenter reserve */
};

/* The uuids of the servers that pass the filters, best first (new
 * reference). An empty array when none does. */
int placement_choose(struct store *s, const struct placement_req *rq,
		     json_t **uuids, struct hull_err *err);

/* Inside a transaction: rechecks server against the hard filters and the
 * datacenter reserve, and books it. -ENOSPC when it no longer fits or
 * runs, -ECANCELED when another writer got there first. */
int placement_take(struct store *s, const char *server,
		   const struct placement_req *rq, struct hull_err *err);

/* The same for a machine that needs only RAM and disk (a zone, no cap,
 * no hints). */
int placement_candidates(struct store *s, long ram_mib, long disk_mib,
			 json_t **uuids, struct hull_err *err);
int placement_book(struct store *s, const char *server, long ram_mib,
		   long disk_mib, struct hull_err *err);

/* The datacenter's capacity over its running, unreserved servers:
 * {ram|cpu|disk: {total, reserve, used, free}} (MiB, MiB, and cpu_cap
 * units), free being what ordinary placement may still book. */
int placement_capacity(struct store *s, json_t **out, struct hull_err *err);
#endif
