/*
 * servers.h - the head node's compute nodes (CNAPI's server records) and
 * the tasks it queues for their agents.
 *
 * Records (buckets of store.h):
 *   servers  uuid -> {uuid, hostname, datacenter, created, reserved,
 *                     last_heartbeat (ISO), heartbeat_ms (epoch ms),
 *                     sysinfo, ram (MiB), cpus, disk_pool_size_bytes,
 *                     disk_pool_alloc_bytes, reservation_ratio, vms
 *                     {uuid: state}, agent_key_sha256}
 *   tasks    id -> {id, server, machine, action, params, state
 *                   (queued|done|failed), error, created, finished}
 *   ips      NETWORK/IP -> {network, ip, machine}: one record per address
 *                   handed out, so that the key's uniqueness is what keeps
 *                   one address from going to two nics.
 *
 * A server's `status` is never stored: it is `running` while its last
 * heartbeat is at most SERVER_HEARTBEAT_LIFETIME_S old and `unknown` after,
 * derived at each read (CNAPI's reconciler flips a stored field every 5 s;
 * deriving it needs no reconciler and is never stale).
 */
#ifndef HULL_HEAD_SERVERS_H
#define HULL_HEAD_SERVERS_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "head/store.h"
#include "lib/err.h"

/* CNAPI's HEARTBEAT_LIFETIME_SECONDS. */
#define SERVER_HEARTBEAT_LIFETIME_S 11
/* CNAPI's default reservation_ratio: RAM kept for the host itself. */
#define SERVER_RESERVATION_RATIO 0.15
/* DAPI's POOL_USABLE_RATIO: the share of the pool instances may book. */
#define SERVER_POOL_USABLE_RATIO 0.94

int64_t head_now_ms(void);

/* "running" or "unknown" for a server record at now_ms. */
const char *server_status(json_t *srv, int64_t now_ms);

/* A machine books capacity unless it failed or is gone. */
bool machine_books(json_t *m);

/* What is left to book on a server (MiB): its RAM less the reservation
 * ratio and the memory of its machines that are neither failed nor
 * deleted, its usable pool less their disk. machines: the machines bucket
 * records of that server. */
void server_unreserved(json_t *srv, json_t *machines, long *ram_mib,
		       long *disk_mib);

/* The server as `hulladm server get` and list show it: the record less
 * the agent's key hash, with status and unreserved_ram/disk. */
json_t *server_view(struct store *s, json_t *srv, int64_t now_ms);

/* Trades a one-time join token for a new agent key: the token must exist
 * and be unused (then it is used up, in the same transaction as the
 * server record). Re-joining a known server uuid replaces its key.
 * *key (caller frees) is the agent's credential; only its SHA-256 is
 * kept. -EACCES for an unknown or used token. */
int server_join(struct store *s, const char *token, const char *uuid,
		json_t *info, char **key, struct hull_err *err);

/* Checks an agent's credential for server uuid (constant time).
 * -EACCES when it does not match or the server is unknown. */
int server_auth(struct store *s, const char *uuid, const char *key,
		struct hull_err *err);

/* Sets or clears a server's `reserved` flag (placement skips reserved
 * servers). -ENOENT for an unknown server. */
int server_reserve(struct store *s, const char *uuid, bool reserved,
		   struct hull_err *err);

/* Forgets a server: refused (-EBUSY) while machines are booked on it. */
int server_forget(struct store *s, const char *uuid, struct hull_err *err);

/* Queues a task for a server's agent (inside the caller's transaction
 * when there is one). audit (may be NULL: the action) is the name the
 * machine's audit gives it once done (CloudAPI's, e.g. set_metadata for
 * an update). *id_out (may be NULL) gets the task's id. */
/* fn(cls, server) is called each time a task is queued for a server (in
 * its transaction: fn must only note it); NULL stops it. */
void task_listen(void (*fn)(void *cls, const char *server), void *cls);

int task_queue(struct store *s, const char *server, const char *machine,
	       const char *action, const char *audit, json_t *params,
	       char id_out[37], struct hull_err *err);
#endif
