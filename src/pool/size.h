/*
 * size.h - sizes as people write them ("20G", "512M", "1.5T", "4096").
 */
#ifndef HULL_POOL_SIZE_H
#define HULL_POOL_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Parses a byte count with an optional K, M, G, T or P suffix (powers of
 * 1024, an optional trailing "B" or "iB") and a decimal fraction. -1 for
 * anything else, zero or too large. */
int pool_size_parse(const char *s, uint64_t *out);

/* "1.5G", "512M", "0": short human form into buf. */
void pool_size_format(uint64_t bytes, char *buf, size_t len);

#endif
