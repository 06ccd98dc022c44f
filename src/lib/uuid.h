/*
 * uuid.h - random (version 4) UUIDs in the lower-case text form SmartOS uses.
 */
#ifndef HULL_UUID_H
#define HULL_UUID_H

#include <stdbool.h>

#define HULL_UUID_LEN 36

void hull_uuid_generate(char out[HULL_UUID_LEN + 1]);

/* True for 8-4-4-4-12 hex digits (either case). */
bool hull_uuid_valid(const char *s);

#endif
