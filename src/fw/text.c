/*
 * text.c - UTF-8, UTF-16 ordering and address syntax for the rule language
 * (see text.h). The address checks reproduce what Node's net module and the
 * ip6addr package decide, since those decide what Triton accepts.
 */
#include "fw/text.h"

#include <stdlib.h>
#include <string.h>

bool fw_utf8_next(const char *str, size_t len, size_t *i, uint32_t *cp,
		  bool strict)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t p = *i;
	unsigned c = s[p];
	if (c < 0x80) {
		*cp = c;
		*i = p + 1;
		return true;
	}
	if (!strict && c == 0xc0 && p + 1 < len && s[p + 1] == 0x80) {
		*cp = 0;
		*i = p + 2;
		return true;
	}
	size_t n;
	uint32_t v, min;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3, v = c & 0x07, min = 0x10000;
	} else {
		return false;
	}
	for (size_t k = 1; k <= n; k++) {
		if (p + k >= len || (s[p + k] & 0xc0) != 0x80)
			return false;
		v = (v << 6) | (s[p + k] & 0x3f);
	}
	if (v < min || v > 0x10ffff)
		return false;
	if (strict && v >= 0xd800 && v <= 0xdfff)
		return false;
	*cp = v;
	*i = p + n + 1;
	return true;
}

void fw_utf8_put(FILE *f, uint32_t cp)
{
	if (cp == 0) {
		fputc(0xc0, f);
		fputc(0x80, f);
	} else if (cp < 0x80) {
		fputc((int)cp, f);
	} else if (cp < 0x800) {
		fputc(0xc0 | (int)(cp >> 6), f);
		fputc(0x80 | (int)(cp & 0x3f), f);
	} else if (cp < 0x10000) {
		fputc(0xe0 | (int)(cp >> 12), f);
		fputc(0x80 | (int)((cp >> 6) & 0x3f), f);
		fputc(0x80 | (int)(cp & 0x3f), f);
	} else {
		fputc(0xf0 | (int)(cp >> 18), f);
		fputc(0x80 | (int)((cp >> 12) & 0x3f), f);
		fputc(0x80 | (int)((cp >> 6) & 0x3f), f);
		fputc(0x80 | (int)(cp & 0x3f), f);
	}
}

/* Next UTF-16 code unit of an internal string; *pend holds the low
 * surrogate of a pair still to come. Returns -1 at the end. */
static long unit16_next(const char *s, size_t len, size_t *i, long *pend)
{
	if (*pend >= 0) {
		long u = *pend;
		*pend = -1;
		return u;
	}
	if (*i >= len)
		return -1;
	uint32_t cp;
	if (!fw_utf8_next(s, len, i, &cp, false)) {
		/* Not produced by us; order raw bytes after everything. */
		return 0x10000 + (unsigned char)s[(*i)++];
	}
	if (cp >= 0x10000) {
		cp -= 0x10000;
		*pend = 0xdc00 + (long)(cp & 0x3ff);
		return 0xd800 + (long)(cp >> 10);
	}
	return (long)cp;
}

int fw_str_cmp16(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), ia = 0, ib = 0;
	long pa = -1, pb = -1;
	for (;;) {
		long ua = unit16_next(a, la, &ia, &pa);
		long ub = unit16_next(b, lb, &ib, &pb);
		if (ua != ub)
			return ua < ub ? -1 : 1;
		if (ua < 0)
			return 0;
	}
}

size_t fw_js_space(const char *s, size_t len, size_t i)
{
	unsigned char c = (unsigned char)s[i];
	if (c == ' ' || (c >= '\t' && c <= '\r'))
		return 1;
	if (c < 0x80)
		return 0;
	size_t j = i;
	uint32_t cp;
	if (!fw_utf8_next(s, len, &j, &cp, true))
		return 0;
	switch (cp) {
	case 0xa0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202f:
	case 0x205f:
	case 0x3000:
	case 0xfeff:
		return j - i;
	default:
		return cp >= 0x2000 && cp <= 0x200a ? j - i : 0;
	}
}

bool fw_is_ipv4_node(const char *s)
{
	/* Four decimal octets, 0..255, no leading zeros. */
	for (int k = 0; k < 4; k++) {
		size_t n = 0;
		unsigned v = 0;
		while (s[n] >= '0' && s[n] <= '9' && n < 4)
			v = v * 10 + (unsigned)(s[n++] - '0');
		if (n == 0 || n > 3 || v > 255 || (n > 1 && s[0] == '0'))
			return false;
		s += n;
		if (k < 3) {
			if (*s != '.')
				return false;
			s++;
		}
	}
	return *s == '\0';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

bool fw_is_ipv6_node(const char *s)
{
	/* Without "::" exactly 8 groups of 1-4 hex digits; with one "::" at
	 * most 7 groups around it (Node's IPv6 expression, minus the embedded
	 * IPv4 and zone forms our lexer never lets through). */
	const char *dc = strstr(s, "::");
	if (dc && strstr(dc + 1, "::"))
		return false;
	int groups = 0;
	const char *p = s;
	if (dc == s)
		p += 2;
	while (*p) {
		size_t n = 0;
		while (is_hex(p[n]))
			n++;
		if (n == 0 || n > 4)
			return false;
		groups++;
		p += n;
		if (*p == '\0')
			break;
		if (*p != ':')
			return false;
		if (p == dc) {
			p += 2;
			continue;
		}
		p++;
		if (*p == '\0')
			return false;
	}
	return dc ? groups <= 7 : groups == 8;
}

/* A hex field of any length whose value fits 16 bits. */
static bool hex_field(const char *v, size_t n, uint32_t *out)
{
	uint32_t x = 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		x = x * 16 +
		    (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
		if (x > 0xffff)
			return false;
	}
	*out = x;
	return true;
}

bool fw_subnet_parse(const char *s, uint8_t addr[16], bool *v4, int *plen)
{
	const char *slash = strrchr(s, '/');
	if (!slash || slash == s || slash[1] == '\0' || strlen(s) > 200)
		return false;
	size_t alen = (size_t)(slash - s);
	char a[64];
	if (alen >= sizeof(a))
		return false;
	memcpy(a, s, alen);
	a[alen] = '\0';
	long pl = 0;
	for (const char *q = slash + 1; *q; q++) {
		if (*q < '0' || *q > '9' || pl > 100000)
			return false;
		pl = pl * 10 + (*q - '0');
	}
	memset(addr, 0, 16);
	if (strchr(a, '.')) {
		/* ip6addr: four decimal fields, each 0..255 (leading zeros
		 * fine). */
		const char *p = a;
		for (int k = 0; k < 4; k++) {
			size_t n = 0;
			unsigned v = 0;
			while (p[n] >= '0' && p[n] <= '9' && n < 4)
				v = v * 10 + (unsigned)(p[n++] - '0');
			if (n == 0 || v > 255)
				return false;
			addr[12 + k] = (uint8_t)v;
			p += n;
			if (k < 3 && *p++ != '.')
				return false;
		}
		if (*p)
			return false;
		if (pl > 32)
			return false;
		*v4 = true;
		*plen = (int)pl;
		return true;
	}
	/* ip6addr: up to 8 hex fields (any count of digits, value <= ffff)
	 * around at most one "::"; the whole text at most 40 characters. */
	if (alen > 40)
		return false;
	uint32_t fields[9];
	int nf = 0, exp = -1;
	char val[64];
	size_t vl = 0;
	for (size_t i = 0; i < alen; i++) {
		char c = a[i];
		if (c == ':') {
			if (i + 1 < alen && a[i + 1] == ':') {
				if (exp >= 0)
					return false;
				if (vl) {
					if (nf >= 9)
						return false;
					if (!hex_field(val, vl, &fields[nf++]))
						return false;
					vl = 0;
				}
				exp = nf;
				i++;
			} else {
				if (!vl || nf >= 9)
					return false;
				if (!hex_field(val, vl, &fields[nf++]))
					return false;
				vl = 0;
			}
		} else if (is_hex(c)) {
			if (vl + 1 >= sizeof(val))
				return false;
			val[vl++] = c;
		} else {
			return false;
		}
	}
	if (vl) {
		if (nf >= 9)
			return false;
		if (!hex_field(val, vl, &fields[nf++]))
			return false;
	} else if (exp != nf) {
		return false;
	}
	if (nf > 8 || (nf < 8 && exp < 0))
		return false;
	uint32_t out[8] = {0};
	int fill = 8 - nf;
	for (int k = 0, o = 0; k < nf; k++) {
		if (k == exp)
			o += fill;
		out[o++] = fields[k];
	}
	for (int k = 0; k < 8; k++) {
		addr[2 * k] = (uint8_t)(out[k] >> 8);
		addr[2 * k + 1] = (uint8_t)out[k];
	}
	if (pl > 128)
		return false;
	*v4 = false;
	*plen = (int)pl;
	return true;
}
