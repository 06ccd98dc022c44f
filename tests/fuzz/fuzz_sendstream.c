/*
 * fuzz_sendstream.c - the framing and header of a vmadm send stream,
 * which vmadm receive reads from untrusted input (src/inst/sendfmt.h):
 * the intro, the JSON header, then each dataset's chunks and the end mark,
 * read through the same reader callback receive uses.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inst/sendfmt.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *p;
	size_t left;
};

static int mem_read(void *arg, void *buf, size_t n, struct hull_err *err)
{
	struct mem *m = arg;
	if (n > m->left)
		return -ENODATA;
	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return 0;
}

static int sink(void *arg, const uint8_t *p, size_t n, struct hull_err *err)
{
	size_t *sum = arg;
	if (n == 0 || n > SENDFMT_CHUNK_MAX)
		abort();
	*sum += n;
	return 0;
}

static uint8_t buf[SENDFMT_CHUNK_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hull_err err;
	if (size < SENDFMT_INTRO_LEN)
		return 0;
	uint32_t version, hlen;
	if (sendfmt_intro_parse(data, &version, &hlen, &err) < 0)
		return 0;
	if (version == 0 || version > SENDFMT_VERSION || hlen == 0 ||
	    hlen > SENDFMT_HEADER_MAX)
		abort();
	struct mem m = {data + SENDFMT_INTRO_LEN, size - SENDFMT_INTRO_LEN};
	if (hlen > m.left)
		return 0;
	struct sendfmt_header h;
	int r =
	    sendfmt_header_parse((const char *)m.p, hlen, version, &h, &err);
	m.p += hlen;
	m.left -= hlen;
	if (r < 0)
		return 0;
	/* What the parser accepts, the receiver relies on. */
	if (h.nds == 0 || h.nds > SENDFMT_DATASETS_MAX ||
	    strcmp(h.ds[0].name, h.uuid) != 0)
		abort();
	for (size_t i = 0; i < h.nds; i++) {
		/* The instance's dataset or one plain segment below it. */
		const char *n = h.ds[i].name;
		size_t ul = strlen(h.uuid);
		const char *seg = n[ul] == '/' ? n + ul + 1 : NULL;
		if (strncmp(n, h.uuid, ul) != 0 || (n[ul] && !seg) ||
		    (seg && (!*seg || strchr(seg, '/') || !strcmp(seg, ".") ||
			     !strcmp(seg, ".."))) ||
		    !sendfmt_snapname_valid(h.ds[i].snapshot))
			abort();
	}
	struct sendfmt_reader rd = {mem_read, &m};
	for (size_t i = 0; i < h.nds; i++) {
		size_t sum = 0;
		uint64_t total;
		if (sendfmt_dataset_read(&rd, buf, sink, &sum, &total, &err) <
		    0)
			goto out;
		if (total != sum)
			abort();
	}
	sendfmt_end_read(&rd, &err);
out:
	/* The dump of an accepted header parses back. */
	{
		char *text = sendfmt_header_dump(&h);
		struct sendfmt_header h2;
		if (sendfmt_header_parse(text, strlen(text), version, &h2,
					 &err) < 0)
			abort();
		sendfmt_header_fini(&h2);
		free(text);
	}
	sendfmt_header_fini(&h);
	return 0;
}
