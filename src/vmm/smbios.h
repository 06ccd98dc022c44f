/*
 * smbios.h - SMBIOS 2.8 tables (DMTF DSP0134) at VMM_SMBIOS_ADDR, so a
 * guest can tell what platform it runs on: cloud-init's SmartOS datasource
 * looks for product "SmartDC HVM" and the system UUID, as under SmartOS.
 */
#ifndef HULL_VMM_SMBIOS_H
#define HULL_VMM_SMBIOS_H

#include <stddef.h>
#include <stdint.h>

struct smbios_info {
	const char *manufacturer;
	const char *product;
	const char *version;
	const char *serial;
	uint8_t uuid[16]; /* RFC 4122 byte order */
};

/* Writes the entry point and the structure table (BIOS, system, end) into
 * buf, seen by the guest at base. Pure. Returns bytes written or 0 when
 * len is too small. */
size_t smbios_build(uint8_t *buf, size_t len, uint32_t base,
		    const struct smbios_info *info);

/* Parses a canonical UUID string into RFC 4122 bytes; 0 or -EINVAL. */
int smbios_parse_uuid(const char *s, uint8_t out[16]);

#endif
