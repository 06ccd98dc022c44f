/*
 * virtio_rng.c - virtio entropy device (virtio 1.2 section 5.4): fills
 * every buffer the driver offers from the host's getrandom().
 */
#include <stdlib.h>
#include <sys/random.h>

#include "lib/xalloc.h"
#include "vmm/virtio_devices.h"

static void notify(struct virtio_dev *v, unsigned qi)
{
	struct virtq *q = &v->q[qi].vq;
	struct virtq_chain *c = xmalloc(sizeof(*c));
	bool any = false;
	unsigned budget = VIRTQ_BUDGET(q);
	while (budget && virtq_pop(q, c) == 1) {
		budget--;
		uint32_t total = 0;
		for (unsigned i = 0; i < c->n; i++) {
			if (!c->seg[i].write)
				continue;
			ssize_t n = getrandom(c->seg[i].ptr, c->seg[i].len, 0);
			if (n > 0)
				total += (uint32_t)n;
			if (n < (ssize_t)c->seg[i].len)
				break;
		}
		virtq_push(q, c->head, total);
		any = true;
	}
	if (!budget)
		virtio_pci_rekick(v, qi);
	free(c);
	if (any)
		virtio_pci_notify_queue(v, qi);
}

static const struct virtio_dev_ops rng_ops = {
    .name = "virtio-rng",
    .device_id = 4,
    .class_code = 0x00ff00,
    .num_queues = 1,
    .queue_size = 64,
    .notify = notify,
};

struct virtio_dev *virtio_rng_new(struct vm *vm, struct pci *bus,
				  struct hull_err *err)
{
	return virtio_pci_new(vm, bus, &rng_ops, 0, NULL, err);
}
