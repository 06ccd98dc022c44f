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

#include "head/httpsig.h"
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
