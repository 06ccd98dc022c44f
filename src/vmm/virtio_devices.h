/*
 * virtio_devices.h - the virtio devices hull-vmm offers, one file each.
 */
#ifndef HULL_VMM_VIRTIO_DEVICES_H
#define HULL_VMM_VIRTIO_DEVICES_H

#include "lib/err.h"
#include "vmm/config.h"
#include "vmm/disk.h"
#include "vmm/pci.h"
#include "vmm/virtio_pci.h"

struct virtio_dev *virtio_blk_new(struct vm *vm, struct pci *bus,
				  struct disk *disk, struct hull_err *err);
struct virtio_dev *virtio_rng_new(struct vm *vm, struct pci *bus,
				  struct hull_err *err);
/* A tap (opened by name, or an fd given to us) with vnet headers. */
struct virtio_dev *virtio_net_new(struct vm *vm, struct pci *bus,
				  const struct vmm_net_config *nc,
				  struct hull_err *err);

struct console;
/* A virtio console sharing COM1's back end (attach once it is open). */
struct virtio_dev *virtio_console_new(struct vm *vm, struct pci *bus,
				      struct hull_err *err);
void virtio_console_attach(struct virtio_dev *v, struct console *con);
/* Offers typed bytes; false when the driver is not ready (COM1 gets them). */
bool virtio_console_input(struct virtio_dev *v, const uint8_t *buf, size_t len);

/* After a live migration: tells the switches the nic's MAC is behind
 * this tap now (a RARP broadcast, as QEMU announces; no-op for other
 * devices). */
void virtio_net_announce(struct virtio_dev *v);

/* The tap descriptor of a virtio-net device (0 for other devices). */
unsigned virtio_net_fds(struct virtio_dev *v, int *out, unsigned max);

#endif
