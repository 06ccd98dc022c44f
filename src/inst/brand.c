/*
 * brand.c - the brand table (brand.h).
 */
#include "inst/brand.h"

#include <stddef.h>
#include <string.h>

static const struct {
	const char *name;
	unsigned bit;
	const char *type;
} brands[] = {
    {"joyent", INST_BRAND_JOYENT, "OS"},
    {"joyent-minimal", INST_BRAND_JOYENT_MINIMAL, "OS"},
    {"builder", INST_BRAND_BUILDER, "OS"},
    {"lx", INST_BRAND_LX, "LX"},
    {"kvm", INST_BRAND_KVM, "KVM"},
    {"bhyve", INST_BRAND_BHYVE, "BHYV"},
};

#define NBRANDS (sizeof(brands) / sizeof(brands[0]))

unsigned inst_brand_from_name(const char *name)
{
	for (size_t i = 0; name && i < NBRANDS; i++)
		if (!strcmp(name, brands[i].name))
			return brands[i].bit;
	return 0;
}

const char *inst_brand_name(unsigned brand)
{
	for (size_t i = 0; i < NBRANDS; i++)
		if (brand == brands[i].bit)
			return brands[i].name;
	return NULL;
}

const char *inst_brand_type(unsigned brand)
{
	for (size_t i = 0; i < NBRANDS; i++)
		if (brand == brands[i].bit)
			return brands[i].type;
	return "OS";
}

bool inst_brand_is_hvm(unsigned brand)
{
	return (brand & INST_BRANDS_HVM) != 0 && !(brand & INST_BRANDS_OS);
}
