/*
 * agentapi.c - the head node's internal API for compute node agents
 * (CNAPI's part that cn-agent and vm-agent talk to), under /agent:
 *
 *   POST /agent/join                         {token, server_uuid, hostname}
 *        -> 201 {server_uuid, key, datacenter}: the one-time token traded
 *           for the server's own key
 *   POST /agent/servers/:uuid/heartbeat      {hostname, sysinfo, ram, cpus,
 *        disk_pool_size_bytes, disk_pool_alloc_bytes, vms: {uuid: state}}
 *   GET  /agent/servers/:uuid/tasks          -> the server's queued tasks,
 *        oldest first
 *   POST /agent/servers/:uuid/tasks/:id      {state: done|failed, error,
 *        vm_state}
 *   POST /agent/servers/:uuid/vms/:vm        {state}: one instance changed
 *   GET  /agent/servers/:uuid/fabric         -> the fabric map (networks.h)
 *
 * Everything but join carries `Authorization: HullAgent KEY`, checked
 * against the key of the server the path names: an agent can speak for
 * its own server only. Every refusal is 401 InvalidCredentials, alike for
 * an unknown server and a wrong key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "head/admin.h"
#include "head/api.h"
#include "head/console.h"
#include "head/lostcreate.h"
#include "head/machines.h"
#include "head/migrate.h"
#include "head/networks.h"
#include "head/replicate.h"
#include "head/servers.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

static bool is(struct api_req *q, const char *m)
{
	return !strcmp(q->method, m);
}

static int denied(struct api_req *q, const char *why)
{
	return api_error(q, 401, "InvalidCredentials", "%s", why);
}

static int agent_join(struct api_req *q)
{
	const char *token = hull_json_str(q->body, "token", NULL);
	const char *uuid = hull_json_str(q->body, "server_uuid", NULL);
	if (!token || !uuid)
		return api_error(q, 409, "MissingParameter",
				 "token and server_uuid are required");
	if (!hull_uuid_valid(uuid))
		return api_error(q, 409, "InvalidArgument",
				 "server_uuid is not a uuid");
	char *key = NULL;
	struct hull_err err = {0};
	int r = server_join(q->store, token, uuid, q->body, &key, &err);
	if (r == -EACCES)
		return denied(q, err.msg);
	if (r < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	api_reply(q, 201,
		  json_pack("{s:s, s:s, s:s}", "server_uuid", uuid, "key", key,
			    "datacenter", q->cfg->datacenter));
	free(key);
	return 0;
}

/* The fields of a heartbeat the agent may set on its server record. */
static const char *const reported[] = {"hostname",
				       "sysinfo",
				       "ram",
				       "cpus",
				       "disk_pool_size_bytes",
				       "disk_pool_alloc_bytes",
				       "vms",
				       "migration_port",
				       "underlay_ip",
				       "usage"};

static bool client_ip(struct api_req *q, char out[INET6_ADDRSTRLEN])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	    q->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return false;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		return inet_ntop(AF_INET,
				 &((const struct sockaddr_in *)sa)->sin_addr,
				 out, INET6_ADDRSTRLEN) != NULL;
	if (sa->sa_family == AF_INET6)
		return inet_ntop(AF_INET6,
				 &((const struct sockaddr_in6 *)sa)->sin6_addr,
				 out, INET6_ADDRSTRLEN) != NULL;
	return false;
}

static int heartbeat(struct api_req *q, const char *uuid)
{
	struct hull_err err = {0};
	int r = -ECANCELED;
	for (int tries = 0; tries < 8 && r == -ECANCELED; tries++) {
		json_t *srv = NULL;
		char *etag = NULL;
		if ((r = store_get(q->store, "servers", uuid, &srv, &etag,
				   &err)) < 0)
			break;
		for (size_t i = 0; i < sizeof(reported) / sizeof(*reported);
		     i++) {
			json_t *v = json_object_get(q->body, reported[i]);
			if (v)
				json_object_set(srv, reported[i], v);
		}
		char now[32];
		head_now_iso(now);
		json_object_set_new(srv, "last_heartbeat", json_string(now));
		json_object_set_new(srv, "heartbeat_ms",
				    json_integer(head_now_ms()));
		/* Where the agent's migration listener is reached: the
		 * address it speaks to us from, on the admin network. */
		char ip[INET6_ADDRSTRLEN];
		if (client_ip(q, ip))
			json_object_set_new(srv, "admin_ip", json_string(ip));
		json_object_set_new(srv, "datacenter",
				    json_string(q->cfg->datacenter));
		r = store_put(q->store, "servers", uuid, srv, etag, NULL, &err);
		free(etag);
		json_decref(srv);
	}
	if (r < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	/* What the agent has is the truth about its instances: a state
	 * push lost while the head node was down is made good here. */
	const char *vm;
	json_t *st;
	json_object_foreach(json_object_get(q->body, "vms"), vm, st)
	{
		if (hull_uuid_valid(vm) && json_is_string(st) &&
		    machine_agent_report(q->store, uuid, vm,
					 json_string_value(st), NULL) == -EPERM)
			lost_create_stray(q->store, uuid, vm);
	}
	replica_tick(q->store, uuid, json_object_get(q->body, "vms"));
	lost_creates_tick(q->store);
	return api_reply(q, 200, json_pack("{s:s}", "status", "running"));
}

static json_int_t task_order(json_t *t)
{
	return hull_json_int(t, "seq",
			     hull_json_int(t, "created_ms", 0) * 1000000);
}

/* The longest an agent's request for tasks may wait. */
#define TASKS_WAIT_MAX 25

static int tasks_list(struct api_req *q, const char *uuid)
{
	json_t *all = NULL;
	struct hull_err err = {0};
	lost_creates_tick(q->store);
	if (store_find(q->store, "tasks", "server", uuid, &all, &err) < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	json_t *out = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(all, i, t)
	{
		if (!strcmp(hull_json_str(t, "state", ""), "queued"))
			json_array_append(out, t);
	}
	json_decref(all);
	/* Oldest first: the order the operations were asked for (seq;
	 * created_ms for tasks queued before it was kept). */
	size_t n = json_array_size(out);
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0; b--) {
			json_t *x = json_array_get(out, b - 1),
			       *y = json_array_get(out, b);
			if (task_order(x) <= task_order(y))
				break;
			json_incref(x);
			json_array_set(out, b - 1, y);
			json_array_set_new(out, b, x);
		}
	/* ?wait=S: nothing queued yet, the answer may wait up to S seconds
	 * (at most TASKS_WAIT_MAX) for a task (long-polling). */
	const char *w = api_query(q, "wait");
	long wait = w ? strtol(w, NULL, 10) : 0;
	if (!n && wait > 0)
		api_park(q, uuid,
			 (int)(wait < TASKS_WAIT_MAX ? wait : TASKS_WAIT_MAX) *
			     1000);
	return api_reply(q, 200, out);
}

static int task_report(struct api_req *q, const char *uuid, const char *id)
{
	struct hull_err err = {0};
	json_t *t = NULL;
	char *etag = NULL;
	if (!hull_uuid_valid(id) ||
	    store_get(q->store, "tasks", id, &t, &etag, &err) < 0 ||
	    strcmp(hull_json_str(t, "server", ""), uuid)) {
		json_decref(t);
		free(etag);
		return api_error(q, 404, "ResourceNotFound",
				 "task %.40s not found", id);
	}
	const char *state = hull_json_str(q->body, "state", "");
	if (strcmp(state, "done") && strcmp(state, "failed")) {
		json_decref(t);
		free(etag);
		return api_error(q, 409, "InvalidArgument",
				 "state must be done or failed");
	}
	int r = 0;
	/* A report the agent repeats (it did not see our answer) changes
	 * nothing the second time. */
	if (!strcmp(hull_json_str(t, "state", ""), "queued")) {
		const char *error = hull_json_str(q->body, "error", NULL);
		char now[32];
		head_now_iso(now);
		json_object_set_new(t, "state", json_string(state));
		json_object_set_new(t, "finished", json_string(now));
		if (error)
			json_object_set_new(t, "error", json_string(error));
		r = store_put(q->store, "tasks", id, t, etag, NULL, &err);
		if (r == 0 && migrate_task_is(hull_json_str(t, "action", "")))
			r = migrate_task_done(q->store, t, q->body, &err);
		else if (r == 0)
			r = machine_task_done(
			    q->store, t, !strcmp(state, "done"), error,
			    hull_json_str(q->body, "vm_state", NULL), &err);
	}
	json_decref(t);
	free(etag);
	if (r == -ECANCELED)
		return api_reply(q, 200, json_object());
	if (r < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	return api_reply(q, 200, json_object());
}

static int vm_report(struct api_req *q, const char *uuid, const char *vm)
{
	const char *state = hull_json_str(q->body, "state", NULL);
	if (!state || !hull_uuid_valid(vm))
		return api_error(q, 409, "InvalidArgument",
				 "a vm uuid and its state are required");
	struct hull_err err = {0};
	int r = machine_agent_report(q->store, uuid, vm, state, &err);
	if (r == -EPERM)
		lost_create_stray(q->store, uuid, vm);
	if (r == -EPERM)
		return api_error(q, 403, "NotAuthorized", "%s", err.msg);
	if (r < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	return api_reply(q, 200, json_object());
}

/* GET /agent/servers/:uuid/fabric: the node's fabric map
 * (head_fabric_map). */
static int fabric_map(struct api_req *q, const char *uuid)
{
	struct hull_err err = {0};
	json_t *out = NULL;
	if (head_fabric_map(q->store, uuid, &out, &err) < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	return api_reply(q, 200, out);
}

int agentapi_dispatch(struct api_req *q)
{
	if (q->nseg == 2 && !strcmp(q->seg[1], "join")) {
		if (!is(q, "POST"))
			return api_error(q, 405, "MethodNotAllowed",
					 "use POST");
		return agent_join(q);
	}
	if (q->nseg < 4 || strcmp(q->seg[1], "servers"))
		return api_error(q, 404, "ResourceNotFound",
				 "%.200s does not exist", q->path);
	const char *uuid = q->seg[2];
	const char *auth = MHD_lookup_connection_value(
	    q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!auth || strncmp(auth, "HullAgent ", 10))
		return denied(q, "agent credential required");
	if (server_auth(q->store, uuid, auth + 10, NULL) < 0)
		return denied(q, "invalid agent credential");
	const char *what = q->seg[3];
	if (q->nseg == 4 && !strcmp(what, "heartbeat") && is(q, "POST"))
		return heartbeat(q, uuid);
	if (q->nseg == 4 && !strcmp(what, "tasks") && is(q, "GET"))
		return tasks_list(q, uuid);
	if (q->nseg == 4 && !strcmp(what, "fabric") && is(q, "GET"))
		return fabric_map(q, uuid);
	if (q->nseg == 5 && !strcmp(what, "tasks") && is(q, "POST"))
		return task_report(q, uuid, q->seg[4]);
	if (q->nseg == 5 && !strcmp(what, "consoles") && is(q, "GET"))
		return console_agent_open(q, uuid, q->seg[4]);
	if (q->nseg == 5 && !strcmp(what, "vms") && is(q, "POST"))
		return vm_report(q, uuid, q->seg[4]);
	if ((q->nseg == 5 || q->nseg == 6) && !strcmp(what, "migrations"))
		return migrate_agent_dispatch(q, uuid, q->seg[4]);
	return api_error(q, 404, "ResourceNotFound", "%.200s does not exist",
			 q->path);
}
