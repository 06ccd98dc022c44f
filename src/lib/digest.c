/*
 * digest.c - SHA-1 and SHA-256 through libcrypto loaded on first use
 * (digest.h).
 */
#include "lib/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/dl.h"
#include "lib/xalloc.h"

static struct hull_dl crypto = HULL_DL_INIT("libcrypto.so.3");

struct hull_digest {
	EVP_MD_CTX *ctx;
};

/* libcrypto's functions, looked up once each. */
#define CRYPTO(fn) HULL_DL_NEED(crypto, fn)

struct hull_digest *hull_digest_new(enum hull_digest_alg alg,
				    struct hull_err *err)
{
	if (hull_dl_open(&crypto, err) < 0)
		return NULL;
	const EVP_MD *md =
	    alg == HULL_DIGEST_SHA1 ? CRYPTO(EVP_sha1)() : CRYPTO(EVP_sha256)();
	EVP_MD_CTX *ctx = CRYPTO(EVP_MD_CTX_new)();
	if (!ctx || CRYPTO(EVP_DigestInit_ex)(ctx, md, NULL) != 1) {
		CRYPTO(EVP_MD_CTX_free)(ctx);
		hull_err_set(err, ENOMEM, "libcrypto: cannot start a %s digest",
			     alg == HULL_DIGEST_SHA1 ? "SHA-1" : "SHA-256");
		return NULL;
	}
	struct hull_digest *d = xcalloc(1, sizeof(*d));
	d->ctx = ctx;
	return d;
}

void hull_digest_update(struct hull_digest *d, const void *data, size_t len)
{
	CRYPTO(EVP_DigestUpdate)(d->ctx, data, len);
}

void hull_digest_hex(struct hull_digest *d, char out[HULL_DIGEST_HEX_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (CRYPTO(EVP_DigestFinal_ex)(d->ctx, md, &n) != 1 ||
	    2 * n >= HULL_DIGEST_HEX_MAX)
		abort(); /* only when libcrypto itself is broken */
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * n] = '\0';
}

void hull_digest_free(struct hull_digest *d)
{
	if (!d)
		return;
	CRYPTO(EVP_MD_CTX_free)(d->ctx);
	free(d);
}

void hull_sha256_hex(const void *data, size_t len,
		     char out[HULL_DIGEST_HEX_MAX])
{
	struct hull_err err;
	struct hull_digest *d = hull_digest_new(HULL_DIGEST_SHA256, &err);
	if (!d) {
		fprintf(stderr, "hull: %s\n", err.msg);
		abort();
	}
	hull_digest_update(d, data, len);
	hull_digest_hex(d, out);
	hull_digest_free(d);
}

bool hull_digest_loaded(void)
{
	return hull_dl_loaded(&crypto);
}
