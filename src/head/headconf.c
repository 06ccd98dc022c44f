/*
 * headconf.c - the head node's config file and TLS material: see
 * headconf.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "head/headconf.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"

char *head_config_default_path(void)
{
	return hull_root_path("head/config.json");
}

static char *resolve(const char *dir, const char *p)
{
	return p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", dir, p);
}

int head_config_load(const char *path, struct head_config *c,
		     struct hull_err *err)
{
	memset(c, 0, sizeof(*c));
	char real[PATH_MAX];
	if (!realpath(path, real)) {
		if (errno == ENOENT)
			return hull_err_set(err, ENOENT,
					    "%s: no head node here (run "
					    "hulladm setup)",
					    path);
		return hull_err_sys(err, errno, "%s", path);
	}
	json_t *j = hull_json_load_file(real, err);
	if (!j)
		return -err->code;
	*strrchr(real, '/') = '\0';
	c->dir = xstrdup(real);
	const char *db = hull_json_str(j, "db", "sqlite:state.db");
	if (!strncmp(db, "sqlite:", 7)) {
		char *p = resolve(c->dir, db + 7);
		c->db = xasprintf("sqlite:%s", p);
		free(p);
	} else {
		c->db = xstrdup(db);
	}
	c->listen = xstrdup(hull_json_str(j, "listen", HEAD_DEFAULT_LISTEN));
	c->tls = hull_json_bool(j, "tls", true);
	c->cert = resolve(c->dir, hull_json_str(j, "cert", "tls/cert.pem"));
	c->key = resolve(c->dir, hull_json_str(j, "key", "tls/key.pem"));
	c->datacenter = xstrdup(hull_json_str(j, "datacenter", "hull-1"));
	c->admin = xstrdup(hull_json_str(j, "admin", "admin"));
	json_t *th = json_object_get(j, "throttle");
	json_t *rate = json_object_get(th, "rate");
	json_t *burst = json_object_get(th, "burst");
	c->throttle_rate = rate ? json_number_value(rate) : HEAD_THROTTLE_RATE;
	c->throttle_burst =
	    burst ? (int)json_integer_value(burst) : HEAD_THROTTLE_BURST;
	bool bad_throttle =
	    (th && !json_is_object(th)) || (rate && !json_is_number(rate)) ||
	    (burst && !json_is_integer(burst)) || c->throttle_rate < 0 ||
	    c->throttle_rate > 1e6 || c->throttle_burst < 1 ||
	    c->throttle_burst > 1000000;
	json_t *ttl = json_object_get(j, "session_ttl");
	c->session_ttl = ttl ? (int)json_integer_value(ttl) : HEAD_SESSION_TTL;
	bool bad_ttl = (ttl && !json_is_integer(ttl)) || c->session_ttl < 1 ||
		       c->session_ttl > 30 * 86400;
	const char *cdir = hull_json_str(j, "console_dir", NULL);
	if (cdir)
		c->console_dir = resolve(c->dir, cdir);
	json_decref(j);
	char addr[64];
	int port;
	int r =
	    bad_throttle
		? hull_err_set(err, EINVAL,
			       "throttle: wants {\"rate\": requests a "
			       "second (0 for none), \"burst\": 1 or more}")
	    : bad_ttl
		? hull_err_set(err, EINVAL,
			       "session_ttl: wants whole seconds, 1 to "
			       "2592000")
		: head_listen_parse(c->listen, addr, sizeof(addr), &port, err);
	if (r < 0) {
		hull_err_prefix(err, "%s", path);
		head_config_fini(c);
	}
	return r;
}

void head_config_fini(struct head_config *c)
{
	if (!c)
		return;
	free(c->dir);
	free(c->db);
	free(c->listen);
	free(c->cert);
	free(c->key);
	free(c->datacenter);
	free(c->admin);
	free(c->console_dir);
	memset(c, 0, sizeof(*c));
}

char *head_images_dir(const struct head_config *c)
{
	return xasprintf("%s/images", c->dir);
}

int head_listen_parse(const char *s, char *addr, size_t addr_len, int *port,
		      struct hull_err *err)
{
	const char *colon, *a = s;
	size_t alen;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			goto bad;
		a = s + 1;
		alen = (size_t)(close - a);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			goto bad;
		alen = (size_t)(colon - s);
	}
	if (alen == 0 || alen >= addr_len)
		goto bad;
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	unsigned char buf[16];
	if (inet_pton(s[0] == '[' ? AF_INET6 : AF_INET, addr, buf) != 1)
		goto bad;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p < 0 || p > 65535)
		goto bad;
	*port = (int)p;
	return 0;
bad:
	return hull_err_set(err, EINVAL,
			    "listen: %s is not ADDRESS:PORT (an IP address, "
			    "[IPv6]:PORT)",
			    s);
}

static int write_pem(const char *path, int (*fn)(FILE *, void *), void *obj,
		     struct hull_err *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(
	    tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return hull_err_sys(err, e, "%s", path);
	}
	FILE *f = fdopen(fd, "w");
	int ok = f && fn(f, obj) && fflush(f) == 0 && fsync(fd) == 0;
	if (f)
		fclose(f);
	else
		close(fd);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		free(tmp);
		ERR_clear_error();
		return hull_err_set(err, EIO, "%s: cannot write", path);
	}
	free(tmp);
	return 0;
}

static int pem_key(FILE *f, void *k)
{
	return PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
}

static int pem_cert(FILE *f, void *x)
{
	return PEM_write_X509(f, x);
}

int head_tls_generate(const char *cert, const char *key,
		      const char *const *names, int n, struct hull_err *err)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	int r = -EIO;
	if (!pkey || !x)
		goto out;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1 ||
	    !(bn = BN_bin2bn(serial, sizeof(serial), NULL)) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
		BN_free(bn);
		goto out;
	}
	BN_free(bn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	/* Ten years: a self-signed head node certificate is replaced by
	 * giving one, not by expiry. */
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
	X509_set_pubkey(x, pkey);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
				   (const unsigned char *)"hull head node", -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(
	    nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)(n ? names[0] : "localhost"), -1, -1, 0);
	X509_set_issuer_name(x, nm);
	char san[1024] = "";
	size_t len = 0;
	for (int i = 0; i < n && len < sizeof(san) - 80; i++) {
		unsigned char b[16];
		bool ip = inet_pton(AF_INET, names[i], b) == 1 ||
			  inet_pton(AF_INET6, names[i], b) == 1;
		len +=
		    (size_t)snprintf(san + len, sizeof(san) - len, "%s%s:%s",
				     i ? "," : "", ip ? "IP" : "DNS", names[i]);
	}
	if (len) {
		X509V3_CTX v3;
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		X509_EXTENSION *ext =
		    X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		if (!ext)
			goto out;
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto out;
	if ((r = write_pem(key, pem_key, pkey, err)) < 0 ||
	    (r = write_pem(cert, pem_cert, x, err)) < 0)
		goto done;
	r = 0;
	goto done;
out:
	r = hull_err_set(err, EIO, "tls: cannot make a certificate");
done:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(pkey);
	return r;
}
