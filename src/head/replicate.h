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

/* The replicas (send snapshots) kept on the source and the standby when
 * a policy names no count. */
#define REPLICA_KEEP 2

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

/* At create: the policy of vm's package pkg (its replication_interval
 * and replication_keep), if it has one. */
int replica_from_package(struct store *s, const char *vm, json_t *pkg,
			 struct hull_err *err);

/* What copies that are not a machine's own record hold on server, for
 * placement: standby copies of active replications (their disk and RAM:
 * a recovery starts them there), the target copy of a migration before
 * its switch and the source copy after it until finalize (disk). */
void replica_copies_on(struct store *s, const char *server, long *ram_mib,
		       long *disk_mib);
/* The same for every server at once, read once (for placement's pass
 * over all servers): {server: [ram_mib, disk_mib]}, caller decrefs; and
 * one server's entry of it (0 and 0 when it has none). */
json_t *replica_copies(struct store *s);
void replica_copies_of(json_t *copies, const char *server, long *ram_mib,
		       long *disk_mib);

/* The standby server of vm's active replication (caller frees), or
 * NULL. */
char *replica_standby_of(struct store *s, const char *vm);

bool replica_task_is(const char *action);
int replica_task_done(struct store *s, json_t *task, json_t *report,
		      struct hull_err *err);
/* {target_server_uuid, secret} of vm's replication when server is its
 * standby (the agent's handshake). */
int replica_secret(struct store *s, const char *server, const char *vm,
		   json_t **out);
#endif
