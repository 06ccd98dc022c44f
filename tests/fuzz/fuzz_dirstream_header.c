/*
 * fuzz_dirstream_header.c - the opening of a dir-backend stream (intro line
 * and JSON header), which `hull pool receive` reads from untrusted input.
 * The input is split at its first newline: intro, then header.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "pool/dirstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t il = nl ? (size_t)(nl - data) : size;
	if (il > POOL_DIRSTREAM_INTRO_MAX)
		il = POOL_DIRSTREAM_INTRO_MAX;
	char line[POOL_DIRSTREAM_INTRO_MAX + 1];
	memcpy(line, data, il);
	line[il] = '\0';
	struct hull_err err;
	size_t hl;
	pool_dirstream_intro_parse(line, &hl, &err);
	if (!nl)
		return 0;
	const char *hdr = (const char *)nl + 1;
	size_t len = size - (size_t)(nl + 1 - data);
	struct pool_dirstream_header h;
	if (pool_dirstream_header_parse(hdr, len, &h, &err) == 0) {
		/* What the parser accepts, the receiver relies on. */
		if (!h.snapshot || strchr(h.snapshot, '/'))
			abort();
		for (size_t i = 0; i < h.n_removed; i++)
			if (!pool_dirstream_path_valid(h.removed[i]) ||
			    h.removed[i][0] == '/')
				abort();
		pool_dirstream_header_free(&h);
	}
	return 0;
}
