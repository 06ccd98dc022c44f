/*
 * websock.c - RFC 6455's server side: see websock.h.
 *
 * The reader takes one frame at a time out of the caller's buffer and
 * never waits on more than one frame's bytes: a frame whose declared
 * length passes the limit is refused from its header alone, so a client
 * cannot make the server buffer more than max_message bytes.
 */
#include "head/websock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "head/b64.h"
#include "lib/xalloc.h"

/* RFC 6455 1.3: the GUID appended to the key before hashing. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* A message may be split into at most this many fragments: a client that
 * sends empty fragments forever is cut off as one that sends big ones. */
#define WS_MAX_FRAGMENTS 4096

int ws_accept(const char *key, char out[WS_ACCEPT_LEN])
{
	unsigned char *raw = NULL;
	size_t n = 0;
	if (!key || strlen(key) != 24 ||
	    hull_b64_decode(key, 24, &raw, &n) < 0 || n != 16) {
		free(raw);
		return -EINVAL;
	}
	free(raw);
	char cat[24 + sizeof(WS_GUID)];
	memcpy(cat, key, 24);
	memcpy(cat + 24, WS_GUID, sizeof(WS_GUID));
	unsigned char d[20];
	unsigned int dn = 0;
	if (!EVP_Digest(cat, strlen(cat), d, &dn, EVP_sha1(), NULL))
		return -EIO;
	char *b = hull_b64_encode(d, dn);
	snprintf(out, WS_ACCEPT_LEN, "%s", b);
	free(b);
	return 0;
}

bool ws_header_has_token(const char *value, const char *token)
{
	if (!value)
		return false;
	size_t tl = strlen(token);
	const char *p = value;
	while (*p) {
		p += strspn(p, " \t,");
		size_t n = strcspn(p, ",");
		size_t e = n;
		while (e && (p[e - 1] == ' ' || p[e - 1] == '\t'))
			e--;
		if (e == tl && !strncasecmp(p, token, tl))
			return true;
		p += n;
	}
	return false;
}

bool ws_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp, min;
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

void ws_reader_init(struct ws_reader *r, size_t max_message)
{
	memset(r, 0, sizeof(*r));
	r->max_message = max_message;
}

void ws_reader_fini(struct ws_reader *r)
{
	free(r->msg);
	r->msg = NULL;
	r->msg_len = 0;
}

static int fail(struct ws_reader *r, uint16_t code, struct hull_err *err,
		const char *why)
{
	r->close_code = code;
	return hull_err_set(err, code == WS_CLOSE_TOO_BIG ? E2BIG : EPROTO,
			    "%s", why);
}

int ws_reader_next(struct ws_reader *r, uint8_t *buf, size_t len, size_t *used,
		   struct ws_msg *m, struct hull_err *err)
{
	*used = 0;
	if (len < 2)
		return 0;
	bool fin = buf[0] & 0x80;
	uint8_t op = buf[0] & 0x0f;
	bool masked = buf[1] & 0x80;
	uint64_t plen = buf[1] & 0x7f;
	size_t hl = 2;
	/* No extension was negotiated: RSV1-3 must be 0 (5.2). */
	if (buf[0] & 0x70)
		return fail(r, WS_CLOSE_PROTOCOL, err, "reserved bits set");
	if (!masked)
		return fail(r, WS_CLOSE_PROTOCOL, err,
			    "client frame not masked");
	bool control = op & 0x8;
	if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY &&
	    op != WS_OP_CLOSE && op != WS_OP_PING && op != WS_OP_PONG)
		return fail(r, WS_CLOSE_PROTOCOL, err, "unknown opcode");
	/* Control frames: at most 125 bytes, never fragmented (5.5). */
	if (control && (!fin || plen > 125))
		return fail(r, WS_CLOSE_PROTOCOL, err, "bad control frame");
	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = (uint64_t)buf[2] << 8 | buf[3];
		hl = 4;
		if (plen < 126)
			return fail(r, WS_CLOSE_PROTOCOL, err,
				    "length not in its shortest form");
	} else if (plen == 127) {
		if (len < 10)
			return 0;
		if (buf[2] & 0x80)
			return fail(r, WS_CLOSE_PROTOCOL, err,
				    "length's top bit set");
		plen = 0;
		for (int i = 2; i < 10; i++)
			plen = plen << 8 | buf[i];
		hl = 10;
		if (plen <= 0xffff)
			return fail(r, WS_CLOSE_PROTOCOL, err,
				    "length not in its shortest form");
	}
	if (!control) {
		if (op == WS_OP_CONT && !r->msg_op)
			return fail(r, WS_CLOSE_PROTOCOL, err,
				    "continuation without a message");
		if (op != WS_OP_CONT && r->msg_op)
			return fail(r, WS_CLOSE_PROTOCOL, err,
				    "new message inside a fragmented one");
		if (plen > r->max_message - r->msg_len)
			return fail(r, WS_CLOSE_TOO_BIG, err,
				    "message too big");
	}
	if (len - hl < 4 || len - hl - 4 < plen)
		return 0;
	const uint8_t *key = buf + hl;
	uint8_t *p = buf + hl + 4;
	for (uint64_t i = 0; i < plen; i++)
		p[i] ^= key[i & 3];
	*used = hl + 4 + (size_t)plen;
	if (control) {
		if (op == WS_OP_CLOSE) {
			/* A close body: nothing, or a code and UTF-8. */
			if (plen == 1 ||
			    (plen > 2 && !ws_utf8_valid(p + 2, plen - 2)))
				return fail(r, WS_CLOSE_PROTOCOL, err,
					    "bad close frame");
		}
		m->opcode = op;
		m->payload = p;
		m->len = (size_t)plen;
		return 1;
	}
	if (op != WS_OP_CONT) {
		/* A whole message in one frame: no copy. */
		if (fin) {
			if (op == WS_OP_TEXT && !ws_utf8_valid(p, plen))
				return fail(r, WS_CLOSE_BAD_DATA, err,
					    "text is not UTF-8");
			m->opcode = op;
			m->payload = p;
			m->len = (size_t)plen;
			return 1;
		}
		r->msg_op = op;
		r->msg_len = 0;
		r->nfrag = 0;
	}
	if (++r->nfrag > WS_MAX_FRAGMENTS)
		return fail(r, WS_CLOSE_TOO_BIG, err, "too many fragments");
	if (plen) {
		r->msg = xrealloc(r->msg, r->msg_len + (size_t)plen);
		memcpy(r->msg + r->msg_len, p, (size_t)plen);
		r->msg_len += (size_t)plen;
	}
	if (!fin)
		return 0;
	if (r->msg_op == WS_OP_TEXT && !ws_utf8_valid(r->msg, r->msg_len))
		return fail(r, WS_CLOSE_BAD_DATA, err, "text is not UTF-8");
	m->opcode = r->msg_op;
	m->payload = r->msg;
	m->len = r->msg_len;
	r->msg_op = 0;
	r->msg_len = 0;
	return 1;
}

size_t ws_frame_header(uint8_t hdr[10], uint8_t opcode, uint64_t len)
{
	hdr[0] = 0x80 | (opcode & 0x0f);
	if (len < 126) {
		hdr[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		return 4;
	}
	hdr[1] = 127;
	for (int i = 0; i < 8; i++)
		hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}
