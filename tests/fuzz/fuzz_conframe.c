/*
 * fuzz_conframe.c - the agent's reading of the head node's console
 * records (lib/conframe.h), record after record to the first error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

volatile uint8_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	size_t off = 0, used;
	struct conframe f;
	while (conframe_next(buf + off, size - off, &f, &used) == 1) {
		uint8_t sum = (uint8_t)(f.rows ^ f.cols);
		for (size_t i = 0; i < f.len; i++)
			sum ^= f.data[i];
		sink ^= sum;
		off += used;
	}
	free(buf);
	return 0;
}
