/*
 * replicate.c - automated disaster recovery (replicate.h): replication
 * policies, the periodic sync to the standby, evacuation and fencing.
 *
 * The data path is the migration's: the source's agent sends the live,
 * incremental stream to the standby's agent (task migrate_replicate),
 * which keeps a stopped, autoboot-false copy. Recovery (migrate_recover
 * on the standby) starts that copy: same uuid, nics and record, the data
 * of the last replica (the recovery point is the interval). A server
 * that comes back and still runs a recovered instance gets migrate_fence
 * (stop, autoboot off): the copy stays for the operator to delete.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "head/admin.h"
#include "head/migrate.h"
#include "head/placement.h"
#include "head/replicate.h"
#include "head/servers.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* A server silent this long is lost (seconds): five times the time after
 * which it shows `unknown`, so that a restarting agent is not taken for a
 * dead server. */
#define LOST_S_DEFAULT 60

static long lost_s(void)
{
	const char *e = getenv("HULL_DR_LOST_S");
	long v = e ? strtol(e, NULL, 10) : 0;
	return v > 0 ? v : LOST_S_DEFAULT;
}

int replica_set(struct store *s, const char *vm, long interval_s, long keep,
		json_t **out, struct hull_err *err)
{
	if (!hull_uuid_valid(vm) || interval_s <= 0 || keep < 1)
		return hull_err_set(err, EINVAL,
				    "an instance uuid, an interval and a "
				    "count of replicas are required");
	json_t *m = NULL;
	int r = store_get(s, "machines", vm, &m, NULL, err);
	if (r == -ENOENT ||
	    (r == 0 && !strcmp(hull_json_str(m, "state", ""), "deleted"))) {
		json_decref(m);
		return hull_err_set(err, ENOENT, "instance %s not found", vm);
	}
	if (r < 0)
		return r;
	const char *src = hull_json_str(m, "server", "");
	json_t *old = NULL;
	store_get(s, "replications", vm, &old, NULL, NULL);
	const char *standby = hull_json_str(old, "standby", NULL);
	json_t *cands = NULL;
	if (!standby || !strcmp(standby, src)) {
		standby = NULL;
		r = placement_candidates(s, (long)hull_json_int(m, "memory", 0),
					 (long)hull_json_int(m, "disk", 0),
					 &cands, err);
		size_t i;
		json_t *c;
		json_array_foreach(cands, i, c)
		{
			if (!standby && strcmp(json_string_value(c), src))
				standby = json_string_value(c);
		}
		if (r == 0 && !standby)
			r = hull_err_set(err, ENOSPC,
					 "no other server has room for a "
					 "standby of %s",
					 vm);
	}
	json_t *rec = NULL;
	if (r == 0) {
		rec = old ? json_deep_copy(old) : json_object();
		if (!old) {
			uint8_t key[32];
			if (getrandom(key, sizeof(key), 0) != sizeof(key)) {
				r = hull_err_set(err, EIO, "no random bytes");
			} else {
				char hex[65];
				for (int k = 0; k < 32; k++)
					snprintf(hex + 2 * k, 3, "%02x",
						 key[k]);
				json_object_set_new(rec, "secret",
						    json_string(hex));
			}
		}
		json_object_set_new(rec, "vm", json_string(vm));
		json_object_set_new(rec, "source", json_string(src));
		json_object_set_new(rec, "standby", json_string(standby));
		json_object_set_new(rec, "interval_s",
				    json_integer(interval_s));
		json_object_set_new(rec, "keep", json_integer(keep));
		if (!json_object_get(rec, "state"))
			json_object_set_new(rec, "state",
					    json_string("active"));
	}
	if (r == 0)
		r = store_put(s, "replications", vm, rec, NULL, NULL, err);
	if (r == 0 && out) {
		*out = json_deep_copy(rec);
		json_object_del(*out, "secret");
	}
	json_decref(rec);
	json_decref(cands);
	json_decref(old);
	json_decref(m);
	return r;
}

int replica_list(struct store *s, json_t **out, struct hull_err *err)
{
	json_t *all = NULL;
	int r = store_find(s, "replications", NULL, NULL, &all, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v) json_object_del(v, "secret");
	*out = all;
	return 0;
}

int replica_secret(struct store *s, const char *server, const char *vm,
		   json_t **out)
{
	json_t *rec = NULL;
	if (store_get(s, "replications", vm, &rec, NULL, NULL) < 0)
		return -ENOENT;
	if (strcmp(hull_json_str(rec, "standby", ""), server) ||
	    strcmp(hull_json_str(rec, "state", ""), "active")) {
		json_decref(rec);
		return -EPERM;
	}
	*out = json_pack("{s:s, s:O, s:s, s:s, s:I}", "target_server_uuid",
			 server, "secret", json_object_get(rec, "secret"),
			 "vm_uuid", vm, "phase", "sync", "keep",
			 (json_int_t)hull_json_int(rec, "keep", REPLICA_KEEP));
	json_decref(rec);
	return 0;
}

/* Writes rec back under etag; a conflict is left for the next tick. */
static int put(struct store *s, json_t *rec, const char *etag)
{
	return store_put(s, "replications", hull_json_str(rec, "vm", ""), rec,
			 etag, NULL, NULL);
}

static void sync_due(struct store *s, const char *server)
{
	json_t *all = NULL;
	if (store_find(s, "replications", "source", server, &all, NULL) < 0)
		return;
	int64_t now = head_now_ms();
	size_t i;
	json_t *rec;
	json_array_foreach(all, i, rec)
	{
		const char *vm = hull_json_str(rec, "vm", "");
		if (strcmp(hull_json_str(rec, "state", ""), "active") ||
		    hull_json_bool(rec, "busy", false) ||
		    now - hull_json_int(rec, "last_replica_ms", 0) <
			hull_json_int(rec, "interval_s", 60) * 1000)
			continue;
		json_t *cur = NULL;
		char *etag = NULL;
		if (store_get(s, "replications", vm, &cur, &etag, NULL) == 0) {
			json_t *p = json_pack(
			    "{s:s, s:O, s:I}", "migration", vm, "secret",
			    json_object_get(cur, "secret"), "keep",
			    (json_int_t)hull_json_int(cur, "keep",
						      REPLICA_KEEP));
			if (json_object_get(cur, "last_snapshot"))
				json_object_set(
				    p, "base",
				    json_object_get(cur, "last_snapshot"));
			json_object_set_new(cur, "busy", json_true());
			json_object_set_new(cur, "busy_ms", json_integer(now));
			if (migrate_target_addr(
				s, hull_json_str(cur, "standby", ""), p,
				NULL) == 0 &&
			    put(s, cur, etag) == 0)
				task_queue(s, server, vm, "migrate_replicate",
					   NULL, p, NULL, NULL);
			json_decref(p);
		}
		free(etag);
		json_decref(cur);
	}
	json_decref(all);
}

int replica_evacuate(struct store *s, const char *server, int *n,
		     struct hull_err *err)
{
	json_t *all = NULL;
	int r = store_find(s, "replications", "source", server, &all, err);
	if (r < 0)
		return r;
	*n = 0;
	size_t i;
	json_t *rec;
	json_array_foreach(all, i, rec)
	{
		const char *vm = hull_json_str(rec, "vm", "");
		/* Only what has a replica to start from. */
		if (strcmp(hull_json_str(rec, "state", ""), "active") ||
		    !json_object_get(rec, "last_snapshot"))
			continue;
		json_t *cur = NULL;
		char *etag = NULL;
		if (store_get(s, "replications", vm, &cur, &etag, err) < 0) {
			free(etag);
			continue;
		}
		const char *standby = hull_json_str(cur, "standby", "");
		char now[32];
		head_now_iso(now);
		json_object_set_new(cur, "state", json_string("recovered"));
		json_object_set_new(cur, "recovered_at", json_string(now));
		json_t *p = json_pack("{s:b}", "start", 1);
		if (put(s, cur, etag) == 0 &&
		    migrate_machine_move(s, vm, standby, err) == 0 &&
		    task_queue(s, standby, vm, "migrate_recover", NULL, p, NULL,
			       err) == 0)
			(*n)++;
		json_decref(p);
		free(etag);
		json_decref(cur);
	}
	json_decref(all);
	return 0;
}

static void evacuate_lost(struct store *s)
{
	json_t *all = NULL;
	if (store_find(s, "servers", NULL, NULL, &all, NULL) < 0)
		return;
	int64_t now = head_now_ms();
	size_t i;
	json_t *srv;
	json_array_foreach(all, i, srv)
	{
		json_int_t hb = hull_json_int(srv, "heartbeat_ms", 0);
		if (hb > 0 && now - hb > lost_s() * 1000) {
			int n = 0;
			replica_evacuate(s, hull_json_str(srv, "uuid", ""), &n,
					 NULL);
		}
	}
	json_decref(all);
}

/* The reporting server runs an instance that was recovered elsewhere:
 * stop it there, once. */
static void fence(struct store *s, const char *server, json_t *vms)
{
	const char *vm;
	json_t *st;
	json_object_foreach(vms, vm, st)
	{
		if (!json_is_string(st) ||
		    strcmp(json_string_value(st), "running"))
			continue;
		json_t *rec = NULL;
		char *etag = NULL;
		if (store_get(s, "replications", vm, &rec, &etag, NULL) == 0 &&
		    !strcmp(hull_json_str(rec, "state", ""), "recovered") &&
		    !strcmp(hull_json_str(rec, "source", ""), server) &&
		    !hull_json_bool(rec, "fenced", false)) {
			json_object_set_new(rec, "fenced", json_true());
			if (put(s, rec, etag) == 0)
				task_queue(s, server, vm, "migrate_fence", NULL,
					   NULL, NULL, NULL);
		}
		free(etag);
		json_decref(rec);
	}
}

void replica_tick(struct store *s, const char *server, json_t *vms)
{
	fence(s, server, vms);
	sync_due(s, server);
	evacuate_lost(s);
}

bool replica_task_is(const char *action)
{
	return !strcmp(action, "migrate_replicate") ||
	       !strcmp(action, "migrate_recover") ||
	       !strcmp(action, "migrate_fence");
}

int replica_task_done(struct store *s, json_t *task, json_t *report,
		      struct hull_err *err)
{
	if (strcmp(hull_json_str(task, "action", ""), "migrate_replicate"))
		return 0;
	const char *vm = hull_json_str(task, "machine", "");
	bool ok = !strcmp(hull_json_str(report, "state", ""), "done");
	for (int tries = 0; tries < 8; tries++) {
		json_t *rec = NULL;
		char *etag = NULL;
		int r = store_get(s, "replications", vm, &rec, &etag, err);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		json_object_set_new(rec, "busy", json_false());
		if (ok) {
			char now[32];
			head_now_iso(now);
			json_object_set(
			    rec, "last_snapshot",
			    json_object_get(json_object_get(report, "result"),
					    "snapshot"));
			json_object_set_new(rec, "last_replica_at",
					    json_string(now));
			json_object_set_new(rec, "last_replica_ms",
					    json_integer(head_now_ms()));
			json_object_del(rec, "error");
		} else {
			json_object_set_new(
			    rec, "error",
			    json_string(hull_json_str(report, "error", "")));
		}
		r = store_put(s, "replications", vm, rec, etag, NULL, err);
		free(etag);
		json_decref(rec);
		if (r != -ECANCELED)
			return r;
	}
	return hull_err_set(err, EAGAIN, "replication %s: too many writers",
			    vm);
}

int replica_from_package(struct store *s, const char *vm, json_t *pkg,
			 struct hull_err *err)
{
	json_int_t interval = hull_json_int(pkg, "replication_interval", 0);
	if (interval <= 0)
		return 0;
	return replica_set(
	    s, vm, (long)interval,
	    (long)hull_json_int(pkg, "replication_keep", REPLICA_KEEP), NULL,
	    err);
}

static void machine_size(struct store *s, const char *vm, long *ram, long *disk)
{
	json_t *m = NULL;
	*ram = *disk = 0;
	if (store_get(s, "machines", vm, &m, NULL, NULL) == 0 &&
	    strcmp(hull_json_str(m, "state", ""), "deleted")) {
		*ram = (long)hull_json_int(m, "memory", 0);
		*disk = (long)hull_json_int(m, "disk", 0);
	}
	json_decref(m);
}

/* Adds ram and disk to server's entry of copies ({server: [ram, disk]}). */
static void copies_add(json_t *copies, const char *server, long ram, long disk)
{
	json_t *e = json_object_get(copies, server);
	long r0 = e ? json_integer_value(json_array_get(e, 0)) : 0;
	long d0 = e ? json_integer_value(json_array_get(e, 1)) : 0;
	json_object_set_new(copies, server,
			    json_pack("[I, I]", (json_int_t)(r0 + ram),
				      (json_int_t)(d0 + disk)));
}

json_t *replica_copies(struct store *s)
{
	json_t *copies = json_object();
	/* Both buckets are small (one record per protected or moving
	 * instance) and indexed by neither field: read whole, once. */
	json_t *all = NULL;
	size_t i;
	json_t *rec;
	long ram, disk;
	if (store_find(s, "replications", NULL, NULL, &all, NULL) == 0)
		json_array_foreach(all, i, rec)
		{
			if (strcmp(hull_json_str(rec, "state", ""), "active"))
				continue;
			machine_size(s, hull_json_str(rec, "vm", ""), &ram,
				     &disk);
			copies_add(copies, hull_json_str(rec, "standby", ""),
				   ram, disk);
		}
	json_decref(all);
	all = NULL;
	if (store_find(s, "migrations", NULL, NULL, &all, NULL) == 0)
		json_array_foreach(all, i, rec)
		{
			const char *ph = hull_json_str(rec, "phase", "");
			bool ok = !strcmp(hull_json_str(rec, "state", ""),
					  "successful");
			if (ok &&
			    (!strcmp(ph, "finalize") || !strcmp(ph, "abort")))
				continue;
			/* Before a successful switch the hidden copy is the
			 * target's; after it, the source's. */
			bool switched = (ok && !strcmp(ph, "switch")) ||
					!strcmp(ph, "finalize");
			const char *on =
			    hull_json_str(rec,
					  switched ? "source_server_uuid"
						   : "target_server_uuid",
					  "");
			machine_size(s, hull_json_str(rec, "vm_uuid", ""), &ram,
				     &disk);
			copies_add(copies, on, 0, disk);
		}
	json_decref(all);
	return copies;
}

void replica_copies_of(json_t *copies, const char *server, long *ram_mib,
		       long *disk_mib)
{
	json_t *e = json_object_get(copies, server);
	*ram_mib = e ? (long)json_integer_value(json_array_get(e, 0)) : 0;
	*disk_mib = e ? (long)json_integer_value(json_array_get(e, 1)) : 0;
}

void replica_copies_on(struct store *s, const char *server, long *ram_mib,
		       long *disk_mib)
{
	json_t *copies = replica_copies(s);
	replica_copies_of(copies, server, ram_mib, disk_mib);
	json_decref(copies);
}

char *replica_standby_of(struct store *s, const char *vm)
{
	json_t *rec = NULL;
	char *out = NULL;
	if (store_get(s, "replications", vm, &rec, NULL, NULL) == 0 &&
	    !strcmp(hull_json_str(rec, "state", ""), "active"))
		out = xstrdup(hull_json_str(rec, "standby", ""));
	json_decref(rec);
	return out;
}
