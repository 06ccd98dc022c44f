/*
 * replicate.h - automated disaster recovery (beyond SmartOS and Triton):
 * an instance's replication to a standby server on the warm migration's
 * sync machinery (migrate.h, src/agent/migrate.c), evacuation of a lost
 * server onto the standbys, and fencing of a server that comes back.
 *
 * Record: bucket "replications", key the machine's uuid: {vm, source,
 * standby, interval_s, keep, secret, last_snapshot, last_replica_at,
 * last_replica_ms, busy, state: active|recovered, recovered_at}.
 *
 * No thread of its own: each heartbeat of a server (replica_tick) queues
 * the syncs of its instances that are due, evacuates every server whose
 * last heartbeat is older than the lost threshold (HULL_DR_LOST_S, 60 s
 * by default), and fences instances the reporting server still runs that
 * were recovered elsewhere.
 */
#ifndef HULL_HEAD_REPLICATE_H
#define HULL_HEAD_REPLICATE_H
#include <jansson.h>
#include <stdbool.h>

#include "head/store.h"
#include "lib/err.h"

/* hulladm replication set: a policy for vm (interval_s > 0; keep >= 1),
 * its standby chosen by placement (never the instance's server). */
int replica_set(struct store *s, const char *vm, long interval_s, long keep,
		json_t **out, struct hull_err *err);
/* Every replication record (new reference). */
int replica_list(struct store *s, json_t **out, struct hull_err *err);
/* hulladm server evacuate: starts server's replicated instances on their
 * standbys from the newest replica. *n gets how many. */
int replica_evacuate(struct store *s, const char *server, int *n,
		     struct hull_err *err);
/* On each heartbeat of server (vms: its {uuid: state}). */
void replica_tick(struct store *s, const char *server, json_t *vms);

bool replica_task_is(const char *action);
int replica_task_done(struct store *s, json_t *task, json_t *report,
		      struct hull_err *err);
/* {target_server_uuid, secret} of vm's replication when server is its
 * standby (the agent's handshake). */
int replica_secret(struct store *s, const char *server, const char *vm,
		   json_t **out);
#endif
