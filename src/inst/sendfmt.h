/*
 * sendfmt.h - the stream of vmadm send and receive (docs/vmadm.md, "The
 * send stream"): pure code that writes and reads its framing, so the
 * receiver's parser of untrusted bytes can be unit-tested and fuzzed
 * (tests/fuzz/fuzz_sendstream.c). send.c and receive.c do the I/O.
 *
 * Layout, every integer big-endian:
 *   intro    "HULLSEND", u32 format version, u32 header length
 *   header   a JSON object: the instance's uuid and record, the pool
 *            backend, the sender's zonepath, and the datasets in the
 *            order their streams follow
 *   dataset  per dataset: chunks of u32 length (1..SENDFMT_CHUNK_MAX)
 *            and that many bytes of the backend's stream (btrfs send, or
 *            the dir backend's), then a u32 0 and the u64 sum of the
 *            chunk lengths
 *   end      "HULLDONE"
 * A backend's stream has no outer length, so the chunks say where one
 * dataset ends and the next begins; the sum and the end mark tell a
 * truncated stream from a complete one.
 */
#ifndef HULL_INST_SENDFMT_H
#define HULL_INST_SENDFMT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/uuid.h"

#define SENDFMT_MAGIC "HULLSEND"
#define SENDFMT_END "HULLDONE"
#define SENDFMT_VERSION 1
#define SENDFMT_INTRO_LEN 16
#define SENDFMT_HEADER_MAX (16u << 20)
#define SENDFMT_CHUNK_MAX (4u << 20)
/* A zone's root, later its delegated dataset: a handful at most. */
#define SENDFMT_DATASETS_MAX 8

struct sendfmt_dataset {
	char *name;	/* "<uuid>" or "<uuid>/<segment>" */
	char *snapshot; /* the snapshot sent, short name */
	char *base;	/* its base (incremental), or NULL: a full stream */
	/* The snapshot the backend stream is relative to when base is NULL
	 * (a clone source: "images/<uuid>@final"), or NULL. */
	char *parent;
	/* The sender's btrfs uuid (32 hex digits) and ctransid of parent,
	 * which the receiver gives its own copy of that image. */
	char *parent_id;
	uint64_t parent_ctransid;
};

struct sendfmt_header {
	uint32_t version;
	char uuid[HULL_UUID_LEN + 1];
	json_t *record; /* owned reference; its uuid is uuid */
	char *backend;	/* "btrfs" or "dir" */
	char *zonepath; /* the sender's, absolute */
	bool live;	/* sent from a running instance */
	struct sendfmt_dataset *ds;
	size_t nds;
};

/* The intro: magic and version checked (a newer version is refused with
 * ENOTSUP, naming it), *hlen set to the header's length. */
int sendfmt_intro_parse(const uint8_t b[SENDFMT_INTRO_LEN], uint32_t *version,
			uint32_t *hlen, struct hull_err *err);
void sendfmt_intro_make(uint8_t b[SENDFMT_INTRO_LEN], uint32_t hlen);

/* The header: every field checked (the record names the header's uuid,
 * every dataset is the instance's own, names are plain). On failure h
 * holds nothing (sendfmt_header_fini is still fine). */
int sendfmt_header_parse(const char *buf, size_t len, uint32_t version,
			 struct sendfmt_header *h, struct hull_err *err);
/* The header's JSON text (caller frees). */
char *sendfmt_header_dump(const struct sendfmt_header *h);
void sendfmt_header_fini(struct sendfmt_header *h);

/* A snapshot's short name as send makes them and receive accepts:
 * 1..64 of [A-Za-z0-9._:-], not starting with '.'. */
bool sendfmt_snapname_valid(const char *s);

/* Reading the rest of a stream through a callback that reads exactly n
 * bytes (0) or fails (negative, err set; -ENODATA at a clean end of
 * input). */
struct sendfmt_reader {
	int (*read)(void *arg, void *buf, size_t n, struct hull_err *err);
	void *arg;
	/* Optional: moves the next n bytes of input to the sink itself
	 * (sink_arg as sendfmt_dataset_read has it), without passing them
	 * through buf (receive.c splices); same returns as read. */
	int (*move)(void *arg, size_t n, void *sink_arg, struct hull_err *err);
};

/* Reads one dataset's chunks, handing each to sink (which may fail),
 * until its end; checks the sum. *total gets the bytes. buf holds
 * SENDFMT_CHUNK_MAX bytes. */
int sendfmt_dataset_read(const struct sendfmt_reader *rd, uint8_t *buf,
			 int (*sink)(void *arg, const uint8_t *p, size_t n,
				     struct hull_err *err),
			 void *sink_arg, uint64_t *total, struct hull_err *err);
/* Reads the end mark. */
int sendfmt_end_read(const struct sendfmt_reader *rd, struct hull_err *err);

/* Big-endian helpers for the writer. */
void sendfmt_put32(uint8_t *b, uint32_t v);
void sendfmt_put64(uint8_t *b, uint64_t v);

#endif
