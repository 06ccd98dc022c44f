/*
 * virtio_pci.h - the modern virtio-pci transport (virtio 1.2 section 4.1)
 * for hull-vmm's virtio devices: common/ISR/device/notify capabilities in
 * BAR 0, MSI-X through irqfds with INTx as the fallback, queue
 * notifications through ioeventfds handled on the I/O thread.
 *
 * A device supplies its ID, queues, features, config space and a notify
 * handler that runs on the I/O thread with the device lock held.
 */
#ifndef HULL_VMM_VIRTIO_PCI_H
#define HULL_VMM_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "vmm/guest_mem.h"
#include "vmm/pci.h"
#include "vmm/virtq.h"

#define VIRTIO_MAX_QUEUES 4
#define VIRTIO_MSIX_VECTORS 8
#define VIRTIO_F_VERSION_1 (1ull << 32)

struct virtio_dev;

struct virtio_dev_ops {
	const char *name;
	uint16_t device_id; /* virtio device type (1 net, 2 blk, ...) */
	uint32_t class_code;
	unsigned num_queues;
	uint16_t queue_size;
	/* device config space (BAR 0 + 0x2000) */
	void (*cfg_read)(struct virtio_dev *v, uint64_t off, uint8_t *data,
			 unsigned len);
	void (*cfg_write)(struct virtio_dev *v, uint64_t off,
			  const uint8_t *data, unsigned len);
	/* queue q has new buffers (I/O thread, lock held) */
	void (*notify)(struct virtio_dev *v, unsigned q);
	/* the driver is ready (DRIVER_OK) or reset the device (lock held) */
	void (*ready)(struct virtio_dev *v);
	void (*reset)(struct virtio_dev *v);
};

struct virtio_queue {
	struct virtq vq;
	uint16_t msix_vector;
	uint16_t size;
	bool enabled;
	int kick_fd; /* eventfd: ioeventfd target */
	bool ioeventfd_on;
	uint64_t ioeventfd_addr;
};

struct virtio_dev {
	struct pci_dev pci;
	struct vm *vm;
	const struct virtio_dev_ops *ops;
	void *priv;
	pthread_mutex_t lock;
	struct guest_mem mem;
	uint64_t host_features, guest_features;
	uint32_t dfsel, gfsel;
	uint8_t status, isr, config_gen;
	uint16_t msix_config, qsel;
	struct virtio_queue q[VIRTIO_MAX_QUEUES];
	uint32_t msix[VIRTIO_MSIX_VECTORS][4];
	int irqfd[VIRTIO_MSIX_VECTORS]; /* per vector, -1: KVM_SIGNAL_MSI */
	unsigned msi_gsi;		/* GSI of vector 0 */
	bool msix_was_enabled;
	bool intx_level;
};

/* Creates the device, adds it to the bus, creates its kick eventfds and
 * watches them on the I/O thread. */
struct virtio_dev *virtio_pci_new(struct vm *vm, struct pci *bus,
				  const struct virtio_dev_ops *ops,
				  uint64_t features, void *priv,
				  struct hull_err *err);
/* Interrupts the driver for queue q (used buffers), if it wants one. */
void virtio_pci_notify_queue(struct virtio_dev *v, unsigned q);
/* Schedules another notify(q) on the I/O thread (work left over after a
 * budget). */
void virtio_pci_rekick(struct virtio_dev *v, unsigned q);

/* Snapshot state of the transport and its queues (docs/hull-vmm.md):
 * save returns its length (0: max too small); load checks it matches
 * this device and that every enabled queue's rings lie in guest RAM,
 * then rewires ioeventfds and MSI routes and kicks each enabled queue
 * once. 0 or -EINVAL. */
#define VIRTIO_STATE_MAX 1024
size_t virtio_pci_save(struct virtio_dev *v, uint8_t *buf, size_t max);
int virtio_pci_load(struct virtio_dev *v, const uint8_t *buf, size_t len);

/* Descriptors the device holds, for the confinement step. */
unsigned virtio_pci_fds(struct virtio_dev *v, int *out, unsigned max);
/* Whether the driver accepted feature bit f. */
static inline bool virtio_has(const struct virtio_dev *v, uint64_t f)
{
	return (v->guest_features & f) != 0;
}

/* Helpers for config-space reads of fixed-layout structures. */
void virtio_cfg_copy(const void *cfg, size_t cfg_len, uint64_t off,
		     uint8_t *data, unsigned len);

#endif
