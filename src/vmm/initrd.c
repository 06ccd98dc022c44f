/*
 * initrd.c - refuse a truncated or garbled initrd before the guest starts.
 *
 * An initrd is a cpio archive, usually compressed; libarchive reads it
 * through every entry, so a short file shows up as an error here rather
 * than as a kernel panic much later. Concatenated archives (an uncompressed
 * microcode cpio before the compressed main one) are read in turn.
 */
#include <errno.h>
#include <string.h>

#include "vmm/archive_dl.h"
#include "vmm/boot.h"

/* Reads one archive from buf; returns bytes consumed (> 0), or < 0. */
static long read_one(const struct archive_dl *ar, const uint8_t *buf,
		     size_t len, struct hull_err *err)
{
	struct archive *a = ar->read_new();
	struct archive_entry *e;
	long used = -1;
	int r;

	ar->support_filter_all(a);
	ar->support_format_cpio(a);
	if (ar->open_memory(a, buf, len) != ARCHIVE_OK) {
		hull_err_set(err, EINVAL,
			     "initrd: not a readable cpio archive (truncated "
			     "or corrupt?): %s",
			     ar->error_string(a));
		goto out;
	}
	while ((r = ar->next_header(a, &e)) == ARCHIVE_OK) {
		if (ar->data_skip(a) != ARCHIVE_OK) {
			r = ARCHIVE_FATAL;
			break;
		}
	}
	if (r != ARCHIVE_EOF) {
		const char *why = ar->error_string(a);
		hull_err_set(err, EINVAL, "initrd: truncated or corrupt: %s",
			     why ? why : "unreadable archive");
		goto out;
	}
	/* Bytes of the input consumed, by the outermost (raw) filter. */
	used = (long)ar->filter_bytes(a, -1);
	if (used <= 0)
		used = (long)len;
out:
	ar->read_free(a);
	return used;
}

int boot_initrd_check(const uint8_t *buf, size_t len, struct hull_err *err)
{
	size_t off = 0;
	if (!len)
		return hull_err_set(err, EINVAL, "initrd: empty file");
	const struct archive_dl *ar = archive_dl_get(err);
	if (!ar)
		return -err->code;
	while (off < len) {
		long used = read_one(ar, buf + off, len - off, err);
		if (used < 0)
			return -err->code;
		off += (size_t)used;
		/* cpio archives are padded; trailing zeros end the list */
		while (off < len && buf[off] == 0)
			off++;
	}
	return 0;
}
