/*
 * addr.c - address text forms for payloads; see addr.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"

int net_addr_parse(const char *s, struct net_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, out->a) == 1) {
		out->family = AF_INET;
		out->prefix = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->a) == 1) {
		out->family = AF_INET6;
		out->prefix = 128;
		return 0;
	}
	return -EINVAL;
}

int net_cidr_parse(const char *s, bool allow_bare, struct net_addr *out)
{
	char buf[NET_ADDR_STRLEN];
	const char *slash;
	unsigned long len;
	char *end;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return allow_bare ? net_addr_parse(s, out) : -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (net_addr_parse(buf, out) < 0)
		return -EINVAL;
	slash++;
	if (*slash < '0' || *slash > '9' || strlen(slash) > 3)
		return -EINVAL;
	len = strtoul(slash, &end, 10);
	if (*end || len > (out->family == AF_INET ? 32u : 128u))
		return -EINVAL;
	out->prefix = (unsigned)len;
	return 0;
}

int net_netmask_parse(const char *s, unsigned *prefix)
{
	struct in_addr m;
	uint32_t v;
	unsigned n = 0;

	if (!s || inet_pton(AF_INET, s, &m) != 1)
		return -EINVAL;
	v = ntohl(m.s_addr);
	while (v & 0x80000000u) {
		n++;
		v <<= 1;
	}
	if (v)
		return -EINVAL; /* a one after a zero: not contiguous */
	*prefix = n;
	return 0;
}

static bool bits_equal(const uint8_t *x, const uint8_t *y, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(x, y, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		return (x[full] & mask) == (y[full] & mask);
	}
	return true;
}

bool net_addr_in_subnet(const struct net_addr *net, const struct net_addr *ip)
{
	return net->family == ip->family &&
	       bits_equal(net->a, ip->a, net->prefix);
}

bool net_addr_equal(const struct net_addr *x, const struct net_addr *y)
{
	size_t n = x->family == AF_INET ? 4 : 16;
	return x->family == y->family && memcmp(x->a, y->a, n) == 0;
}

void net_addr_format(const struct net_addr *x, bool with_prefix, char *buf,
		     size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (!inet_ntop(x->family, x->a, tmp, sizeof(tmp)))
		snprintf(tmp, sizeof(tmp), "?");
	if (with_prefix)
		snprintf(buf, len, "%s/%u", tmp, x->prefix);
	else
		snprintf(buf, len, "%s", tmp);
}

void net_addr_network(const struct net_addr *x, struct net_addr *out)
{
	unsigned bits = x->prefix;

	*out = *x;
	for (unsigned i = 0; i < 16; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		out->a[i] &= (uint8_t)(0xff << (8 - bits));
		bits = 0;
	}
}
