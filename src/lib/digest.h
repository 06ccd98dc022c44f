/*
 * digest.h - SHA-1 and SHA-256 through OpenSSL's libcrypto, loaded on
 * first use.
 *
 * libcrypto is the largest library a start would map otherwise (17,000 of
 * the 19,800 relative relocations of vmadm and hull-supervisor, 4.7 MB),
 * and a start hashes nothing: the hashes are of image files, QEMU state
 * files, large metadata values and the pool's path (the firewall's table
 * name). So libhull calls libcrypto only through these functions, under
 * names of their own (not forwarders under OpenSSL's names, as
 * dl_curl.c's: the head node and the agent link libcrypto and libssl
 * themselves, and a second definition of EVP_* there would stand in for
 * OpenSSL's own inside libssl).
 */
#ifndef HULL_LIB_DIGEST_H
#define HULL_LIB_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

enum hull_digest_alg { HULL_DIGEST_SHA1, HULL_DIGEST_SHA256 };

/* Hex digests: 40 or 64 characters and a NUL. */
#define HULL_DIGEST_HEX_MAX 65

struct hull_digest;

/* A running digest, or NULL with err set when libcrypto cannot be loaded
 * or set up (ENOMEM). */
struct hull_digest *hull_digest_new(enum hull_digest_alg alg,
				    struct hull_err *err);
void hull_digest_update(struct hull_digest *d, const void *data, size_t len);
/* The digest in lower-case hex into out (HULL_DIGEST_HEX_MAX bytes); d can
 * only be freed after. */
void hull_digest_hex(struct hull_digest *d, char out[HULL_DIGEST_HEX_MAX]);
void hull_digest_free(struct hull_digest *d);

/* The SHA-256 of one buffer in hex; aborts when libcrypto cannot be loaded
 * (a broken install, as a missing library at exec was before). */
void hull_sha256_hex(const void *data, size_t len,
		     char out[HULL_DIGEST_HEX_MAX]);

/* Whether this process has loaded libcrypto (for tests and benchmarks). */
bool hull_digest_loaded(void);

#endif
