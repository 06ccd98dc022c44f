/*
 * virtio_blk.c - virtio-blk (virtio 1.2 section 5.2) on a disk image:
 * read, write, flush, get-id (the serial), discard; read-only disks refuse
 * writes with VIRTIO_BLK_S_IOERR. Requests run on the I/O thread with
 * preadv/pwritev straight into guest memory; every request's sector range
 * is checked against the capacity before any I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "vmm/virtio_devices.h"

#define BLK_F_SEG_MAX (1ull << 2)
#define BLK_F_RO (1ull << 5)
#define BLK_F_BLK_SIZE (1ull << 6)
#define BLK_F_FLUSH (1ull << 9)
#define BLK_F_DISCARD (1ull << 13)

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11

#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

#define SEG_MAX 254
#define QUEUE_SIZE 256

struct blk_config {
	uint64_t capacity;
	uint32_t size_max, seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback, unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
} __attribute__((packed));

struct blk {
	struct disk *disk;
	struct blk_config cfg;
	struct iovec iov[VIRTQ_MAX_SEGS];
};

static void cfg_read(struct virtio_dev *v, uint64_t off, uint8_t *data,
		     unsigned len)
{
	struct blk *b = v->priv;
	/* from the disk as it is now: a live migration's target takes its
	 * disks only at the hand-over, before the guest runs */
	b->cfg.capacity = b->disk->size / 512;
	virtio_cfg_copy(&b->cfg, sizeof(b->cfg), off, data, len);
}

/* The data segments of a chain: skip `skip` bytes of the chosen
 * direction, take `len` bytes. Returns the iovec count. */
static int data_iov(struct blk *b, const struct virtq_chain *c, bool write,
		    uint64_t skip, uint64_t len)
{
	int n = 0;
	for (unsigned i = 0; i < c->n && len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (s->write != write)
			continue;
		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		uint64_t take = s->len - skip;
		if (take > len)
			take = len;
		b->iov[n++] = (struct iovec){s->ptr + skip, take};
		len -= take;
		skip = 0;
	}
	return n;
}

static int do_rw(int fd, struct iovec *iov, int n, uint64_t off, bool write)
{
	/* preadv/pwritev may be short: loop until done */
	while (n > 0) {
		ssize_t r = write ? pwritev(fd, iov, n, (off_t)off)
				  : preadv(fd, iov, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += (uint64_t)r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

static bool in_range(struct blk *b, uint64_t sector, uint64_t bytes)
{
	uint64_t cap = b->disk->size / 512;
	return bytes % 512 == 0 && sector <= cap && bytes / 512 <= cap - sector;
}

/* Handles one request; returns the bytes written into the chain. */
static uint32_t handle(struct blk *b, const struct virtq_chain *c)
{
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr;
	uint8_t status = S_OK;
	uint32_t written = 0;

	if (c->write_len < 1 ||
	    virtq_chain_read(c, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
		return 0; /* no status byte to report into: drop it */
	uint64_t status_off = c->write_len - 1;
	int fd = b->disk->fd;
	if (fd < 0) {
		/* no disk taken yet: unreachable, as the guest runs only
		 * after a live migration's target has its disks */
		status = S_IOERR;
		virtq_chain_write(c, status_off, &status, 1);
		return 1;
	}

	switch (hdr.type) {
	case T_IN: {
		uint64_t len = c->write_len - 1;
		if (!in_range(b, hdr.sector, len)) {
			status = S_IOERR;
			break;
		}
		int n = data_iov(b, c, true, 0, len);
		if (do_rw(fd, b->iov, n, hdr.sector * 512, false) < 0)
			status = S_IOERR;
		else
			written = (uint32_t)len;
		break;
	}
	case T_OUT: {
		uint64_t len = c->read_len - sizeof(hdr);
		if (b->disk->readonly || !in_range(b, hdr.sector, len)) {
			status = S_IOERR;
			break;
		}
		int n = data_iov(b, c, false, sizeof(hdr), len);
		if (do_rw(fd, b->iov, n, hdr.sector * 512, true) < 0)
			status = S_IOERR;
		break;
	}
	case T_FLUSH:
		if (!b->disk->readonly && fdatasync(fd) < 0)
			status = S_IOERR;
		break;
	case T_GET_ID: {
		char id[VMM_SERIAL_ID_MAX] = {0};
		memcpy(id, b->disk->serial, strlen(b->disk->serial));
		uint64_t len = c->write_len - 1 < sizeof(id) ? c->write_len - 1
							     : sizeof(id);
		written = (uint32_t)virtq_chain_write(c, 0, id, len);
		break;
	}
	case T_DISCARD: {
		struct {
			uint64_t sector;
			uint32_t num, flags;
		} seg;
		if (b->disk->readonly ||
		    virtq_chain_read(c, sizeof(hdr), &seg, sizeof(seg)) !=
			sizeof(seg) ||
		    !in_range(b, seg.sector, (uint64_t)seg.num * 512)) {
			status = S_IOERR;
			break;
		}
		/* best effort: a file system that cannot punch holes just
		 * keeps the data, which discard allows */
		fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t)(seg.sector * 512), (off_t)seg.num * 512);
		break;
	}
	default:
		status = S_UNSUPP;
		break;
	}
	virtq_chain_write(c, status_off, &status, 1);
	return written + 1;
}

static void notify(struct virtio_dev *v, unsigned qi)
{
	struct blk *b = v->priv;
	struct virtq *q = &v->q[qi].vq;
	struct virtq_chain *c = xmalloc(sizeof(*c));
	bool any = false;
	int r;
	unsigned budget = VIRTQ_BUDGET(q);
	while (budget && (r = virtq_pop(q, c)) == 1) {
		virtq_push(q, c->head, handle(b, c));
		any = true;
		budget--;
	}
	if (!budget)
		virtio_pci_rekick(v, qi);
	free(c);
	if (any)
		virtio_pci_notify_queue(v, qi);
}

static const struct virtio_dev_ops blk_ops = {
    .name = "virtio-blk",
    .device_id = 2,
    .class_code = 0x018000,
    .num_queues = 1,
    .queue_size = QUEUE_SIZE,
    .cfg_read = cfg_read,
    .notify = notify,
};

struct virtio_dev *virtio_blk_new(struct vm *vm, struct pci *bus,
				  struct disk *disk, struct hull_err *err)
{
	struct blk *b = xcalloc(1, sizeof(*b));
	b->disk = disk;
	b->cfg.seg_max = SEG_MAX;
	b->cfg.blk_size = 512;
	b->cfg.num_queues = 1;
	b->cfg.max_discard_sectors = 0x3fffff;
	b->cfg.max_discard_seg = 1;
	b->cfg.discard_sector_alignment = 1;
	uint64_t f = BLK_F_SEG_MAX | BLK_F_BLK_SIZE | BLK_F_FLUSH;
	if (disk->readonly)
		f |= BLK_F_RO;
	else
		f |= BLK_F_DISCARD;
	struct virtio_dev *v = virtio_pci_new(vm, bus, &blk_ops, f, b, err);
	if (!v)
		free(b);
	return v;
}
