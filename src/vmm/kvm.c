/*
 * kvm.c - the VM object: /dev/kvm, the in-kernel irqchip and PIT, guest
 * memory slots, the port/MMIO bus, and how the VM ends or pauses.
 *
 * Guest RAM is one anonymous mapping. Below 4 GiB it stops at
 * VMM_MMIO_HOLE so PCI BARs, the IOAPIC and the LAPICs have room; the rest
 * is a second memory slot at 4 GiB (the layout the e820 map describes).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "vmm/vm.h"

static int mem_slot_flags(struct vm *vm, uint32_t slot, uint64_t gpa,
			  uint64_t size, void *host, uint32_t flags,
			  struct hull_err *err)
{
	struct kvm_userspace_memory_region r = {
	    .slot = slot,
	    .flags = flags,
	    .guest_phys_addr = gpa,
	    .memory_size = size,
	    .userspace_addr = (uint64_t)(uintptr_t)host,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return hull_err_sys(err, errno, "KVM memory slot %u", slot);
	return 0;
}

static int mem_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
		    void *host, struct hull_err *err)
{
	return mem_slot_flags(vm, slot, gpa, size, host, 0, err);
}

int vm_dirty_log_set(struct vm *vm, bool on, struct hull_err *err)
{
	uint32_t f = on ? KVM_MEM_LOG_DIRTY_PAGES : 0;
	if (mem_slot_flags(vm, 0, 0, vm->low_size, vm->mem, f, err) < 0)
		return -err->code;
	if (vm->mem_size > vm->low_size &&
	    mem_slot_flags(vm, 1, 1ull << 32, vm->mem_size - vm->low_size,
			   vm->mem + vm->low_size, f, err) < 0)
		return -err->code;
	return 0;
}

int vm_dirty_log_get(struct vm *vm, uint64_t *map, struct hull_err *err)
{
	/* low_size is a multiple of 2 MiB (512 pages), so the high slot's
	 * bits start on a word of map */
	uint64_t low_pages = vm->low_size / 4096;
	uint64_t high_pages = (vm->mem_size - vm->low_size) / 4096;
	uint64_t words =
	    (low_pages > high_pages ? low_pages : high_pages) / 64 + 1;
	uint64_t *tmp = calloc(words, 8);
	if (!tmp)
		return hull_err_set(err, ENOMEM, "dirty log");
	for (uint32_t slot = 0; slot < 2; slot++) {
		uint64_t pages = slot ? high_pages : low_pages;
		if (!pages)
			continue;
		memset(tmp, 0, words * 8);
		struct kvm_dirty_log d = {.slot = slot, .dirty_bitmap = tmp};
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0) {
			int e = errno;
			free(tmp);
			return hull_err_sys(err, e, "KVM_GET_DIRTY_LOG");
		}
		uint64_t *dst = map + (slot ? low_pages / 64 : 0);
		for (uint64_t w = 0; w < (pages + 63) / 64; w++)
			dst[w] |= tmp[w];
	}
	free(tmp);
	return 0;
}

void vm_create_none(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->wake_fd = -1;
	vm->exit_reason = VM_RUNNING;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
}

int vm_create(struct vm *vm, const struct vmm_config *cfg, struct hull_err *err)
{
	return vm_create_from(vm, cfg, -1, 0, err);
}

int vm_create_from(struct vm *vm, const struct vmm_config *cfg, int mem_fd,
		   uint64_t mem_off, struct hull_err *err)
{
	vm_create_none(vm);
	vm->ncpus = cfg->cpus;
	vm->cfg = cfg;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return hull_err_sys(err, errno, "open /dev/kvm");
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return hull_err_set(err, ENOTSUP,
				    "/dev/kvm: unsupported API version");
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max > 0 && cfg->cpus > (unsigned)max)
		return hull_err_set(err, ERANGE,
				    "cpus: this host's KVM allows at most %d",
				    max);
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return hull_err_sys(err, errno, "KVM_CREATE_VM");
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, VMM_TSS_ADDR) < 0)
		return hull_err_sys(err, errno, "KVM_SET_TSS_ADDR");
	uint64_t idmap = VMM_TSS_ADDR - 0x1000;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return hull_err_sys(err, errno, "KVM_SET_IDENTITY_MAP_ADDR");
	/*
	 * Memory slots before the irqchip and the PIT: on a nested host each
	 * slot change after them waits for an SRCU grace period (about 6 ms
	 * here), before them it costs microseconds.
	 */
	vm->mem_size = cfg->memory;
	vm->low_size =
	    cfg->memory < VMM_MMIO_HOLE ? cfg->memory : VMM_MMIO_HOLE;
	/* MAP_NORESERVE: untouched guest pages cost nothing on the host. */
	/* From a snapshot: a private file mapping, so restore costs no reads
	 * up front (Firecracker does the same) and holes read as zeros. */
	vm->mem =
	    mem_fd >= 0
		? mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_NORESERVE, mem_fd, (off_t)mem_off)
		: mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		return hull_err_sys(err, errno, "guest memory (%llu bytes)",
				    (unsigned long long)vm->mem_size);
	}
	madvise(vm->mem, vm->mem_size, MADV_DONTDUMP);
	if (mem_slot(vm, 0, 0, vm->low_size, vm->mem, err) < 0)
		return -err->code;
	if (vm->mem_size > vm->low_size &&
	    mem_slot(vm, 1, 1ull << 32, vm->mem_size - vm->low_size,
		     vm->mem + vm->low_size, err) < 0)
		return -err->code;

	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return hull_err_sys(err, errno, "KVM_CREATE_IRQCHIP");
	if (vm_routing_init(vm, err) < 0)
		return -err->code;
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return hull_err_sys(err, errno, "KVM_CREATE_PIT2");

	vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->wake_fd < 0)
		return hull_err_sys(err, errno, "eventfd");
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->ncpus; i++) {
			if (vm->vcpus[i].run)
				munmap(vm->vcpus[i].run, vm->vcpus[i].run_size);
			if (vm->vcpus[i].fd >= 0)
				close(vm->vcpus[i].fd);
		}
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	if (vm->mem)
		munmap(vm->mem, vm->mem_size);
	vm->mem = NULL;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->wake_fd >= 0)
		close(vm->wake_fd);
	vm->vm_fd = vm->kvm_fd = vm->wake_fd = -1;
	free(vm->routing);
	vm->routing = NULL;
}

void *vm_gpa(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (len > vm->mem_size)
		return NULL;
	if (gpa < vm->low_size)
		return len <= vm->low_size - gpa ? vm->mem + gpa : NULL;
	if (gpa < (1ull << 32))
		return NULL;
	uint64_t high = vm->mem_size - vm->low_size;
	uint64_t off = gpa - (1ull << 32);
	if (off >= high || len > high - off)
		return NULL;
	return vm->mem + vm->low_size + off;
}

static int io_register(struct vm_io_range *tab, unsigned *n, uint64_t base,
		       uint64_t len, const struct vm_io_ops *ops, void *dev,
		       struct hull_err *err)
{
	if (*n == VM_IO_MAX)
		return hull_err_set(err, ENOSPC, "too many device ranges");
	for (unsigned i = 0; i < *n; i++)
		if (base < tab[i].base + tab[i].len && tab[i].base < base + len)
			return hull_err_set(
			    err, EEXIST, "device range 0x%llx overlaps another",
			    (unsigned long long)base);
	tab[(*n)++] = (struct vm_io_range){base, len, ops, dev};
	return 0;
}

int vm_pio_register(struct vm *vm, uint16_t base, uint16_t len,
		    const struct vm_io_ops *ops, void *dev,
		    struct hull_err *err)
{
	return io_register(vm->pio, &vm->n_pio, base, len, ops, dev, err);
}

int vm_mmio_register(struct vm *vm, uint64_t base, uint64_t len,
		     const struct vm_io_ops *ops, void *dev,
		     struct hull_err *err)
{
	return io_register(vm->mmio, &vm->n_mmio, base, len, ops, dev, err);
}

static void dispatch(struct vm_io_range *tab, unsigned n, uint64_t addr,
		     uint8_t *data, unsigned len, bool write)
{
	for (unsigned i = 0; i < n; i++) {
		struct vm_io_range *r = &tab[i];
		if (addr >= r->base && addr - r->base < r->len) {
			if (write) {
				if (r->ops->write)
					r->ops->write(r->dev, addr - r->base,
						      data, len);
			} else if (r->ops->read) {
				r->ops->read(r->dev, addr - r->base, data, len);
			} else {
				memset(data, 0xff, len);
			}
			return;
		}
	}
	/* Nothing there: reads float high, as on a real bus. */
	if (!write)
		memset(data, 0xff, len);
}

void vm_pio_dispatch(struct vm *vm, uint16_t port, uint8_t *data, unsigned len,
		     bool write)
{
	dispatch(vm->pio, vm->n_pio, port, data, len, write);
}

void vm_mmio_dispatch(struct vm *vm, uint64_t addr, uint8_t *data, unsigned len,
		      bool write)
{
	dispatch(vm->mmio, vm->n_mmio, addr, data, len, write);
}

void vm_irq_line(struct vm *vm, unsigned gsi, bool level)
{
	struct kvm_irq_level l = {.irq = gsi, .level = level};
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}

void vm_request_exit(struct vm *vm, enum vm_exit_reason why)
{
	uint64_t one = 1;
	pthread_mutex_lock(&vm->lock);
	if (vm->exit_reason == VM_RUNNING)
		vm->exit_reason = why;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	vcpus_kick(vm);
	if (write(vm->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow with one write per exit */
	}
}

void vm_nmi(struct vm *vm)
{
	/* An MSI whose delivery mode is NMI (data bits 10:8 = 100b; the
	 * vector is ignored), physical destination APIC ID 0 (Intel SDM vol.
	 * 3, 11.11): the in-kernel local APIC queues the NMI and kicks the
	 * vCPU, from any thread (KVM_NMI is a vCPU ioctl, which from another
	 * thread would wait for KVM_RUN to return). */
	struct kvm_msi msi = {.address_lo = VMM_LAPIC_ADDR, .data = 4u << 8};
	if (ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		fprintf(stderr, "hull-vmm: NMI: %s\n", strerror(errno));
}

void vm_pause(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->paused = true;
	pthread_mutex_unlock(&vm->lock);
	vcpus_kick(vm);
	/* Wait until every vCPU has left KVM_RUN, so "paused" is true. */
	pthread_mutex_lock(&vm->lock);
	while (vm->running_vcpus && vm->exit_reason == VM_RUNNING)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->paused = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}
