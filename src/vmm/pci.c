/*
 * pci.c - configuration mechanism 1 and the BAR window. Configuration
 * space is a byte array per function with a write mask, so read-only
 * fields stay read-only whatever the guest writes; BAR 0 follows the
 * sizing protocol (write all ones, read back the size mask).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "vmm/pci.h"

struct pci {
	pthread_mutex_t lock;
	struct vm *vm;
	uint32_t addr;	     /* 0xcf8 */
	struct pci_dev host; /* 00.0 */
	struct pci_dev *slots[PCI_MAX_SLOTS];
	unsigned next_slot;
};

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

uint64_t pci_bar0(const struct pci_dev *d)
{
	uint32_t v;
	memcpy(&v, d->cfg + 0x10, 4);
	return v & ~0xfu;
}

bool pci_mem_enabled(const struct pci_dev *d)
{
	return d->cfg[0x04] & 0x02;
}

unsigned pci_slots_used(const struct pci *bus)
{
	return bus->next_slot;
}

static struct pci_dev *lookup(struct pci *bus, uint32_t addr)
{
	if (!(addr & 0x80000000u))
		return NULL;
	unsigned busno = (addr >> 16) & 0xff, dev = (addr >> 11) & 0x1f,
		 fn = (addr >> 8) & 7;
	if (busno != 0 || fn != 0)
		return NULL;
	return bus->slots[dev];
}

static void cfg_write_byte(struct pci_dev *d, unsigned off, uint8_t v)
{
	d->cfg[off] =
	    (uint8_t)((d->cfg[off] & ~d->wmask[off]) | (v & d->wmask[off]));
}

static void cfg_write(struct pci_dev *d, unsigned off, const uint8_t *data,
		      unsigned len)
{
	uint64_t old_bar = pci_bar0(d);
	for (unsigned i = 0; i < len && off + i < 256; i++)
		cfg_write_byte(d, off + i, data[i]);
	if (off < 0x14 && off + len > 0x10 && d->ops &&
	    pci_bar0(d) != old_bar && d->ops->bar_moved)
		d->ops->bar_moved(d);
}

static void data_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct pci *bus = dev;
	pthread_mutex_lock(&bus->lock);
	struct pci_dev *d = lookup(bus, bus->addr);
	unsigned reg = (bus->addr & 0xfc) + (unsigned)off;
	for (unsigned i = 0; i < len; i++)
		data[i] = d && reg + i < 256 ? d->cfg[reg + i] : 0xff;
	pthread_mutex_unlock(&bus->lock);
}

static void data_write(void *dev, uint64_t off, const uint8_t *data,
		       unsigned len)
{
	struct pci *bus = dev;
	pthread_mutex_lock(&bus->lock);
	struct pci_dev *d = lookup(bus, bus->addr);
	if (d)
		cfg_write(d, (bus->addr & 0xfc) + (unsigned)off, data, len);
	pthread_mutex_unlock(&bus->lock);
	/* outside the bus lock: the device takes its own */
	if (d && d->ops && d->ops->cfg_written)
		d->ops->cfg_written(d);
}

static void addr_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct pci *bus = dev;
	uint32_t v = bus->addr;
	memset(data, 0xff, len);
	if (len == 4)
		memcpy(data, &v, 4);
}

static void addr_write(void *dev, uint64_t off, const uint8_t *data,
		       unsigned len)
{
	struct pci *bus = dev;
	/* only dword writes select a register (byte writes to 0xcf9 are the
	 * reset control, handled in pm.c) */
	if (len == 4) {
		pthread_mutex_lock(&bus->lock);
		memcpy(&bus->addr, data, 4);
		pthread_mutex_unlock(&bus->lock);
	}
}

static struct pci_dev *bar_lookup(struct pci *bus, uint64_t addr, uint64_t *off)
{
	for (unsigned s = 1; s < bus->next_slot; s++) {
		struct pci_dev *d = bus->slots[s];
		uint64_t base = pci_bar0(d);
		if (pci_mem_enabled(d) && addr >= base &&
		    addr - base < PCI_BAR_SIZE) {
			*off = addr - base;
			return d;
		}
	}
	return NULL;
}

static void window_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct pci *bus = dev;
	uint64_t boff;
	pthread_mutex_lock(&bus->lock);
	struct pci_dev *d = bar_lookup(bus, VMM_PCI_MMIO_BASE + off, &boff);
	pthread_mutex_unlock(&bus->lock);
	if (d && d->ops->bar_read)
		d->ops->bar_read(d, boff, data, len);
	else
		memset(data, 0xff, len);
}

static void window_write(void *dev, uint64_t off, const uint8_t *data,
			 unsigned len)
{
	struct pci *bus = dev;
	uint64_t boff;
	pthread_mutex_lock(&bus->lock);
	struct pci_dev *d = bar_lookup(bus, VMM_PCI_MMIO_BASE + off, &boff);
	pthread_mutex_unlock(&bus->lock);
	if (d && d->ops->bar_write)
		d->ops->bar_write(d, boff, data, len);
}

static const struct vm_io_ops addr_ops = {addr_read, addr_write};
static const struct vm_io_ops data_ops = {data_read, data_write};
static const struct vm_io_ops window_ops = {window_read, window_write};

struct pci *pci_new(struct vm *vm, struct hull_err *err)
{
	struct pci *bus = xcalloc(1, sizeof(*bus));
	pthread_mutex_init(&bus->lock, NULL);
	bus->vm = vm;
	/* 00.0: a host bridge, so guests that expect one find it */
	put16(bus->host.cfg + 0x00, 0x8086);
	put16(bus->host.cfg + 0x02, 0x1237);
	bus->host.cfg[0x0b] = 0x06; /* bridge */
	bus->slots[0] = &bus->host;
	bus->next_slot = 1;
	if (vm_pio_register(vm, 0xcf8, 1, &addr_ops, bus, err) < 0 ||
	    vm_pio_register(vm, 0xcfc, 4, &data_ops, bus, err) < 0 ||
	    vm_mmio_register(vm, VMM_PCI_MMIO_BASE, PCI_WINDOW_SIZE,
			     &window_ops, bus, err) < 0) {
		free(bus);
		return NULL;
	}
	return bus;
}

int pci_add(struct pci *bus, struct pci_dev *d, uint16_t vendor,
	    uint16_t device, uint32_t class_code, uint16_t subsys,
	    struct hull_err *err)
{
	if (bus->next_slot == PCI_MAX_SLOTS ||
	    (uint64_t)bus->next_slot * PCI_BAR_SIZE >= PCI_WINDOW_SIZE)
		return hull_err_set(err, ENOSPC, "too many PCI devices");
	unsigned slot = bus->next_slot++;
	d->slot = slot;
	d->gsi = PCI_GSI_BASE + slot % 8;
	put16(d->cfg + 0x00, vendor);
	put16(d->cfg + 0x02, device);
	put16(d->cfg + 0x06, 0x0010); /* capability list */
	d->cfg[0x08] = 0x01;	      /* revision (virtio 1) */
	d->cfg[0x09] = (uint8_t)class_code;
	d->cfg[0x0a] = (uint8_t)(class_code >> 8);
	d->cfg[0x0b] = (uint8_t)(class_code >> 16);
	put32(d->cfg + 0x10,
	      (uint32_t)(VMM_PCI_MMIO_BASE + slot * PCI_BAR_SIZE));
	put16(d->cfg + 0x2c, vendor);
	put16(d->cfg + 0x2e, subsys);
	d->cfg[0x3c] = (uint8_t)d->gsi; /* interrupt line */
	d->cfg[0x3d] = 0x01;		/* INTA# */
	/* writable: command (I/O, memory, bus master, INTx disable), BAR 0
	 * above its size, interrupt line */
	d->wmask[0x04] = 0x07;
	d->wmask[0x05] = 0x04;
	put32(d->wmask + 0x10, ~(PCI_BAR_SIZE - 1));
	d->wmask[0x3c] = 0xff;
	bus->slots[slot] = d;
	return (int)slot;
}

/* Snapshot state (docs/hull-vmm.md): the configuration address register;
 * each device's configuration space is its own state. */
size_t pci_save(struct pci *bus, uint8_t *buf, size_t max)
{
	if (max < 4)
		return 0;
	pthread_mutex_lock(&bus->lock);
	memcpy(buf, &bus->addr, 4);
	pthread_mutex_unlock(&bus->lock);
	return 4;
}

int pci_load(struct pci *bus, const uint8_t *buf, size_t len)
{
	if (len != 4)
		return -EINVAL;
	pthread_mutex_lock(&bus->lock);
	memcpy(&bus->addr, buf, 4);
	pthread_mutex_unlock(&bus->lock);
	return 0;
}
