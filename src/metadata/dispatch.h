/*
 * dispatch.h - one request line in, one response out: parse with the codec,
 * answer from the store with the key rules of resolve.h. No descriptors;
 * the server (server.h) does the I/O around it, the fuzzer calls it
 * directly.
 */
#ifndef HULL_METADATA_DISPATCH_H
#define HULL_METADATA_DISPATCH_H
#include <stddef.h>

#include "lib/err.h"
#include "metadata/proto.h"
#include "metadata/store.h"

/* Answers the request in line[0..len) (without its LF), appending exactly
 * one response to out. Returns 0, or a negative code with err set when the
 * store failed (the guest got a FAILURE; the caller may log err). */
int metadata_dispatch(const struct metadata_store *store, const char *line,
		      size_t len, struct metadata_buf *out,
		      struct hull_err *err);

#endif
