/*
 * http.h - the agent's plain-HTTP client for an http:// head node.
 *
 * One request per connection (HTTP/1.1 with "Connection: close"), a
 * Content-Length or chunked answer. libcurl (with OpenSSL, GnuTLS,
 * Kerberos, LDAP and ~30 more objects behind it) is loaded only for an
 * https:// head node, so an agent on a plain-HTTP admin network stays
 * small (bench/README.md, head-api). Nothing here parses more than a status
 * line, two headers and chunk sizes, each bounded.
 */
#ifndef HULL_AGENT_HTTP_H
#define HULL_AGENT_HTTP_H

#include <stddef.h>

#include "lib/err.h"

/* Whether url is one agent_http_plain can reach (http://). */
int agent_http_is_plain(const char *url);

/* method url with the given header lines ("Name: value\r\n" each; may be
 * NULL) and body (may be NULL). *status the HTTP status, *out the body
 * (NUL-terminated, caller frees), *out_len its length. Connect within
 * connect_ms, all within total_ms; answers over max bytes are an error. */
int agent_http_plain(const char *method, const char *url, const char *headers,
		     const char *body, int connect_ms, int total_ms, size_t max,
		     long *status, char **out, size_t *out_len,
		     struct hull_err *err);

/* Pure: the body of a raw answer (status line, headers, body) of n bytes;
 * *status, and a new decoded body in *out. -EPROTO when malformed. */
int agent_http_parse(const char *raw, size_t n, long *status, char **out,
		     size_t *out_len, struct hull_err *err);

#endif
