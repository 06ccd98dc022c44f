/*
 * test_head.c - the head node's pure parts and its SQLite store: OpenSSH
 * public keys and their MD5 fingerprints (checked against what
 * `ssh-keygen -E md5 -l` printed for the same keys), the HTTP Signature
 * header, the Date window, and the store's get/put-if-etag/find/delete and
 * migrations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "head/admin.h"
#include "head/httpsig.h"
#include "head/networks.h"
#include "lib/json.h"
#include "head/placement.h"
#include "head/servers.h"
#include "head/sshkey.h"
#include "head/store.h"

static const char KEY_RSA[] =
    "ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAABAQDPuDFM2+QjQi/"
    "DI52pzHIzx1T4FgGga1hR3wCohDoo45keON1V3Q9zaXz5Qh+"
    "99vqhfNNGYOjFbBi7eu8C7gKnHr5UhnKKJZWXJXQknYDAVmWIkWawNnMaTxDmL7pPlvIDfu4"
    "njBgFQI+3OKJJ646xBz6JUoVa4jQjgGAUFmmgw9X1IVs8/"
    "V4rxV4B0+jwWPAHC/o9tmQfhjaYzWX/7v5sVKS+/"
    "QlhDtXQD7J61KFvZJa6WQ/"
    "uFjtOsuCEkjAuDPjZkZ5Nzqqj1HGRFFhFHA2XyiT1spp3WJyIdpWXK2BumUR+"
    "hb2c8NtfywgL9wFwkyDhQrwc33brIHH4f9u/IR0F u@rsa\n";
static const char KEY_ECDSA[] =
    "ecdsa-sha2-nistp384 "
    "AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBCtyovRkEYU2xKJf5Ex4"
    "eg2LJvZVwfgOFDGUsJMwMTSUhtNt8sNnuGUdF46VkX/"
    "DoXs6BIlSAzQFZWBhre5FeN75AfSDn7WB461fYA2NED51wf4sk08OdFm0rA0Cwm7kDw== "
    "u@ecdsa";
static const char KEY_ED25519[] =
    "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIJW0i6JRnY3cqfY7zjGQJ0z4"
    "8ti1U/yuBwFU3j6Yw5NV u@ed25519";

static void parse_ok(const char *line, enum sshkey_type type, int bits,
		     const char *md5, const char *comment)
{
	struct sshkey k;
	struct hull_err err = {0};
	assert_int_equal(sshkey_parse(line, strlen(line), &k, &err), 0);
	assert_int_equal(k.type, type);
	assert_int_equal(k.bits, bits);
	assert_string_equal(k.md5, md5);
	assert_string_equal(k.comment, comment);
	void *evp = sshkey_to_evp(&k, &err);
	assert_non_null(evp);
	EVP_PKEY_free(evp);
	sshkey_fini(&k);
}

static void test_sshkey_types(void **state)
{
	(void)state;
	parse_ok(KEY_RSA, SSHKEY_RSA, 2048,
		 "cf:47:55:aa:83:ed:a5:50:59:4c:9c:2e:8b:a6:0b:6e", "u@rsa");
	parse_ok(KEY_ECDSA, SSHKEY_ECDSA, 384,
		 "a5:52:e6:72:a0:a4:85:a2:b2:a8:8c:f2:12:40:2c:f3", "u@ecdsa");
	parse_ok(KEY_ED25519, SSHKEY_ED25519, 256,
		 "b8:e3:dc:e8:1d:2c:8d:c6:54:59:ee:5e:9b:1f:d0:f3",
		 "u@ed25519");
}

static void parse_bad(const char *line, const char *want)
{
	struct sshkey k;
	struct hull_err err = {0};
	assert_int_equal(sshkey_parse(line, strlen(line), &k, &err), -EINVAL);
	if (!strstr(err.msg, want))
		fail_msg("%s: got \"%s\", want \"%s\"", line, err.msg, want);
}

static void test_sshkey_bad(void **state)
{
	(void)state;
	parse_bad("", "empty");
	parse_bad("ssh-dss AAAA", "unsupported key type");
	parse_bad("ssh-rsa", "no key data");
	parse_bad("ssh-rsa !!!!", "not base64");
	/* an Ed25519 blob under the RSA type */
	parse_bad("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIJW0i6JRnY3cqfY7zjGQJ0z48ti1"
		  "U/yuBwFU3j6Yw5NV",
		  "not of type ssh-rsa");
	/* truncated: the last 4 base64 characters dropped */
	parse_bad("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJW0i6JRnY3cqfY7zjGQJ0z4"
		  "8ti1U/yuBwFU3j6Y",
		  "truncated key data");
	parse_bad("ssh-ed25519 AAAA\nssh-ed25519 AAAA", "more than one line");
}

static void sig_ok(const char *h, const char *login, const char *key,
		   const char *alg, int nheaders)
{
	struct httpsig s;
	struct hull_err err = {0};
	if (httpsig_parse(h, &s, &err) < 0)
		fail_msg("%s: %s", h, err.msg);
	assert_string_equal(s.login, login);
	assert_string_equal(s.key, key);
	assert_string_equal(s.algorithm, alg);
	assert_int_equal(s.nheaders, nheaders);
	assert_int_equal(s.signature_len, 3);
	httpsig_fini(&s);
}

static void sig_bad(const char *h, const char *want)
{
	struct httpsig s;
	struct hull_err err = {0};
	assert_int_equal(httpsig_parse(h, &s, &err), -EINVAL);
	if (!strstr(err.msg, want))
		fail_msg("%s: got \"%s\", want \"%s\"", h, err.msg, want);
}

static void test_httpsig_parse(void **state)
{
	(void)state;
	/* what triton 7.17.0 sends */
	sig_ok("Signature keyId=\"/test/keys/72:26:46:7a:2a:df:64:25:ab:a3:77:"
	       "ae:0e:a8:84:31\",algorithm=\"rsa-sha256\",headers=\"(request-"
	       "target) date\",signature=\"YWJj\"",
	       "test", "72:26:46:7a:2a:df:64:25:ab:a3:77:ae:0e:a8:84:31",
	       "rsa-sha256", 2);
	/* any order, spaces, upper-case algorithm, headers defaulting to date
	 */
	sig_ok("signature signature=\"YWJj\", algorithm=\"ED25519-SHA512\", "
	       "keyId=\"/bob/keys/laptop\"",
	       "bob", "laptop", "ed25519-sha512", 1);
	sig_bad("Basic dXNlcjpwYXNz", "not a Signature");
	sig_bad("Signature algorithm=\"rsa-sha256\",signature=\"YWJj\"",
		"keyId was not specified");
	sig_bad("Signature keyId=\"/a/keys/k\",signature=\"YWJj\"",
		"algorithm was not specified");
	sig_bad("Signature keyId=\"/a/keys/k\",algorithm=\"rsa-sha1\","
		"signature=\"YWJj\"",
		"unsupported algorithm");
	sig_bad("Signature keyId=\"/a/keys/k\",algorithm=\"rsa-sha256\","
		"headers=\"(request-target)\",signature=\"YWJj\"",
		"date header must be signed");
	sig_bad(
	    "Signature keyId=\"/a/users/u/keys/k\",algorithm=\"rsa-sha256\","
	    "signature=\"YWJj\"",
	    "sub-user");
	sig_bad("Signature keyId=\"a/keys/k\",algorithm=\"rsa-sha256\","
		"signature=\"YWJj\"",
		"keyId must be");
	sig_bad("Signature keyId=\"/a/keys/k\",keyId=\"/b/keys/k\","
		"algorithm=\"rsa-sha256\",signature=\"YWJj\"",
		"given twice");
	sig_bad("Signature keyId=\"/a/keys/k\",algorithm=\"rsa-sha256\","
		"signature=\"YWJ\"",
		"not base64");
	sig_bad("Signature keyId=\"/a/keys/k", "unterminated");
}

static const char *hdr(const char *name, void *ctx)
{
	(void)ctx;
	return !strcmp(name, "date") ? "Mon, 07 Dec 2026 02:08:28 GMT" : NULL;
}

static void test_httpsig_signing_string(void **state)
{
	(void)state;
	struct httpsig s;
	struct hull_err err = {0};
	assert_int_equal(
	    httpsig_parse(
		"Signature keyId=\"/t/keys/k\",algorithm=\"rsa-sha256\","
		"headers=\"(request-target) date\",signature=\"YWJj\"",
		&s, &err),
	    0);
	char *text = NULL;
	assert_int_equal(
	    httpsig_signing_string(&s, "GET", "/t/machines?limit=1000&offset=0",
				   hdr, NULL, &text, &err),
	    0);
	assert_string_equal(text, "(request-target): get "
				  "/t/machines?limit=1000&offset=0\n"
				  "date: Mon, 07 Dec 2026 02:08:28 GMT");
	free(text);
	httpsig_fini(&s);
	assert_int_equal(
	    httpsig_parse(
		"Signature keyId=\"/t/keys/k\",algorithm=\"rsa-sha256\","
		"headers=\"date x-extra\",signature=\"YWJj\"",
		&s, &err),
	    0);
	assert_int_equal(
	    httpsig_signing_string(&s, "GET", "/", hdr, NULL, &text, &err),
	    -EINVAL);
	assert_non_null(strstr(err.msg, "x-extra is missing"));
	httpsig_fini(&s);
}

static void test_httpsig_date(void **state)
{
	(void)state;
	struct hull_err err = {0};
	time_t t = 1796609308; /* Mon, 07 Dec 2026 02:08:28 GMT */
	const char *d = "Mon, 07 Dec 2026 02:08:28 GMT";
	assert_int_equal(httpsig_check_date(d, t, &err), 0);
	assert_int_equal(httpsig_check_date(d, t + 300, &err), 0);
	assert_int_equal(httpsig_check_date(d, t - 300, &err), 0);
	assert_int_equal(httpsig_check_date(d, t + 301, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "clock skew of 301s"));
	assert_int_equal(httpsig_check_date(d, t - 1000, &err), -EINVAL);
	assert_int_equal(httpsig_check_date("yesterday", t, &err), -EINVAL);
	assert_int_equal(httpsig_check_date(
			     "Mon, 07 Dec 2026 02:08:28 GMT trailing", t, &err),
			 -EINVAL);
}

static char *db_path(void)
{
	char *dir = strdup("/tmp/hull-test-store-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char *p = NULL;
	assert_true(asprintf(&p, "sqlite:%s/state.db", dir) > 0);
	free(dir);
	return p;
}

static void rm_db(const char *url)
{
	/* the folder of the database file: "sqlite:" + DIR + "/state.db" */
	char *dir = strdup(url + strlen("sqlite:"));
	assert_non_null(dir);
	char *slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = '\0';
	char *s;
	assert_true(asprintf(&s, "rm -rf '%s'", dir) > 0);
	assert_int_equal(system(s), 0);
	free(s);
	free(dir);
}

static void test_store_sqlite(void **state)
{
	(void)state;
	char *url = db_path();
	struct store *s = NULL;
	struct hull_err err = {0};
	if (store_open(url, &s, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(store_driver_name(s), "sqlite");
	struct stat st;
	assert_int_equal(stat(url + 7, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	int v = 0;
	assert_int_equal(store_schema_version(s, &v, &err), 0);
	assert_int_equal(v, STORE_SCHEMA_VERSION);

	json_t *a = json_pack("{s:s, s:s}", "login", "alice", "uuid", "a1");
	char *etag = NULL, *etag2 = NULL;
	/* create-only: works once, then conflicts */
	assert_int_equal(store_put(s, "accounts", "a1", a, "", &etag, &err), 0);
	assert_int_equal(store_put(s, "accounts", "a1", a, "", NULL, &err),
			 -ECANCELED);
	/* put-if-etag: the right etag wins once, the stale one loses */
	json_object_set_new(a, "email", json_string("a@example.com"));
	assert_int_equal(store_put(s, "accounts", "a1", a, etag, &etag2, &err),
			 0);
	assert_string_not_equal(etag, etag2);
	assert_int_equal(store_put(s, "accounts", "a1", a, etag, NULL, &err),
			 -ECANCELED);
	json_t *got = NULL;
	char *etag3 = NULL;
	assert_int_equal(store_get(s, "accounts", "a1", &got, &etag3, &err), 0);
	assert_string_equal(etag3, etag2);
	assert_string_equal(json_string_value(json_object_get(got, "email")),
			    "a@example.com");
	json_decref(got);

	/* find by an indexed field, follows renames */
	json_t *b = json_pack("{s:s, s:s}", "login", "bob", "uuid", "b1");
	assert_int_equal(store_put(s, "accounts", "b1", b, NULL, NULL, &err),
			 0);
	json_t *found = NULL;
	assert_int_equal(
	    store_find(s, "accounts", "login", "bob", &found, &err), 0);
	assert_int_equal(json_array_size(found), 1);
	json_decref(found);
	json_object_set_new(b, "login", json_string("robert"));
	assert_int_equal(store_put(s, "accounts", "b1", b, NULL, NULL, &err),
			 0);
	assert_int_equal(
	    store_find(s, "accounts", "login", "bob", &found, &err), 0);
	assert_int_equal(json_array_size(found), 0);
	json_decref(found);
	assert_int_equal(store_find(s, "accounts", NULL, NULL, &found, &err),
			 0);
	assert_int_equal(json_array_size(found), 2);
	json_decref(found);
	assert_int_equal(store_find(s, "accounts", "email", "x", &found, &err),
			 -EINVAL);
	assert_int_equal(store_put(s, "nosuch", "k", b, NULL, NULL, &err),
			 -EINVAL);

	/* delete: by stale etag refused, then done, then gone */
	assert_int_equal(store_del(s, "accounts", "a1", etag, &err),
			 -ECANCELED);
	assert_int_equal(store_del(s, "accounts", "a1", etag2, &err), 0);
	assert_int_equal(store_del(s, "accounts", "a1", NULL, &err), -ENOENT);
	assert_int_equal(store_get(s, "accounts", "a1", &got, NULL, &err),
			 -ENOENT);
	assert_int_equal(
	    store_find(s, "accounts", "login", "alice", &found, &err), 0);
	assert_int_equal(json_array_size(found), 0);
	json_decref(found);
	store_close(s);

	/* reopening keeps everything and does not migrate again */
	assert_int_equal(store_open(url, &s, &err), 0);
	assert_int_equal(store_get(s, "accounts", "b1", &got, NULL, &err), 0);
	json_decref(got);
	store_close(s);

	json_decref(a);
	json_decref(b);
	free(etag);
	free(etag2);
	free(etag3);
	rm_db(url);
	free(url);
}

static int txn_fail(struct store *s, void *ctx)
{
	struct hull_err *err = ctx;
	json_t *v = json_pack("{s:s}", "name", "p1");
	int r = store_put(s, "packages", "p1", v, NULL, NULL, err);
	json_decref(v);
	assert_int_equal(r, 0);
	return -EINVAL; /* roll it back */
}

static void test_store_txn_and_newer_schema(void **state)
{
	(void)state;
	char *url = db_path();
	struct store *s = NULL;
	struct hull_err err = {0};
	assert_int_equal(store_open(url, &s, &err), 0);
	assert_int_equal(store_txn(s, txn_fail, &err, &err), -EINVAL);
	json_t *got = NULL;
	assert_int_equal(store_get(s, "packages", "p1", &got, NULL, &err),
			 -ENOENT);
	store_close(s);

	/* a database from a newer hull is refused, not downgraded */
	char *cmd;
	assert_true(
	    asprintf(&cmd,
		     "sqlite3 '%s' 'UPDATE hull_schema SET version = "
		     "99' 2>/dev/null || /usr/bin/python3 -c \"import sqlite3,"
		     "sys; c=sqlite3.connect(sys.argv[1]); "
		     "c.execute('UPDATE hull_schema SET version = 99');"
		     " c.commit()\" '%s'",
		     url + 7, url + 7) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(store_open(url, &s, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "schema version 99 is newer"));
	assert_int_equal(store_open("mysql://x", &s, &err), -EINVAL);
	rm_db(url);
	free(url);
}

static void put_server(struct store *s, const char *uuid, long ram, int64_t hb,
		       bool reserved)
{
	json_t *v = json_pack("{s:s, s:I, s:I, s:I, s:b}", "uuid", uuid, "ram",
			      (json_int_t)ram, "disk_pool_size_bytes",
			      (json_int_t)10240 << 20, "heartbeat_ms",
			      (json_int_t)hb, "reserved", reserved);
	assert_int_equal(store_put(s, "servers", uuid, v, NULL, NULL, NULL), 0);
	json_decref(v);
}

static void put_machine(struct store *s, const char *id, const char *server,
			long memory, const char *state)
{
	json_t *v =
	    json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "id", id, "server",
		      server, "owner", "o", "memory", (json_int_t)memory,
		      "disk", (json_int_t)1024, "state", state);
	assert_int_equal(store_put(s, "machines", id, v, NULL, NULL, NULL), 0);
	json_decref(v);
}

#define S1 "11111111-1111-4111-8111-111111111111"
#define S2 "22222222-2222-4222-8222-222222222222"
#define S3 "33333333-3333-4333-8333-333333333333"
#define S4 "44444444-4444-4444-8444-444444444444"

/* Placement's filters and spread; the unknown status after 11 s; what
 * failed and deleted machines leave booked; a booking against a server
 * that filled up, and one against a stale etag. */
static void test_placement(void **state)
{
	(void)state;
	char *url = db_path();
	struct store *s = NULL;
	struct hull_err err = {0};
	assert_int_equal(store_open(url, &s, &err), 0);
	int64_t now = head_now_ms();
	put_server(s, S1, 4096, now, false);
	put_server(s, S2, 4096, now - 1000, false);
	put_server(s, S3, 8192, now - 12000, false); /* silent 12 s */
	put_server(s, S4, 8192, now, true);	     /* reserved */
	json_t *srv = NULL;
	assert_int_equal(store_get(s, "servers", S3, &srv, NULL, NULL), 0);
	assert_string_equal(server_status(srv, now), "unknown");
	assert_string_equal(server_status(srv, now - 2000), "running");
	json_decref(srv);

	/* S1 has 1024 MiB booked (a failed and a deleted machine book
	 * nothing): spread puts the next one on S2. */
	put_machine(s, "m1", S1, 1024, "running");
	put_machine(s, "m2", S1, 2048, "failed");
	put_machine(s, "m3", S1, 2048, "deleted");
	json_t *c = NULL;
	assert_int_equal(placement_candidates(s, 512, 1024, &c, &err), 0);
	assert_int_equal(json_array_size(c), 2);
	assert_string_equal(json_string_value(json_array_get(c, 0)), S2);
	assert_string_equal(json_string_value(json_array_get(c, 1)), S1);
	json_decref(c);
	/* 4096 * 0.85 = 3481 MiB: S1 has 2457 left, S2 3481. */
	json_t *ms = NULL;
	assert_int_equal(store_get(s, "servers", S1, &srv, NULL, NULL), 0);
	assert_int_equal(store_find(s, "machines", "server", S1, &ms, NULL), 0);
	long ram = 0, disk = 0;
	server_unreserved(srv, ms, &ram, &disk);
	assert_int_equal(ram, 3481 - 1024);
	assert_int_equal(disk, (long)(10240 * 0.94) - 1024);
	json_decref(ms);
	json_decref(srv);
	assert_int_equal(placement_candidates(s, 3000, 1024, &c, &err), 0);
	assert_int_equal(json_array_size(c), 1);
	assert_string_equal(json_string_value(json_array_get(c, 0)), S2);
	json_decref(c);
	assert_int_equal(placement_candidates(s, 4000, 1024, &c, &err), 0);
	assert_int_equal(json_array_size(c), 0);
	json_decref(c);
	/* Room that went since placement looked: refused. */
	assert_int_equal(placement_book(s, S1, 3000, 1024, &err), -ENOSPC);
	assert_int_equal(placement_book(s, S3, 10, 10, &err), -ENOSPC);
	assert_int_equal(placement_book(s, S2, 3000, 1024, &err), 0);
	store_close(s);
	rm_db(url);
	free(url);
}

/* A join token works once; the key it gives is the server's only. */
static void test_join_and_agent_keys(void **state)
{
	(void)state;
	char *url = db_path();
	struct store *s = NULL;
	struct hull_err err = {0};
	assert_int_equal(store_open(url, &s, &err), 0);
	char *tok = NULL, *key = NULL, *key2 = NULL;
	assert_int_equal(head_join_token_new(s, &tok, &err), 0);
	json_t *info = json_pack("{s:s}", "hostname", "cn1");
	assert_int_equal(server_join(s, "f0000", S1, info, &key, &err),
			 -EACCES);
	assert_string_equal(err.msg, "invalid join token");
	assert_int_equal(server_join(s, tok, S1, info, &key, &err), 0);
	assert_int_equal(server_join(s, tok, S2, info, &key2, &err), -EACCES);
	assert_string_equal(err.msg, "join token already used");
	assert_int_equal(server_auth(s, S1, key, &err), 0);
	assert_int_equal(server_auth(s, S2, key, &err), -EACCES);
	assert_int_equal(server_auth(s, S1, "0000", &err), -EACCES);
	json_t *srv = NULL;
	assert_int_equal(store_get(s, "servers", S1, &srv, NULL, NULL), 0);
	/* Only the key's hash is kept. */
	char *dump = json_dumps(srv, 0);
	assert_null(strstr(dump, key));
	free(dump);
	json_decref(srv);
	/* Tasks queued back to back keep their order (seq), even within
	 * one millisecond. */
	char t1[37], t2[37];
	assert_int_equal(task_queue(s, S1, "m1", "snapshot_rollback",
				    "rollback_snapshot", NULL, t1, &err),
			 0);
	assert_int_equal(task_queue(s, S1, "m1", "start", NULL, NULL, t2, &err),
			 0);
	json_t *a1 = NULL, *a2 = NULL;
	assert_int_equal(store_get(s, "tasks", t1, &a1, NULL, NULL), 0);
	assert_int_equal(store_get(s, "tasks", t2, &a2, NULL, NULL), 0);
	assert_true(json_integer_value(json_object_get(a2, "seq")) >
		    json_integer_value(json_object_get(a1, "seq")));
	assert_string_equal(json_string_value(json_object_get(a1, "audit")),
			    "rollback_snapshot");
	assert_null(json_object_get(a2, "audit"));
	json_decref(a1);
	json_decref(a2);
	assert_int_equal(server_reserve(s, S1, true, &err), 0);
	assert_int_equal(server_reserve(s, S2, true, &err), -ENOENT);
	put_machine(s, "m1", S1, 128, "running");
	assert_int_equal(server_forget(s, S1, &err), -EBUSY);
	put_machine(s, "m1", S1, 128, "deleted");
	assert_int_equal(server_forget(s, S1, &err), 0);
	assert_int_equal(server_auth(s, S1, key, &err), -EACCES);
	json_decref(info);
	free(tok);
	free(key);
	store_close(s);
	rm_db(url);
	free(url);
}

static int net_parse(const char *text, bool fabric, json_t **out)
{
	json_t *in = json_loads(text, 0, NULL);
	assert_non_null(in);
	struct hull_err err = {0};
	*out = NULL;
	int r = head_network_parse(in, fabric, out, &err);
	json_decref(in);
	return r;
}

static void test_network_parse(void **state)
{
	(void)state;
	json_t *n = NULL;
	assert_int_equal(
	    net_parse("{\"name\":\"f\",\"subnet\":\"198.51.100.0/24\","
		      "\"provision_start_ip\":\"198.51.100.10\","
		      "\"provision_end_ip\":\"198.51.100.20\","
		      "\"gateway\":\"198.51.100.1\",\"vlan_id\":42}",
		      true, &n),
	    0);
	assert_string_equal(hull_json_str(n, "netmask", ""), "255.255.255.0");
	assert_int_equal(hull_json_int(n, "mtu", 0), HEAD_FABRIC_MTU);
	assert_true(hull_json_bool(n, "internet_nat", false));
	json_decref(n);
	/* IPv6, normalised */
	assert_int_equal(
	    net_parse("{\"name\":\"s\",\"subnet\":\"2001:DB8:0::/64\","
		      "\"provision_start_ip\":\"2001:db8::a\","
		      "\"provision_end_ip\":\"2001:db8::1:0\","
		      "\"nic_tag\":\"external\"}",
		      false, &n),
	    0);
	assert_string_equal(hull_json_str(n, "subnet", ""), "2001:db8::/64");
	assert_string_equal(hull_json_str(n, "family", ""), "ipv6");
	json_decref(n);
	static const char *const bad[] = {
	    /* range outside, reversed, the network address, host bits */
	    "{\"name\":\"f\",\"subnet\":\"198.51.100.0/24\","
	    "\"provision_start_ip\":\"198.51.100.10\","
	    "\"provision_end_ip\":\"198.51.101.20\"}",
	    "{\"name\":\"f\",\"subnet\":\"198.51.100.0/24\","
	    "\"provision_start_ip\":\"198.51.100.30\","
	    "\"provision_end_ip\":\"198.51.100.20\"}",
	    "{\"name\":\"f\",\"subnet\":\"198.51.100.0/24\","
	    "\"provision_start_ip\":\"198.51.100.0\","
	    "\"provision_end_ip\":\"198.51.100.20\"}",
	    "{\"name\":\"f\",\"subnet\":\"198.51.100.1/24\","
	    "\"provision_start_ip\":\"198.51.100.10\","
	    "\"provision_end_ip\":\"198.51.100.20\"}",
	    /* NAT without a gateway, IPv6 on a fabric, MTU over the
	     * fabric's, an unknown field */
	    "{\"name\":\"f\",\"subnet\":\"198.51.100.0/24\","
	    "\"provision_start_ip\":\"198.51.100.10\","
	    "\"provision_end_ip\":\"198.51.100.20\",\"internet_nat\":true}",
	    "{\"name\":\"f\",\"subnet\":\"2001:db8::/64\","
	    "\"provision_start_ip\":\"2001:db8::a\","
	    "\"provision_end_ip\":\"2001:db8::b\"}",
	    "{\"name\":\"f\",\"subnet\":\"198.51.100.0/24\","
	    "\"provision_start_ip\":\"198.51.100.10\","
	    "\"provision_end_ip\":\"198.51.100.20\",\"mtu\":1500}",
	    "{\"name\":\"f\",\"subnet\":\"198.51.100.0/24\","
	    "\"provision_start_ip\":\"198.51.100.10\","
	    "\"provision_end_ip\":\"198.51.100.20\",\"owner\":\"x\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(net_parse(bad[i], true, &n), -EINVAL);
		assert_null(n);
	}
}

static json_t *pool_net(struct store *s, const char *name, const char *subnet,
			const char *lo, const char *hi, const char *tag)
{
	struct hull_err err = {0};
	json_t *in = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name,
			       "subnet", subnet, "provision_start_ip", lo,
			       "provision_end_ip", hi, "nic_tag", tag);
	json_t *rec = NULL;
	if (head_network_create(s, in, NULL, false, true, &rec, &err) < 0)
		fail_msg("%s", err.msg);
	json_decref(in);
	return rec;
}

/* A pool: its members in order, the next when one is full, NAPI's
 * refusals, its network kept while it names it. */
static void test_network_pools(void **state)
{
	(void)state;
	char *url = db_path();
	struct store *s = NULL;
	struct hull_err err = {0};
	assert_int_equal(store_open(url, &s, &err), 0);
	json_t *a = pool_net(s, "a", "198.51.100.0/29", "198.51.100.2",
			     "198.51.100.2", "external");
	json_t *b = pool_net(s, "b", "198.51.100.8/29", "198.51.100.10",
			     "198.51.100.11", "external");
	json_t *c =
	    pool_net(s, "c", "192.0.2.0/29", "192.0.2.2", "192.0.2.3", "admin");
	json_t *in =
	    json_pack("{s:s, s:[s,s]}", "name", "p", "networks", "a", "b");
	json_t *p = NULL;
	assert_int_equal(head_pool_create(s, in, &p, &err), 0);
	json_decref(in);
	assert_true(head_is_pool(p) && !head_is_pool(a));
	assert_true(head_pool_visible(p, "someone"));
	assert_string_equal(hull_json_str(p, "nic_tag", ""), "external");

	const char *want[] = {"198.51.100.2", "198.51.100.10", "198.51.100.11"};
	const char *nets[] = {"a", "b", "b"};
	for (int i = 0; i < 3; i++) {
		char ip[INET6_ADDRSTRLEN];
		json_t *n = NULL;
		char m[8];
		snprintf(m, sizeof(m), "m%d", i);
		assert_int_equal(
		    head_pool_allocate(s, p, m, false, ip, &n, &err), 0);
		assert_string_equal(ip, want[i]);
		assert_string_equal(hull_json_str(n, "name", ""), nets[i]);
		json_decref(n);
	}
	char ip[INET6_ADDRSTRLEN];
	json_t *n = NULL;
	assert_int_equal(head_pool_allocate(s, p, "m3", false, ip, &n, &err),
			 -ENOSPC);
	assert_non_null(strstr(err.msg, "are full"));
	assert_null(n);

	/* mixed nic tags; an unknown network; the same name again */
	json_t *bad[] = {
	    json_pack("{s:s, s:[s,s]}", "name", "x", "networks", "a", "c"),
	    json_pack("{s:s, s:[s]}", "name", "x", "networks", "nope"),
	    json_pack("{s:s, s:[s]}", "name", "p", "networks", "a"),
	    json_pack("{s:s, s:[]}", "name", "x", "networks"),
	};
	int codes[] = {-EINVAL, -EINVAL, -EEXIST, -EINVAL};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(head_pool_create(s, bad[i], NULL, &err),
				 codes[i]);
		json_decref(bad[i]);
	}
	assert_int_equal(
	    head_network_delete(s, hull_json_str(a, "id", ""), &err), -EBUSY);
	assert_int_equal(head_pool_delete(s, hull_json_str(p, "id", ""), &err),
			 0);
	assert_int_equal(head_pool_lookup(s, NULL, "p", &n, &err), -ENOENT);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(p);
	store_close(s);
	rm_db(url);
	free(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sshkey_types),
	    cmocka_unit_test(test_sshkey_bad),
	    cmocka_unit_test(test_httpsig_parse),
	    cmocka_unit_test(test_httpsig_signing_string),
	    cmocka_unit_test(test_httpsig_date),
	    cmocka_unit_test(test_store_sqlite),
	    cmocka_unit_test(test_store_txn_and_newer_schema),
	    cmocka_unit_test(test_placement),
	    cmocka_unit_test(test_join_and_agent_keys),
	    cmocka_unit_test(test_network_parse),
	    cmocka_unit_test(test_network_pools),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
