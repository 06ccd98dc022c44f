/*
 * addr.h - IPv4/IPv6 addresses, CIDR prefixes and dotted netmasks as they
 * appear in payloads (nics[].ips, ip/netmask, gateways, allowed_ips, routes).
 *
 * Pure functions, no I/O: they read untrusted payload text.
 */
#ifndef HULL_NET_ADDR_H
#define HULL_NET_ADDR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_addr {
	int family;    /* AF_INET or AF_INET6 */
	uint8_t a[16]; /* network byte order; IPv4 uses the first 4 bytes */
	unsigned
	    prefix; /* 0..32 or 0..128; a bare address has the full length */
};

#define NET_ADDR_STRLEN 64

/* A bare address ("192.0.2.5", "2001:db8::5"). 0 or -EINVAL. */
int net_addr_parse(const char *s, struct net_addr *out);
/* "addr/len"; with allow_bare, a bare address too (full-length prefix). */
int net_cidr_parse(const char *s, bool allow_bare, struct net_addr *out);
/* A contiguous dotted IPv4 netmask ("255.255.255.0") to its prefix length. */
int net_netmask_parse(const char *s, unsigned *prefix);
/* True when ip lies in net (same family, first net->prefix bits equal). */
bool net_addr_in_subnet(const struct net_addr *net, const struct net_addr *ip);
/* True when the address bits are equal (prefix ignored). */
bool net_addr_equal(const struct net_addr *x, const struct net_addr *y);
/* The address alone, or "addr/len" when with_prefix. */
void net_addr_format(const struct net_addr *x, bool with_prefix, char *buf,
		     size_t len);
/* The address with host bits cleared (the network of a CIDR). */
void net_addr_network(const struct net_addr *x, struct net_addr *out);
#endif
