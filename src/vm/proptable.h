/*
 * proptable.h - the SmartOS VM property table: every property a payload or
 * an instance object may carry, with its type, the brands it fits, whether
 * a create or update payload may set it (and whether an update takes effect
 * live), its range and the `vmadm list` column it shows as.
 *
 * The values are SmartOS's (spec/smartos.md §1.6, proptable.js); payload.c,
 * update.c and filter.c read them from here so the three never disagree.
 */
#ifndef HULL_VM_PROPTABLE_H
#define HULL_VM_PROPTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "inst/brand.h"

/* The brands are inst/brand.h's one table; these names are the property
 * table's spelling of the same bits. */
#define VM_BRAND_JOYENT INST_BRAND_JOYENT
#define VM_BRAND_JOYENT_MINIMAL INST_BRAND_JOYENT_MINIMAL
#define VM_BRAND_BUILDER INST_BRAND_BUILDER
#define VM_BRAND_LX INST_BRAND_LX
#define VM_BRAND_KVM INST_BRAND_KVM
#define VM_BRAND_BHYVE INST_BRAND_BHYVE
#define VM_BRANDS_OS INST_BRANDS_OS
#define VM_BRANDS_HVM INST_BRANDS_HVM
#define VM_BRANDS_ANY INST_BRANDS_ANY

enum vm_ptype {
	VM_T_UUID, /* string, 8-4-4-4-12 hex */
	VM_T_STRING,
	VM_T_BOOL,
	VM_T_INT,
	VM_T_LIST,	/* a comma-separated string or an array of strings */
	VM_T_IPLIST,	/* array of IP address strings (resolvers) */
	VM_T_STRLIST,	/* array of strings */
	VM_T_MAP,	/* flat object, string values (metadata) */
	VM_T_TAGS,	/* flat object, string/number/bool values */
	VM_T_ROUTES,	/* object destination -> gateway */
	VM_T_NICS,	/* array of nic objects (nics.c) */
	VM_T_ARRAY,	/* array of objects checked loosely (disks, ...) */
	VM_T_TIMESTAMP, /* ISO-8601 string, computed */
	VM_T_ANY,	/* computed, any JSON */
};

enum vm_pflag {
	VM_P_CREATE = 1u << 0,	 /* a create payload may set it */
	VM_P_REQUIRED = 1u << 1, /* a create payload must set it */
	VM_P_UPDATE = 1u << 2,	 /* an update payload may set it */
	VM_P_LIVE = 1u << 3,	 /* an update applies to a running instance */
	VM_P_VIA =
	    1u
	    << 4, /* updated only with set_/remove_ or add_/update_/remove_ */
	VM_P_RO = 1u << 5, /* computed; never in a payload */
	VM_P_KEEPZERO =
	    1u << 6, /* an update to 0 keeps 0 instead of removing */
	VM_P_LISTABLE = 1u << 7, /* a `vmadm list` column and filter key */
	VM_P_STORED = 1u << 8,	 /* computed but kept in the record */
};

struct vm_prop {
	const char *name;
	enum vm_ptype type;
	unsigned brands; /* enum inst_brand bits */
	unsigned flags;	 /* enum vm_pflag bits */
	int64_t min;	 /* VM_T_INT range, inclusive */
	int64_t max;
	const char *header; /* list column header, NULL: upper-cased name */
	int width;	    /* list column width */
};

/* The entry for name, or NULL when SmartOS has no such property. */
const struct vm_prop *vm_prop_find(const char *name);

/* All entries, for iteration; *count receives their number. */
const struct vm_prop *vm_prop_all(unsigned *count);

/* The brand bit for a brand name, 0 when it is not one of the six. */
unsigned vm_brand_from_name(const char *name);

/* "OS", "LX", "KVM" or "BHYV" (list's `type`, cut to 4 as SmartOS does). */
const char *vm_brand_type(unsigned brand);

/* True for the brands hull can run today (zones). */
bool vm_brand_supported(unsigned brand);

#endif
