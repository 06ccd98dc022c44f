/*
 * httpsig.h - CloudAPI's request authentication: the HTTP Signature
 * scheme (draft-cavage-http-signatures, as joyent's http-signature module
 * parses it) in the Authorization header:
 *
 *   Signature keyId="/LOGIN/keys/FP",algorithm="rsa-sha256",
 *             headers="(request-target) date",signature="BASE64"
 *
 * httpsig_parse is pure and fuzzed (tests/fuzz/fuzz_httpsig.c);
 * httpsig_signing_string rebuilds what the client signed; httpsig_verify
 * checks the signature with the account's key.
 */
#ifndef HULL_HEAD_HTTPSIG_H
#define HULL_HEAD_HTTPSIG_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "head/sshkey.h"
#include "lib/err.h"

/* CloudAPI refuses a Date more than this far from the server's clock. */
#define HTTPSIG_MAX_SKEW 300
#define HTTPSIG_MAX_HEADERS 16

struct httpsig {
	char *key_id;	 /* as sent */
	char *login;	 /* from keyId "/LOGIN/keys/KEY" */
	char *key;	 /* KEY: a fingerprint or a key name */
	char *algorithm; /* lower-case, "rsa-sha256" */
	char *headers[HTTPSIG_MAX_HEADERS]; /* lower-case */
	int nheaders;
	unsigned char *signature; /* decoded */
	size_t signature_len;
};

/* Parses an Authorization header value. Errors name what is wrong, for
 * an InvalidCredentials message. Pure. */
int httpsig_parse(const char *value, struct httpsig *sig, struct hull_err *err);
void httpsig_fini(struct httpsig *sig);

/* Looks up a request header by lower-case name; NULL when absent. */
typedef const char *(*httpsig_header_fn)(const char *name, void *ctx);

/* The signing string: one "name: value" line per signed header, joined by
 * "\n"; "(request-target)" is "METHOD-lower-case PATH?QUERY". Caller
 * frees. Fails when a signed header is missing. */
int httpsig_signing_string(const struct httpsig *sig, const char *method,
			   const char *target, httpsig_header_fn get, void *ctx,
			   char **out, struct hull_err *err);

/* Parses an HTTP date (RFC 7231 IMF-fixdate) and checks it is within
 * HTTPSIG_MAX_SKEW of now. */
int httpsig_check_date(const char *date, time_t now, struct hull_err *err);

/* Checks sig over text with key: the algorithm must fit the key's type
 * (rsa-sha256/384/512; ecdsa-sha256/384/512 with a DER signature;
 * ed25519-sha512). */
int httpsig_verify(const struct httpsig *sig, const struct sshkey *key,
		   const char *text, struct hull_err *err);
#endif
