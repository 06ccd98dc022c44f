/*
 * proto.h - the SmartOS metadata protocol codec (spec/smartos.md §3): pure
 * functions from bytes to structs and back, no I/O, so the server, the
 * guest tools, the unit tests and the fuzzer all share one implementation.
 *
 * Wire format in brief:
 *   V1:  "<CMD>[ <arg>]\n"  ->  "SUCCESS\n<dot-stuffed lines>\n.\n",
 *        "NOTFOUND\n", "FAILURE\n" or "invalid command\n"
 *   negotiation: "NEGOTIATE V2\n" -> "V2_OK\n"
 *   V2:  "V2 <len> <crc32 8 hex> <reqid> <CODE>[ <base64 payload>]\n"
 *
 * What the host answers to a bad line (a deliberate choice, see
 * docs/hull-metadata.md): every line gets exactly one answer, so a client
 * never waits out a timeout and the stream stays in step.
 *   - a line that is not a request at all (empty, unknown V1 command, a V2
 *     frame whose header, length or CRC is wrong, an over-long line):
 *     "invalid command\n", the answer the protocol gives to noise;
 *   - a V2 frame that checks out but asks for something malformed (unknown
 *     code, bad base64, bad PUT argument, oversized key or value): a V2
 *     FAILURE frame with the request id and a base64 reason.
 *
 * Plain libc, no libhull: the static guest tools link this file directly.
 * Allocation failure aborts (the callers are small processes).
 */
#ifndef HULL_METADATA_PROTO_H
#define HULL_METADATA_PROTO_H
#include <stdbool.h>
#include <stddef.h>

/* Bounds. A value is at most METADATA_VALUE_MAX bytes; a PUT carries it
 * base64-encoded twice (x 16/9) with its key, which is why a request line
 * may be METADATA_LINE_MAX long. Keys are names, not data. */
#define METADATA_VALUE_MAX (512u * 1024)
#define METADATA_KEY_MAX 1024u
#define METADATA_LINE_MAX (1024u * 1024)
/* Request ids are 8 hex digits in practice; the host accepts up to 32. */
#define METADATA_REQID_MAX 32u

enum metadata_op {
	METADATA_OP_GET,
	METADATA_OP_KEYS,
	METADATA_OP_PUT,
	METADATA_OP_DELETE,
	METADATA_OP_NEGOTIATE,
};

enum metadata_status {
	METADATA_SUCCESS,
	METADATA_NOTFOUND,
	METADATA_FAILURE,
};

/* What metadata_request_parse() found in a line. */
enum metadata_verdict {
	METADATA_REQ_OK,      /* a request to carry out */
	METADATA_REQ_INVALID, /* answer "invalid command\n" */
	METADATA_REQ_FAILURE, /* answer FAILURE (V2: with reqid and error) */
};

struct metadata_request {
	int version; /* 1 or 2 */
	enum metadata_op op;
	char reqid[METADATA_REQID_MAX + 1]; /* V2 only, "" otherwise */
	char *key; /* GET, PUT, DELETE: owned, NUL-terminated */
	size_t key_len;
	char *value; /* PUT: owned, NUL-terminated, may hold NULs */
	size_t value_len;
	const char *error; /* static reason for INVALID and FAILURE */
};

/* A growable byte buffer; data is always NUL-terminated when non-NULL. */
struct metadata_buf {
	char *data;
	size_t len;
	size_t cap;
};

void metadata_buf_append(struct metadata_buf *b, const void *p, size_t n);
void metadata_buf_puts(struct metadata_buf *b, const char *s);
/* Drops the first n bytes. */
void metadata_buf_consume(struct metadata_buf *b, size_t n);
void metadata_buf_fini(struct metadata_buf *b);

/* Parses one request line (without its LF; a trailing CR is not removed).
 * Fills *req (release with metadata_request_fini) and returns the verdict;
 * never reads past line[len). */
enum metadata_verdict metadata_request_parse(const char *line, size_t len,
					     struct metadata_request *req);
void metadata_request_fini(struct metadata_request *req);

/* Appends a V2 frame "V2 len crc reqid CODE[ b64(payload)]\n". An empty
 * payload is left out together with its space. code is the literal word
 * (SUCCESS, GET, ...). */
void metadata_frame_v2(struct metadata_buf *out, const char *reqid,
		       const char *code, const void *payload, size_t len);
/* Appends a V2 response frame for status. */
void metadata_reply_v2(struct metadata_buf *out, const char *reqid,
		       enum metadata_status st, const void *payload,
		       size_t len);
/* Appends a V1 response: "SUCCESS\n" + dot-stuffed value + "\n.\n", or
 * "NOTFOUND\n" / "FAILURE\n". */
void metadata_reply_v1(struct metadata_buf *out, enum metadata_status st,
		       const void *value, size_t len);
/* The V1 answer to noise. */
#define METADATA_INVALID_COMMAND "invalid command\n"

/* A V2 response as a client reads it. */
struct metadata_response {
	enum metadata_status status;
	char reqid[METADATA_REQID_MAX + 1];
	char *payload; /* decoded, owned, NUL-terminated; "" when absent */
	size_t payload_len;
};

/* Parses a V2 response line (without LF). Returns 0, or -1 when it is not
 * a well-formed response frame (length, CRC, code or base64 wrong). */
int metadata_response_parse(const char *line, size_t len,
			    struct metadata_response *resp);
void metadata_response_fini(struct metadata_response *resp);

const char *metadata_status_name(enum metadata_status st);

#endif
