/*
 * mac.c - MAC address text forms and SmartOS-style generated MACs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "lib/mac.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hull_mac_parse(const char *s, uint8_t out[HULL_MAC_LEN])
{
	char sep = 0;

	if (!s)
		return -EINVAL;
	for (int i = 0; i < HULL_MAC_LEN; i++) {
		int hi = hexval(*s), lo;
		if (hi < 0)
			return -EINVAL;
		s++;
		/* SmartOS accepts "0:c:29:..." and normalises it. */
		lo = hexval(*s);
		if (lo >= 0) {
			out[i] = (uint8_t)(hi << 4 | lo);
			s++;
		} else {
			out[i] = (uint8_t)hi;
		}
		if (i == HULL_MAC_LEN - 1)
			break;
		if (*s != ':' && *s != '-')
			return -EINVAL;
		if (sep && *s != sep)
			return -EINVAL;
		sep = *s++;
	}
	return *s ? -EINVAL : 0;
}

int hull_mac_parse_canonical(const char *s, uint8_t out[HULL_MAC_LEN])
{
	if (!s || strlen(s) != HULL_MAC_STRLEN - 1)
		return -EINVAL;
	for (int i = 0; i < HULL_MAC_STRLEN - 1; i++)
		if (i % 3 == 2 ? s[i] != ':' : hexval(s[i]) < 0)
			return -EINVAL;
	return hull_mac_parse(s, out);
}

void hull_mac_format(const uint8_t m[HULL_MAC_LEN], char out[HULL_MAC_STRLEN])
{
	snprintf(out, HULL_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", m[0],
		 m[1], m[2], m[3], m[4], m[5]);
}

bool hull_mac_is_unicast(const uint8_t mac[HULL_MAC_LEN])
{
	static const uint8_t zero[HULL_MAC_LEN];
	return !(mac[0] & 1) && memcmp(mac, zero, HULL_MAC_LEN) != 0;
}

void hull_mac_from_random(const uint8_t r[HULL_MAC_LEN],
			  uint8_t out[HULL_MAC_LEN])
{
	memcpy(out, r, HULL_MAC_LEN);
	/* Low nibble 2: locally administered (bit 1) and unicast (bit 0 clear),
	 * the "X2:" prefix SmartOS's vmadm gives generated MACs. */
	out[0] = (uint8_t)((r[0] & 0xf0) | 0x02);
}

void hull_mac_generate(uint8_t out[HULL_MAC_LEN])
{
	uint8_t r[HULL_MAC_LEN];
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n > 0)
			got += (size_t)n;
	}
	hull_mac_from_random(r, out);
}

void hull_mac_to_ipv6_ll(const uint8_t mac[HULL_MAC_LEN], uint8_t out[16])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	/* RFC 4291 appendix A: flip the universal/local bit, insert ff:fe. */
	out[8] = mac[0] ^ 0x02;
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = mac[3];
	out[14] = mac[4];
	out[15] = mac[5];
}
