/*
 * e820.h - the guest's memory map, as both boot protocols hand it over.
 * Pure: a memory size in, the table out (unit-tested).
 */
#ifndef HULL_VMM_E820_H
#define HULL_VMM_E820_H

#include <stdint.h>

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_MAX 8

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Fills out (E820_MAX entries) for mem_size bytes of RAM laid out as
 * kvm.c maps it; returns the entry count. */
unsigned e820_build(uint64_t mem_size, struct e820_entry *out);

#endif
