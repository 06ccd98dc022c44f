/*
 * btrfs_refer.c - the bytes a btrfs subvolume references, counted from its
 * own tree: every file extent item, each extent once. Simple quotas charge
 * an extent only to the subvolume that wrote it, so they cannot say what a
 * clone or snapshot sees; this walk can (its cost grows with the number of
 * extents, so only listings with space figures pay it).
 */
#include "pool/btrfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/xalloc.h"

#define SEARCH_BUF (64 * 1024)
/* Offsets in struct btrfs_file_extent_item (packed, little-endian). */
#define FE_TYPE 20
#define FE_INLINE_DATA 21
#define FE_DISK_BYTENR 21
#define FE_DISK_NUM_BYTES 29
#define FE_REG_SIZE 53

struct extent {
	uint64_t bytenr, bytes;
};

static uint64_t le64_at(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static int cmp_extent(const void *a, const void *b)
{
	uint64_t x = ((const struct extent *)a)->bytenr;
	uint64_t y = ((const struct extent *)b)->bytenr;
	return x < y ? -1 : x > y;
}

int pool_btrfs_referenced(const char *path, uint64_t *out, struct hull_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	struct btrfs_ioctl_search_args_v2 *args =
	    xcalloc(1, sizeof(*args) + SEARCH_BUF);
	struct btrfs_ioctl_search_key *k = &args->key;
	k->tree_id = 0; /* the subvolume fd is in */
	k->max_objectid = UINT64_MAX;
	k->min_type = k->max_type = BTRFS_EXTENT_DATA_KEY;
	k->max_offset = UINT64_MAX;
	k->max_transid = UINT64_MAX;
	struct extent *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t inline_bytes = 0;
	int r = 0;
	for (;;) {
		k->nr_items = UINT32_MAX;
		args->buf_size = SEARCH_BUF;
		if (ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, args) < 0) {
			r = hull_err_sys(err, errno, "search %s", path);
			break;
		}
		if (k->nr_items == 0)
			break;
		const unsigned char *p = (const unsigned char *)args->buf;
		struct btrfs_ioctl_search_header sh;
		for (uint32_t i = 0; i < k->nr_items; i++) {
			memcpy(&sh, p, sizeof(sh));
			const unsigned char *item = p + sizeof(sh);
			p += sizeof(sh) + sh.len;
			k->min_objectid = sh.objectid;
			k->min_type = sh.type;
			k->min_offset = sh.offset;
			if (sh.type != BTRFS_EXTENT_DATA_KEY ||
			    sh.len < FE_INLINE_DATA)
				continue;
			if (item[FE_TYPE] == BTRFS_FILE_EXTENT_INLINE) {
				inline_bytes += sh.len - FE_INLINE_DATA;
				continue;
			}
			if (sh.len < FE_REG_SIZE)
				continue;
			uint64_t at = le64_at(item + FE_DISK_BYTENR);
			if (at == 0)
				continue; /* a hole */
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[n].bytenr = at;
			v[n].bytes = le64_at(item + FE_DISK_NUM_BYTES);
			n++;
		}
		/* Resume after the last key seen. */
		if (k->min_offset < UINT64_MAX) {
			k->min_offset++;
		} else {
			k->min_offset = 0;
			k->min_type++;
		}
		if (k->min_type > BTRFS_EXTENT_DATA_KEY) {
			if (k->min_objectid == UINT64_MAX)
				break;
			k->min_objectid++;
			k->min_type = BTRFS_EXTENT_DATA_KEY;
			k->min_offset = 0;
		}
	}
	close(fd);
	free(args);
	if (r == 0) {
		if (n > 1)
			qsort(v, n, sizeof(*v), cmp_extent);
		uint64_t sum = inline_bytes;
		for (size_t i = 0; i < n; i++)
			if (i == 0 || v[i].bytenr != v[i - 1].bytenr)
				sum += v[i].bytes;
		*out = sum;
	}
	free(v);
	return r;
}
