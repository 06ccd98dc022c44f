/*
 * fuzz_metadata.c - libFuzzer target for the metadata protocol: every line
 * of the input goes through the request decoder, the response decoder
 * (what the guest tools parse) and the whole dispatch path against an
 * in-memory instance record, so key resolution and the PUT/DELETE rules
 * see hostile keys and values too. The record is reset per input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metadata/dispatch.h"
#include "metadata/proto.h"
#include "metadata/resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *seed_record =
    "{\"uuid\": \"4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b\", \"alias\": \"a\","
    " \"customer_metadata\": {\"user-script\": \"#!/bin/sh\\n\", \"n\": 1,"
    "   \"o\": {\"x\": [1, 2]}},"
    " \"internal_metadata\": {\"operator-script\": \"x\", \"ns:k\": \"v\","
    "   \"a_pw\": \"p\"},"
    " \"internal_metadata_namespaces\": [\"ns\", 5],"
    " \"tags\": {\"t\": \"v\", \"n\": null},"
    " \"nics\": [{\"mac\": \"02:00:00:00:00:01\", \"ip\": \"192.0.2.1\","
    "   \"ips\": [\"dhcp\"]}, 7],"
    " \"routes\": {\"a\": \"nics[0]\", \"b\": \"macs[02:00:00:00:00:01]\","
    "   \"c\": \"nics[x]\", \"d\": \"macs[]\", \"e\": 3, \"f\": \"nics[99]\"}}";

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metadata_store store = {mem_read, mem_modify, NULL};
	const char *p = (const char *)data, *end = p + size;

	vm = json_loads(seed_record, 0, NULL);
	if (!vm)
		abort();
	while (p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);

		struct metadata_request req;
		metadata_request_parse(p, len, &req);
		metadata_request_fini(&req);

		struct metadata_response resp;
		metadata_response_parse(p, len, &resp);
		metadata_response_fini(&resp);

		struct metadata_buf out = {0};
		struct hull_err err;
		metadata_dispatch(&store, p, len, &out, &err);
		/* Every answer is one line, or a V1 value ending in ".\n". */
		if (!out.len || out.data[out.len - 1] != '\n')
			abort();
		metadata_buf_fini(&out);

		/* The raw line as a key, too. */
		char *key = strndup(p, len);
		char *v;
		size_t n;
		metadata_resolve(vm, key, &v, &n);
		free(v);
		free(key);
		if (!nl)
			break;
		p = nl + 1;
	}
	json_decref(vm);
	vm = NULL;
	return 0;
}
