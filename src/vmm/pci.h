/*
 * pci.h - PCI bus 0 with configuration mechanism 1 (ports 0xcf8/0xcfc), a
 * host bridge at 00.0 and one function per device slot. Each device has a
 * 32-bit memory BAR 0 that hull-vmm assigns up front (as firmware would)
 * inside the window at VMM_PCI_MMIO_BASE; guests may size and move it.
 */
#ifndef HULL_VMM_PCI_H
#define HULL_VMM_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "vmm/vm.h"

#define PCI_MAX_SLOTS 32
#define PCI_WINDOW_SIZE (16u << 20)
#define PCI_BAR_SIZE 0x4000u
#define PCI_GSI_BASE 16 /* INTA# of slot n: IOAPIC pin 16 + n % 8 */

struct pci_dev;

struct pci_dev_ops {
	void (*bar_read)(struct pci_dev *d, uint64_t off, uint8_t *data,
			 unsigned len);
	void (*bar_write)(struct pci_dev *d, uint64_t off, const uint8_t *data,
			  unsigned len);
	/* after the guest moved BAR 0 (ioeventfds follow it) */
	void (*bar_moved)(struct pci_dev *d);
	/* after any configuration write (MSI-X enable follows it) */
	void (*cfg_written)(struct pci_dev *d);
};

struct pci_dev {
	uint8_t cfg[256];
	uint8_t wmask[256]; /* bits the guest may write */
	unsigned slot;
	unsigned gsi;
	const struct pci_dev_ops *ops;
	void *priv;
};

struct pci *pci_new(struct vm *vm, struct hull_err *err);
/* Adds a device in the next free slot: fills vendor/device/class, BAR 0,
 * the interrupt pin and line. Returns the slot or -errno. */
int pci_add(struct pci *bus, struct pci_dev *d, uint16_t vendor,
	    uint16_t device, uint32_t class_code, uint16_t subsys,
	    struct hull_err *err);
/* The bus's own snapshot state (devices.h's convention). */
size_t pci_save(struct pci *bus, uint8_t *buf, size_t max);
int pci_load(struct pci *bus, const uint8_t *buf, size_t len);
/* BAR 0's current guest address. */
uint64_t pci_bar0(const struct pci_dev *d);
/* Whether memory decoding is on (command register bit 1). */
bool pci_mem_enabled(const struct pci_dev *d);
/* Number of devices (for the MP table's PCI interrupt entries). */
unsigned pci_slots_used(const struct pci *bus);

#endif
