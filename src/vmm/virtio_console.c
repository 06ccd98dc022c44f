/*
 * virtio_console.c - virtio console (virtio 1.2 section 5.3), one port, no
 * multiport: a second console (hvc0 in Linux) on the same back end as COM1.
 * Output goes wherever COM1's goes; once the driver is ready, input goes
 * to this console instead of COM1. Bytes typed while the driver has no
 * receive buffer wait in a small ring.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "vmm/console.h"
#include "vmm/virtio_devices.h"

#define RXQ 0
#define TXQ 1
#define PENDING 4096

struct vcon {
	struct console *con;
	uint8_t pending[PENDING];
	size_t npending;
	uint8_t out[4096];
};

static void cfg_read(struct virtio_dev *v, uint64_t off, uint8_t *data,
		     unsigned len)
{
	memset(data, 0, len); /* cols, rows, ports: none offered */
}

static void flush_rx(struct virtio_dev *v)
{
	struct vcon *c = v->priv;
	struct virtq *q = &v->q[RXQ].vq;
	struct virtq_chain *ch = xmalloc(sizeof(*ch));
	bool any = false;
	while (c->npending && v->q[RXQ].enabled && virtq_pop(q, ch) == 1) {
		uint64_t n = virtq_chain_write(ch, 0, c->pending, c->npending);
		memmove(c->pending, c->pending + n, c->npending - n);
		c->npending -= n;
		virtq_push(q, ch->head, (uint32_t)n);
		any = true;
	}
	free(ch);
	if (any)
		virtio_pci_notify_queue(v, RXQ);
}

static void tx(struct virtio_dev *v)
{
	struct vcon *c = v->priv;
	struct virtq *q = &v->q[TXQ].vq;
	struct virtq_chain *ch = xmalloc(sizeof(*ch));
	bool any = false;
	unsigned budget = VIRTQ_BUDGET(q);
	while (budget && virtq_pop(q, ch) == 1) {
		budget--;
		for (uint64_t off = 0; off < ch->read_len;) {
			uint64_t n =
			    virtq_chain_read(ch, off, c->out, sizeof(c->out));
			if (!n)
				break;
			if (c->con)
				console_output(c->con, c->out, n);
			off += n;
		}
		virtq_push(q, ch->head, 0);
		any = true;
	}
	if (!budget)
		virtio_pci_rekick(v, TXQ);
	free(ch);
	if (any)
		virtio_pci_notify_queue(v, TXQ);
}

static void notify(struct virtio_dev *v, unsigned qi)
{
	if (qi == TXQ)
		tx(v);
	else
		flush_rx(v);
}

static const struct virtio_dev_ops vcon_ops = {
    .name = "virtio-console",
    .device_id = 3,
    .class_code = 0x078000,
    .num_queues = 2,
    .queue_size = 64,
    .cfg_read = cfg_read,
    .notify = notify,
};

struct virtio_dev *virtio_console_new(struct vm *vm, struct pci *bus,
				      struct hull_err *err)
{
	struct vcon *c = xcalloc(1, sizeof(*c));
	struct virtio_dev *v = virtio_pci_new(vm, bus, &vcon_ops, 0, c, err);
	if (!v)
		free(c);
	return v;
}

void virtio_console_attach(struct virtio_dev *v, struct console *con)
{
	struct vcon *c = v->priv;
	c->con = con;
}

bool virtio_console_input(struct virtio_dev *v, const uint8_t *buf, size_t len)
{
	struct vcon *c = v->priv;
	bool taken = false;
	pthread_mutex_lock(&v->lock);
	if ((v->status & 4) && v->q[RXQ].enabled) {
		size_t n =
		    len < PENDING - c->npending ? len : PENDING - c->npending;
		memcpy(c->pending + c->npending, buf, n);
		c->npending += n;
		flush_rx(v);
		taken = true;
	}
	pthread_mutex_unlock(&v->lock);
	return taken;
}
