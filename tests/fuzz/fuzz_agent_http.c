/*
 * fuzz_agent_http.c - the agent's plain-HTTP answer reader (agent/http.h)
 * on a head node's bytes: status line, headers, Content-Length or chunks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps the reads of the body from being optimised away. */
volatile char sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Not NUL-terminated, as the bytes come off the socket. */
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	long status;
	char *out = NULL;
	size_t n = 0;
	struct hull_err err = {0};
	if (agent_http_parse(buf, size, &status, &out, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			sink = out[i];
		sink = out[n];
		free(out);
	}
	free(buf);
	return 0;
}
