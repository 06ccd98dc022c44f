/*
 * tls-rss.c - helper of bench/tls-rss: what one TLS client connection
 * costs a process in resident memory, and whether giving OpenSSL fewer
 * algorithms lowers it (issue 14: hull-agent over https).
 *
 * usage: tls-rss default|filtered|gnutls CERT KEY
 *
 * A child forked before any OpenSSL use serves TLS on one end of a
 * socketpair with CERT and KEY; this process is the client on the other
 * end, verifying CERT as its only CA, as hull-agent does with a pinned
 * head node. "filtered" gives the client a library context whose only
 * provider is a filter that forwards to the default provider (loaded
 * into a library context of its own) but lists only the algorithms a
 * TLS 1.2/1.3 client with ECDHE and AES-GCM or ChaCha20-Poly1305 needs,
 * so only those are constructed. After each step the client prints its
 * VmRSS and the resident part of libcrypto's text and of its other
 * mappings, from /proc/self/smaps. "gnutls" (built with -DWITH_GNUTLS,
 * which links GnuTLS as well) is the same client with GnuTLS, the other
 * TLS library Debian's libmicrohttpd brings to hull.
 */
#define _GNU_SOURCE
#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <pthread.h>
#ifdef WITH_GNUTLS
#include <gnutls/gnutls.h>
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *step)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char l[512];
	long text = 0, text_size = 0, other = 0, all = 0, anon = 0;
	bool crypto = false, exec = false;
	while (f && fgets(l, sizeof(l), f)) {
		char *sp = strchr(l, ' '), *dash = strchr(l, '-');
		if (sp && dash && dash < sp) { /* a mapping's first line */
			crypto = strstr(l, "/libcrypto.so") != NULL;
			exec = sp[3] == 'x';
		} else if (!strncmp(l, "Size:", 5) && crypto && exec) {
			text_size += atol(l + 5);
		} else if (!strncmp(l, "Anonymous:", 10)) {
			anon += atol(l + 10);
		} else if (!strncmp(l, "Rss:", 4)) {
			long kb = atol(l + 4);
			all += kb;
			if (crypto && exec)
				text += kb;
			else if (crypto)
				other += kb;
		}
	}
	if (f)
		fclose(f);
	printf("%-14s Rss %5ld KiB (anonymous %4ld); libcrypto: text %4ld of "
	       "%4ld KiB, the rest %4ld KiB\n",
	       step, all, anon, text, text_size, other);
}

/* The filter: the default provider's algorithms with one of these names. */
static const struct {
	int op;
	const char *names[8];
} keep[] = {
    {OSSL_OP_DIGEST, {"SHA2-256", "SHA2-384", "SHA2-512", "SHA1"}},
    {OSSL_OP_CIPHER, {"AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305"}},
    {OSSL_OP_MAC, {"HMAC"}},
    {OSSL_OP_KDF, {"HKDF", "TLS13-KDF", "TLS1-PRF"}},
    {OSSL_OP_RAND, {"CTR-DRBG", "SEED-SRC"}},
    {OSSL_OP_KEYMGMT, {"RSA", "RSA-PSS", "EC", "X25519", "ED25519", "HMAC"}},
    {OSSL_OP_KEYEXCH, {"ECDH", "X25519"}},
    {OSSL_OP_SIGNATURE, {"RSA", "ECDSA", "ED25519", "HMAC"}},
    /* a certificate's public key, read in this library context */
    {OSSL_OP_DECODER, {"EC", "RSA", "RSA-PSS", "ED25519", "X25519", "DER"}},
};
static OSSL_PROVIDER *inner;
static OSSL_ALGORITHM *kept[OSSL_OP__HIGHEST + 1];
static size_t offered[OSSL_OP__HIGHEST + 1], n_kept[OSSL_OP__HIGHEST + 1];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* names: "NAME:ALIAS:OID..."; any of them may be the one kept. */
static bool wanted(int op, const char *names)
{
	for (const char *p = names; *p; p += *p == ':') {
		size_t n = strcspn(p, ":");
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			for (int j = 0; keep[i].op == op && keep[i].names[j];
			     j++)
				if (strlen(keep[i].names[j]) == n &&
				    !strncasecmp(keep[i].names[j], p, n))
					return true;
		p += n;
	}
	return false;
}

static const OSSL_ALGORITHM *query(void *provctx, int op, int *no_cache)
{
	(void)provctx;
	*no_cache = 0;
	if (op < 0 || op > OSSL_OP__HIGHEST)
		return NULL;
	pthread_mutex_lock(&lock);
	if (!kept[op]) {
		int nc;
		const OSSL_ALGORITHM *a =
		    OSSL_PROVIDER_query_operation(inner, op, &nc);
		size_t n = 0, k = 0;
		while (a && a[n].algorithm_names)
			n++;
		kept[op] = calloc(n + 1, sizeof(*kept[op]));
		for (size_t i = 0; i < n; i++)
			if (wanted(op, a[i].algorithm_names))
				kept[op][k++] = a[i];
		offered[op] = n;
		n_kept[op] = k;
	}
	pthread_mutex_unlock(&lock);
	return kept[op];
}

static int capabilities(void *provctx, const char *cap, OSSL_CALLBACK *cb,
			void *arg)
{
	(void)provctx;
	return OSSL_PROVIDER_get_capabilities(inner, cap, cb, arg);
}

static const OSSL_DISPATCH filter_fns[] = {
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query},
    {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, (void (*)(void))capabilities},
    {0, NULL}};

static int filter_init(const OSSL_CORE_HANDLE *h, const OSSL_DISPATCH *in,
		       const OSSL_DISPATCH **out, void **provctx)
{
	(void)h;
	(void)in;
	inner = OSSL_PROVIDER_load(OSSL_LIB_CTX_new(), "default");
	if (!inner)
		return 0;
	*out = filter_fns;
	/* The default provider's functions get its own context. */
	*provctx = OSSL_PROVIDER_get0_provider_ctx(inner);
	return 1;
}

static void serve(int fd, const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		exit(1);
	SSL *s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	char buf[256];
	if (SSL_accept(s) != 1 || SSL_read(s, buf, sizeof(buf)) <= 0 ||
	    SSL_write(s, "pong", 4) != 4)
		exit(1);
	SSL_shutdown(s);
	exit(0);
}

static int fail(const char *what)
{
	fprintf(stderr, "tls-rss: %s\n", what);
	ERR_print_errors_fp(stderr);
	return 1;
}

#ifdef WITH_GNUTLS
static int gnutls_client(int fd, const char *ca)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	if (gnutls_global_init() < 0 ||
	    gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_certificate_set_x509_trust_file(cred, ca,
						   GNUTLS_X509_FMT_PEM) != 1 ||
	    gnutls_init(&s, GNUTLS_CLIENT) < 0 ||
	    gnutls_set_default_priority(s) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0)
		return fail("GnuTLS");
	report("GnuTLS ready");
	gnutls_session_set_verify_cert(s, "localhost", 0);
	gnutls_transport_set_int(s, fd);
	int r;
	do
		r = gnutls_handshake(s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0)
		return fail(gnutls_strerror(r));
	report("handshake");
	char buf[16];
	ssize_t got;
	if (gnutls_record_send(s, "ping", 4) != 4)
		return fail("ping");
	do
		got = gnutls_record_recv(s, buf, sizeof(buf));
	while (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED);
	if (got != 4)
		return fail(got < 0 ? gnutls_strerror((int)got) : "pong");
	report("one request");
	char *d = gnutls_session_get_desc(s);
	printf("%s\n", d);
	gnutls_free(d);
	return 0;
}
#endif

int main(int argc, char **argv)
{
	if (argc != 4 ||
	    (strcmp(argv[1], "default") && strcmp(argv[1], "filtered") &&
	     strcmp(argv[1], "gnutls")))
		return fail("usage: tls-rss default|filtered|gnutls CERT KEY");
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return fail("socketpair");
	pid_t child = fork();
	if (child == 0) {
		close(sv[0]);
		serve(sv[1], argv[2], argv[3]);
	}
	close(sv[1]);
	report("start");
	if (!strcmp(argv[1], "gnutls")) {
#ifdef WITH_GNUTLS
		int r = gnutls_client(sv[0], argv[2]);
		int st;
		waitpid(child, &st, 0);
		return r;
#else
		return fail("gnutls: built without -DWITH_GNUTLS");
#endif
	}
	OSSL_LIB_CTX *lc = NULL;
	if (!strcmp(argv[1], "filtered")) {
		lc = OSSL_LIB_CTX_new();
		if (!lc ||
		    !OSSL_PROVIDER_add_builtin(lc, "filter", filter_init) ||
		    !OSSL_PROVIDER_load(lc, "filter"))
			return fail("the filter provider");
		report("filter loaded");
	}
	SSL_CTX *ctx = SSL_CTX_new_ex(lc, NULL, TLS_client_method());
	if (!ctx)
		return fail("SSL_CTX_new_ex");
	report("SSL_CTX_new");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_file(ctx, argv[2]) != 1)
		return fail("the CA");
	SSL *s = SSL_new(ctx);
	SSL_set_fd(s, sv[0]);
	SSL_set1_host(s, "localhost");
	if (SSL_connect(s) != 1)
		return fail("handshake");
	report("handshake");
	char buf[16];
	if (SSL_write(s, "ping", 4) != 4 || SSL_read(s, buf, sizeof(buf)) != 4)
		return fail("ping");
	report("one request");
	printf("%s %s\n", SSL_get_version(s), SSL_get_cipher(s));
	for (int op = 0; op <= OSSL_OP__HIGHEST; op++)
		if (kept[op])
			printf(
			    "operation %d: %zu of the default provider's %zu "
			    "algorithms offered\n",
			    op, n_kept[op], offered[op]);
	int st;
	waitpid(child, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : fail("the server");
}
