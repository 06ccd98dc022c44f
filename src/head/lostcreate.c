/*
 * lostcreate.c - creates whose server went silent before it reported
 * them: see lostcreate.h.
 *
 * Why the task is failed first, under its etag: with two hull-api
 * processes on one database both may see the same silent server; only
 * the one whose write of the task wins goes on to move the machine, so a
 * create is given up (and retried) once.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "head/admin.h"
#include "head/lostcreate.h"
#include "head/machines.h"
#include "head/servers.h"
#include "lib/json.h"
#include "lib/xalloc.h"

bool lost_create_is_stray(json_t *m, const char *server)
{
	return !strcmp(hull_json_str(m, "stray_server", ""), server);
}

/* Marks machine id as taken from server, while it is still that
 * server's provisioning create. -EALREADY when it is not any more. */
static int mark_stray(struct store *s, const char *id, const char *server)
{
	for (int tries = 0; tries < 8; tries++) {
		json_t *m = NULL;
		char *etag = NULL;
		int r = store_get(s, "machines", id, &m, &etag, NULL);
		if (r < 0)
			return r;
		if (strcmp(hull_json_str(m, "server", ""), server) ||
		    strcmp(hull_json_str(m, "state", ""), "provisioning"))
			r = -EALREADY;
		else {
			json_object_set_new(m, "stray_server",
					    json_string(server));
			r = store_put(s, "machines", id, m, etag, NULL, NULL);
		}
		free(etag);
		json_decref(m);
		if (r != -ECANCELED)
			return r;
	}
	return -EAGAIN;
}

/* Gives up one create task queued on a silent server. */
static void give_up(struct store *s, const char *server, json_t *t)
{
	const char *id = hull_json_str(t, "id", "");
	const char *vm = hull_json_str(t, "machine", "");
	char *etag = NULL, *error = NULL;
	json_t *cur = NULL;
	if (store_get(s, "tasks", id, &cur, &etag, NULL) < 0 ||
	    strcmp(hull_json_str(cur, "state", ""), "queued"))
		goto out;
	error = xasprintf("server %s stopped answering before it reported this "
			  "create",
			  server);
	char now[32];
	head_now_iso(now);
	json_object_set_new(cur, "state", json_string("failed"));
	json_object_set_new(cur, "finished", json_string(now));
	json_object_set_new(cur, "error", json_string(error));
	json_object_set_new(cur, "lost", json_true());
	/* The winner of this write is the one process that goes on. */
	if (store_put(s, "tasks", id, cur, etag, NULL, NULL) < 0)
		goto out;
	if (mark_stray(s, vm, server) < 0)
		goto out;
	machine_task_done(s, cur, false, error, NULL, NULL);
out:
	free(error);
	free(etag);
	json_decref(cur);
}

void lost_creates_tick(struct store *s)
{
	static int64_t first_ms, last_ms;
	int64_t now = head_now_ms();
	if (!first_ms)
		first_ms = now;
	if (now - first_ms < SERVER_HEARTBEAT_LIFETIME_S * 1000 ||
	    now - last_ms < 1000)
		return;
	last_ms = now;
	json_t *all = NULL;
	if (store_find(s, "servers", NULL, NULL, &all, NULL) < 0)
		return;
	size_t i;
	json_t *srv;
	json_array_foreach(all, i, srv)
	{
		/* Never heartbeated: nothing was ever placed there. */
		if (hull_json_int(srv, "heartbeat_ms", 0) <= 0 ||
		    strcmp(server_status(srv, now), "unknown"))
			continue;
		const char *server = hull_json_str(srv, "uuid", "");
		json_t *tasks = NULL;
		if (store_find(s, "tasks", "server", server, &tasks, NULL) < 0)
			continue;
		size_t j;
		json_t *t;
		json_array_foreach(tasks, j, t)
		{
			if (!strcmp(hull_json_str(t, "action", ""), "create") &&
			    !strcmp(hull_json_str(t, "state", ""), "queued"))
				give_up(s, server, t);
		}
		json_decref(tasks);
	}
	json_decref(all);
}

void lost_create_stray(struct store *s, const char *server, const char *vm)
{
	json_t *m = NULL;
	char *etag = NULL;
	if (store_get(s, "machines", vm, &m, &etag, NULL) == 0 &&
	    lost_create_is_stray(m, server) &&
	    !hull_json_bool(m, "stray_discarded", false)) {
		json_object_set_new(m, "stray_discarded", json_true());
		/* Queued only by the writer that set the flag: once. */
		if (store_put(s, "machines", vm, m, etag, NULL, NULL) == 0)
			task_queue(s, server, vm, "discard", NULL, NULL, NULL,
				   NULL);
	}
	free(etag);
	json_decref(m);
}
