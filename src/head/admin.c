/*
 * admin.c - the operator's operations on the head node's state: see
 * admin.h.
 */
#include <arpa/inet.h>
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "head/admin.h"
#include "head/replicate.h"
#include "head/sshkey.h"
#include "image/manifest.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

#define MANIFEST_MAX (1 << 20)

void head_now_iso(char out[32])
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

int head_login_check(const char *login, struct hull_err *err)
{
	/* Words that are paths of hull-api itself, not accounts. */
	static const char *const reserved[] = {"my", "imgapi", "--ping",
					       "admin-api", "agent"};
	size_t n = strlen(login);
	bool ok = n >= 3 && n <= 32 && isalpha((unsigned char)login[0]);
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)login[i]) ||
		     strchr("_.@-", login[i]);
	for (size_t i = 0; ok && i < sizeof(reserved) / sizeof(*reserved); i++)
		ok = strcmp(login, reserved[i]) != 0;
	if (!ok)
		return hull_err_set(err, EINVAL,
				    "login %.40s: 3 to 32 letters, digits and "
				    "_.@-, starting with a letter (not my, "
				    "imgapi, agent)",
				    login);
	return 0;
}

int head_account_by_login(struct store *s, const char *login, json_t **acct,
			  struct hull_err *err)
{
	json_t *found = NULL;
	int r = store_find(s, "accounts", "login", login, &found, err);
	if (r < 0)
		return r;
	json_t *a = json_array_get(found, 0);
	if (!a) {
		json_decref(found);
		return hull_err_set(err, ENOENT, "no account %s", login);
	}
	*acct = json_incref(a);
	json_decref(found);
	return 0;
}

int head_key_find(struct store *s, const char *account, const char *key,
		  json_t **rec, struct hull_err *err)
{
	char *k = xasprintf("%s/%s", account, key);
	struct hull_err e2;
	int r = store_get(s, "keys", k, rec, NULL, &e2);
	free(k);
	if (r != -ENOENT) {
		if (r < 0 && err)
			*err = e2;
		return r;
	}
	json_t *all = NULL;
	if ((r = store_find(s, "keys", "account", account, &all, err)) < 0)
		return r;
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v)
	{
		if (!strcmp(hull_json_str(v, "name", ""), key)) {
			*rec = json_incref(v);
			json_decref(all);
			return 0;
		}
	}
	json_decref(all);
	return hull_err_set(err, ENOENT, "no key %s", key);
}

int head_key_add(struct store *s, const char *account, const char *line,
		 size_t len, const char *name, json_t **rec,
		 struct hull_err *err)
{
	struct sshkey k;
	int r = sshkey_parse(line, len, &k, err);
	if (r < 0)
		return r;
	if (name && (!*name || strlen(name) > 128 || strchr(name, '/'))) {
		sshkey_fini(&k);
		return hull_err_set(err, EINVAL,
				    "key name: 1 to 128 characters, no '/'");
	}
	json_t *other = NULL;
	if (name && head_key_find(s, account, name, &other, NULL) == 0) {
		json_decref(other);
		sshkey_fini(&k);
		return hull_err_set(err, EEXIST, "a key named %s exists", name);
	}
	char now[32];
	head_now_iso(now);
	/* The line as OpenSSH writes it, whatever spacing it came with. */
	char *b64 = NULL;
	{
		size_t n = (k.blob_len + 2) / 3 * 4 + 1;
		unsigned char *o = xmalloc(n);
		EVP_EncodeBlock(o, k.blob, (int)k.blob_len);
		b64 = (char *)o;
	}
	char *text = k.comment[0]
			 ? xasprintf("%s %s %s", k.type_name, b64, k.comment)
			 : xasprintf("%s %s", k.type_name, b64);
	json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s}", "account", account,
			      "fingerprint", k.md5, "name", name ? name : k.md5,
			      "key", text, "created", now);
	char *key = xasprintf("%s/%s", account, k.md5);
	r = store_put(s, "keys", key, v, "", NULL, err);
	if (r == -ECANCELED)
		r = hull_err_set(err, EEXIST, "key %s is already registered",
				 k.md5);
	free(key);
	free(text);
	free(b64);
	sshkey_fini(&k);
	if (r == 0 && rec)
		*rec = json_incref(v);
	json_decref(v);
	return r;
}

/* Sets acct's "password" to the yescrypt hash of password. */
static int set_password(json_t *acct, const char *password,
			struct hull_err *err)
{
	char *salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
	void *data = NULL;
	int size = 0;
	char *h = salt ? crypt_ra(password, salt, &data, &size) : NULL;
	int r = 0;
	if (!h || h[0] == '*')
		r = hull_err_set(err, EIO,
				 "password: yescrypt is not available");
	else
		json_object_set_new(acct, "password", json_string(h));
	free(salt);
	if (data)
		explicit_bzero(data, (size_t)size);
	free(data);
	return r;
}

int head_user_add(struct store *s, const char *login, const char *email,
		  const char *password, json_t **acct, struct hull_err *err)
{
	int r = head_login_check(login, err);
	if (r < 0)
		return r;
	json_t *old = NULL;
	if (head_account_by_login(s, login, &old, NULL) == 0) {
		json_decref(old);
		return hull_err_set(err, EEXIST, "account %s exists", login);
	}
	if (email && (!strchr(email, '@') || strlen(email) > 254))
		return hull_err_set(err, EINVAL, "email %.60s: not an address",
				    email);
	char uuid[HULL_UUID_LEN + 1], now[32];
	hull_uuid_generate(uuid);
	head_now_iso(now);
	json_t *a = json_pack("{s:s, s:s, s:s, s:s}", "uuid", uuid, "login",
			      login, "created", now, "updated", now);
	if (email)
		json_object_set_new(a, "email", json_string(email));
	if (password && (r = set_password(a, password, err)) < 0) {
		json_decref(a);
		return r;
	}
	r = store_put(s, "accounts", uuid, a, "", NULL, err);
	if (r == 0 && acct)
		*acct = json_incref(a);
	json_decref(a);
	return r;
}

static int name_check(const char *what, const char *name, struct hull_err *err)
{
	size_t n = strlen(name);
	bool ok = n >= 1 && n <= 64;
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)name[i]) || strchr("_.-", name[i]);
	if (!ok)
		return hull_err_set(err, EINVAL,
				    "%s name %.64s: 1 to 64 letters, digits "
				    "and _.-",
				    what, name);
	return 0;
}

static int unique_name(struct store *s, const char *bucket, const char *what,
		       const char *name, struct hull_err *err)
{
	json_t *found = NULL;
	int r = store_find(s, bucket, "name", name, &found, err);
	if (r < 0)
		return r;
	size_t n = json_array_size(found);
	json_decref(found);
	if (n)
		return hull_err_set(err, EEXIST, "%s %s exists", what, name);
	return 0;
}

int head_package_add(struct store *s, const struct head_package *p,
		     json_t **rec, struct hull_err *err)
{
	int r = name_check("package", p->name, err);
	if (r < 0)
		return r;
	if (p->memory < 64 || p->disk < 1 || p->vcpus < 0 || p->vcpus > 256)
		return hull_err_set(err, EINVAL,
				    "package %s: --memory (64 MiB or more), "
				    "--disk and --vcpus (0 to 256) are needed",
				    p->name);
	if (p->swap >= 0 && p->swap < p->memory)
		return hull_err_set(err, EINVAL,
				    "package %s: --swap must be at least "
				    "--memory (SmartOS's max_swap rule)",
				    p->name);
	if (p->brand && strcmp(p->brand, "joyent") &&
	    strcmp(p->brand, "joyent-minimal") && strcmp(p->brand, "lx") &&
	    strcmp(p->brand, "kvm") && strcmp(p->brand, "bhyve"))
		return hull_err_set(err, EINVAL,
				    "package %s: --brand %.20s: joyent, "
				    "joyent-minimal, lx, kvm or bhyve",
				    p->name, p->brand);
	if (p->replication < 0 || p->replication_keep < 0 ||
	    (p->replication_keep && !p->replication))
		return hull_err_set(err, EINVAL,
				    "package %s: --replication SECONDS "
				    "(and --replication-keep N) must be "
				    "positive",
				    p->name);
	if ((r = unique_name(s, "packages", "package", p->name, err)) < 0)
		return r;
	char uuid[HULL_UUID_LEN + 1];
	hull_uuid_generate(uuid);
	/* SmartOS's default max_swap is twice the memory, at least 256. */
	long swap = p->swap >= 0 ? p->swap
				 : (p->memory * 2 > 256 ? p->memory * 2 : 256);
	json_t *v = json_pack(
	    "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s, "
	    "s:s, s:b}",
	    "id", uuid, "name", p->name, "memory", (json_int_t)p->memory,
	    "disk", (json_int_t)p->disk, "swap", (json_int_t)swap, "vcpus",
	    (json_int_t)p->vcpus, "lwps", (json_int_t)4000, "version", "1.0.0",
	    "group", "", "description", "", "default", 0);
	if (p->cpu_cap >= 0)
		json_object_set_new(v, "cpu_cap", json_integer(p->cpu_cap));
	if (p->brand)
		json_object_set_new(v, "brand", json_string(p->brand));
	if (p->replication > 0) {
		json_object_set_new(v, "replication_interval",
				    json_integer(p->replication));
		json_object_set_new(v, "replication_keep",
				    json_integer(p->replication_keep
						     ? p->replication_keep
						     : REPLICA_KEEP));
	}
	r = store_put(s, "packages", uuid, v, "", NULL, err);
	if (r == 0 && rec)
		*rec = json_incref(v);
	json_decref(v);
	return r;
}

/* Copies src to dst (0600), computing the SHA-1 and size on the way. */
static int copy_sha1(const char *src, const char *dst, char sha1[41],
		     unsigned long long *size, struct hull_err *err)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return hull_err_sys(err, errno, "%s", src);
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		int e = errno;
		close(in);
		return hull_err_sys(err, e, "%s", dst);
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
	char *buf = xmalloc(1 << 16);
	int r = 0;
	*size = 0;
	for (;;) {
		ssize_t n = read(in, buf, 1 << 16);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = hull_err_sys(err, errno, "%s", src);
			break;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		*size += (unsigned long long)n;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				r = hull_err_sys(err, errno, "%s", dst);
				break;
			}
			off += w;
		}
		if (r < 0)
			break;
	}
	unsigned char md[20];
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	for (int i = 0; i < 20; i++)
		snprintf(sha1 + 2 * i, 3, "%02x", md[i]);
	free(buf);
	close(in);
	if (r == 0 && fsync(out) < 0)
		r = hull_err_sys(err, errno, "%s", dst);
	close(out);
	return r;
}

int head_image_import(struct store *s, const struct head_config *c,
		      const char *manifest, const char *file, json_t **rec,
		      struct hull_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	int r = hull_file_read(manifest, MANIFEST_MAX, &buf, &len, err);
	if (r < 0)
		return r;
	json_t *m = image_manifest_parse(buf, len, err);
	free(buf);
	if (!m)
		return hull_err_prefix(err, "%s", manifest);
	image_manifest_defaults(m);
	json_t *files = json_object_get(m, "files");
	if (json_array_size(files) != 1) {
		json_decref(m);
		return hull_err_set(err, EINVAL,
				    "%s: files must name exactly one file",
				    manifest);
	}
	const char *uuid = hull_json_str(m, "uuid", "");
	json_t *old = NULL;
	if (store_get(s, "images", uuid, &old, NULL, NULL) == 0) {
		json_decref(old);
		json_decref(m);
		return hull_err_set(err, EEXIST, "image %s is already imported",
				    uuid);
	}
	char *dir = head_images_dir(c);
	char *idir = xasprintf("%s/%s", dir, uuid);
	char *dst = xasprintf("%s/file0", idir);
	char *tmp = xasprintf("%s/.file0.partial", idir);
	char sha1[41];
	unsigned long long size = 0;
	json_t *f0 = json_array_get(files, 0);
	if ((r = hull_mkdir_p(dir, 0700, err)) < 0 ||
	    (r = hull_mkdir_mode(idir, 0700, err)) < 0)
		goto out;
	unlink(tmp);
	if ((r = copy_sha1(file, tmp, sha1, &size, err)) < 0)
		goto out;
	if (strcmp(sha1, hull_json_str(f0, "sha1", ""))) {
		r = hull_err_set(err, EINVAL,
				 "%s: sha1 %s does not match the manifest's %s",
				 file, sha1, hull_json_str(f0, "sha1", ""));
		goto out;
	}
	if ((json_int_t)size != hull_json_int(f0, "size", -1)) {
		r = hull_err_set(err, EINVAL,
				 "%s: size %llu does not match the manifest's "
				 "%" JSON_INTEGER_FORMAT,
				 file, size, hull_json_int(f0, "size", -1));
		goto out;
	}
	if (rename(tmp, dst) < 0) {
		r = hull_err_sys(err, errno, "%s", dst);
		goto out;
	}
	json_object_set_new(m, "state", json_string("active"));
	if (!json_object_get(m, "published_at")) {
		char now[32];
		head_now_iso(now);
		json_object_set_new(m, "published_at", json_string(now));
	}
	r = store_put(s, "images", uuid, m, "", NULL, err);
	if (r == -ECANCELED)
		r = hull_err_set(err, EEXIST, "image %s is already imported",
				 uuid);
	if (r == 0 && rec)
		*rec = json_incref(m);
out:
	unlink(tmp);
	if (r < 0 && r != -EEXIST) {
		unlink(dst);
		rmdir(idir);
	}
	free(dir);
	free(idir);
	free(dst);
	free(tmp);
	json_decref(m);
	return r;
}

int head_join_token_new(struct store *s, char **token, struct hull_err *err)
{
	unsigned char b[32], md[32];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return hull_err_sys(err, errno, "join token");
	char *t = xmalloc(65), key[65];
	for (int i = 0; i < 32; i++)
		snprintf(t + 2 * i, 3, "%02x", b[i]);
	/* The store keeps only the token's hash: reading the database does
	 * not give a usable token. */
	unsigned int mdlen = 0;
	EVP_Digest(t, 64, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(key + 2 * i, 3, "%02x", md[i]);
	char now[32];
	head_now_iso(now);
	json_t *v = json_pack("{s:s, s:b}", "created", now, "used", 0);
	int r = store_put(s, "join_tokens", key, v, "", NULL, err);
	json_decref(v);
	if (r < 0) {
		free(t);
		return r;
	}
	*token = t;
	return 0;
}

int head_user_passwd(struct store *s, const char *login, const char *password,
		     struct hull_err *err)
{
	json_t *a = NULL, *sessions = NULL;
	int r = head_account_by_login(s, login, &a, err);
	if (r < 0)
		return r;
	char now[32];
	head_now_iso(now);
	json_object_set_new(a, "updated", json_string(now));
	if ((r = set_password(a, password, err)) < 0 ||
	    (r = store_put(s, "accounts", hull_json_str(a, "uuid", ""), a, NULL,
			   NULL, err)) < 0)
		goto out;
	/* A new password ends the account's console sessions. */
	if (store_find(s, "sessions", "account", hull_json_str(a, "uuid", ""),
		       &sessions, NULL) == 0) {
		size_t i;
		json_t *v;
		json_array_foreach(sessions, i, v) store_del(
		    s, "sessions", hull_json_str(v, "key", ""), NULL, NULL);
	}
out:
	json_decref(sessions);
	json_decref(a);
	return r;
}
