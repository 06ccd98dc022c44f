/*
 * fuzz_websock.c - the WebSocket frame reader (head/websock.h) on a
 * client's bytes, read to the end or to the first protocol error as the
 * console bridge reads them; and the handshake's key check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "head/websock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps the reads of each message's bytes from being optimised away. */
volatile uint8_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	struct ws_reader r;
	ws_reader_init(&r, 4096);
	size_t off = 0, used;
	struct ws_msg m;
	struct hull_err err = {0};
	for (;;) {
		int rc =
		    ws_reader_next(&r, buf + off, size - off, &used, &m, &err);
		if (rc < 0 || used == 0)
			break;
		if (rc == 1) {
			/* Touch every byte the message claims. */
			uint8_t sum = 0;
			for (size_t i = 0; i < m.len; i++)
				sum ^= m.payload[i];
			sink ^= sum;
		}
		off += used;
	}
	ws_reader_fini(&r);
	char key[64];
	size_t kn = size < sizeof(key) - 1 ? size : sizeof(key) - 1;
	memcpy(key, data, kn);
	key[kn] = '\0';
	char out[WS_ACCEPT_LEN];
	ws_accept(key, out);
	ws_header_has_token(key, "upgrade");
	ws_utf8_valid(data, size);
	free(buf);
	return 0;
}
