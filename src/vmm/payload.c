/*
 * payload.c - the ELF kernel inside a bzImage. A bzImage's payload
 * (payload_offset/payload_length in the setup header, protocol 2.08+) is
 * the compressed vmlinux; decompressing it on the host with libarchive
 * (gzip, bzip2, xz, lzma, lz4, zstd) lets hull-vmm boot the ELF through
 * its PVH entry, skipping the in-guest decompressor, as Firecracker does
 * with a vmlinux. Where that is not possible the bzImage boots through the
 * Linux boot protocol as usual.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "vmm/archive_dl.h"
#include "vmm/boot.h"

#define PAYLOAD_MAX (256u << 20)

int boot_bzimage_payload(const uint8_t *k, size_t klen, uint8_t **out,
			 size_t *out_len)
{
	uint32_t off, len;
	uint16_t version;
	*out = NULL;
	*out_len = 0;
	if (klen < 0x250)
		return -EINVAL;
	memcpy(&version, k + 0x206, 2);
	if (version < 0x208)
		return -ENOTSUP;
	memcpy(&off, k + 0x248, 4);
	memcpy(&len, k + 0x24c, 4);
	size_t setup = ((size_t)(k[0x1f1] ? k[0x1f1] : 4) + 1) * 512;
	if (!len || setup > klen || off > klen - setup ||
	    len > klen - setup - off)
		return -EINVAL;

	const struct archive_dl *ar = archive_dl_get(NULL);
	if (!ar)
		return -ENOENT;
	struct archive *a = ar->read_new();
	struct archive_entry *e;
	ar->support_filter_all(a);
	ar->support_format_raw(a);
	int r = -EINVAL;
	if (ar->open_memory(a, k + setup + off, len) != ARCHIVE_OK ||
	    ar->next_header(a, &e) != ARCHIVE_OK ||
	    ar->filter_code(a, 0) == ARCHIVE_FILTER_NONE)
		goto out;
	size_t cap = 64u << 20, n = 0;
	uint8_t *buf = xmalloc(cap);
	for (;;) {
		if (n == cap) {
			if (cap >= PAYLOAD_MAX) {
				free(buf);
				goto out;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		la_ssize_t got = ar->read_data(a, buf + n, cap - n);
		if (got < 0) {
			free(buf);
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	*out = buf;
	*out_len = n;
	r = 0;
out:
	ar->read_free(a);
	return r;
}
