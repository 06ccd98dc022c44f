/*
 * proto.c - the metadata protocol codec (see proto.h for the wire format
 * and for what the host answers to malformed lines).
 */
#include "metadata/proto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metadata/b64.h"
#include "metadata/crc32.h"

static void *mem_grow(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

void metadata_buf_append(struct metadata_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = mem_grow(b->data, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void metadata_buf_puts(struct metadata_buf *b, const char *s)
{
	metadata_buf_append(b, s, strlen(s));
}

void metadata_buf_consume(struct metadata_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}

void metadata_buf_fini(struct metadata_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const char *metadata_status_name(enum metadata_status st)
{
	switch (st) {
	case METADATA_SUCCESS:
		return "SUCCESS";
	case METADATA_NOTFOUND:
		return "NOTFOUND";
	case METADATA_FAILURE:
		break;
	}
	return "FAILURE";
}

void metadata_request_fini(struct metadata_request *req)
{
	free(req->key);
	free(req->value);
	req->key = req->value = NULL;
	req->key_len = req->value_len = 0;
}

/* Decodes base64 text into a new NUL-terminated buffer; NULL if malformed. */
static char *b64_dup(const char *s, size_t n, size_t *outlen)
{
	char *out = mem_grow(NULL, n / 4 * 3 + 1);
	if (!metadata_b64_decode(s, n, (unsigned char *)out, outlen)) {
		free(out);
		return NULL;
	}
	out[*outlen] = '\0';
	return out;
}

static bool is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Parses "<digits>" at *p (at most 7 digits: no line is longer than
 * METADATA_LINE_MAX). Returns false when there are none or too many. */
static bool parse_len(const char **p, const char *end, size_t *out)
{
	size_t v = 0;
	int n = 0;
	while (*p < end && **p >= '0' && **p <= '9') {
		if (++n > 7)
			return false;
		v = v * 10 + (size_t)(**p - '0');
		(*p)++;
	}
	*out = v;
	return n > 0;
}

static enum metadata_verdict invalid(struct metadata_request *req,
				     const char *why)
{
	req->error = why;
	return METADATA_REQ_INVALID;
}

static enum metadata_verdict failure(struct metadata_request *req,
				     const char *why)
{
	metadata_request_fini(req);
	req->error = why;
	return METADATA_REQ_FAILURE;
}

/* A key is a name: not empty, not longer than METADATA_KEY_MAX, no NUL
 * and no newline (KEYS answers with one name per line). */
static bool key_ok(const char *k, size_t n)
{
	return n > 0 && n <= METADATA_KEY_MAX && !memchr(k, '\0', n) &&
	       !memchr(k, '\n', n);
}

/* The PUT argument "b64(key) SP b64(value)" (spec §0.3). */
static enum metadata_verdict parse_put(struct metadata_request *req,
				       const char *arg, size_t n)
{
	const char *sp = memchr(arg, ' ', n);
	if (!sp)
		return failure(req, "Invalid PUT Request");
	size_t klen = (size_t)(sp - arg);
	req->key = b64_dup(arg, klen, &req->key_len);
	req->value = b64_dup(sp + 1, n - klen - 1, &req->value_len);
	if (!req->key || !req->value)
		return failure(req, "Invalid PUT Request");
	if (!key_ok(req->key, req->key_len))
		return failure(req, "Invalid key");
	if (req->value_len > METADATA_VALUE_MAX)
		return failure(req, "Value too large");
	return METADATA_REQ_OK;
}

static enum metadata_verdict parse_v2(const char *line, size_t len,
				      struct metadata_request *req)
{
	const char *p = line + 3, *end = line + len;
	size_t blen;

	req->version = 2;
	if (!parse_len(&p, end, &blen) || p >= end || *p++ != ' ')
		return invalid(req, "malformed V2 frame");
	if (end - p < 9 || p[8] != ' ')
		return invalid(req, "malformed V2 frame");
	char crctext[9];
	for (int i = 0; i < 8; i++) {
		if (!is_hex_lower(p[i]))
			return invalid(req, "malformed V2 frame");
		crctext[i] = p[i];
	}
	crctext[8] = '\0';
	p += 9;
	const char *body = p;
	if ((size_t)(end - body) != blen)
		return invalid(req, "V2 frame length mismatch");
	uint32_t want = (uint32_t)strtoul(crctext, NULL, 16);
	if (metadata_crc32(body, blen) != want)
		return invalid(req, "V2 frame checksum mismatch");

	/* body = reqid SP code [SP payload] */
	size_t i = 0;
	while (i < blen && is_hex_lower(body[i]))
		i++;
	if (i == 0 || i > METADATA_REQID_MAX || i >= blen || body[i] != ' ')
		return invalid(req, "malformed V2 body");
	memcpy(req->reqid, body, i);
	req->reqid[i] = '\0';
	const char *code = body + i + 1;
	const char *cend = memchr(code, ' ', (size_t)(end - code));
	size_t clen = (size_t)((cend ? cend : end) - code);
	const char *pl = cend ? cend + 1 : NULL;
	size_t plen = cend ? (size_t)(end - pl) : 0;

	if (clen == 3 && !memcmp(code, "GET", 3))
		req->op = METADATA_OP_GET;
	else if (clen == 4 && !memcmp(code, "KEYS", 4))
		req->op = METADATA_OP_KEYS;
	else if (clen == 3 && !memcmp(code, "PUT", 3))
		req->op = METADATA_OP_PUT;
	else if (clen == 6 && !memcmp(code, "DELETE", 6))
		req->op = METADATA_OP_DELETE;
	else
		return failure(req, "Unknown command");

	if (req->op == METADATA_OP_KEYS)
		return METADATA_REQ_OK;
	if (!pl)
		return failure(req, req->op == METADATA_OP_PUT
					? "Invalid PUT Request"
					: "Missing key");
	size_t dlen;
	char *arg = b64_dup(pl, plen, &dlen);
	if (!arg)
		return failure(req, "Invalid base64 payload");
	enum metadata_verdict v;
	if (req->op == METADATA_OP_PUT) {
		v = parse_put(req, arg, dlen);
		free(arg);
		return v;
	}
	req->key = arg;
	req->key_len = dlen;
	if (!key_ok(arg, dlen))
		return failure(req, "Invalid key");
	return METADATA_REQ_OK;
}

static enum metadata_verdict parse_v1(const char *line, size_t len,
				      struct metadata_request *req)
{
	const char *sp = memchr(line, ' ', len);
	size_t clen = sp ? (size_t)(sp - line) : len;
	const char *arg = sp ? sp + 1 : NULL;
	size_t alen = sp ? len - clen - 1 : 0;

	req->version = 1;
	if (clen == 3 && !memcmp(line, "GET", 3))
		req->op = METADATA_OP_GET;
	else if (clen == 4 && !memcmp(line, "KEYS", 4))
		req->op = METADATA_OP_KEYS;
	else if (clen == 9 && !memcmp(line, "NEGOTIATE", 9))
		req->op = METADATA_OP_NEGOTIATE;
	else
		return invalid(req, "invalid command");

	if (req->op == METADATA_OP_KEYS)
		return METADATA_REQ_OK;
	if (!arg || alen == 0)
		return invalid(req, "invalid command");
	if (req->op == METADATA_OP_NEGOTIATE) {
		if (alen == 2 && !memcmp(arg, "V2", 2))
			return METADATA_REQ_OK;
		return failure(req, "unsupported protocol version");
	}
	if (!key_ok(arg, alen))
		return failure(req, "Invalid key");
	req->key = mem_grow(NULL, alen + 1);
	memcpy(req->key, arg, alen);
	req->key[alen] = '\0';
	req->key_len = alen;
	return METADATA_REQ_OK;
}

enum metadata_verdict metadata_request_parse(const char *line, size_t len,
					     struct metadata_request *req)
{
	memset(req, 0, sizeof(*req));
	if (len > METADATA_LINE_MAX)
		return invalid(req, "line too long");
	if (len >= 3 && !memcmp(line, "V2 ", 3))
		return parse_v2(line, len, req);
	return parse_v1(line, len, req);
}

void metadata_frame_v2(struct metadata_buf *out, const char *reqid,
		       const char *code, const void *payload, size_t len)
{
	struct metadata_buf body = {0};
	metadata_buf_puts(&body, reqid);
	metadata_buf_append(&body, " ", 1);
	metadata_buf_puts(&body, code);
	if (len) {
		size_t elen = metadata_b64_encoded_len(len);
		char *enc = mem_grow(NULL, elen);
		metadata_b64_encode(payload, len, enc);
		metadata_buf_append(&body, " ", 1);
		metadata_buf_append(&body, enc, elen);
		free(enc);
	}
	char head[48];
	int n = snprintf(head, sizeof(head), "V2 %zu %08x ", body.len,
			 (unsigned)metadata_crc32(body.data, body.len));
	metadata_buf_append(out, head, (size_t)n);
	metadata_buf_append(out, body.data, body.len);
	metadata_buf_append(out, "\n", 1);
	metadata_buf_fini(&body);
}

void metadata_reply_v2(struct metadata_buf *out, const char *reqid,
		       enum metadata_status st, const void *payload, size_t len)
{
	metadata_frame_v2(out, reqid, metadata_status_name(st),
			  st == METADATA_NOTFOUND ? NULL : payload,
			  st == METADATA_NOTFOUND ? 0 : len);
}

void metadata_reply_v1(struct metadata_buf *out, enum metadata_status st,
		       const void *value, size_t len)
{
	if (st != METADATA_SUCCESS) {
		metadata_buf_puts(out, st == METADATA_NOTFOUND ? "NOTFOUND\n"
							       : "FAILURE\n");
		return;
	}
	metadata_buf_puts(out, "SUCCESS\n");
	const char *v = value;
	bool line_start = true;
	for (size_t i = 0; i < len; i++) {
		/* A line that starts with '.' gets another one, so the lone
		 * "." that ends the value stays unambiguous (spec §3.2). */
		if (line_start && v[i] == '.')
			metadata_buf_append(out, ".", 1);
		metadata_buf_append(out, v + i, 1);
		line_start = v[i] == '\n';
	}
	metadata_buf_puts(out, "\n.\n");
}

void metadata_response_fini(struct metadata_response *resp)
{
	free(resp->payload);
	resp->payload = NULL;
	resp->payload_len = 0;
}

int metadata_response_parse(const char *line, size_t len,
			    struct metadata_response *resp)
{
	const char *p = line + 3, *end = line + len;
	size_t blen;

	memset(resp, 0, sizeof(*resp));
	if (len < 3 || memcmp(line, "V2 ", 3))
		return -1;
	if (!parse_len(&p, end, &blen) || p >= end || *p++ != ' ')
		return -1;
	if (end - p < 9 || p[8] != ' ')
		return -1;
	for (int i = 0; i < 8; i++)
		if (!is_hex_lower(p[i]))
			return -1;
	uint32_t want = (uint32_t)strtoul(p, NULL, 16);
	p += 9;
	if ((size_t)(end - p) != blen || metadata_crc32(p, blen) != want)
		return -1;
	size_t i = 0;
	while (p + i < end && is_hex_lower(p[i]))
		i++;
	if (i == 0 || i > METADATA_REQID_MAX || p + i >= end || p[i] != ' ')
		return -1;
	memcpy(resp->reqid, p, i);
	resp->reqid[i] = '\0';
	const char *code = p + i + 1;
	const char *cend = memchr(code, ' ', (size_t)(end - code));
	size_t clen = (size_t)((cend ? cend : end) - code);
	if (clen == 7 && !memcmp(code, "SUCCESS", 7))
		resp->status = METADATA_SUCCESS;
	else if (clen == 8 && !memcmp(code, "NOTFOUND", 8))
		resp->status = METADATA_NOTFOUND;
	else if (clen == 7 && !memcmp(code, "FAILURE", 7))
		resp->status = METADATA_FAILURE;
	else
		return -1;
	if (cend) {
		resp->payload = b64_dup(cend + 1, (size_t)(end - cend - 1),
					&resp->payload_len);
		if (!resp->payload)
			return -1;
	} else {
		resp->payload = mem_grow(NULL, 1);
		resp->payload[0] = '\0';
	}
	return 0;
}
