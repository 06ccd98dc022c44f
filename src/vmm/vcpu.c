/*
 * vcpu.c - vCPU threads: creation, CPUID and boot register state, and the
 * KVM_RUN loop that hands port and MMIO exits to the bus.
 *
 * The boot vCPU starts in 32-bit protected mode with paging off and flat
 * segments (CS 0x10, data 0x18 as the Linux boot protocol documents); the
 * same state serves the bzImage 32-bit entry (ESI = zero page) and the PVH
 * entry (EBX = hvm_start_info). The other vCPUs wait in the in-kernel LAPIC
 * for INIT/SIPI from the guest, as on real hardware.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "lib/xalloc.h"
#include "vmm/devices.h"
#include "vmm/vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd, struct hull_err *err)
{
	for (unsigned n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = xcalloc(
		    1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		int e = errno;
		free(c);
		if (e != E2BIG) {
			hull_err_sys(err, e, "KVM_GET_SUPPORTED_CPUID");
			return NULL;
		}
	}
	hull_err_set(err, E2BIG, "KVM_GET_SUPPORTED_CPUID: too many entries");
	return NULL;
}

/* A sane topology: one socket, ncpus cores, one thread each; the APIC ID is
 * the vCPU index. */
static void cpuid_fixup(struct kvm_cpuid2 *c, unsigned id, unsigned ncpus)
{
	unsigned shift = 0;
	while ((1u << shift) < ncpus)
		shift++;
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffff) | (id << 24) |
				 ((ncpus > 1 ? ncpus : 1) << 16);
			e->ecx |= 1u << 31; /* running under a hypervisor */
			if (ncpus > 1)
				e->edx |=
				    1u
				    << 28; /* HTT: more than one logical CPU */
			break;
		case 0xb:
			e->edx = id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = shift;
				e->ebx = ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008:
			/* AMD: cores per package - 1, and the APIC ID bits that
			 * number them (APM vol. 3, CPUID Fn8000_0008 ECX) */
			e->ecx = (e->ecx & ~0xf0ffu) | (shift << 12) |
				 ((ncpus - 1) & 0xff);
			break;
		case 0x8000001e:
			e->eax = id;	    /* extended APIC ID */
			e->ebx = id & 0xff; /* core ID; one thread per core */
			e->ecx = 0;	    /* node 0, one node */
			break;
		default:
			break;
		}
	}
}

static int lapic_setup(struct vcpu *v, struct hull_err *err)
{
	struct kvm_lapic_state l;
	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return hull_err_sys(err, errno, "KVM_GET_LAPIC");
	/* LINT0 = ExtINT (the 8259 path), LINT1 = NMI, as a PC's BIOS leaves
	 * them (Intel SDM 10.5.1). */
	uint32_t *lvt0 = (uint32_t *)&l.regs[0x350];
	uint32_t *lvt1 = (uint32_t *)&l.regs[0x360];
	*lvt0 = (*lvt0 & ~0x700u & ~0x10000u) | (7u << 8);
	*lvt1 = (*lvt1 & ~0x700u & ~0x10000u) | (4u << 8);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0)
		return hull_err_sys(err, errno, "KVM_SET_LAPIC");
	return 0;
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = sel,
	    .type = type,
	    .present = 1,
	    .dpl = 0,
	    .db = 1,
	    .s = 1,
	    .l = 0,
	    .g = 1,
	};
}

static int boot_state(struct vcpu *v, struct hull_err *err)
{
	struct vm *vm = v->vm;
	struct kvm_sregs s;
	struct kvm_regs r;
	struct kvm_fpu fpu;

	/* The GDT the selectors refer to: null, null, code 0x10, data 0x18,
	 * TSS 0x20. Linux and the PVH guests load their own soon after. */
	uint64_t *gdt = vm_gpa(vm, VMM_GDT_ADDR, 5 * 8);
	if (!gdt)
		return hull_err_set(err, ENOMEM,
				    "guest memory too small for the GDT");
	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = 0x00cf9b000000ffffull;
	gdt[3] = 0x00cf93000000ffffull;
	gdt[4] = 0x00008b0000000067ull;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return hull_err_sys(err, errno, "KVM_GET_SREGS");
	seg_flat(&s.cs, 0x10, 0xb);
	seg_flat(&s.ds, 0x18, 0x3);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.tr = (struct kvm_segment){.base = 0,
				    .limit = 0x67,
				    .selector = 0x20,
				    .type = 0xb,
				    .present = 1};
	s.ldt = (struct kvm_segment){.selector = 0,
				     .type = 2,
				     .present = 1,
				     .limit = 0xffff,
				     .unusable = 0};
	s.gdt.base = VMM_GDT_ADDR;
	s.gdt.limit = 5 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = 0x11; /* PE | ET, paging off */
	s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return hull_err_sys(err, errno, "KVM_SET_SREGS");

	memset(&r, 0, sizeof(r));
	r.rflags = 0x2;
	r.rip = vm->entry;
	r.rsi = vm->entry_esi;
	r.rbx = vm->entry_ebx;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return hull_err_sys(err, errno, "KVM_SET_REGS");

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return hull_err_sys(err, errno, "KVM_SET_FPU");
	return 0;
}

int vcpus_create(struct vm *vm, struct hull_err *err)
{
	int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return hull_err_sys(err, errno, "KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_cpuid2 *cpuid = supported_cpuid(vm->kvm_fd, err);
	if (!cpuid)
		return -err->code;

	vm->vcpus = xcalloc(vm->ncpus, sizeof(*vm->vcpus));
	for (unsigned i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	int r = 0;
	for (unsigned i = 0; i < vm->ncpus && r == 0; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->vm = vm;
		v->id = i;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i);
		if (v->fd < 0) {
			r = hull_err_sys(err, errno, "KVM_CREATE_VCPU %u", i);
			break;
		}
		v->run_size = (size_t)run_size;
		v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			r = hull_err_sys(err, errno, "mmap vCPU %u", i);
			break;
		}
		cpuid_fixup(cpuid, i, vm->ncpus);
		if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0) {
			r = hull_err_sys(err, errno, "KVM_SET_CPUID2");
			break;
		}
		if ((r = lapic_setup(v, err)) < 0)
			break;
		if (i == 0 && !vm->restoring && (r = boot_state(v, err)) < 0)
			break;
	}
	free(cpuid);
	return r;
}

/* Returns false when the VM is ending; blocks while it is paused. */
static bool vcpu_may_run(struct vcpu *v)
{
	struct vm *vm = v->vm;
	bool ok;
	pthread_mutex_lock(&vm->lock);
	if (vm->paused) {
		vm->running_vcpus--;
		pthread_cond_broadcast(&vm->cond);
		while (vm->paused && vm->exit_reason == VM_RUNNING)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->running_vcpus++;
	}
	ok = vm->exit_reason == VM_RUNNING;
	v->run->immediate_exit = 0;
	pthread_mutex_unlock(&vm->lock);
	return ok;
}

static void report_internal(struct vcpu *v, const char *what)
{
	struct kvm_regs r;
	ioctl(v->fd, KVM_GET_REGS, &r);
	fprintf(stderr, "hull-vmm: vCPU %u: %s at rip 0x%llx\n", v->id, what,
		(unsigned long long)r.rip);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;

	while (vcpu_may_run(v)) {
		if (v->id == 0 && !boot_timer_run_ns) {
			boot_timer_run_ns = boot_timer_now();
			/* a restored guest's next instruction runs now */
			if (vm->restoring && vm->cfg->boot_timer)
				fprintf(stderr,
					"hull-vmm: restore timer: main %lld "
					"run %lld\n",
					(long long)boot_timer_main_ns,
					(long long)boot_timer_run_ns);
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			report_internal(v, "KVM_RUN failed");
			vm_request_exit(vm, VM_EXIT_ERROR);
			break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *p = (uint8_t *)run + run->io.data_offset;
			for (uint32_t i = 0; i < run->io.count;
			     i++, p += run->io.size)
				vm_pio_dispatch(
				    vm, run->io.port, p, run->io.size,
				    run->io.direction == KVM_EXIT_IO_OUT);
			break;
		}
		case KVM_EXIT_MMIO:
			vm_mmio_dispatch(vm, run->mmio.phys_addr,
					 run->mmio.data, run->mmio.len,
					 run->mmio.is_write);
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_SHUTDOWN:
			if (getenv("HULL_VMM_DEBUG")) {
				struct kvm_sregs sr;
				ioctl(v->fd, KVM_GET_SREGS, &sr);
				report_internal(v, "triple fault");
				fprintf(
				    stderr,
				    "cr0 %llx cr3 %llx cr4 %llx efer %llx\n",
				    sr.cr0, sr.cr3, sr.cr4, sr.efer);
			}
			/* a triple fault resets a PC: Linux reboots this way
			 * last */
			vm_request_exit(vm, VM_EXIT_REBOOT);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			vm_request_exit(vm, run->system_event.type ==
						    KVM_SYSTEM_EVENT_RESET
						? VM_EXIT_REBOOT
						: VM_EXIT_POWEROFF);
			break;
		case KVM_EXIT_HLT:
			vm_request_exit(vm, VM_EXIT_POWEROFF);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			fprintf(
			    stderr,
			    "hull-vmm: vCPU %u: entry failed, reason 0x%llx\n",
			    v->id,
			    (unsigned long long)
				run->fail_entry.hardware_entry_failure_reason);
			vm_request_exit(vm, VM_EXIT_ERROR);
			break;
		case KVM_EXIT_INTERNAL_ERROR: {
			char what[64];
			snprintf(what, sizeof(what), "KVM internal error %u",
				 run->internal.suberror);
			report_internal(v, what);
			vm_request_exit(vm, VM_EXIT_ERROR);
			break;
		}
		default: {
			char what[64];
			snprintf(what, sizeof(what), "unhandled exit %u",
				 run->exit_reason);
			report_internal(v, what);
			vm_request_exit(vm, VM_EXIT_ERROR);
			break;
		}
		}
	}
	if (getenv("HULL_VMM_DEBUG")) {
		struct kvm_sregs sr;
		ioctl(v->fd, KVM_GET_SREGS, &sr);
		report_internal(v, "stopped");
		fprintf(stderr,
			"cr0 %llx cr3 %llx cr4 %llx efer %llx exits %u\n",
			sr.cr0, sr.cr3, sr.cr4, sr.efer, run->exit_reason);
	}
	pthread_mutex_lock(&vm->lock);
	vm->running_vcpus--;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int vcpus_start(struct vm *vm, struct hull_err *err)
{
	struct sigaction sa = {.sa_handler = kick_handler};
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: the kick must make KVM_RUN return EINTR */
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return hull_err_sys(err, errno, "sigaction");
	vm->running_vcpus = vm->ncpus;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		int e = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread,
				       &vm->vcpus[i]);
		if (e) {
			pthread_mutex_lock(&vm->lock);
			vm->running_vcpus -= vm->ncpus - i;
			pthread_mutex_unlock(&vm->lock);
			vm_request_exit(vm, VM_EXIT_ERROR);
			return hull_err_sys(err, e, "vCPU thread");
		}
		vm->vcpus[i].started = true;
	}
	return 0;
}

void vcpus_wait_parked(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	while (vm->running_vcpus && vm->exit_reason == VM_RUNNING)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

void vcpus_kick(struct vm *vm)
{
	if (!vm->vcpus)
		return;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		/* immediate_exit covers a kick that lands just before KVM_RUN
		 */
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	}
}

void vcpus_join(struct vm *vm)
{
	if (!vm->vcpus)
		return;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].started = false;
		}
}
