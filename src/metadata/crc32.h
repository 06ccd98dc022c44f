/*
 * crc32.h - the CRC-32 that metadata protocol V2 frames carry: reflected
 * polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF (the zlib and
 * python binascii.crc32 variant; check value CRC("123456789") = cbf43926).
 *
 * Plain libc, no libhull: the static guest tools (src/cmd/mdata) build it
 * too.
 */
#ifndef HULL_METADATA_CRC32_H
#define HULL_METADATA_CRC32_H
#include <stddef.h>
#include <stdint.h>

uint32_t metadata_crc32(const void *data, size_t len);

#endif
