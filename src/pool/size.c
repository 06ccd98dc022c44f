/*
 * size.c - human sizes (see size.h). Pure functions.
 */
#include "pool/size.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char units[] = "KMGTP";

int pool_size_parse(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	uint64_t whole = 0, frac = 0, frac_div = 1;
	const char *c = s;
	for (; isdigit((unsigned char)*c); c++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -1;
		whole = whole * 10 + (uint64_t)(*c - '0');
	}
	if (*c == '.') {
		c++;
		if (!isdigit((unsigned char)*c))
			return -1;
		for (; isdigit((unsigned char)*c); c++) {
			/* More than six decimals say nothing about bytes. */
			if (frac_div >= 1000000)
				continue;
			frac = frac * 10 + (uint64_t)(*c - '0');
			frac_div *= 10;
		}
	}
	int shift = 0;
	if (*c) {
		const char *u = strchr(units, toupper((unsigned char)*c));
		if (!u)
			return -1;
		shift = 10 * (int)(u - units + 1);
		c++;
		if (strcasecmp(c, "iB") == 0)
			c += 2;
		else if (strcasecmp(c, "B") == 0)
			c += 1;
	}
	if (*c)
		return -1;
	if (shift == 0 && frac_div > 1)
		return -1;
	if (shift && whole > (UINT64_MAX >> shift))
		return -1;
	uint64_t v = whole << shift;
	if (frac) {
		uint64_t f =
		    (uint64_t)(((unsigned __int128)frac << shift) / frac_div);
		if (v > UINT64_MAX - f)
			return -1;
		v += f;
	}
	if (v == 0)
		return -1;
	*out = v;
	return 0;
}

void pool_size_format(uint64_t bytes, char *buf, size_t len)
{
	if (bytes < 1024) {
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
		return;
	}
	double v = (double)bytes;
	int u = -1;
	while (v >= 1024 && u < (int)sizeof(units) - 2) {
		v /= 1024;
		u++;
	}
	if (v < 10)
		snprintf(buf, len, "%.1f%c", v, units[u]);
	else
		snprintf(buf, len, "%.0f%c", v, units[u]);
}
