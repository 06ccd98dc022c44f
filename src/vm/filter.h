/*
 * filter.h - `vmadm list` / `vmadm lookup` filters and field values.
 *
 * A filter is KEY=VALUE (exact string match on the flattened value),
 * KEY=~REGEX (POSIX extended regular expression), KEY<NUMBER or
 * KEY>NUMBER (numeric). KEY is a listable property, or a path into
 * tags/customer_metadata/internal_metadata (`tags.role`) or nics/disks
 * (`nics.0.ip`, `nics.*.nic_tag`: `*` matches any element). All filters
 * must match. Pure: no I/O.
 */
#ifndef HULL_VM_FILTER_H
#define HULL_VM_FILTER_H

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>

#include "lib/err.h"

enum vm_filter_op {
	VM_FILTER_EQ,
	VM_FILTER_RE,
	VM_FILTER_LT,
	VM_FILTER_GT,
};

struct vm_filter {
	char *key;
	char *value;
	enum vm_filter_op op;
	double number; /* LT/GT */
	regex_t re;    /* RE */
};

/* Parses one argument into f (owned; free with vm_filter_fini). */
int vm_filter_parse(const char *arg, struct vm_filter *f, struct hull_err *err);
void vm_filter_fini(struct vm_filter *f);

bool vm_filter_match(const struct vm_filter *f, json_t *vm);

/* True when key may be a filter key (and, with listable_only, a list
 * column: no `.` paths). */
bool vm_field_valid(const char *key, bool listable_only);

/* The text of a field as `list` prints it (numbers in decimal, booleans
 * as true/false), or NULL when the field is missing or not a scalar.
 * Caller frees. */
char *vm_field_text(json_t *vm, const char *key);

#endif
