/*
 * migrate.h - Triton's warm migration through the head node (CloudAPI
 * `POST /:login/machines/:id/migrate`, sdc-vmapi's migrate workflows, as
 * the real `triton instance migration` uses them; spec triton-wave2.md
 * §1.2-1.4), driven by tasks on the two agents.
 *
 * Record: bucket "migrations", key the machine's uuid (one migration per
 * machine at a time): the CloudAPI migration object (machine, phase,
 * state, automatic, created_timestamp, progress_history, error) plus
 * owner, source_server_uuid, target_server_uuid, num_sync_phases, the
 * snapshot both sides share (last_snapshot), the per-migration secret
 * (never shown), and the progress events of the running phase (events,
 * event_seq) that the watch stream sends.
 *
 * Phases: begin (target picked by placement: a running server other than
 * the source with room), sync (task migrate_sync on the source: send to
 * the target's agent; repeatable), switch (migrate_switch on the source:
 * stop, last increment, hide; then migrate_activate on the target: start
 * there; a failure puts the source back), abort (migrate_abort on the
 * target: remove its copy), finalize (delete the source's copy).
 */
#ifndef HULL_HEAD_MIGRATE_H
#define HULL_HEAD_MIGRATE_H
#include <jansson.h>
#include <stdbool.h>

#include "head/api.h"
#include "head/store.h"
#include "lib/err.h"

/* /:login/machines/:id/migrate (GET, POST with action; POST
 * ?action=watch streams). */
int migrate_machine_dispatch(struct api_req *q, const char *id);
/* Before the server stops: ends every watch stream. */
void migrate_watch_stop(void);
/* /:login/migrations[/:id] */
int migrate_list_dispatch(struct api_req *q);

/* The operator's (hulladm migration): pins the target server of the next
 * begin of vm (server NULL: unpins); sets the bandwidth cap of vm's
 * migration, from its next send on (0: none). */
int migrate_pin(struct store *s, const char *vm, const char *server,
		struct hull_err *err);
int migrate_limit(struct store *s, const char *vm, long mbps,
		  struct hull_err *err);

/* True while vm has a migration that is not aborted: its delete is
 * refused (the target's copy would be left). */
bool migrate_active(struct store *s, const char *vm);

/* True for the task actions this module queues. */
bool migrate_task_is(const char *action);
/* A migration task's end as its agent reports it (report: the agent's
 * body, with `result`). */
int migrate_task_done(struct store *s, json_t *task, json_t *report,
		      struct hull_err *err);
/* The agents' side: GET /agent/servers/:uuid/migrations/:vm answers the
 * secret to the migration's target only; POST .../progress adds an
 * event. */
int migrate_agent_dispatch(struct api_req *q, const char *server,
			   const char *vm);
/* For replicate.c: the target's address into params (target_host,
 * target_port); a machine's server changed. */
int migrate_target_addr(struct store *s, const char *server, json_t *params,
			struct hull_err *err);
int migrate_machine_move(struct store *s, const char *vm, const char *server,
			 struct hull_err *err);
#endif
