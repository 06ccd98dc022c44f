/*
 * migrate.c - warm migration through the head node (migrate.h): the
 * CloudAPI endpoints, the record's phases, the tasks the two agents run
 * and what their reports change, and the watch stream.
 *
 * Nothing here waits on an agent: an action writes the record, queues the
 * source's or the target's task and answers; the agent's report of that
 * task moves the record on (and queues the next task of a switch or of an
 * automatic migration). The data never passes through the head node: the
 * source's agent sends to the target's agent directly (src/agent/
 * migrate.c), authenticated with the migration's secret, which the head
 * node hands the source in its task and the target when it asks.
 *
 * The watch stream (`POST .../migrate?action=watch`, newline-delimited
 * JSON) is one libmicrohttpd response whose content callback runs on the
 * server's one polling thread: it sends the events the record gained
 * since the last call and, when there are none, suspends its connection
 * (MHD_suspend_connection) instead of blocking. A ticker thread resumes
 * every suspended watch WATCH_TICK_MS later, and the callback looks at
 * the store again. Other requests are served in between as usual.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "head/admin.h"
#include "head/api.h"
#include "head/migrate.h"
#include "head/placement.h"
#include "head/replicate.h"
#include "head/servers.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* How often a suspended watch looks at the record again: the agents
 * report progress once a second, so a fifth of that is prompt enough. */
#define WATCH_TICK_MS 200
/* The progress events of one phase the record keeps for watchers. */
#define EVENTS_KEPT 64

static const char *me(struct api_req *q)
{
	return hull_json_str(q->account, "uuid", "");
}

static void now_iso(char out[32])
{
	head_now_iso(out);
}

static json_t *view(json_t *rec)
{
	json_t *v = json_deep_copy(rec);
	static const char *const internal[] = {
	    "owner",	   "secret",	    "events",	    "event_seq",
	    "was_running", "last_snapshot", "limit_bytes_s"};
	for (size_t i = 0; i < sizeof(internal) / sizeof(*internal); i++)
		json_object_del(v, internal[i]);
	return v;
}

/* A new phase: its entry in progress_history, its events started over. */
static void phase_start(json_t *rec, const char *phase, const char *message)
{
	char now[32];
	now_iso(now);
	json_object_set_new(rec, "phase", json_string(phase));
	json_object_set_new(rec, "state", json_string("running"));
	json_object_del(rec, "error");
	json_t *h = json_object_get(rec, "progress_history");
	if (!json_is_array(h)) {
		h = json_array();
		json_object_set_new(rec, "progress_history", h);
	}
	json_array_append_new(
	    h, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:i}", "type",
			 "progress", "phase", phase, "state", "running",
			 "message", message, "started_timestamp", now,
			 "started_ms", (json_int_t)head_now_ms(),
			 "current_progress", 0, "total_progress", 100));
	json_object_set_new(rec, "events", json_array());
}

static void event_add(json_t *rec, json_t *ev)
{
	json_t *evs = json_object_get(rec, "events");
	if (!json_is_array(evs)) {
		evs = json_array();
		json_object_set_new(rec, "events", evs);
	}
	json_int_t seq = hull_json_int(rec, "event_seq", 0) + 1;
	json_object_set_new(rec, "event_seq", json_integer(seq));
	json_object_set_new(ev, "seq", json_integer(seq));
	json_array_append_new(evs, ev);
	while (json_array_size(evs) > EVENTS_KEPT)
		json_array_remove(evs, 0);
}

/* The running phase ends: state successful or failed (error). */
static void phase_end(json_t *rec, bool ok, const char *error)
{
	const char *st = ok ? "successful" : "failed";
	json_object_set_new(rec, "state", json_string(st));
	if (error)
		json_object_set_new(rec, "error", json_string(error));
	json_t *h = json_object_get(rec, "progress_history");
	json_t *last = json_array_get(h, json_array_size(h) - 1);
	if (last) {
		json_int_t t0 = hull_json_int(last, "started_ms", 0);
		json_object_set_new(last, "state", json_string(st));
		json_object_set_new(last, "current_progress",
				    json_integer(ok ? 100 : 0));
		json_object_set_new(last, "duration_ms",
				    json_integer(t0 ? head_now_ms() - t0 : 0));
		if (error)
			json_object_set_new(last, "error", json_string(error));
	}
	json_int_t t0 = hull_json_int(rec, "created_ms", 0);
	if (t0)
		json_object_set_new(rec, "duration_ms",
				    json_integer(head_now_ms() - t0));
}

static bool is_phase(json_t *rec, const char *p)
{
	return !strcmp(hull_json_str(rec, "phase", ""), p);
}

static bool is_state(json_t *rec, const char *s)
{
	return !strcmp(hull_json_str(rec, "state", ""), s);
}

/* Where the target's agent takes streams: its admin address as the head
 * node saw it and the port it announced. */
int migrate_target_addr(struct store *s, const char *server, json_t *params,
			struct hull_err *err)
{
	json_t *srv = NULL;
	int r = store_get(s, "servers", server, &srv, NULL, err);
	if (r < 0)
		return r;
	const char *ip = hull_json_str(srv, "admin_ip", NULL);
	json_int_t port = hull_json_int(srv, "migration_port", 0);
	if (!ip || port <= 0 || port > 65535) {
		json_decref(srv);
		return hull_err_set(err, EHOSTUNREACH,
				    "server %s has not announced where it "
				    "takes migration streams",
				    server);
	}
	json_object_set_new(params, "target_host", json_string(ip));
	json_object_set_new(params, "target_port", json_integer(port));
	json_decref(srv);
	return 0;
}

static bool source_up(struct store *s, json_t *rec)
{
	json_t *srv = NULL;
	if (store_get(s, "servers",
		      hull_json_str(rec, "source_server_uuid", ""), &srv, NULL,
		      NULL) < 0)
		return false;
	bool up = !strcmp(server_status(srv, head_now_ms()), "running");
	json_decref(srv);
	return up;
}

static json_t *task_params(json_t *rec)
{
	json_t *p = json_pack("{s:s, s:O}", "migration",
			      hull_json_str(rec, "vm_uuid", ""), "secret",
			      json_object_get(rec, "secret"));
	if (json_object_get(rec, "last_snapshot"))
		json_object_set(p, "base",
				json_object_get(rec, "last_snapshot"));
	if (hull_json_int(rec, "limit_bytes_s", 0) > 0)
		json_object_set(p, "limit_bytes_s",
				json_object_get(rec, "limit_bytes_s"));
	if (hull_json_bool(rec, "live", false))
		json_object_set_new(p, "live", json_true());
	if (json_object_get(rec, "downtime"))
		json_object_set(p, "downtime_ms",
				json_object_get(rec, "downtime"));
	if (hull_json_bool(rec, "auto_converge", false))
		json_object_set_new(p, "auto_converge", json_true());
	return p;
}

/* Queues a send (sync, or the switch's stop and last send) on the
 * source; the record's phase is set by the caller. */
static int queue_send(struct store *s, json_t *rec, const char *action,
		      struct hull_err *err)
{
	json_t *p = task_params(rec);
	int r = migrate_target_addr(
	    s, hull_json_str(rec, "target_server_uuid", ""), p, err);
	if (r == 0)
		r = task_queue(s, hull_json_str(rec, "source_server_uuid", ""),
			       hull_json_str(rec, "vm_uuid", ""), action, NULL,
			       p, NULL, err);
	json_decref(p);
	return r;
}

/* Sets the machine's server (a switch, or its rollback). */
int migrate_machine_move(struct store *s, const char *vm, const char *server,
			 struct hull_err *err)
{
	for (int tries = 0; tries < 8; tries++) {
		json_t *m = NULL;
		char *etag = NULL;
		int r = store_get(s, "machines", vm, &m, &etag, err);
		if (r < 0)
			return r;
		json_object_set_new(m, "server", json_string(server));
		json_object_set_new(m, "compute_node", json_string(server));
		r = store_put(s, "machines", vm, m, etag, NULL, err);
		free(etag);
		json_decref(m);
		if (r != -ECANCELED)
			return r;
	}
	return hull_err_set(err, EAGAIN, "machine %s: too many writers", vm);
}

/* ---- CloudAPI ---- */

static int load(struct api_req *q, const char *id, json_t **rec, char **etag)
{
	struct hull_err err = {0};
	json_t *m = NULL;
	if (!hull_uuid_valid(id) ||
	    store_get(q->store, "migrations", id, &m, etag, &err) < 0 ||
	    strcmp(hull_json_str(m, "owner", ""), me(q))) {
		json_decref(m);
		if (etag) {
			free(*etag);
			*etag = NULL;
		}
		api_error(q, 404, "ResourceNotFound",
			  "migration %.40s not found", id);
		return -ENOENT;
	}
	*rec = m;
	return 0;
}

/* The begin body's live (hull's: Triton migrates warm only): a running
 * bhyve or kvm VM's switch moves its paused guest with its memory
 * instead of stopping it. Why it is refused (to free), or NULL. */
static char *live_check(json_t *body, json_t *m, bool *live)
{
	json_t *l = json_object_get(body, "live");
	*live = json_is_true(l);
	if (l && !json_is_boolean(l))
		return xstrdup("live must be a boolean");
	const char *brand = hull_json_str(m, "brand", "");
	if (*live && strcmp(brand, "bhyve") && strcmp(brand, "kvm"))
		return xasprintf("a live migration is for bhyve and kvm "
				 "instances only (this one is %s)",
				 *brand ? brand : "?");
	return NULL;
}

/* The begin body's downtime (ms) and auto_converge, a live switch's
 * (docs/hull-api.md "MIGRATION"): the longest pause the pre-copy may end
 * in, and whether it may throttle the guest's vCPUs to get there. Why
 * they are refused (to free), or NULL. */
static char *converge_check(json_t *body, bool live)
{
	json_t *d = json_object_get(body, "downtime");
	json_t *ac = json_object_get(body, "auto_converge");
	if (d && (!json_is_integer(d) || json_integer_value(d) < 1 ||
		  json_integer_value(d) > 60000))
		return xstrdup("downtime must be an integer number of "
			       "milliseconds from 1 to 60000");
	if (ac && !json_is_boolean(ac))
		return xstrdup("auto_converge must be a boolean");
	if ((d || ac) && !live)
		return xstrdup("downtime and auto_converge are for a live "
			       "migration (live: true)");
	return NULL;
}

static int begin(struct api_req *q, json_t *m, json_t *old, const char *oldtag,
		 bool automatic)
{
	const char *id = hull_json_str(m, "id", "");
	const char *src = hull_json_str(m, "server", "");
	const char *st = hull_json_str(m, "state", "");
	if (strcmp(st, "running") && strcmp(st, "stopped"))
		return api_error(q, 409, "InvalidState",
				 "cannot migrate an instance that is %s", st);
	if (old && is_phase(old, "switch") && is_state(old, "successful"))
		return api_error(q, 409, "InvalidState",
				 "this instance has been migrated: use "
				 "migration finalize");
	if (old && !(is_phase(old, "abort") && is_state(old, "successful")))
		return api_error(q, 409, "InvalidState",
				 "a migration of this instance exists (phase "
				 "%s, %s): abort it first",
				 hull_json_str(old, "phase", ""),
				 hull_json_str(old, "state", ""));
	bool live = false;
	char *why = live_check(q->body, m, &live);
	if (!why)
		why = converge_check(q->body, live);
	if (why) {
		int r = api_error(q, 409, "InvalidArgument", "%s", why);
		free(why);
		return r;
	}
	struct hull_err err = {0};
	json_t *cands = NULL;
	if (placement_candidates(q->store, (long)hull_json_int(m, "memory", 0),
				 (long)hull_json_int(m, "disk", 0), &cands,
				 &err) < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	const char *target = NULL;
	size_t i;
	json_t *c;
	/* The operator's pin (hulladm migration pin), when it passes the
	 * filters; placement's best other server otherwise. */
	char *pinkey = xasprintf("migration-pin:%s", id);
	json_t *pin = NULL;
	store_get(q->store, "config", pinkey, &pin, NULL, NULL);
	const char *want = hull_json_str(pin, "server", NULL);
	/* Never the instance's standby: its replica there has the
	 * instance's uuid, which the target's copy would replace. */
	char *standby = replica_standby_of(q->store, id);
	json_array_foreach(cands, i, c)
	{
		if (strcmp(json_string_value(c), src) &&
		    (!standby || strcmp(json_string_value(c), standby)) &&
		    (!want || !strcmp(json_string_value(c), want))) {
			target = json_string_value(c);
			break;
		}
	}
	free(standby);
	if (!target) {
		json_decref(cands);
		int r = want ? api_error(q, 409, "InsufficientCapacity",
					 "the pinned server %s cannot take "
					 "instance %s (it is its source, not "
					 "running, or full)",
					 want, id)
			     : api_error(q, 409, "InsufficientCapacity",
					 "no other compute node has room for "
					 "instance %s",
					 id);
		json_decref(pin);
		free(pinkey);
		return r;
	}
	uint8_t key[32];
	if (getrandom(key, sizeof(key), 0) != sizeof(key)) {
		json_decref(cands);
		return api_error(q, 500, "InternalError", "no random bytes");
	}
	char hex[65];
	for (int k = 0; k < 32; k++)
		snprintf(hex + 2 * k, 3, "%02x", key[k]);
	char now[32];
	now_iso(now);
	json_t *rec = json_pack(
	    "{s:s, s:s, s:s, s:b, s:s, s:I, s:i, s:s, s:s, s:s, s:s, s:[]}",
	    "machine", id, "vm_uuid", id, "owner", me(q), "automatic",
	    automatic, "created_timestamp", now, "created_ms",
	    (json_int_t)head_now_ms(), "num_sync_phases", 0,
	    "source_server_uuid", src, "target_server_uuid", target, "secret",
	    hex, "target_vm_uuid", id, "progress_history");
	json_decref(cands);
	if (live)
		json_object_set_new(rec, "live", json_true());
	/* checked by converge_check */
	if (json_object_get(q->body, "downtime"))
		json_object_set(rec, "downtime",
				json_object_get(q->body, "downtime"));
	if (json_is_true(json_object_get(q->body, "auto_converge")))
		json_object_set_new(rec, "auto_converge", json_true());
	json_int_t mbps = hull_json_int(pin, "limit_mbps", 0);
	if (mbps > 0)
		json_object_set_new(rec, "limit_bytes_s",
				    json_integer(mbps * 1000000 / 8));
	if (pin)
		store_del(q->store, "config", pinkey, NULL, NULL);
	json_decref(pin);
	free(pinkey);
	phase_start(rec, "begin", "reserving the instance on the target");
	phase_end(rec, true, NULL);
	int r;
	if (automatic) {
		phase_start(rec, "sync", "syncing data");
		r = queue_send(q->store, rec, "migrate_sync", &err);
		if (r < 0) {
			json_decref(rec);
			return api_error(q, 409, "InvalidState", "%s", err.msg);
		}
	}
	r = store_put(q->store, "migrations", id, rec, old ? oldtag : "", NULL,
		      &err);
	if (r == -ECANCELED) {
		json_decref(rec);
		return api_error(q, 409, "InvalidState",
				 "the migration changed meanwhile; try again");
	}
	if (r < 0) {
		json_decref(rec);
		return api_error(q, 500, "InternalError", "%s", err.msg);
	}
	return api_reply(q, 201, view(rec));
}

static int watch_start(struct api_req *q, const char *id);

static int act(struct api_req *q, const char *id)
{
	const char *action = hull_json_str(q->body, "action", NULL);
	if (!action)
		action = api_query(q, "action");
	if (!action)
		return api_error(q, 409, "MissingParameter",
				 "action is required");
	if (!strcmp(action, "watch"))
		return watch_start(q, id);
	struct hull_err err = {0};
	json_t *m = NULL;
	if (!hull_uuid_valid(id) ||
	    store_get(q->store, "machines", id, &m, NULL, &err) < 0 ||
	    strcmp(hull_json_str(m, "owner", ""), me(q)) ||
	    !strcmp(hull_json_str(m, "state", ""), "deleted")) {
		json_decref(m);
		return api_error(q, 404, "ResourceNotFound",
				 "instance %.40s not found", id);
	}
	json_t *rec = NULL;
	char *etag = NULL;
	store_get(q->store, "migrations", id, &rec, &etag, NULL);
	int ret;
	if (!strcmp(action, "begin") || !strcmp(action, "automatic")) {
		ret = begin(q, m, rec, etag, !strcmp(action, "automatic"));
		goto out;
	}
	if (!rec) {
		ret = api_error(q, 404, "ResourceNotFound",
				"instance %.40s has no migration", id);
		goto out;
	}
	bool busy = is_state(rec, "running");
	bool switched = is_phase(rec, "switch") && is_state(rec, "successful");
	bool aborted = is_phase(rec, "abort") && is_state(rec, "successful");
	int r = 0;
	if (!strcmp(action, "sync") || !strcmp(action, "switch")) {
		bool sw = !strcmp(action, "switch");
		if (busy || switched || aborted) {
			ret = api_error(q, 409, "InvalidState",
					"cannot %s a migration in phase %s "
					"that is %s",
					action, hull_json_str(rec, "phase", ""),
					hull_json_str(rec, "state", ""));
			goto out;
		}
		if (sw && hull_json_int(rec, "num_sync_phases", 0) < 1) {
			ret = api_error(q, 409, "InvalidState",
					"switch needs a completed sync first");
			goto out;
		}
		phase_start(rec, action,
			    sw ? "stopping the instance and sending the last "
				 "changes"
			       : "syncing data");
		r = queue_send(q->store, rec,
			       sw ? "migrate_switch" : "migrate_sync", &err);
		if (r < 0) {
			ret = api_error(q, 409, "InvalidState", "%s", err.msg);
			goto out;
		}
	} else if (!strcmp(action, "abort")) {
		/* A phase whose source server is gone (no heartbeat) will
		 * not report: it may be aborted without waiting. */
		if (busy && !source_up(q->store, rec))
			busy = false;
		if (busy || switched || aborted) {
			ret = api_error(q, 409, "InvalidState",
					"cannot abort a migration in phase %s "
					"that is %s",
					hull_json_str(rec, "phase", ""),
					hull_json_str(rec, "state", ""));
			goto out;
		}
		phase_start(rec, "abort", "removing the target instance");
		json_t *p = task_params(rec);
		r = task_queue(q->store,
			       hull_json_str(rec, "target_server_uuid", ""), id,
			       "migrate_abort", NULL, p, NULL, &err);
		json_decref(p);
	} else if (!strcmp(action, "finalize")) {
		if (!switched) {
			ret = api_error(q, 409, "InvalidState",
					"finalize needs a successful switch");
			goto out;
		}
		/* Triton's finalize deletes the original and the record. */
		r = task_queue(q->store,
			       hull_json_str(rec, "source_server_uuid", ""), id,
			       "migrate_finalize", NULL, NULL, NULL, &err);
		if (r == 0)
			r = store_del(q->store, "migrations", id, etag, &err);
		if (r == -ECANCELED) {
			ret = api_error(q, 409, "InvalidState",
					"the migration changed meanwhile");
			goto out;
		}
		if (r < 0) {
			ret = api_error(q, 500, "InternalError", "%s", err.msg);
			goto out;
		}
		ret = api_reply(q, 200, json_object());
		goto out;
	} else if (!strcmp(action, "pause")) {
		ret = api_error(q, 409, "NotImplemented",
				"pause is not supported: abort or sync again");
		goto out;
	} else {
		ret = api_error(q, 409, "InvalidArgument",
				"unknown migration action %.20s", action);
		goto out;
	}
	if (r == 0)
		r = store_put(q->store, "migrations", id, rec, etag, NULL,
			      &err);
	if (r == -ECANCELED)
		ret = api_error(q, 409, "InvalidState",
				"the migration changed meanwhile; try again");
	else if (r < 0)
		ret = api_error(q, 500, "InternalError", "%s", err.msg);
	else
		ret = api_reply(q, 201, view(rec));
out:
	free(etag);
	json_decref(rec);
	json_decref(m);
	return ret;
}

int migrate_machine_dispatch(struct api_req *q, const char *id)
{
	if (!strcmp(q->method, "POST"))
		return act(q, id);
	if (strcmp(q->method, "GET") && strcmp(q->method, "HEAD"))
		return api_error(q, 405, "MethodNotAllowed", "use GET or POST");
	json_t *rec = NULL;
	if (load(q, id, &rec, NULL) < 0)
		return 0;
	api_reply(q, 200, view(rec));
	json_decref(rec);
	return 0;
}

int migrate_list_dispatch(struct api_req *q)
{
	if (strcmp(q->method, "GET") && strcmp(q->method, "HEAD"))
		return api_error(q, 405, "MethodNotAllowed", "use GET");
	if (q->nseg == 3)
		return migrate_machine_dispatch(q, q->seg[2]);
	if (q->nseg != 2)
		return api_error(q, 404, "ResourceNotFound",
				 "%.200s does not exist", q->path);
	json_t *all = NULL;
	struct hull_err err = {0};
	if (store_find(q->store, "migrations", "owner", me(q), &all, &err) < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	json_t *out = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(all, i, r) json_array_append_new(out, view(r));
	json_decref(all);
	return api_reply(q, 200, out);
}

/* ---- the operator's ---- */

int migrate_pin(struct store *s, const char *vm, const char *server,
		struct hull_err *err)
{
	if (!hull_uuid_valid(vm) || (server && !hull_uuid_valid(server)))
		return hull_err_set(err, EINVAL, "not a uuid");
	json_t *m = NULL;
	int r = store_get(s, "machines", vm, &m, NULL, err);
	json_decref(m);
	if (r == -ENOENT)
		return hull_err_set(err, ENOENT, "instance %s not found", vm);
	if (r < 0)
		return r;
	if (server) {
		json_t *srv = NULL;
		r = store_get(s, "servers", server, &srv, NULL, err);
		json_decref(srv);
		if (r == -ENOENT)
			return hull_err_set(err, ENOENT, "server %s not found",
					    server);
		if (r < 0)
			return r;
	}
	_cleanup_free_ char *key = xasprintf("migration-pin:%s", vm);
	json_t *pin = NULL;
	store_get(s, "config", key, &pin, NULL, NULL);
	if (!pin)
		pin = json_object();
	if (server)
		json_object_set_new(pin, "server", json_string(server));
	else
		json_object_del(pin, "server");
	r = store_put(s, "config", key, pin, NULL, NULL, err);
	json_decref(pin);
	return r;
}

int migrate_limit(struct store *s, const char *vm, long mbps,
		  struct hull_err *err)
{
	if (!hull_uuid_valid(vm) || mbps < 0)
		return hull_err_set(err, EINVAL, "bad instance or limit");
	for (int tries = 0; tries < 8; tries++) {
		json_t *rec = NULL;
		char *etag = NULL;
		int r = store_get(s, "migrations", vm, &rec, &etag, err);
		if (r == -ENOENT) {
			/* Before begin: kept with the pin for the next one. */
			_cleanup_free_ char *key =
			    xasprintf("migration-pin:%s", vm);
			json_t *pin = NULL;
			store_get(s, "config", key, &pin, NULL, NULL);
			if (!pin)
				pin = json_object();
			json_object_set_new(pin, "limit_mbps",
					    json_integer(mbps));
			r = store_put(s, "config", key, pin, NULL, NULL, err);
			json_decref(pin);
			return r;
		}
		if (r < 0)
			return r;
		json_object_set_new(
		    rec, "limit_bytes_s",
		    json_integer((json_int_t)mbps * 1000000 / 8));
		r = store_put(s, "migrations", vm, rec, etag, NULL, err);
		free(etag);
		json_decref(rec);
		if (r != -ECANCELED)
			return r;
	}
	return hull_err_set(err, EAGAIN, "migration %s: too many writers", vm);
}

/* ---- the agents' side ---- */

bool migrate_active(struct store *s, const char *vm)
{
	json_t *rec = NULL;
	if (store_get(s, "migrations", vm, &rec, NULL, NULL) < 0)
		return false;
	bool on = !(is_phase(rec, "abort") && is_state(rec, "successful"));
	json_decref(rec);
	return on;
}

bool migrate_task_is(const char *action)
{
	return !strncmp(action, "migrate_", 8);
}

/* Applies an agent's report to the record; queues what follows. */
static int task_apply(struct store *s, json_t *rec, json_t *task,
		      json_t *report, struct hull_err *err)
{
	const char *action = hull_json_str(task, "action", "");
	const char *vm = hull_json_str(task, "machine", "");
	bool ok = !strcmp(hull_json_str(report, "state", ""), "done");
	const char *error = hull_json_str(report, "error", "failed");
	json_t *res = json_object_get(report, "result");
	/* A report of a phase the record left (an abort while the source
	 * was away) changes nothing. */
	const char *want = !strcmp(action, "migrate_sync")    ? "sync"
			   : !strcmp(action, "migrate_abort") ? "abort"
							      : "switch";
	if (!is_phase(rec, want) || !is_state(rec, "running"))
		return 0;
	if (!strcmp(action, "migrate_sync")) {
		if (!ok) {
			phase_end(rec, false, error);
			return 1;
		}
		json_object_set(rec, "last_snapshot",
				json_object_get(res, "snapshot"));
		json_object_set_new(
		    rec, "num_sync_phases",
		    json_integer(hull_json_int(rec, "num_sync_phases", 0) + 1));
		phase_end(rec, true, NULL);
		if (hull_json_bool(rec, "automatic", false)) {
			phase_start(rec, "switch",
				    "stopping the instance and sending the "
				    "last changes");
			int r = queue_send(s, rec, "migrate_switch", err);
			if (r < 0)
				phase_end(rec, false, err->msg);
		}
		return 1;
	}
	if (!strcmp(action, "migrate_switch")) {
		if (!ok) {
			/* The source's agent started it again. */
			phase_end(rec, false, error);
			return 1;
		}
		json_object_set(rec, "last_snapshot",
				json_object_get(res, "snapshot"));
		json_object_set(rec, "was_running",
				json_object_get(res, "was_running"));
		int r = migrate_machine_move(
		    s, vm, hull_json_str(rec, "target_server_uuid", ""), err);
		json_t *p = json_pack("{s:b}", "start",
				      hull_json_bool(res, "was_running", 0));
		if (r == 0)
			r = task_queue(
			    s, hull_json_str(rec, "target_server_uuid", ""), vm,
			    "migrate_activate", NULL, p, NULL, err);
		json_decref(p);
		if (r < 0)
			return r;
		event_add(rec, json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}",
					 "type", "progress", "phase", "switch",
					 "state", "running", "message",
					 "starting the migrated instance",
					 "current_progress", 95,
					 "total_progress", 100));
		return 1;
	}
	if (!strcmp(action, "migrate_activate")) {
		if (ok) {
			phase_end(rec, true, NULL);
			return 1;
		}
		/* Back to the source, running as before. */
		int r = migrate_machine_move(
		    s, vm, hull_json_str(rec, "source_server_uuid", ""), err);
		json_t *p = json_pack("{s:b}", "start",
				      hull_json_bool(rec, "was_running", 0));
		if (r == 0)
			r = task_queue(
			    s, hull_json_str(rec, "source_server_uuid", ""), vm,
			    "migrate_rollback", NULL, p, NULL, err);
		json_decref(p);
		if (r < 0)
			return r;
		char *why = xasprintf("start on the target: %s; the instance "
				      "is back on its source",
				      error);
		phase_end(rec, false, why);
		free(why);
		return 1;
	}
	if (!strcmp(action, "migrate_abort")) {
		phase_end(rec, ok, ok ? NULL : error);
		return 1;
	}
	return 0;
}

int migrate_task_done(struct store *s, json_t *task, json_t *report,
		      struct hull_err *err)
{
	if (replica_task_is(hull_json_str(task, "action", "")))
		return replica_task_done(s, task, report, err);
	const char *vm = hull_json_str(task, "machine", "");
	for (int tries = 0; tries < 8; tries++) {
		json_t *rec = NULL;
		char *etag = NULL;
		int r = store_get(s, "migrations", vm, &rec, &etag, err);
		if (r == -ENOENT)
			return 0; /* finalized */
		if (r < 0)
			return r;
		r = task_apply(s, rec, task, report, err);
		if (r > 0)
			r = store_put(s, "migrations", vm, rec, etag, NULL,
				      err);
		free(etag);
		json_decref(rec);
		if (r != -ECANCELED)
			return r < 0 ? r : 0;
	}
	return hull_err_set(err, EAGAIN, "migration %s: too many writers", vm);
}

int migrate_agent_dispatch(struct api_req *q, const char *server,
			   const char *vm)
{
	struct hull_err err = {0};
	json_t *rec = NULL;
	char *etag = NULL;
	bool rec_migration = true;
	if (hull_uuid_valid(vm) &&
	    store_get(q->store, "migrations", vm, &rec, &etag, &err) == 0 &&
	    is_phase(rec, "abort") && is_state(rec, "successful") &&
	    q->nseg == 5) {
		/* An aborted migration's record: the instance's replication,
		 * if any, answers the standby's handshake. */
		json_t *rep = NULL;
		if (replica_secret(q->store, server, vm, &rep) == 0) {
			json_decref(rec);
			rec = NULL;
		}
		json_decref(rep);
	}
	if (!hull_uuid_valid(vm) || !rec) {
		free(etag);
		etag = NULL;
		/* Or the replication of vm: its standby is the target. */
		if (q->nseg == 5 && hull_uuid_valid(vm) &&
		    replica_secret(q->store, server, vm, &rec) == 0) {
			rec_migration = false;
		} else {
			return api_error(q, 404, "ResourceNotFound",
					 "no migration of %.40s", vm);
		}
	}
	int ret;
	bool active = !(is_phase(rec, "abort") && is_state(rec, "successful"));
	if (!rec_migration)
		active = true; /* a replication: its standby takes streams */
	if (q->nseg == 5 && !strcmp(q->method, "GET")) {
		/* Only the target takes a stream, and only while the
		 * migration may still send. */
		if (strcmp(hull_json_str(rec, "target_server_uuid", ""),
			   server) ||
		    !active)
			ret = api_error(q, 403, "NotAuthorized",
					"this server is not the target of a "
					"migration of %s",
					vm);
		else {
			json_t *a =
			    json_pack("{s:s, s:O}", "vm_uuid", vm, "secret",
				      json_object_get(rec, "secret"));
			/* A replication's: the replicas its standby keeps. */
			if (json_object_get(rec, "keep"))
				json_object_set(a, "keep",
						json_object_get(rec, "keep"));
			ret = api_reply(q, 200, a);
		}
	} else if (q->nseg == 6 && !strcmp(q->seg[5], "progress") &&
		   !strcmp(q->method, "POST")) {
		if (strcmp(hull_json_str(rec, "source_server_uuid", ""),
			   server) ||
		    !is_state(rec, "running")) {
			ret = api_error(q, 409, "InvalidState",
					"no running migration phase");
		} else {
			json_t *ev = json_pack(
			    "{s:s, s:O, s:s}", "type", "progress", "phase",
			    json_object_get(rec, "phase"), "state", "running");
			static const char *const f[] = {
			    "current_progress", "total_progress",
			    "transfer_bytes_second", "eta_ms", "message"};
			for (size_t i = 0; i < sizeof(f) / sizeof(*f); i++)
				if (json_object_get(q->body, f[i]))
					json_object_set(
					    ev, f[i],
					    json_object_get(q->body, f[i]));
			event_add(rec, ev);
			int r = store_put(q->store, "migrations", vm, rec, etag,
					  NULL, &err);
			/* A lost progress event is no harm. */
			ret = r < 0 && r != -ECANCELED
				  ? api_error(q, 500, "InternalError", "%s",
					      err.msg)
				  : api_reply(q, 200, json_object());
		}
	} else {
		ret = api_error(q, 404, "ResourceNotFound",
				"%.200s does not exist", q->path);
	}
	free(etag);
	json_decref(rec);
	return ret;
}

/* ---- the watch stream ---- */

struct watch {
	struct store *store;
	struct MHD_Connection *conn;
	char vm[HULL_UUID_LEN + 1];
	json_int_t seq; /* the last event sent */
	char *buf;	/* text not yet handed to libmicrohttpd */
	size_t len, off;
	bool ended, suspended;
	struct watch *next;
};

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct watch *watches;
static pthread_once_t ticker_once = PTHREAD_ONCE_INIT;
static bool watch_stopping;

void migrate_watch_stop(void)
{
	/* libmicrohttpd refuses to stop with a connection still suspended:
	 * every watch is resumed and ends at its next read. */
	pthread_mutex_lock(&watch_lock);
	watch_stopping = true;
	for (struct watch *w = watches; w; w = w->next)
		if (w->suspended) {
			w->suspended = false;
			MHD_resume_connection(w->conn);
		}
	pthread_mutex_unlock(&watch_lock);
}

static void *ticker(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = {0, WATCH_TICK_MS * 1000000L};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&watch_lock);
		for (struct watch *w = watches; w; w = w->next)
			if (w->suspended) {
				w->suspended = false;
				MHD_resume_connection(w->conn);
			}
		pthread_mutex_unlock(&watch_lock);
	}
	return NULL;
}

static void ticker_start(void)
{
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &a, ticker, NULL);
	pthread_attr_destroy(&a);
}

static void watch_append(struct watch *w, json_t *ev)
{
	char *s = json_dumps(ev, JSON_COMPACT);
	size_t n = strlen(s);
	w->buf = xrealloc(w->buf, w->len + n + 1);
	memcpy(w->buf + w->len, s, n);
	w->buf[w->len + n] = '\n';
	w->len += n + 1;
	free(s);
}

/* What the record gained since the last look, as lines in w->buf. */
static void watch_refill(struct watch *w)
{
	json_t *rec = NULL;
	if (store_get(w->store, "migrations", w->vm, &rec, NULL, NULL) < 0) {
		/* Finalized meanwhile. */
		json_t *end =
		    json_pack("{s:s, s:s, s:s}", "type", "end", "phase",
			      "finalize", "state", "successful");
		watch_append(w, end);
		json_decref(end);
		w->ended = true;
		return;
	}
	size_t i;
	json_t *ev;
	json_array_foreach(json_object_get(rec, "events"), i, ev)
	{
		if (hull_json_int(ev, "seq", 0) <= w->seq)
			continue;
		w->seq = hull_json_int(ev, "seq", 0);
		json_t *out = json_deep_copy(ev);
		json_object_del(out, "seq");
		watch_append(w, out);
		json_decref(out);
	}
	if (!is_state(rec, "running")) {
		json_t *end = json_pack("{s:s, s:O, s:O}", "type", "end",
					"phase", json_object_get(rec, "phase"),
					"state", json_object_get(rec, "state"));
		if (json_object_get(rec, "error"))
			json_object_set(end, "error",
					json_object_get(rec, "error"));
		watch_append(w, end);
		json_decref(end);
		w->ended = true;
	}
	json_decref(rec);
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct watch *w = cls;
	if (w->off == w->len) {
		w->off = w->len = 0;
		if (w->ended)
			return MHD_CONTENT_READER_END_OF_STREAM;
		watch_refill(w);
	}
	if (w->off == w->len) {
		/* Nothing new: off the polling thread's list until the
		 * ticker resumes it. */
		pthread_mutex_lock(&watch_lock);
		if (watch_stopping) {
			pthread_mutex_unlock(&watch_lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		w->suspended = true;
		MHD_suspend_connection(w->conn);
		pthread_mutex_unlock(&watch_lock);
		return 0;
	}
	size_t n = w->len - w->off < max ? w->len - w->off : max;
	memcpy(buf, w->buf + w->off, n);
	w->off += n;
	return (ssize_t)n;
}

static void watch_free(void *cls)
{
	struct watch *w = cls;
	pthread_mutex_lock(&watch_lock);
	for (struct watch **p = &watches; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	pthread_mutex_unlock(&watch_lock);
	free(w->buf);
	free(w);
}

static int watch_start(struct api_req *q, const char *id)
{
	json_t *rec = NULL;
	if (load(q, id, &rec, NULL) < 0)
		return 0;
	struct watch *w = xcalloc(1, sizeof(*w));
	w->store = q->store;
	w->conn = q->conn;
	snprintf(w->vm, sizeof(w->vm), "%s", id);
	/* A watch shows the running phase from its start. */
	json_decref(rec);
	pthread_once(&ticker_once, ticker_start);
	pthread_mutex_lock(&watch_lock);
	w->next = watches;
	watches = w;
	pthread_mutex_unlock(&watch_lock);
	q->status = 200;
	q->stream_read = watch_read;
	q->stream_free = watch_free;
	q->stream_cls = w;
	q->stream_type = "application/x-json-stream";
	return 0;
}
