/*
 * websock.h - the server side of RFC 6455 (WebSocket), as pure functions:
 * the opening handshake's key check and accept value, a reader that turns
 * a client's bytes into messages (masking required, fragmentation,
 * control frames, size limits, UTF-8 on text), and the header of a
 * server frame. No I/O: the console bridge (console.c) owns the sockets.
 */
#ifndef HULL_HEAD_WEBSOCK_H
#define HULL_HEAD_WEBSOCK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Opcodes (RFC 6455 5.2). */
enum {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

/* Close status codes (RFC 6455 7.4.1). */
enum {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_BAD_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
};

/* The accept value's length: base64 of a SHA-1 digest, and its NUL. */
#define WS_ACCEPT_LEN 29

/* Checks Sec-WebSocket-Key (base64 of 16 bytes, RFC 6455 4.2.1) and
 * writes Sec-WebSocket-Accept. -EINVAL for a malformed key. */
int ws_accept(const char *key, char out[WS_ACCEPT_LEN]);

/* Does a comma-separated header value (Connection, Upgrade) hold token,
 * compared without case? */
bool ws_header_has_token(const char *value, const char *token);

/* Strict UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF). */
bool ws_utf8_valid(const uint8_t *s, size_t n);

/* A message a reader found: a whole data message (text or binary, its
 * fragments joined) or one control frame. payload points into the
 * reader's buffer (or the caller's), valid until the next call. */
struct ws_msg {
	uint8_t opcode;
	const uint8_t *payload;
	size_t len;
};

struct ws_reader {
	size_t max_message; /* the largest data message accepted */
	uint8_t *msg;	    /* the fragments of the message in progress */
	size_t msg_len;
	uint8_t msg_op;	     /* its opcode, 0 when none is in progress */
	unsigned nfrag;	     /* its fragments so far (bounded too) */
	uint16_t close_code; /* why the reader failed (a WS_CLOSE_*) */
};

void ws_reader_init(struct ws_reader *r, size_t max_message);
void ws_reader_fini(struct ws_reader *r);

/*
 * Reads at most one frame from buf[0..len) (which it unmasks in place).
 * Returns 1 with *m set when a message or a control frame is complete,
 * 0 when more bytes are needed (or a fragment was taken in, see *used),
 * and a negative code with r->close_code and err set when the client
 * broke the protocol: the connection must be closed with that code.
 * *used: how many bytes of buf were taken, on 0 and 1 alike.
 */
int ws_reader_next(struct ws_reader *r, uint8_t *buf, size_t len, size_t *used,
		   struct ws_msg *m, struct hull_err *err);

/* Writes the header of an unmasked final server frame of len payload
 * bytes into hdr; returns its length (2, 4 or 10). */
size_t ws_frame_header(uint8_t hdr[10], uint8_t opcode, uint64_t len);
#endif
