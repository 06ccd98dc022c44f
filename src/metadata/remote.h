/*
 * remote.h - a metadata store across a process boundary. The metadata
 * server runs without root (supervisor/privsep.h) and cannot read the
 * instance record (root's, 0600) nor write it; its store is a stream
 * socket to a keeper process that holds the real store (store.h, the
 * record file) and answers two typed requests:
 *
 *   READ(gen)           -> SAME (the record the server holds, generation
 *                          gen, is current) | DATA(gen', record JSON) |
 *                          FAIL(code, reason)
 *   CHANGE(key, value?) -> DONE(r, reason): a guest's PUT or DELETE,
 *                          made by the keeper with metadata_store_change()
 *
 * The keeper therefore does what the server did before, the same way: a
 * GET costs it a stat of the record (the file store's cache), a change is
 * made under the instance lock on a fresh read and saved atomically, with
 * the same rate bound (in the keeper, which the server cannot skip). Only
 * a metadata key and value cross to the keeper, never a record, so a
 * server that misbehaves can change nothing but what a guest may change.
 *
 * Frames: a header {u32 op, u32 len} (host order: both ends are one
 * program on one host) and len bytes; a request is at most
 * METADATA_REMOTE_REQ_MAX bytes, a reply at most METADATA_REMOTE_REPLY_MAX.
 */
#ifndef HULL_METADATA_REMOTE_H
#define HULL_METADATA_REMOTE_H
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "metadata/store.h"

#define METADATA_REMOTE_REQ_MAX (2u << 20)
#define METADATA_REMOTE_REPLY_MAX (256u << 20)

enum metadata_remote_op {
	METADATA_REMOTE_READ = 1,
	METADATA_REMOTE_CHANGE,
	METADATA_REMOTE_SAME,
	METADATA_REMOTE_DATA,
	METADATA_REMOTE_FAIL,
	METADATA_REMOTE_DONE,
};

/* A request as the keeper decoded it; pointers into the frame. */
struct metadata_remote_req {
	enum metadata_remote_op op;
	uint64_t gen;	   /* READ */
	const char *key;   /* CHANGE: NUL-terminated in the frame */
	const char *value; /* CHANGE: NULL for a DELETE */
	size_t value_len;
};

/* Decodes a request frame's payload (op from its header). Pure, for the
 * fuzzer; the payload must hold one spare byte after len (the keeper
 * reads into such a buffer) where the key's NUL may be written. Returns 0
 * or -EINVAL. */
int metadata_remote_req_parse(uint32_t op, char *payload, size_t len,
			      struct metadata_remote_req *out);

struct metadata_remote;

/* The server's side: a store whose calls go over fd (borrowed, blocking).
 * Fill *out with it; the handle holds the last record read. */
struct metadata_remote *metadata_remote_new(int fd);
void metadata_remote_free(struct metadata_remote *rs);
void metadata_remote_bind(struct metadata_remote *rs,
			  struct metadata_store *out);

/* The keeper's side: answers requests on fd from backing until the peer
 * hangs up (returns 0) or sends something malformed or the socket fails
 * (a negative code, err set). */
int metadata_remote_serve(int fd, const struct metadata_store *backing,
			  struct hull_err *err);

#endif
