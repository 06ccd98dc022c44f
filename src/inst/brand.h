/*
 * brand.h - the one table of instance brands. Every layer that asks "is
 * this a VM", "what does `type` show", "is this brand known" asks here.
 *
 * The values are bits so the property table (vm/proptable.h) can say
 * which brands a property applies to as a mask.
 */
#ifndef HULL_INST_BRAND_H
#define HULL_INST_BRAND_H

#include <stdbool.h>

enum inst_brand {
	INST_BRAND_JOYENT = 1u << 0,
	INST_BRAND_JOYENT_MINIMAL = 1u << 1,
	INST_BRAND_BUILDER = 1u << 2, /* joyent, meant for builds */
	INST_BRAND_LX = 1u << 3,
	INST_BRAND_KVM = 1u << 4,
	INST_BRAND_BHYVE = 1u << 5,
};

#define INST_BRANDS_OS                                                         \
	(INST_BRAND_JOYENT | INST_BRAND_JOYENT_MINIMAL | INST_BRAND_BUILDER |  \
	 INST_BRAND_LX)
#define INST_BRANDS_HVM (INST_BRAND_KVM | INST_BRAND_BHYVE)
#define INST_BRANDS_ANY (INST_BRANDS_OS | INST_BRANDS_HVM)

/* The brand called name, or 0 for NULL or an unknown name. */
unsigned inst_brand_from_name(const char *name);
/* The name of one brand bit ("joyent", ...), or NULL for anything else. */
const char *inst_brand_name(unsigned brand);
/* What `vmadm list` shows as TYPE: OS, LX, KVM or BHYV. */
const char *inst_brand_type(unsigned brand);
/* True for the brands whose instance is a VM (kvm, bhyve). */
bool inst_brand_is_hvm(unsigned brand);

#endif
