/*
 * virtq.c - split virtqueue, device side (see virtq.h for the rules).
 */
#include <errno.h>
#include <string.h>

#include "vmm/virtq.h"

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint16_t ld16(const void *p)
{
	uint16_t v;
	__atomic_load((const uint16_t *)p, &v, __ATOMIC_ACQUIRE);
	return v;
}

int virtq_enable(struct virtq *q)
{
	uint64_t n = q->size;
	if (!n || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	/* virtio 1.2 2.7: descriptor table 16-byte, avail 2-byte, used
	 * 4-byte aligned */
	if ((q->desc & 15) || (q->avail & 1) || (q->used & 3))
		return -EINVAL;
	if (!guest_mem_ptr(q->mem, q->desc, 16 * n) ||
	    !guest_mem_ptr(q->mem, q->avail, 6 + 2 * n) ||
	    !guest_mem_ptr(q->mem, q->used, 6 + 8 * n))
		return -EINVAL;
	/* the three areas may not overlap: our used-ring writes must never
	 * change the descriptors or the driver's index under us */
	uint64_t a[3][2] = {
	    {q->desc, 16 * n}, {q->avail, 6 + 2 * n}, {q->used, 6 + 8 * n}};
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (a[i][0] < a[j][0] + a[j][1] &&
			    a[j][0] < a[i][0] + a[i][1])
				return -EINVAL;
	q->last_avail = 0;
	q->used_idx = 0;
	q->broken = false;
	q->ready = true;
	return 0;
}

static int add_seg(struct virtq *q, struct virtq_chain *c,
		   const struct vring_desc *d)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	if (c->n == VIRTQ_MAX_SEGS)
		return -EINVAL;
	/* readable buffers first, then writable (virtio 1.2 2.7.4.2) */
	if (!write && c->write_len)
		return -EINVAL;
	if (c->n && !write && c->seg[c->n - 1].write)
		return -EINVAL;
	uint8_t *p = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!p)
		return -EINVAL;
	c->seg[c->n++] = (struct virtq_seg){p, d->len, write};
	/* the device writes it before its callback returns, on the thread
	 * that also walks a migration's dirty pages */
	if (write)
		guest_mem_dirty(q->mem, p, d->len);
	if (write)
		c->write_len += d->len;
	else
		c->read_len += d->len;
	return 0;
}

static int walk_indirect(struct virtq *q, struct virtq_chain *c,
			 const struct vring_desc *d)
{
	if (d->len == 0 || d->len % 16 || d->len / 16 > VIRTQ_MAX_SIZE)
		return -EINVAL;
	/* an indirect descriptor may not also chain (2.7.5.3.1) */
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return -EINVAL;
	const uint8_t *table = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!table)
		return -EINVAL;
	uint32_t n = d->len / 16, i = 0;
	/* at most n steps: a longer walk is a loop */
	for (uint32_t steps = 0; steps < n; steps++) {
		struct vring_desc e;
		memcpy(&e, table + 16 * i, sizeof(e));
		if (e.flags & VIRTQ_DESC_F_INDIRECT)
			return -EINVAL; /* no nesting */
		if (add_seg(q, c, &e) < 0)
			return -EINVAL;
		if (!(e.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (e.next >= n)
			return -EINVAL;
		i = e.next;
	}
	return -EINVAL;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	if (!q->ready || q->broken)
		return 0;
	const uint8_t *avail =
	    guest_mem_ptr(q->mem, q->avail, 6 + 2u * q->size);
	const uint8_t *table = guest_mem_ptr(q->mem, q->desc, 16u * q->size);
	if (!avail || !table)
		goto broken;
	uint16_t idx = ld16(avail + 2);
	uint16_t pending = (uint16_t)(idx - q->last_avail);
	if (!pending)
		return 0;
	if (pending > q->size)
		goto broken; /* the driver cannot have more out than the ring */
	uint16_t head = ld16(avail + 4 + 2 * (q->last_avail % q->size));
	if (head >= q->size)
		goto broken;

	c->head = head;
	c->n = 0;
	c->read_len = c->write_len = 0;
	uint16_t i = head;
	for (unsigned steps = 0;; steps++) {
		struct vring_desc d;
		if (steps == q->size)
			goto broken; /* a loop in the chain */
		memcpy(&d, table + 16 * i, sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (c->n || walk_indirect(q, c, &d) < 0)
				goto broken;
			break;
		}
		if (add_seg(q, c, &d) < 0)
			goto broken;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= q->size)
			goto broken;
		i = d.next;
	}
	q->last_avail++;
	return 1;
broken:
	q->broken = true;
	return -EINVAL;
}

bool virtq_pending(const struct virtq *q)
{
	if (!q->ready || q->broken)
		return false;
	const uint8_t *avail = guest_mem_ptr(q->mem, q->avail, 4);
	return avail && ld16(avail + 2) != q->last_avail;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	uint8_t *used = guest_mem_ptr(q->mem, q->used, 6 + 8u * q->size);
	if (!used)
		return;
	uint8_t *e = used + 4 + 8 * (q->used_idx % q->size);
	uint32_t id = head;
	memcpy(e, &id, 4);
	memcpy(e + 4, &len, 4);
	q->used_idx++;
	/* the entry must be visible before the index that publishes it */
	__atomic_store_n((uint16_t *)(used + 2), q->used_idx, __ATOMIC_RELEASE);
	guest_mem_dirty(q->mem, used, 6 + 8u * q->size);
}

bool virtq_should_notify(const struct virtq *q)
{
	const uint8_t *avail = guest_mem_ptr(q->mem, q->avail, 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !avail || !(ld16(avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

uint64_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst,
			  uint64_t len)
{
	uint8_t *out = dst;
	uint64_t done = 0;
	for (unsigned i = 0; i < c->n && done < len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (s->write)
			break;
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint64_t n = s->len - off;
		if (n > len - done)
			n = len - done;
		memcpy(out + done, s->ptr + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t virtq_chain_write(const struct virtq_chain *c, uint64_t off,
			   const void *src, uint64_t len)
{
	const uint8_t *in = src;
	uint64_t done = 0;
	for (unsigned i = 0; i < c->n && done < len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (!s->write)
			continue;
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint64_t n = s->len - off;
		if (n > len - done)
			n = len - done;
		memcpy(s->ptr + off, in + done, n);
		done += n;
		off = 0;
	}
	return done;
}
