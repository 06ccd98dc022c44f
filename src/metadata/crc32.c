/*
 * crc32.c - CRC-32 of frame bodies (see crc32.h). Byte-at-a-time with a
 * 256-entry table built on first use: bodies are short, and this keeps the
 * file free of a generated constant block.
 */
#include "metadata/crc32.h"

#include <stdbool.h>

static uint32_t table[256];
static bool table_ready;

static void table_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	table_ready = true;
}

uint32_t metadata_crc32(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = 0xFFFFFFFFu;

	/* Idempotent, so a race between two threads only builds it twice. */
	if (!table_ready)
		table_build();
	for (size_t i = 0; i < len; i++)
		c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}
