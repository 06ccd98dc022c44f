/*
 * e820.c - the guest memory map.
 *
 * Low memory ends at 0x9fc00 as on a PC (the last KiB is the EBDA's place,
 * reserved); 0xe0000-0xfffff is the BIOS area holding the ACPI tables, the
 * MP table and the SMBIOS tables, where guests scan for them. RAM resumes at 1
 * MiB up to the PCI hole at 3 GiB and continues at 4 GiB.
 */
#include "vmm/e820.h"
#include "vmm/vm.h"

unsigned e820_build(uint64_t mem_size, struct e820_entry *out)
{
	unsigned n = 0;
	uint64_t low = mem_size < VMM_MMIO_HOLE ? mem_size : VMM_MMIO_HOLE;

	out[n++] = (struct e820_entry){0, VMM_LOW_RAM_END, E820_RAM};
	out[n++] = (struct e820_entry){
	    VMM_LOW_RAM_END, 0xa0000 - VMM_LOW_RAM_END, E820_RESERVED};
	out[n++] = (struct e820_entry){VMM_ACPI_ADDR, 0x100000 - VMM_ACPI_ADDR,
				       E820_RESERVED};
	out[n++] = (struct e820_entry){VMM_KERNEL_ADDR, low - VMM_KERNEL_ADDR,
				       E820_RAM};
	if (mem_size > low)
		out[n++] =
		    (struct e820_entry){1ull << 32, mem_size - low, E820_RAM};
	return n;
}
