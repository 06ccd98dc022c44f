/*
 * httpsig.c - HTTP Signature authentication: see httpsig.h. What is
 * accepted follows joyent's http-signature parser and sdc-cloudapi's
 * lib/auth.js: quoted parameters, any order, unknown parameters ignored;
 * headers= defaults to "date"; keyId "/login/keys/key". Stricter than
 * CloudAPI where safety asks: the Date must be among the signed headers
 * (else a captured signature could be replayed forever), and SHA-1 and DSA
 * are refused.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "head/b64.h"
#include "head/httpsig.h"
#include "lib/xalloc.h"

#define VALUE_MAX 8192

static const char *const algorithms[] = {
    "rsa-sha256",   "rsa-sha384",   "rsa-sha512",     "ecdsa-sha256",
    "ecdsa-sha384", "ecdsa-sha512", "ed25519-sha512",
};

void httpsig_fini(struct httpsig *sig)
{
	if (!sig)
		return;
	free(sig->key_id);
	free(sig->login);
	free(sig->key);
	free(sig->algorithm);
	for (int i = 0; i < sig->nheaders; i++)
		free(sig->headers[i]);
	free(sig->signature);
	memset(sig, 0, sizeof(*sig));
}

static int split_key_id(struct httpsig *sig, struct hull_err *err)
{
	const char *k = sig->key_id;
	if (k[0] != '/')
		return hull_err_set(err, EINVAL,
				    "keyId must be /LOGIN/keys/KEY");
	const char *login = k + 1;
	const char *slash = strchr(login, '/');
	if (!slash || slash == login)
		return hull_err_set(err, EINVAL,
				    "keyId must be /LOGIN/keys/KEY");
	if (!strncmp(slash, "/users/", 7))
		return hull_err_set(err, EINVAL,
				    "keyId: sub-user keys are not supported");
	if (strncmp(slash, "/keys/", 6))
		return hull_err_set(err, EINVAL,
				    "keyId must be /LOGIN/keys/KEY");
	const char *key = slash + 6;
	if (!*key || strchr(key, '/'))
		return hull_err_set(err, EINVAL,
				    "keyId must be /LOGIN/keys/KEY");
	sig->login = xstrndup(login, (size_t)(slash - login));
	sig->key = xstrdup(key);
	return 0;
}

static int set_headers(struct httpsig *sig, const char *v, struct hull_err *err)
{
	const char *p = v;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, " ");
		if (sig->nheaders == HTTPSIG_MAX_HEADERS)
			return hull_err_set(err, EINVAL,
					    "headers: more than %d",
					    HTTPSIG_MAX_HEADERS);
		char *h = xstrndup(p, n);
		for (char *c = h; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		sig->headers[sig->nheaders++] = h;
		p += n;
	}
	if (!sig->nheaders)
		return hull_err_set(err, EINVAL, "headers: empty");
	return 0;
}

static int parse_params(const char *p, struct httpsig *sig, char **b64,
			struct hull_err *err)
{
	char *headers = NULL;
	int r = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *name = p;
		while (isalpha((unsigned char)*p))
			p++;
		size_t nlen = (size_t)(p - name);
		if (!nlen || p[0] != '=' || p[1] != '"') {
			r = hull_err_set(err, EINVAL,
					 "malformed parameter near \"%.20s\"",
					 name);
			break;
		}
		p += 2;
		const char *end = strchr(p, '"');
		if (!end || end - p > VALUE_MAX) {
			r = hull_err_set(err, EINVAL,
					 "unterminated or overlong value of "
					 "%.*s",
					 (int)(nlen > 20 ? 20 : nlen), name);
			break;
		}
		char **slot = NULL;
		if (nlen == 5 && !strncmp(name, "keyId", 5))
			slot = &sig->key_id;
		else if (nlen == 9 && !strncmp(name, "algorithm", 9))
			slot = &sig->algorithm;
		else if (nlen == 7 && !strncmp(name, "headers", 7))
			slot = &headers;
		else if (nlen == 9 && !strncmp(name, "signature", 9))
			slot = b64;
		if (slot) {
			if (*slot) {
				r = hull_err_set(err, EINVAL,
						 "%.*s given twice", (int)nlen,
						 name);
				break;
			}
			*slot = xstrndup(p, (size_t)(end - p));
		}
		p = end + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ',')
			p++;
		else if (*p) {
			r = hull_err_set(err, EINVAL,
					 "expected ',' after a parameter");
			break;
		}
	}
	if (r == 0)
		r = set_headers(sig, headers ? headers : "date", err);
	free(headers);
	return r;
}

int httpsig_parse(const char *value, struct httpsig *sig, struct hull_err *err)
{
	memset(sig, 0, sizeof(*sig));
	const char *p = value;
	while (*p == ' ')
		p++;
	if (strncasecmp(p, "Signature", 9) || (p[9] != ' ' && p[9] != '\t'))
		return hull_err_set(err, EINVAL,
				    "Authorization is not a Signature");
	char *b64 = NULL;
	int r = parse_params(p + 10, sig, &b64, err);
	if (r == 0 && !sig->key_id)
		r = hull_err_set(err, EINVAL, "keyId was not specified");
	if (r == 0 && !sig->algorithm)
		r = hull_err_set(err, EINVAL, "algorithm was not specified");
	if (r == 0 && !b64)
		r = hull_err_set(err, EINVAL, "signature was not specified");
	if (r == 0)
		r = split_key_id(sig, err);
	if (r == 0) {
		for (char *c = sig->algorithm; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		bool ok = false;
		for (size_t i = 0; i < sizeof(algorithms) / sizeof(*algorithms);
		     i++)
			ok |= !strcmp(sig->algorithm, algorithms[i]);
		if (!ok)
			r = hull_err_set(err, EINVAL,
					 "unsupported algorithm %.30s",
					 sig->algorithm);
	}
	if (r == 0) {
		bool dated = false;
		for (int i = 0; i < sig->nheaders; i++)
			dated |= !strcmp(sig->headers[i], "date") ||
				 !strcmp(sig->headers[i], "x-date");
		if (!dated)
			r = hull_err_set(err, EINVAL,
					 "the date header must be signed");
	}
	if (r == 0 && hull_b64_decode(b64, strlen(b64), &sig->signature,
				      &sig->signature_len) < 0)
		r = hull_err_set(err, EINVAL, "signature is not base64");
	free(b64);
	if (r < 0)
		httpsig_fini(sig);
	return r;
}

int httpsig_signing_string(const struct httpsig *sig, const char *method,
			   const char *target, httpsig_header_fn get, void *ctx,
			   char **out, struct hull_err *err)
{
	size_t cap = 256, len = 0;
	char *s = xmalloc(cap);
	s[0] = '\0';
	for (int i = 0; i < sig->nheaders; i++) {
		const char *h = sig->headers[i];
		char *line;
		if (!strcmp(h, "(request-target)")) {
			char *m = xstrdup(method);
			for (char *c = m; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			line = xasprintf("%s: %s %s", h, m, target);
			free(m);
		} else {
			const char *v = get(h, ctx);
			if (!v) {
				free(s);
				return hull_err_set(err, EINVAL,
						    "signed header %s is "
						    "missing",
						    h);
			}
			line = xasprintf("%s: %s", h, v);
		}
		size_t ln = strlen(line);
		if (len + ln + 2 > cap) {
			cap = (len + ln + 2) * 2;
			s = xrealloc(s, cap);
		}
		if (i)
			s[len++] = '\n';
		memcpy(s + len, line, ln + 1);
		len += ln;
		free(line);
	}
	*out = s;
	return 0;
}

int httpsig_check_date(const char *date, time_t now, struct hull_err *err)
{
	struct tm tm = {0};
	const char *end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return hull_err_set(err, EINVAL,
				    "Date header is not an HTTP "
				    "date");
	time_t t = timegm(&tm);
	double skew = difftime(now, t);
	if (skew > HTTPSIG_MAX_SKEW || skew < -HTTPSIG_MAX_SKEW)
		return hull_err_set(err, EINVAL,
				    "clock skew of %.0fs is greater than %ds",
				    skew < 0 ? -skew : skew, HTTPSIG_MAX_SKEW);
	return 0;
}

int httpsig_verify(const struct httpsig *sig, const struct sshkey *key,
		   const char *text, struct hull_err *err)
{
	const char *a = sig->algorithm;
	const EVP_MD *md = NULL;
	bool fits;
	if (!strncmp(a, "rsa-", 4))
		fits = key->type == SSHKEY_RSA;
	else if (!strncmp(a, "ecdsa-", 6))
		fits = key->type == SSHKEY_ECDSA;
	else
		fits = key->type == SSHKEY_ED25519;
	if (!fits)
		return hull_err_set(err, EINVAL,
				    "algorithm %s does not fit a %s key", a,
				    key->type_name);
	if (key->type != SSHKEY_ED25519) {
		const char *h = strrchr(a, '-') + 1;
		md = !strcmp(h, "sha256")   ? EVP_sha256()
		     : !strcmp(h, "sha384") ? EVP_sha384()
					    : EVP_sha512();
	}
	EVP_PKEY *pkey = sshkey_to_evp(key, err);
	if (!pkey)
		return -EINVAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok =
	    ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig->signature, sig->signature_len,
			     (const unsigned char *)text, strlen(text)) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	ERR_clear_error(); /* a bad signature leaves OpenSSL's queue dirty */
	if (!ok)
		return hull_err_set(err, EACCES, "signature does not verify");
	return 0;
}
