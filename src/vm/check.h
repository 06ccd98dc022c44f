/*
 * check.h - value checks shared by payload, nic and update validation:
 * pure functions over a JSON value that say why it is wrong.
 *
 * Each returns true when the value is acceptable; otherwise false with a
 * short reason ("must be an integer from 1 to 65535") written to why.
 */
#ifndef HULL_VM_CHECK_H
#define HULL_VM_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "vm/proptable.h"

#define VM_WHY_MAX 160

bool vm_check_ip(const char *s);
/* "addr/len" with len in range for the family. */
bool vm_check_cidr(const char *s);
/* aa:bb:cc:dd:ee:ff, hex either case. */
bool vm_check_mac(const char *s);
/* An IPv4 netmask (ones then zeros); *bits (when not NULL) receives its
 * prefix length. */
bool vm_check_netmask(const char *s, unsigned *bits);
/* RFC 1123 host name: labels of [A-Za-z0-9-], not starting or ending with
 * '-', each at most 63 bytes, 255 in all. */
bool vm_check_hostname(const char *s);

/* An integer as SmartOS takes one: a JSON integer, a whole JSON real, or
 * a string JavaScript's Number() reads as a whole decimal number ("512",
 * " 512 ", "5e2"; not "512MB"). */
bool vm_int_from_json(json_t *v, json_int_t *out);
/* A boolean as SmartOS takes one: 1 for true, "true", 1 and "1"; 0 for
 * false and "false"; -1 for anything else (0 and "0" included). *deprecated
 * (when not NULL) says whether the value was 1 or "1", which SmartOS warns
 * about. */
int vm_bool_from_json(json_t *v, bool *deprecated);
/* NULL when key is a nic property SmartOS accepts for brand; otherwise
 * why not. Such keys are bad properties (nics.*.KEY): create and update
 * drop them, vm_check_nic passes over them. */
const char *vm_nic_prop_bad(const char *key, unsigned brand);

/* Checks v against the property's type and range. */
bool vm_check_value(const struct vm_prop *p, json_t *v, char *why, size_t n);

/* The nics array (spec §5.2) for brand: fields, types, ranges, one primary. */
bool vm_check_nics(json_t *nics, unsigned brand, char *why, size_t n);
/* One nic object (used by add_nics/update_nics). */
bool vm_check_nic(json_t *nic, unsigned brand, bool need_tag, char *why,
		  size_t n);

/* The routes object: destination IP or CIDR -> gateway IP, nics[N] or
 * macs[MAC]. */
bool vm_check_routes(json_t *routes, char *why, size_t n);

#endif
