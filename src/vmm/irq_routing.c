/*
 * irq_routing.c - the VM's GSI routing table.
 *
 * hull-vmm keeps KVM's default routing (what KVM_CREATE_IRQCHIP installs:
 * GSIs 0-15 to the 8259s and to IOAPIC pins 0-15, GSIs 16-23 to pins
 * 16-23; the MP table describes exactly that, IRQ 0 on pin 0) and adds one
 * MSI route per virtio MSI-X vector, so each vector is an irqfd the I/O
 * thread signals with a plain write. KVM_SET_GSI_ROUTING replaces the
 * whole table, so the default entries are kept here too; the table is
 * first committed when the guest programs its first MSI-X vector, not at
 * start-up: every commit waits for an SRCU grace period, milliseconds on a
 * busy nested host.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "lib/xalloc.h"
#include "vmm/vm.h"

#define MAX_ROUTES 512
#define FIRST_MSI_GSI 24

static void add(struct kvm_irq_routing *r, struct kvm_irq_routing_entry e)
{
	if (r->nr < MAX_ROUTES)
		r->entries[r->nr++] = e;
}

static int commit(struct vm *vm)
{
	return ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, vm->routing) < 0 ? -errno
								      : 0;
}

int vm_routing_init(struct vm *vm, struct hull_err *err)
{
	pthread_mutex_init(&vm->routing_lock, NULL);
	vm->routing =
	    xcalloc(1, sizeof(*vm->routing) +
			   MAX_ROUTES * sizeof(struct kvm_irq_routing_entry));
	vm->next_msi_gsi = FIRST_MSI_GSI;
	struct kvm_irq_routing *r = vm->routing;
	/* KVM's default table (virt/kvm/irqchip.c), entry for entry */
	for (unsigned i = 0; i < 24; i++) {
		add(r, (struct kvm_irq_routing_entry){
			   .gsi = i,
			   .type = KVM_IRQ_ROUTING_IRQCHIP,
			   .u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC,
					 .pin = i}});
		if (i < 16)
			add(r, (struct kvm_irq_routing_entry){
				   .gsi = i,
				   .type = KVM_IRQ_ROUTING_IRQCHIP,
				   .u.irqchip = {
				       .irqchip = i < 8 ? KVM_IRQCHIP_PIC_MASTER
							: KVM_IRQCHIP_PIC_SLAVE,
				       .pin = i % 8}});
	}
	(void)err;
	return 0;
}

unsigned vm_msi_gsi_alloc(struct vm *vm, unsigned n)
{
	pthread_mutex_lock(&vm->routing_lock);
	unsigned g = vm->next_msi_gsi;
	vm->next_msi_gsi += n;
	pthread_mutex_unlock(&vm->routing_lock);
	return g;
}

int vm_msi_route(struct vm *vm, unsigned gsi, bool enabled, uint32_t addr_lo,
		 uint32_t addr_hi, uint32_t data)
{
	struct kvm_irq_routing *r = vm->routing;
	int ret;
	pthread_mutex_lock(&vm->routing_lock);
	unsigned i;
	for (i = 0; i < r->nr; i++)
		if (r->entries[i].gsi == gsi &&
		    r->entries[i].type == KVM_IRQ_ROUTING_MSI)
			break;
	if (!enabled) {
		if (i < r->nr)
			r->entries[i] = r->entries[--r->nr];
	} else {
		struct kvm_irq_routing_entry e = {
		    .gsi = gsi,
		    .type = KVM_IRQ_ROUTING_MSI,
		    .u.msi = {.address_lo = addr_lo,
			      .address_hi = addr_hi,
			      .data = data}};
		if (i < r->nr)
			r->entries[i] = e;
		else if (r->nr < MAX_ROUTES)
			r->entries[r->nr++] = e;
	}
	ret = commit(vm);
	pthread_mutex_unlock(&vm->routing_lock);
	return ret;
}
