/*
 * run.c - the agent's loops: tasks (main thread), heartbeat (its own
 * thread, every AGENT_HEARTBEAT_S) and the instance state push (its own
 * thread, on the events stream of hull/events.h). A head node that is
 * down is simply asked again on the next round: nothing is lost, as the
 * next heartbeat carries every instance's state and the task queue is
 * the head node's.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "hull/events.h"
#include "hull/usage.h"
#include "lib/json.h"
#include "lib/xalloc.h"

struct loop {
	const struct agent_conf *c;
	volatile int *stop;
	/* The head node's reachability as last seen, so that an outage is
	 * logged once when it starts and once when it ends. */
	int up;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void reachability(struct loop *l, bool ok, const char *why)
{
	int now = ok ? 1 : 0;
	if (l->up == now)
		return;
	l->up = now;
	if (ok)
		agent_log("info", NULL, "head node %s reached", l->c->head);
	else
		agent_log("warn", NULL, "head node %s unreachable: %s",
			  l->c->head, why);
}

/* What each running instance uses (hull/usage.h), for the web console's
 * instance page. The disk figures are the slow part: they are read with
 * the full beat and repeated from disk (uuid -> figures) in between. */
static json_t *usage_report(json_t *vms, bool full, json_t *disk)
{
	json_t *out = json_object();
	const char *uuid;
	json_t *st;
	json_object_foreach(vms, uuid, st)
	{
		if (strcmp(json_string_value(st) ? json_string_value(st) : "",
			   "running"))
			continue;
		bool known = json_object_get(disk, uuid) != NULL;
		json_t *u = hull_instance_usage(uuid, full || !known);
		if (full || !known) {
			json_t *d = json_object();
			json_object_set(d, "disk_used_bytes",
					json_object_get(u, "disk_used_bytes"));
			json_object_set(d, "disk_quota_bytes",
					json_object_get(u, "disk_quota_bytes"));
			json_object_set_new(disk, uuid, d);
		} else {
			json_object_update_missing(u,
						   json_object_get(disk, uuid));
		}
		json_object_set_new(out, uuid, u);
	}
	/* Forget the instances gone. */
	void *tmp;
	json_object_foreach_safe(disk, tmp, uuid, st)
	{
		if (!json_object_get(out, uuid))
			json_object_del(disk, uuid);
	}
	return out;
}

static void *heartbeat_loop(void *arg)
{
	struct loop *l = arg;
	struct agent_http *h = agent_http_new(l->c);
	_cleanup_free_ char *path =
	    xasprintf("/agent/servers/%s/heartbeat", l->c->server_uuid);
	time_t last_sysinfo = 0;
	json_t *disk = json_object();
	while (!*l->stop) {
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		/* sysinfo is large and slow to gather: the first beat and
		 * once a minute after (cn-agent's full reload period). */
		bool full = t0.tv_sec - last_sysinfo >= 60;
		json_t *body = agent_capacity(full, NULL);
		json_object_set_new(
		    body, "usage",
		    usage_report(json_object_get(body, "vms"), full, disk));
		if (agent_migration_port > 0)
			json_object_set_new(body, "migration_port",
					    json_integer(agent_migration_port));
		char under[64];
		if (agent_fabric_local_ip(l->c, under, NULL) == 0)
			json_object_set_new(body, "underlay_ip",
					    json_string(under));
		long status = 0;
		struct hull_err err = {0};
		json_t *ans = NULL;
		int r =
		    agent_http_call(h, "POST", path, body, &status, &ans, &err);
		json_decref(body);
		if (r == 0 && status == 200 && full)
			last_sysinfo = t0.tv_sec;
		if (r == 0 && status == 401)
			agent_log("error", NULL,
				  "the head node refused this server's "
				  "credential: %s",
				  hull_json_str(ans, "message", ""));
		json_decref(ans);
		reachability(l, r == 0, err.msg);
		for (int i = 0; i < AGENT_HEARTBEAT_S * 10 && !*l->stop; i++)
			sleep_ms(100);
	}
	json_decref(disk);
	agent_http_free(h);
	return NULL;
}

/* Reads the fabric map and applies it (fabric.c); a failure is logged
 * once until it changes. */
static void *fabric_loop(void *arg)
{
	struct loop *l = arg;
	struct agent_http *h = agent_http_new(l->c);
	_cleanup_free_ char *path =
	    xasprintf("/agent/servers/%s/fabric", l->c->server_uuid);
	char *applied = NULL, *last_err = NULL;
	while (!*l->stop) {
		long status = 0;
		json_t *map = NULL;
		struct hull_err err = {0};
		int r =
		    agent_http_call(h, "GET", path, NULL, &status, &map, &err);
		if (r == 0 && status == 200 && json_is_object(map))
			r = agent_fabric_sync(l->c, map, &applied, &err);
		json_decref(map);
		if (r < 0 && (!last_err || strcmp(last_err, err.msg))) {
			agent_log("error", NULL, "fabric: %s", err.msg);
			free(last_err);
			last_err = xstrdup(err.msg);
		} else if (r == 0) {
			free(last_err);
			last_err = NULL;
		}
		sleep_ms(AGENT_FABRIC_POLL_MS);
	}
	free(applied);
	free(last_err);
	agent_http_free(h);
	return NULL;
}

struct push {
	struct agent_http *h;
	const struct agent_conf *c;
};

static void on_event(const char *type, json_t *vm, json_t *changes, void *arg)
{
	struct push *p = arg;
	if (!strcmp(type, "delete"))
		return; /* the delete task reports it */
	const char *uuid = hull_json_str(vm, "uuid", NULL);
	const char *state = hull_json_str(vm, "state", NULL);
	if (!uuid || !state)
		return;
	if (!strcmp(type, "modify")) {
		bool changed = false;
		size_t i;
		json_t *ch;
		json_array_foreach(changes, i, ch) changed |=
		    !strcmp(hull_json_str(ch, "prettyPath", ""), "state");
		if (!changed)
			return;
	}
	_cleanup_free_ char *path =
	    xasprintf("/agent/servers/%s/vms/%s", p->c->server_uuid, uuid);
	json_t *body = json_pack("{s:s}", "state", state);
	long status = 0;
	struct hull_err err = {0};
	if (agent_http_call(p->h, "POST", path, body, &status, NULL, &err) < 0)
		agent_log("warn", NULL, "push %s %s: %s", uuid, state, err.msg);
	json_decref(body);
}

static void *push_loop(void *arg)
{
	struct loop *l = arg;
	struct hull_events *ev = NULL;
	struct hull_err err = {0};
	struct push p = {agent_http_new(l->c), l->c};
	while (!*l->stop) {
		if (!ev && hull_events_open(NULL, &ev, &err) < 0) {
			agent_log("error", NULL, "events: %s", err.msg);
			sleep_ms(1000);
			continue;
		}
		/* Short waits, so that a stop is seen; a change wakes the
		 * stream at once. */
		if (hull_events_wait(ev, 500, on_event, &p, &err) < 0) {
			agent_log("error", NULL, "events: %s", err.msg);
			hull_events_close(ev);
			ev = NULL;
		}
	}
	hull_events_close(ev);
	agent_http_free(p.h);
	return NULL;
}

/* Reports a task's end, until the head node has it or we stop. */
static void report(struct loop *l, struct agent_http *h, json_t *task,
		   json_t *rep)
{
	_cleanup_free_ char *path =
	    xasprintf("/agent/servers/%s/tasks/%s", l->c->server_uuid,
		      hull_json_str(task, "id", ""));
	while (!*l->stop) {
		long status = 0;
		struct hull_err err = {0};
		int r =
		    agent_http_call(h, "POST", path, rep, &status, NULL, &err);
		reachability(l, r == 0, err.msg);
		if (r == 0)
			return;
		sleep_ms(1000);
	}
}

int agent_run(const struct agent_conf *c, volatile int *stop,
	      struct hull_err *err)
{
	struct loop l = {c, stop, -1};
	pthread_t hb, push;
	if (pthread_create(&hb, NULL, heartbeat_loop, &l) != 0)
		return hull_err_set(err, EAGAIN, "cannot start a thread");
	if (pthread_create(&push, NULL, push_loop, &l) != 0) {
		*stop = 1;
		pthread_join(hb, NULL);
		return hull_err_set(err, EAGAIN, "cannot start a thread");
	}
	pthread_t mig;
	bool mig_on = agent_migrate_listen(c, stop, &mig, err) == 0;
	if (!mig_on)
		agent_log("warn", NULL, "no migration listener: %s", err->msg);
	hull_err_clear(err);
	pthread_t fab;
	if (pthread_create(&fab, NULL, fabric_loop, &l) != 0) {
		*stop = 1;
		pthread_join(hb, NULL);
		pthread_join(push, NULL);
		if (mig_on)
			pthread_join(mig, NULL);
		return hull_err_set(err, EAGAIN, "cannot start a thread");
	}
	agent_log("info",
		  json_pack("{s:s, s:s, s:i}", "server_uuid", c->server_uuid,
			    "head", c->head, "migration_port",
			    agent_migration_port),
		  "running");
	struct agent_http *h = agent_http_new(c);
	_cleanup_free_ char *path =
	    xasprintf("/agent/servers/%s/tasks?wait=%d", c->server_uuid,
		      AGENT_TASK_WAIT_S);
	while (!*stop) {
		long status = 0;
		json_t *tasks = NULL;
		struct hull_err e = {0};
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int r =
		    agent_http_call(h, "GET", path, NULL, &status, &tasks, &e);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		reachability(&l, r == 0, e.msg);
		if (r == 0 && status == 200 && json_is_array(tasks)) {
			size_t i;
			json_t *t;
			json_array_foreach(tasks, i, t)
			{
				if (*stop)
					break;
				json_t *rep = NULL;
				struct hull_err te = {0};
				if (agent_task_run(c, t, &rep, &te) < 0) {
					agent_log("error", NULL, "task: %s",
						  te.msg);
					continue;
				}
				report(&l, h, t, rep);
				json_decref(rep);
			}
		}
		/* Asked again at once after tasks, or after a request the
		 * head node held; a quick empty answer (an unreachable head
		 * node, or one that does not hold requests) waits first. */
		long ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 +
			  (t1.tv_nsec - t0.tv_nsec) / 1000000;
		bool held = ms >= 900;
		bool had = json_array_size(tasks) > 0;
		json_decref(tasks);
		for (int i = 0;
		     !had && !held && i < AGENT_POLL_MS / 100 && !*stop; i++)
			sleep_ms(100);
	}
	agent_http_free(h);
	pthread_join(hb, NULL);
	pthread_join(push, NULL);
	if (mig_on)
		pthread_join(mig, NULL);
	pthread_join(fab, NULL);
	agent_log("info", NULL, "stopped");
	return 0;
}
