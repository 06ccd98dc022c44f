/*
 * virtio.c - a minimal modern virtio-pci driver for the test guest and the
 * device tests built on it: virtio-blk (read the host's data, write a
 * pattern and read it back, get the serial, MSI-X completion interrupts),
 * virtio-rng and virtio-net (exchange frames with the host's tap).
 */
#include "guest.h"

#define QSIZE 16

struct vq {
	u16 size, idx, last_used, notify_off;
	u8 *desc;
	u16 *avail;
	u8 *used;
};

struct vdev {
	u32 bdf;
	u64 bar, common, isr, device, notify;
	u32 notify_mult;
	u32 msix_cap;
	struct vq q[2];
};

static void cfg_addr(u32 bdf, u32 off)
{
	outl(0xcf8, 0x80000000u | bdf | (off & 0xfc));
}

u32 pci_read32(u32 bdf, u32 off)
{
	cfg_addr(bdf, off);
	return inl(0xcfc);
}
void pci_write32(u32 bdf, u32 off, u32 v)
{
	cfg_addr(bdf, off);
	outl(0xcfc, v);
}
u16 pci_read16(u32 bdf, u32 off)
{
	cfg_addr(bdf, off);
	return inw(0xcfc + (off & 2));
}
void pci_write16(u32 bdf, u32 off, u16 v)
{
	cfg_addr(bdf, off);
	outw(0xcfc + (off & 2), v);
}
u8 pci_read8(u32 bdf, u32 off)
{
	cfg_addr(bdf, off);
	return inb(0xcfc + (off & 3));
}

static int find(u16 device, struct vdev *d)
{
	for (u32 dev = 0; dev < 32; dev++) {
		u32 bdf = dev << 11;
		u32 id = pci_read32(bdf, 0);
		if ((id & 0xffff) != 0x1af4 || (id >> 16) != device)
			continue;
		memset(d, 0, sizeof(*d));
		d->bdf = bdf;
		d->bar = pci_read32(bdf, 0x10) & ~0xfu;
		pci_write16(bdf, 0x04, pci_read16(bdf, 0x04) | 0x6);
		for (u32 cap = pci_read8(bdf, 0x34); cap;
		     cap = pci_read8(bdf, cap + 1)) {
			u8 id8 = pci_read8(bdf, cap);
			if (id8 == 0x11) {
				d->msix_cap = cap;
				continue;
			}
			if (id8 != 0x09)
				continue;
			u8 type = pci_read8(bdf, cap + 3);
			u64 at = d->bar + pci_read32(bdf, cap + 8);
			if (type == 1)
				d->common = at;
			else if (type == 2) {
				d->notify = at;
				d->notify_mult = pci_read32(bdf, cap + 16);
			} else if (type == 3)
				d->isr = at;
			else if (type == 4)
				d->device = at;
		}
		return d->common && d->notify && d->isr ? 0 : -1;
	}
	return -1;
}

/* Feature negotiation and queue set-up (virtio 1.2 3.1.1). */
static int setup(struct vdev *d, u32 want_lo, unsigned nq, int msix)
{
	u64 c = d->common;
	mmio_write8(c + 0x14, 0);
	mmio_write8(c + 0x14, 1);
	mmio_write8(c + 0x14, 3);
	mmio_write32(c + 0x00, 0);
	u32 lo = mmio_read32(c + 0x04);
	mmio_write32(c + 0x00, 1);
	u32 hi = mmio_read32(c + 0x04);
	if (!(hi & 1))
		return -1; /* no VERSION_1 */
	mmio_write32(c + 0x08, 0);
	mmio_write32(c + 0x0c, lo & want_lo);
	mmio_write32(c + 0x08, 1);
	mmio_write32(c + 0x0c, 1);
	mmio_write8(c + 0x14, 3 | 8);
	if (!(mmio_read8(c + 0x14) & 8))
		return -1;
	if (msix && d->msix_cap) {
		u32 table = pci_read32(d->bdf, d->msix_cap + 4) & ~7u;
		u64 e = d->bar + table;
		mmio_write32(e + 0, 0xfee00000);
		mmio_write32(e + 4, 0);
		mmio_write32(e + 8, 0x43);
		mmio_write32(e + 12, 0);
		pci_write16(d->bdf, d->msix_cap + 2,
			    pci_read16(d->bdf, d->msix_cap + 2) | 0x8000);
	}
	for (unsigned i = 0; i < nq; i++) {
		struct vq *q = &d->q[i];
		mmio_write16(c + 0x16, (u16)i);
		u16 max = mmio_read16(c + 0x18);
		q->size = max < QSIZE ? max : QSIZE;
		mmio_write16(c + 0x18, q->size);
		q->desc = alloc_pages(16 * q->size);
		q->avail = alloc_pages(6 + 2 * q->size);
		q->used = alloc_pages(6 + 8 * q->size);
		q->notify_off = mmio_read16(c + 0x1e);
		mmio_write32(c + 0x20, (u32)(uptr)q->desc);
		mmio_write32(c + 0x24, 0);
		mmio_write32(c + 0x28, (u32)(uptr)q->avail);
		mmio_write32(c + 0x2c, 0);
		mmio_write32(c + 0x30, (u32)(uptr)q->used);
		mmio_write32(c + 0x34, 0);
		mmio_write16(c + 0x1a, msix ? 0 : 0xffff);
		mmio_write16(c + 0x1c, 1);
	}
	mmio_write8(c + 0x14, 3 | 8 | 4);
	return 0;
}

static void set_desc(struct vq *q, u16 i, void *addr, u32 len, u16 flags,
		     u16 next)
{
	u8 *e = q->desc + 16 * i;
	*(u64 *)e = (uptr)addr;
	*(u32 *)(e + 8) = len;
	*(u16 *)(e + 12) = flags;
	*(u16 *)(e + 14) = next;
}

static void publish(struct vdev *d, unsigned qi, u16 head)
{
	struct vq *q = &d->q[qi];
	q->avail[2 + q->idx % q->size] = head;
	barrier();
	q->idx++;
	q->avail[1] = q->idx;
	barrier();
	mmio_write16(d->notify + q->notify_off * d->notify_mult, (u16)qi);
}

/* Waits for the next used entry; returns its length or -1 on timeout. */
static long wait_used(struct vdev *d, unsigned qi, u32 spins)
{
	struct vq *q = &d->q[qi];
	for (u32 i = 0; i < spins; i++) {
		barrier();
		u16 used_idx = *(volatile u16 *)(q->used + 2);
		if (used_idx != q->last_used) {
			u8 *e = q->used + 4 + 8 * (q->last_used % q->size);
			q->last_used++;
			return *(u32 *)(e + 4);
		}
		__asm__ volatile("sti; pause; cli");
	}
	return -1;
}

/* Like wait_used, but sleeps in hlt until the completion interrupt: the
 * vCPU then leaves the host CPU to the VMM's I/O thread. */
static long wait_used_irq(struct vdev *d, unsigned qi)
{
	struct vq *q = &d->q[qi];
	for (;;) {
		__asm__ volatile("cli");
		barrier();
		u16 used_idx = *(volatile u16 *)(q->used + 2);
		if (used_idx != q->last_used) {
			u8 *e = q->used + 4 + 8 * (q->last_used % q->size);
			q->last_used++;
			return *(u32 *)(e + 4);
		}
		__asm__ volatile("sti; hlt");
	}
}

static int blk_irq_wait;
/* polls of 50M spins before a request counts as lost: test=count's
 * disk=1 waits long, as its requests may wait for a host I/O thread that
 * is busy with a migration or not scheduled on a loaded machine */
static u32 blk_rounds = 1;

static u8 blk_status;
static struct {
	u32 type, reserved;
	u64 sector;
} blk_hdr;

/* One request: header, data (writable for reads), status. */
static int blk_rw(struct vdev *d, u32 type, u64 sector, void *buf, u32 len)
{
	struct vq *q = &d->q[0];
	blk_hdr.type = type;
	blk_hdr.reserved = 0;
	blk_hdr.sector = sector;
	blk_status = 0xff;
	u16 w = (type == 1) ? 0 : 2;
	set_desc(q, 0, &blk_hdr, 16, 1, 1);
	if (len) {
		set_desc(q, 1, buf, len, 1 | w, 2);
		set_desc(q, 2, &blk_status, 1, 2, 0);
	} else {
		set_desc(q, 1, &blk_status, 1, 2, 0);
	}
	publish(d, 0, 0);
	if (blk_irq_wait) {
		if (wait_used_irq(d, 0) < 0)
			return -2;
		return blk_status;
	}
	for (u32 r = 0;; r++) {
		if (wait_used(d, 0, 50000000) >= 0)
			break;
		if (r + 1 >= blk_rounds)
			return -2;
	}
	return blk_status;
}

static u8 pattern(u64 sector, u32 j, u32 seed)
{
	return (u8)(sector * 31 + j * 7 + seed);
}

static u32 parse_u32(const char *s)
{
	u32 v = 0;
	while (s && *s >= '0' && *s <= '9')
		v = v * 10 + (u32)(*s++ - '0');
	return v;
}

int test_virtio_blk(const char *args)
{
	struct vdev d;
	u32 seed = parse_u32(args);
	if (find(0x1042, &d) < 0 ||
	    setup(&d, (1u << 5) | (1u << 9) | (1u << 13), 1, 1) < 0) {
		print("blk: no device\n");
		return -1;
	}
	u64 cap = *(volatile u64 *)PTR(d.device);
	mmio_write16(d.common + 0x16, 0);
	int ro = 0;
	mmio_write32(d.common + 0x08, 0);
	ro = (mmio_read32(d.common + 0x0c) >> 5) & 1;
	print("blk: capacity %lu sectors%s\n", cap, ro ? " read-only" : "");
	char id[21];
	memset(id, 0, sizeof(id));
	if (blk_rw(&d, 8, 0, id, 20) != 0)
		return -1;
	print("blk: serial '%s'\n", id);

	u8 *buf = alloc_pages(4096);
	if (blk_rw(&d, 0, 0, buf, 4096) != 0)
		return -1;
	u32 sum = 0;
	for (u32 i = 0; i < 4096; i++)
		sum += buf[i];
	print("blk: read sectors 0-7 sum %u\n", sum);

	for (u32 j = 0; j < 4096; j++)
		buf[j] = pattern(8 + j / 512, j % 512, seed);
	int st = blk_rw(&d, 1, 8, buf, 4096);
	if (ro) {
		print("blk: write %s\n",
		      st == 1 ? "refused (read-only)" : "allowed?!");
		return st == 1 ? 0 : -1;
	}
	if (st != 0 || blk_rw(&d, 4, 0, 0, 0) != 0)
		return -1;
	memset(buf, 0, 4096);
	if (blk_rw(&d, 0, 8, buf, 4096) != 0)
		return -1;
	for (u32 j = 0; j < 4096; j++)
		if (buf[j] != pattern(8 + j / 512, j % 512, seed)) {
			print("blk: mismatch at byte %u\n", j);
			return -1;
		}
	print("blk: wrote sectors 8-15 and read them back\n");
	/* discard sectors 16-23: a hole in the host file, read back as zeros */
	if (mmio_read32(d.common + 0x0c) & (1u << 13)) {
		static struct {
			u64 sector;
			u32 num, flags;
		} seg = {16, 8, 0};
		struct vq *q = &d.q[0];
		blk_hdr.type = 11;
		blk_hdr.sector = 0;
		blk_status = 0xff;
		set_desc(q, 0, &blk_hdr, 16, 1, 1);
		set_desc(q, 1, &seg, 16, 1, 2);
		set_desc(q, 2, &blk_status, 1, 2, 0);
		publish(&d, 0, 0);
		if (wait_used(&d, 0, 50000000) < 0 || blk_status != 0)
			return -1;
		memset(buf, 0xee, 4096);
		if (blk_rw(&d, 0, 16, buf, 4096) != 0)
			return -1;
		u32 nz = 0;
		for (u32 j = 0; j < 4096; j++)
			nz += buf[j] != 0;
		print("blk: discarded sectors 16-23, %u non-zero bytes after\n",
		      nz);
	}
	/* past the end: must fail */
	st = blk_rw(&d, 0, cap, buf, 512);
	print("blk: read past the end: status %u\n", (u32)st);
	/* completions raise MSI-X vector 0x43; a pending one lands at sti */
	for (u32 i = 0; i < 1000000 && !irq_count[3]; i++)
		__asm__ volatile("sti; pause; cli");
	print("blk: %u msi-x interrupts\n", irq_count[3]);
	return st == 1 && irq_count[3] > 0 ? 0 : -1;
}

int test_virtio_blk_bench(void)
{
	struct vdev d;
	if (find(0x1042, &d) < 0 || setup(&d, 0, 1, 1) < 0)
		return -1;
	blk_irq_wait = 1; /* MSI-X completions, the vCPU halted meanwhile */
	u64 cap = *(volatile u64 *)PTR(d.device);
	u32 chunk = 256 * 1024;
	u8 *buf = alloc_pages(chunk);
	u64 bytes = 0;
	print("blkbench: start\n");
	for (u64 s = 0; s + chunk / 512 <= cap; s += chunk / 512) {
		if (blk_rw(&d, 0, s, buf, chunk) != 0)
			return -1;
		bytes += chunk;
	}
	print("blkbench: read %lu bytes\n", bytes);
	return 0;
}

int test_virtio_rng(void)
{
	struct vdev d;
	if (find(0x1044, &d) < 0 || setup(&d, 0, 1, 0) < 0) {
		print("rng: no device\n");
		return -1;
	}
	/* completions through INTx: MSI-X stays off, the pin is the one the
	 * interrupt line register names */
	u8 line = pci_read8(d.bdf, 0x3c);
	intx_isr_addr = d.isr;
	ioapic_route_level(line, 0x44);
	print("rng: INTx on IOAPIC pin %u\n", line);
	u8 *a = alloc_pages(64), *b = alloc_pages(64);
	set_desc(&d.q[0], 0, a, 64, 2, 0);
	publish(&d, 0, 0);
	long n1 = wait_used(&d, 0, 50000000);
	set_desc(&d.q[0], 1, b, 64, 2, 0);
	publish(&d, 0, 1);
	long n2 = wait_used(&d, 0, 50000000);
	print("rng: got %u and %u bytes\n", (u32)n1, (u32)n2);
	print("rng: %x%x%x%x...\n", a[0], a[1], a[2], a[3]);
	for (u32 i = 0; i < 1000000 && !irq_count[4]; i++)
		__asm__ volatile("sti; pause; cli");
	print("rng: %u INTx interrupts\n", irq_count[4]);
	return n1 == 64 && n2 == 64 && memcmp(a, b, 64) && irq_count[4] ? 0
									: -1;
}

int test_virtio_net(void)
{
	struct vdev d;
	if (find(0x1041, &d) < 0 || setup(&d, 1u << 5, 2, 0) < 0) {
		print("net: no device\n");
		return -1;
	}
	u8 mac[6];
	for (int i = 0; i < 6; i++)
		mac[i] = mmio_read8(d.device + (u32)i);
	print("net: mac %2x:%2x:%2x:%2x:%2x:%2x\n", mac[0], mac[1], mac[2],
	      mac[3], mac[4], mac[5]);
	/* receive buffers */
	u8 *rx = alloc_pages(QSIZE * 2048);
	for (u16 i = 0; i < 8; i++) {
		set_desc(&d.q[0], i, rx + 2048 * i, 2048, 2, 0);
		d.q[0].avail[2 + d.q[0].idx % d.q[0].size] = i;
		d.q[0].idx++;
	}
	barrier();
	d.q[0].avail[1] = d.q[0].idx;
	mmio_write16(d.notify + d.q[0].notify_off * d.notify_mult, 0);

	/* send a broadcast frame, ethertype 0x88b5 (local experimental) */
	u8 *tx = alloc_pages(2048);
	const char *msg = "hull-guest ping";
	u32 ml = (u32)strlen(msg);
	memset(tx, 0, 12); /* virtio_net_hdr_v1: no offload */
	u8 *f = tx + 12;
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	memcpy(f + 14, msg, ml);
	u32 flen = 14 + ml < 60 ? 60 : 14 + ml;
	for (u32 tries = 0; tries < 20; tries++) {
		set_desc(&d.q[1], 0, tx, 12 + flen, 0, 0);
		publish(&d, 1, 0);
		if (wait_used(&d, 1, 50000000) < 0)
			return -1;
		print("net: sent ping\n");
		/* wait for the host's answer; skip anything else (IPv6 noise)
		 */
		for (u32 k = 0; k < 8; k++) {
			long n = wait_used(&d, 0, 20000000);
			if (n < 0)
				break;
			u8 *e = d.q[0].used + 4 +
				8 * ((d.q[0].last_used - 1) % d.q[0].size);
			u32 id = *(u32 *)e;
			u8 *p = rx + 2048 * id + 12;
			if (n > 26 && p[12] == 0x88 && p[13] == 0xb5) {
				char text[64];
				u32 tl = (u32)n - 12 - 14;
				if (tl > 63)
					tl = 63;
				memcpy(text, p + 14, tl);
				text[tl] = 0;
				for (u32 z = 0; z < tl; z++)
					if (text[z] < 32 || text[z] > 126)
						text[z] = 0;
				print("net: got '%s'\n", text);
				return 0;
			}
			/* recycle the buffer */
			d.q[0].avail[2 + d.q[0].idx % d.q[0].size] = (u16)id;
			d.q[0].idx++;
			barrier();
			d.q[0].avail[1] = d.q[0].idx;
			mmio_write16(
			    d.notify + d.q[0].notify_off * d.notify_mult, 0);
		}
	}
	return -1;
}

/* The nic test=count answers on with echo=1 (net_echo_*): the host
 * sends "hull-host ping N" (ethertype 0x88b5) at any time, the guest
 * answers "hull-guest pong N" to its sender between two counts, so a
 * test sees the nic working while the guest runs on (a live move). */
static struct vdev echo_dev;
static u8 *echo_rx, *echo_tx;
static int echo_on;

int net_echo_init(void)
{
	struct vdev *d = &echo_dev;
	if (find(0x1041, d) < 0 || setup(d, 1u << 5, 2, 0) < 0) {
		print("net: no device\n");
		return -1;
	}
	echo_rx = alloc_pages(QSIZE * 2048);
	echo_tx = alloc_pages(2048);
	for (u16 i = 0; i < 8; i++) {
		set_desc(&d->q[0], i, echo_rx + 2048 * i, 2048, 2, 0);
		d->q[0].avail[2 + d->q[0].idx % d->q[0].size] = i;
		d->q[0].idx++;
	}
	barrier();
	d->q[0].avail[1] = d->q[0].idx;
	mmio_write16(d->notify + d->q[0].notify_off * d->notify_mult, 0);
	echo_on = 1;
	print("net: echo on\n");
	return 0;
}

void net_echo_poll(void)
{
	struct vdev *d = &echo_dev;
	if (!echo_on)
		return;
	for (;;) {
		struct vq *q = &d->q[0];
		barrier();
		u16 used_idx = *(volatile u16 *)(q->used + 2);
		if (used_idx == q->last_used)
			return;
		u8 *e = q->used + 4 + 8 * (q->last_used % q->size);
		q->last_used++;
		u32 id = *(u32 *)e, n = *(u32 *)(e + 4);
		u8 *p = echo_rx + 2048 * id + 12;
		static const char ping[] = "hull-host ping";
		if (n > 26 + sizeof(ping) - 1 && n < 2048 && p[12] == 0x88 &&
		    p[13] == 0xb5 && !memcmp(p + 14, ping, sizeof(ping) - 1)) {
			u32 tl = n - 12 - 14;
			u8 *f = echo_tx + 12;
			memset(echo_tx, 0, 12);
			memcpy(f, p + 6, 6); /* to the sender */
			memcpy(f + 6, p, 6); /* from us */
			f[12] = 0x88;
			f[13] = 0xb5;
			/* "hull-host ping N" -> "hull-guest pong N" */
			memcpy(f + 14, "hull-guest pong", 15);
			memcpy(f + 29, p + 14 + 14, tl - 14);
			tl++;
			u32 flen = 14 + tl < 60 ? 60 : 14 + tl;
			set_desc(&d->q[1], 0, echo_tx, 12 + flen, 0, 0);
			publish(d, 1, 0);
			wait_used(d, 1, 50000000);
		}
		q->avail[2 + q->idx % q->size] = (u16)id;
		q->idx++;
		barrier();
		q->avail[1] = q->idx;
		mmio_write16(d->notify + q->notify_off * d->notify_mult, 0);
	}
}

int test_virtio_console(void)
{
	struct vdev d;
	if (find(0x1043, &d) < 0 || setup(&d, 0, 2, 0) < 0) {
		print("vconsole: no device\n");
		return -1;
	}
	char *rx = alloc_pages(256);
	set_desc(&d.q[0], 0, rx, 255, 2, 0);
	publish(&d, 0, 0);
	const char *msg = "hello from hvc0\n";
	char *tx = alloc_pages(64);
	memcpy(tx, msg, strlen(msg));
	set_desc(&d.q[1], 0, tx, (u32)strlen(msg), 0, 0);
	publish(&d, 1, 0);
	if (wait_used(&d, 1, 50000000) < 0)
		return -1;
	print("vconsole: waiting\n");
	char line[64];
	u32 n = 0;
	while (n == 0 || line[n - 1] != '\n') {
		long got = wait_used(&d, 0, 0xffffffffu);
		if (got < 0)
			return -1;
		for (long i = 0; i < got && n < sizeof(line) - 1; i++)
			line[n++] = rx[i];
		set_desc(&d.q[0], 0, rx, 255, 2, 0);
		publish(&d, 0, 0);
	}
	line[n - 1] = 0;
	print("vconsole: got '%s'\n", line);
	return 0;
}

/* test=count's disk=1 (blk_count_*): sector 0 of the first disk holds
 * the count written last; each count reads it back, checks it is the
 * one before, and writes the new one, so a move whose target reads an
 * older copy of the disk prints "count: DISK LOST". */
static struct vdev count_dev;
static u8 *count_buf;

int blk_count_init(void)
{
	if (find(0x1042, &count_dev) < 0 ||
	    setup(&count_dev, 1u << 9, 1, 1) < 0) {
		print("blk: no device\n");
		return -1;
	}
	count_buf = alloc_pages(4096);
	blk_rounds = 2000;
	print("blk: counting on sector 0\n");
	return 0;
}

int blk_count_step(u32 value)
{
	if (blk_rw(&count_dev, 0, 0, count_buf, 512) != 0) {
		print("count: DISK ERROR reading\n");
		return -1;
	}
	u32 was = *(u32 *)count_buf;
	if (value > 1 && was != value - 1) {
		print("count: DISK LOST sector 0 holds %u, not %u\n", was,
		      value - 1);
		return -1;
	}
	*(u32 *)count_buf = value;
	if (blk_rw(&count_dev, 1, 0, count_buf, 512) != 0) {
		print("count: DISK ERROR writing\n");
		return -1;
	}
	return 0;
}
