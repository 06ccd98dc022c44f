/*
 * sshkey.h - OpenSSH public keys, as users register them and as CloudAPI's
 * HTTP Signature keyId names them: the one-line "TYPE BASE64 [COMMENT]"
 * form parsed into the wire-format blob (RFC 4253 6.6, RFC 5656 3.1,
 * RFC 8709 4), its MD5 fingerprint (lower-case colon hex, what CloudAPI and
 * `ssh-keygen -E md5 -l` show) and the key material.
 *
 * sshkey_parse is pure (bytes in, struct out) and fuzzed
 * (tests/fuzz/fuzz_sshkey.c). Key types: ssh-rsa (1024 bits and up),
 * ecdsa-sha2-nistp256/384/521, ssh-ed25519. DSA is refused.
 */
#ifndef HULL_HEAD_SSHKEY_H
#define HULL_HEAD_SSHKEY_H
#include <stddef.h>
#include "lib/err.h"

enum sshkey_type { SSHKEY_RSA = 1, SSHKEY_ECDSA, SSHKEY_ED25519 };

#define SSHKEY_MD5_LEN 47 /* "xx:" * 16 less the last colon */

struct sshkey {
	enum sshkey_type type;
	char type_name[24];  /* "ssh-rsa", "ecdsa-sha2-nistp256", ... */
	unsigned char *blob; /* the wire-format key; owned */
	size_t blob_len;
	char md5[SSHKEY_MD5_LEN + 1];
	char *comment; /* owned, "" when none */
	int bits;      /* RSA modulus bits, ECDSA curve bits, 256 */
	/* Views into blob: RSA e and n (big-endian, leading zeros allowed),
	 * ECDSA the uncompressed point Q, Ed25519 the 32-byte key. */
	const unsigned char *a, *b;
	size_t a_len, b_len;
};

/* Parses one line (trailing newline allowed). Fails naming what is wrong.
 * Pure; key must be sshkey_fini'd on success. */
int sshkey_parse(const char *line, size_t len, struct sshkey *key,
		 struct hull_err *err);
void sshkey_fini(struct sshkey *key);
/* The key as an OpenSSL EVP_PKEY (opaque here to keep OpenSSL out of the
 * header): returns it, or NULL with err set. Caller EVP_PKEY_free()s. */
void *sshkey_to_evp(const struct sshkey *key, struct hull_err *err);
#endif
