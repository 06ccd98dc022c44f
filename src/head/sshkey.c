/*
 * sshkey.c - OpenSSH public key lines: see sshkey.h. The blob is a
 * sequence of length-prefixed strings (RFC 4251 5): RSA is
 * "ssh-rsa" e n, ECDSA "ecdsa-sha2-NAME" NAME Q, Ed25519 "ssh-ed25519" A.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "head/b64.h"
#include "head/sshkey.h"
#include "lib/xalloc.h"

/* An RSA modulus past 16384 bits is no key anyone uses; the bound keeps
 * verification time of a hostile key small. */
#define RSA_MAX_BITS 16384
#define LINE_MAX_LEN 16384

struct reader {
	const unsigned char *p;
	size_t left;
};

static int read_string(struct reader *r, const unsigned char **s, size_t *n)
{
	if (r->left < 4)
		return -1;
	uint32_t len = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
		       (uint32_t)r->p[2] << 8 | r->p[3];
	if (len > r->left - 4)
		return -1;
	*s = r->p + 4;
	*n = len;
	r->p += 4 + len;
	r->left -= 4 + len;
	return 0;
}

static bool str_is(const unsigned char *s, size_t n, const char *want)
{
	return n == strlen(want) && !memcmp(s, want, n);
}

/* Bits of a big-endian unsigned integer, leading zero bytes skipped. */
static int int_bits(const unsigned char *p, size_t n)
{
	while (n && !*p) {
		p++;
		n--;
	}
	if (!n)
		return 0;
	int bits = (int)(n - 1) * 8;
	for (unsigned v = *p; v; v >>= 1)
		bits++;
	return bits;
}

static int parse_blob(struct sshkey *k, struct hull_err *err)
{
	struct reader r = {k->blob, k->blob_len};
	const unsigned char *t, *x, *y;
	size_t tn, xn, yn;
	if (read_string(&r, &t, &tn) < 0)
		return hull_err_set(err, EINVAL, "key: truncated key data");
	if (tn >= sizeof(k->type_name) || !str_is(t, tn, k->type_name))
		return hull_err_set(err, EINVAL,
				    "key: key data is not of type %s",
				    k->type_name);
	if (read_string(&r, &x, &xn) < 0)
		return hull_err_set(err, EINVAL, "key: truncated key data");
	y = NULL;
	yn = 0;
	if (k->type != SSHKEY_ED25519 && read_string(&r, &y, &yn) < 0)
		return hull_err_set(err, EINVAL, "key: truncated key data");
	if (r.left)
		return hull_err_set(err, EINVAL,
				    "key: trailing bytes after the key");
	switch (k->type) {
	case SSHKEY_RSA:
		k->bits = int_bits(y, yn);
		if (k->bits < 1024 || k->bits > RSA_MAX_BITS)
			return hull_err_set(err, EINVAL,
					    "key: RSA modulus of %d bits "
					    "(1024 to %d)",
					    k->bits, RSA_MAX_BITS);
		if (int_bits(x, xn) < 2 || int_bits(x, xn) > 64)
			return hull_err_set(err, EINVAL,
					    "key: RSA exponent out of range");
		break;
	case SSHKEY_ECDSA: {
		const char *curve = k->type_name + strlen("ecdsa-sha2-");
		if (!str_is(x, xn, curve))
			return hull_err_set(err, EINVAL,
					    "key: curve does not match %s",
					    k->type_name);
		size_t coord = k->bits == 521 ? 66 : (size_t)k->bits / 8;
		if (yn != 1 + 2 * coord || y[0] != 0x04)
			return hull_err_set(err, EINVAL,
					    "key: not an uncompressed %s point",
					    curve);
		break;
	}
	case SSHKEY_ED25519:
		if (y || xn != 32)
			return hull_err_set(err, EINVAL,
					    "key: Ed25519 key is not 32 bytes");
		break;
	}
	k->a = x;
	k->a_len = xn;
	k->b = y;
	k->b_len = yn;
	return 0;
}

static int set_type(struct sshkey *k, const char *t, size_t n)
{
	static const struct {
		const char *name;
		enum sshkey_type type;
		int bits;
	} types[] = {
	    {"ssh-rsa", SSHKEY_RSA, 0},
	    {"ecdsa-sha2-nistp256", SSHKEY_ECDSA, 256},
	    {"ecdsa-sha2-nistp384", SSHKEY_ECDSA, 384},
	    {"ecdsa-sha2-nistp521", SSHKEY_ECDSA, 521},
	    {"ssh-ed25519", SSHKEY_ED25519, 256},
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (str_is((const unsigned char *)t, n, types[i].name)) {
			snprintf(k->type_name, sizeof(k->type_name), "%s",
				 types[i].name);
			k->type = types[i].type;
			k->bits = types[i].bits;
			return 0;
		}
	}
	return -1;
}

int sshkey_parse(const char *line, size_t len, struct sshkey *key,
		 struct hull_err *err)
{
	memset(key, 0, sizeof(*key));
	if (len > LINE_MAX_LEN)
		return hull_err_set(err, EINVAL, "key: longer than %d bytes",
				    LINE_MAX_LEN);
	if (memchr(line, '\0', len))
		return hull_err_set(err, EINVAL, "key: contains a NUL byte");
	/* A single line: one trailing newline (and CR) allowed. */
	size_t n = len;
	if (n && line[n - 1] == '\n')
		n--;
	if (n && line[n - 1] == '\r')
		n--;
	if (memchr(line, '\n', n) || memchr(line, '\r', n))
		return hull_err_set(err, EINVAL, "key: more than one line");
	size_t i = 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	size_t ts = i;
	while (i < n && line[i] != ' ' && line[i] != '\t')
		i++;
	if (i == ts)
		return hull_err_set(err, EINVAL, "key: empty");
	if (set_type(key, line + ts, i - ts) < 0)
		return hull_err_set(err, EINVAL,
				    "key: unsupported key type %.*s (ssh-rsa, "
				    "ecdsa-sha2-nistp256/384/521, ssh-ed25519)",
				    (int)(i - ts > 40 ? 40 : i - ts),
				    line + ts);
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	size_t bs = i;
	while (i < n && line[i] != ' ' && line[i] != '\t')
		i++;
	if (i == bs)
		return hull_err_set(err, EINVAL, "key: no key data");
	if (hull_b64_decode(line + bs, i - bs, &key->blob, &key->blob_len) < 0)
		return hull_err_set(err, EINVAL, "key: key data is not base64");
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	key->comment = xstrndup(line + i, n - i);
	int r = parse_blob(key, err);
	if (r < 0) {
		sshkey_fini(key);
		return r;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(key->blob, key->blob_len, md, &mdlen, EVP_md5(),
			NULL) ||
	    mdlen != 16) {
		sshkey_fini(key);
		return hull_err_set(err, EIO, "key: MD5 is not available");
	}
	for (unsigned j = 0; j < 16; j++)
		snprintf(key->md5 + 3 * j, 4, j < 15 ? "%02x:" : "%02x", md[j]);
	return 0;
}

void sshkey_fini(struct sshkey *key)
{
	if (!key)
		return;
	free(key->blob);
	free(key->comment);
	key->blob = NULL;
	key->comment = NULL;
}

static void *from_params(const char *alg, OSSL_PARAM_BLD *bld,
			 struct hull_err *err)
{
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		hull_err_set(err, EINVAL, "key: OpenSSL refused the %s key",
			     alg);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

void *sshkey_to_evp(const struct sshkey *k, struct hull_err *err)
{
	if (k->type == SSHKEY_ED25519) {
		EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519,
							  NULL, k->a, k->a_len);
		if (!p)
			hull_err_set(err, EINVAL,
				     "key: OpenSSL refused the Ed25519 key");
		return p;
	}
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	void *pkey = NULL;
	if (k->type == SSHKEY_RSA) {
		BIGNUM *e = BN_bin2bn(k->a, (int)k->a_len, NULL);
		BIGNUM *nn = BN_bin2bn(k->b, (int)k->b_len, NULL);
		if (e && nn &&
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, nn) &&
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			pkey = from_params("RSA", bld, err);
		else
			hull_err_set(err, ENOMEM, "key: out of memory");
		BN_free(e);
		BN_free(nn);
	} else {
		const char *group = k->bits == 256   ? "P-256"
				    : k->bits == 384 ? "P-384"
						     : "P-521";
		if (OSSL_PARAM_BLD_push_utf8_string(
			bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
		    OSSL_PARAM_BLD_push_octet_string(
			bld, OSSL_PKEY_PARAM_PUB_KEY, k->b, k->b_len))
			pkey = from_params("EC", bld, err);
		else
			hull_err_set(err, ENOMEM, "key: out of memory");
	}
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}
