/*
 * fuzz_metadata_remote.c - libFuzzer target for the metadata keeper's side
 * of metadata/remote.h, the root process that takes requests from a
 * metadata server which a guest may have taken over. Each input is used
 * twice:
 *
 *   - its first 4 bytes as a frame's op and the rest as that frame's
 *     payload, given to metadata_remote_req_parse() in a buffer of exactly
 *     len + 1 bytes (the spare byte the keeper reads into, a NUL as the
 *     keeper leaves it, then another byte), and what it decodes is
 *     checked to lie inside the payload;
 *   - the whole input as the byte stream a server writes, fed over a
 *     socket pair to metadata_remote_serve() backed by an in-memory
 *     instance record, so framing, READ generations and CHANGE's PUT and
 *     DELETE rules all see hostile bytes. A thread writes the stream and
 *     drains the keeper's replies.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metadata/remote.h"
#include "metadata/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *seed_record =
    "{\"uuid\": \"4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b\", \"alias\": \"a\","
    " \"customer_metadata\": {\"user-script\": \"#!/bin/sh\\n\", \"n\": 1},"
    " \"internal_metadata\": {\"operator-script\": \"x\", \"ns:k\": \"v\"},"
    " \"internal_metadata_namespaces\": [\"ns\"],"
    " \"tags\": {\"t\": \"v\"}}";

static json_t *vm;

static json_t *mem_read(void *ctx, struct hull_err *err)
{
	return json_incref(vm);
}

static int mem_modify(void *ctx, int (*edit)(json_t *, void *), void *arg,
		      struct hull_err *err)
{
	json_t *copy = json_deep_copy(vm);
	int r = edit(copy, arg);
	if (r == 0) {
		json_decref(vm);
		vm = copy;
	} else {
		json_decref(copy);
	}
	return r;
}

/* Decodes data as one frame (op, payload) in a buffer whose spare byte
 * is spare: the keeper's holds a NUL there, which the key must not be
 * taken to end at. */
static void check_parse(const uint8_t *data, size_t size, char spare)
{
	uint32_t op;
	if (size < sizeof(op))
		return;
	memcpy(&op, data, sizeof(op));
	size_t len = size - sizeof(op);
	char *payload = malloc(len + 1);
	if (!payload)
		abort();
	memcpy(payload, data + sizeof(op), len);
	payload[len] = spare;

	struct metadata_remote_req req;
	if (metadata_remote_req_parse(op, payload, len, &req) == 0) {
		const char *end = payload + len;
		if (req.op == METADATA_REMOTE_READ) {
			if (op != METADATA_REMOTE_READ || len != 8)
				abort();
		} else if (req.op == METADATA_REMOTE_CHANGE) {
			/* A non-empty key ending in a NUL inside the
			 * payload, and a value after it, also inside. */
			if (op != METADATA_REMOTE_CHANGE || !req.key ||
			    req.key < payload || req.key >= end || !*req.key ||
			    !memchr(req.key, '\0', (size_t)(end - req.key)))
				abort();
			const char *kend = req.key + strlen(req.key);
			if (req.value &&
			    (req.value != kend + 1 || req.value > end ||
			     req.value_len != (size_t)(end - req.value)))
				abort();
			if (!req.value && (kend + 1 != end || req.value_len))
				abort();
		} else {
			abort();
		}
	}
	free(payload);
}

struct feed {
	int fd;
	const uint8_t *data;
	size_t size;
};

/* Writes the stream, half-closes, then drains replies until the keeper
 * closes its end. */
static void *feeder(void *arg)
{
	struct feed *f = arg;
	size_t off = 0;
	while (off < f->size) {
		ssize_t w =
		    send(f->fd, f->data + off, f->size - off, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the keeper stopped reading and closed */
		off += (size_t)w;
	}
	shutdown(f->fd, SHUT_WR);
	char buf[4096];
	while (read(f->fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parse(data, size, '\0');
	check_parse(data, size, '\x55');

	vm = json_loads(seed_record, 0, NULL);
	if (!vm)
		abort();
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	struct feed f = {sv[1], data, size};
	pthread_t t;
	if (pthread_create(&t, NULL, feeder, &f) != 0)
		abort();
	struct metadata_store store = {mem_read, mem_modify, NULL, NULL};
	struct hull_err err = {0};
	int r = metadata_remote_serve(sv[0], &store, &err);
	/* Ending with an error must say why. */
	if (r < 0 && !err.msg[0])
		abort();
	close(sv[0]);
	pthread_join(t, NULL);
	close(sv[1]);
	json_decref(vm);
	vm = NULL;
	return 0;
}
