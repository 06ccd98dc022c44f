/*
 * servers.c - compute node records, join tokens traded for agent keys,
 * and the task queue: see servers.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <sys/time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "head/admin.h"
#include "head/replicate.h"
#include "head/servers.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

int64_t head_now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void sha256_hex(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

const char *server_status(json_t *srv, int64_t now_ms)
{
	json_int_t hb = hull_json_int(srv, "heartbeat_ms", 0);
	if (hb > 0 && now_ms - hb <= SERVER_HEARTBEAT_LIFETIME_S * 1000)
		return "running";
	return "unknown";
}

bool machine_books(json_t *m)
{
	const char *st = hull_json_str(m, "state", "");
	return strcmp(st, "failed") && strcmp(st, "deleted");
}

void server_unreserved(json_t *srv, json_t *machines, long *ram_mib,
		       long *disk_mib)
{
	double ratio = SERVER_RESERVATION_RATIO;
	json_t *rr = json_object_get(srv, "reservation_ratio");
	if (json_is_number(rr))
		ratio = json_number_value(rr);
	long ram = (long)((double)hull_json_int(srv, "ram", 0) * (1 - ratio));
	long disk =
	    (long)((double)hull_json_int(srv, "disk_pool_size_bytes", 0) /
		   (1024 * 1024) * SERVER_POOL_USABLE_RATIO);
	size_t i;
	json_t *m;
	json_array_foreach(machines, i, m)
	{
		if (!machine_books(m))
			continue;
		ram -= (long)hull_json_int(m, "memory", 0);
		disk -= (long)hull_json_int(m, "disk", 0);
	}
	*ram_mib = ram;
	*disk_mib = disk;
}

json_t *server_view(struct store *s, json_t *srv, int64_t now_ms)
{
	json_t *v = json_deep_copy(srv);
	json_object_del(v, "agent_key_sha256");
	json_object_del(v, "heartbeat_ms");
	json_object_del(v, "usage"); /* per instance: GET .../usage */
	json_object_set_new(v, "status",
			    json_string(server_status(srv, now_ms)));
	json_t *ms = NULL;
	if (store_find(s, "machines", "server", hull_json_str(srv, "uuid", ""),
		       &ms, NULL) == 0) {
		long ram, disk, cram, cdisk;
		server_unreserved(srv, ms, &ram, &disk);
		/* Standby and migration copies book room too (placement's
		 * view, replicate.h). */
		replica_copies_on(s, hull_json_str(srv, "uuid", ""), &cram,
				  &cdisk);
		ram -= cram;
		disk -= cdisk;
		json_object_set_new(v, "copies_ram", json_integer(cram));
		json_object_set_new(v, "copies_disk", json_integer(cdisk));
		json_object_set_new(v, "unreserved_ram", json_integer(ram));
		json_object_set_new(v, "unreserved_disk", json_integer(disk));
		json_t *vms = json_object();
		size_t i;
		json_t *m;
		json_array_foreach(ms, i, m) if (machine_books(m))
		    json_object_set_new(
			vms, hull_json_str(m, "id", ""),
			json_pack("{s:O, s:O, s:O}", "state",
				  json_object_get(m, "state"), "owner_uuid",
				  json_object_get(m, "owner"), "memory",
				  json_object_get(m, "memory")));
		json_object_set_new(v, "vms", vms);
		json_decref(ms);
	}
	return v;
}

struct join_ctx {
	const char *token_key, *uuid, *key_hash;
	json_t *info;
};

static int join_txn(struct store *s, void *arg)
{
	struct join_ctx *j = arg;
	struct hull_err err = {0};
	json_t *tok = NULL, *srv = NULL;
	char *etag = NULL;
	int r = store_get(s, "join_tokens", j->token_key, &tok, &etag, &err);
	if (r < 0)
		return r == -ENOENT ? -EACCES : r;
	if (hull_json_bool(tok, "used", false)) {
		r = -EALREADY;
		goto out;
	}
	char now[32];
	head_now_iso(now);
	json_object_set_new(tok, "used", json_true());
	json_object_set_new(tok, "server", json_string(j->uuid));
	json_object_set_new(tok, "used_at", json_string(now));
	/* Only if nobody used it since we read it: two agents racing with
	 * one token, one wins. */
	if ((r = store_put(s, "join_tokens", j->token_key, tok, etag, NULL,
			   &err)) < 0)
		goto out;
	if (store_get(s, "servers", j->uuid, &srv, NULL, &err) < 0)
		srv = json_pack("{s:s, s:s, s:b}", "uuid", j->uuid, "created",
				now, "reserved", 0);
	json_object_set_new(srv, "agent_key_sha256", json_string(j->key_hash));
	json_object_set(srv, "hostname", json_object_get(j->info, "hostname"));
	json_object_set_new(srv, "joined", json_string(now));
	r = store_put(s, "servers", j->uuid, srv, NULL, NULL, &err);
out:
	free(etag);
	json_decref(tok);
	json_decref(srv);
	return r;
}

int server_join(struct store *s, const char *token, const char *uuid,
		json_t *info, char **key, struct hull_err *err)
{
	if (!hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "server uuid %.40s is invalid",
				    uuid);
	char tk[65], kh[65];
	sha256_hex(token, tk);
	unsigned char b[32];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return hull_err_sys(err, errno, "agent key");
	char *k = xmalloc(65);
	for (int i = 0; i < 32; i++)
		snprintf(k + 2 * i, 3, "%02x", b[i]);
	sha256_hex(k, kh);
	struct join_ctx j = {tk, uuid, kh, info};
	int r = store_txn(s, join_txn, &j, err);
	if (r < 0) {
		free(k);
		if (r == -EACCES || r == -ECANCELED)
			return hull_err_set(err, EACCES, "invalid join token");
		if (r == -EALREADY)
			return hull_err_set(err, EACCES,
					    "join token already used");
		return r;
	}
	*key = k;
	return 0;
}

int server_auth(struct store *s, const char *uuid, const char *key,
		struct hull_err *err)
{
	json_t *srv = NULL;
	char kh[65];
	sha256_hex(key, kh);
	int ok = 0;
	if (hull_uuid_valid(uuid) &&
	    store_get(s, "servers", uuid, &srv, NULL, NULL) == 0) {
		const char *want = hull_json_str(srv, "agent_key_sha256", "");
		ok = strlen(want) == 64 && !CRYPTO_memcmp(want, kh, 64);
	}
	json_decref(srv);
	return ok ? 0 : hull_err_set(err, EACCES, "invalid agent credential");
}

int server_reserve(struct store *s, const char *uuid, bool reserved,
		   struct hull_err *err)
{
	for (int tries = 0; tries < 5; tries++) {
		json_t *srv = NULL;
		char *etag = NULL;
		int r = store_get(s, "servers", uuid, &srv, &etag, err);
		if (r == -ENOENT)
			return hull_err_set(err, ENOENT,
					    "server %.40s not found", uuid);
		if (r < 0)
			return r;
		json_object_set_new(srv, "reserved", json_boolean(reserved));
		r = store_put(s, "servers", uuid, srv, etag, NULL, err);
		free(etag);
		json_decref(srv);
		if (r != -ECANCELED)
			return r;
	}
	return hull_err_set(err, EAGAIN,
			    "server %s: too many concurrent writes", uuid);
}

int server_forget(struct store *s, const char *uuid, struct hull_err *err)
{
	json_t *srv = NULL, *ms = NULL;
	int r = store_get(s, "servers", uuid, &srv, NULL, err);
	json_decref(srv);
	if (r == -ENOENT)
		return hull_err_set(err, ENOENT, "server %.40s not found",
				    uuid);
	if (r < 0)
		return r;
	if ((r = store_find(s, "machines", "server", uuid, &ms, err)) < 0)
		return r;
	size_t i, n = 0;
	json_t *m;
	json_array_foreach(ms, i, m) n += machine_books(m);
	json_decref(ms);
	if (n)
		return hull_err_set(
		    err, EBUSY, "server %s still has %zu instances", uuid, n);
	return store_del(s, "servers", uuid, NULL, err);
}

static void (*listener)(void *cls, const char *server);
static void *listener_cls;

void task_listen(void (*fn)(void *cls, const char *server), void *cls)
{
	listener = fn;
	listener_cls = cls;
}

int task_queue(struct store *s, const char *server, const char *machine,
	       const char *action, const char *audit, json_t *params,
	       char id_out[37], struct hull_err *err)
{
	char id[HULL_UUID_LEN + 1], now[32];
	hull_uuid_generate(id);
	head_now_iso(now);
	json_t *t = json_pack(
	    "{s:s, s:s, s:s, s:s, s:O, s:s, s:s, s:I}", "id", id, "server",
	    server, "machine", machine, "action", action, "params",
	    params ? params : json_null(), "state", "queued", "created", now,
	    "created_ms", (json_int_t)head_now_ms());
	if (audit)
		json_object_set_new(t, "audit", json_string(audit));
	/* The order tasks are handed out in: nanoseconds, strictly rising
	 * in this process, so that two tasks queued in one millisecond (a
	 * rollback and the start after it) keep their order. */
	static int64_t last_seq;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t seq = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	int64_t prev = __atomic_load_n(&last_seq, __ATOMIC_RELAXED);
	do {
		if (seq <= prev)
			seq = prev + 1;
	} while (!__atomic_compare_exchange_n(
	    &last_seq, &prev, seq, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	json_object_set_new(t, "seq", json_integer(seq));
	int r = store_put(s, "tasks", id, t, "", NULL, err);
	json_decref(t);
	if (r == 0 && id_out)
		memcpy(id_out, id, sizeof(id));
	if (r == 0 && listener)
		listener(listener_cls, server);
	return r;
}
