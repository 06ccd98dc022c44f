/*
 * vm.h - one virtual machine: its KVM handles, guest memory, vCPUs and the
 * port/MMIO bus the devices hang on.
 *
 * Threads: one per vCPU (KVM_RUN, dispatching exits to the bus) and one I/O
 * thread (epoll over consoles, sockets, ioeventfds, taps). Devices guard
 * their own state with a mutex; the bus table itself is fixed before the
 * first vCPU starts and read-only afterwards.
 */
#ifndef HULL_VMM_VM_H
#define HULL_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "vmm/config.h"
#include "vmm/disk.h"

struct kvm_irq_routing;

/* Guest physical layout (see docs/hull-vmm.md). */
#define VMM_GDT_ADDR 0x500
#define VMM_PVH_INFO_ADDR 0x6000
#define VMM_PVH_MEMMAP_ADDR 0x6800
#define VMM_ZERO_PAGE_ADDR 0x7000
#define VMM_CMDLINE_ADDR 0x20000
#define VMM_ACPI_ADDR 0xe0000
#define VMM_MPTABLE_ADDR 0xf0000
#define VMM_SMBIOS_ADDR 0xf1000
#define VMM_KERNEL_ADDR 0x100000
#define VMM_LOW_RAM_END 0x9fc00
#define VMM_MMIO_HOLE 0xc0000000ull /* RAM stops here below 4 GiB */
#define VMM_PCI_MMIO_BASE 0xe0000000ull
#define VMM_IOAPIC_ADDR 0xfec00000ull
#define VMM_LAPIC_ADDR 0xfee00000ull
#define VMM_TSS_ADDR 0xfffbd000ull

/* How the VM ended; the process exit status (docs/hull-vmm.md). */
enum vm_exit_reason {
	VM_RUNNING = -1,
	VM_EXIT_POWEROFF = 0,
	VM_EXIT_ERROR = 1,
	VM_EXIT_REBOOT = 2,
	VM_EXIT_STOPPED = 3,
	VM_EXIT_MIGRATED = 4, /* handed over to a live migration's target */
};

struct vm;

/* A port or MMIO range handler: data is len bytes (1, 2, 4 or 8). */
struct vm_io_ops {
	void (*read)(void *dev, uint64_t off, uint8_t *data, unsigned len);
	void (*write)(void *dev, uint64_t off, const uint8_t *data,
		      unsigned len);
};

struct vm_io_range {
	uint64_t base, len;
	const struct vm_io_ops *ops;
	void *dev;
};

#define VM_IO_MAX 64

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	uint8_t *mem;	   /* one mapping, GPA 0..low, then 4G.. as high */
	uint64_t mem_size; /* total guest RAM */
	uint64_t low_size; /* RAM below VMM_MMIO_HOLE */
	unsigned ncpus;
	struct vcpu *vcpus;
	struct vm_io_range pio[VM_IO_MAX];
	unsigned n_pio;
	struct vm_io_range mmio[VM_IO_MAX];
	unsigned n_mmio;

	pthread_mutex_t lock; /* exit_reason, paused */
	pthread_cond_t cond;
	int exit_reason;
	bool paused;
	bool restoring; /* state comes from a snapshot: no boot set-up */
	unsigned running_vcpus; /* vCPUs currently outside their pause wait */
	int wake_fd;		/* eventfd: the main loop wakes on any exit */

	/* entry state for the boot vCPU, from the kernel loader */
	uint64_t entry;
	uint64_t entry_esi, entry_ebx;

	const struct vmm_config *cfg;
	struct serial *com1, *com2;
	struct i8042 *kbd;
	struct pm *pm;	 /* ACPI PM registers (pm.c) */
	struct rtc *rtc; /* CMOS (rtc.c) */
	struct pci *pci;
	struct disk disks[VMM_MAX_DISKS];
	unsigned n_disks;
	struct virtio_dev *virtio[VMM_MAX_DISKS + VMM_MAX_NETS + 2];
	unsigned n_virtio;
	struct virtio_dev *vcon; /* --virtio-console, or NULL */

	/* GSI routing (irq_routing.c): the PC's ISA and IOAPIC lines, then one
	 * MSI route per virtio MSI-X vector, for irqfds */
	pthread_mutex_t routing_lock;
	struct kvm_irq_routing *routing;
	unsigned next_msi_gsi;

	/* live migration (migrate.c): pages devices wrote, while one runs */
	uint64_t *dev_dirty;
	struct migration *mig;
	/* a live migration's target: the source's disk sizes (MIG_DISKS),
	 * mig_n_disks -1 where the stream (version 1) gave none */
	uint64_t mig_disk_size[VMM_MAX_DISKS];
	int mig_n_disks;
};

/* Prepares the GSI routing table (KVM's default, uncommitted). */
int vm_routing_init(struct vm *vm, struct hull_err *err);
/* Reserves n consecutive GSIs for MSI routes; returns the first. */
unsigned vm_msi_gsi_alloc(struct vm *vm, unsigned n);
/* Points gsi at an MSI message (enabled) or removes its route; commits
 * the table. Returns 0 or -errno. */
int vm_msi_route(struct vm *vm, unsigned gsi, bool enabled, uint32_t addr_lo,
		 uint32_t addr_hi, uint32_t data);

int vm_create(struct vm *vm, const struct vmm_config *cfg,
	      struct hull_err *err);
/* The same with guest RAM mapped privately from mem_fd at mem_off (a
 * page-aligned offset; a snapshot's memory image): pages are read when
 * the guest first touches them, and its writes stay in this process.
 * mem_fd may be closed afterwards. */
int vm_create_from(struct vm *vm, const struct vmm_config *cfg, int mem_fd,
		   uint64_t mem_off, struct hull_err *err);
/* An empty VM that vm_destroy accepts (a start that failed early). */
void vm_create_none(struct vm *vm);
void vm_destroy(struct vm *vm);

/* Guest memory access, bounds-checked: NULL when [gpa, gpa+len) is not all
 * guest RAM. */
void *vm_gpa(struct vm *vm, uint64_t gpa, uint64_t len);

/* Registers a port-I/O or MMIO range (before the vCPUs start). */
int vm_pio_register(struct vm *vm, uint16_t base, uint16_t len,
		    const struct vm_io_ops *ops, void *dev,
		    struct hull_err *err);
int vm_mmio_register(struct vm *vm, uint64_t base, uint64_t len,
		     const struct vm_io_ops *ops, void *dev,
		     struct hull_err *err);

/* Raises or lowers a GSI line on the in-kernel irqchip. */
void vm_irq_line(struct vm *vm, unsigned gsi, bool level);

/* Ends the VM with this reason (first reason wins). Thread-safe. */
void vm_request_exit(struct vm *vm, enum vm_exit_reason why);

/* Sends vCPU 0 an NMI (control socket's "nmi"), as an NMI message to
 * its local APIC (APIC ID 0): thread-safe, and KVM wakes a halted vCPU
 * for it. A paused VM takes it when resumed. */
void vm_nmi(struct vm *vm);

/* KVM's dirty page log on every memory slot (live migration): start
 * and stop logging; fetch-and-clear ORs the pages written since the last
 * call into map, one bit per page of RAM (counted as one run, low slot
 * then high). Thread-safe against running vCPUs. */
int vm_dirty_log_set(struct vm *vm, bool on, struct hull_err *err);
int vm_dirty_log_get(struct vm *vm, uint64_t *map, struct hull_err *err);

/* Pause/resume every vCPU (control socket). */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);

/* vCPUs: create (after memory), set the boot state, start, join. */
int vcpus_create(struct vm *vm, struct hull_err *err);
int vcpus_start(struct vm *vm, struct hull_err *err);
void vcpus_kick(struct vm *vm);
/* Waits until every started vCPU thread sits in its pause wait (started
 * with vm->paused set): thread start-up is over, so its system calls
 * (rseq, robust lists) are done before the filter goes on. */
void vcpus_wait_parked(struct vm *vm);
void vcpus_join(struct vm *vm);

/* Dispatch one port/MMIO access to the bus (used by the vCPU loop). */
void vm_pio_dispatch(struct vm *vm, uint16_t port, uint8_t *data, unsigned len,
		     bool write);
void vm_mmio_dispatch(struct vm *vm, uint64_t addr, uint8_t *data, unsigned len,
		      bool write);

#endif
