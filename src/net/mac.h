/*
 * mac.h - Ethernet MAC addresses as SmartOS writes them: parsing (one or two
 * hex digits per octet, ':' or '-' separated), the normalised zero-padded
 * lower-case text form, and generation of instance MACs.
 *
 * Pure functions: no I/O except the random bytes of net_mac_generate().
 */
#ifndef HULL_NET_MAC_H
#define HULL_NET_MAC_H
#include <stdbool.h>
#include <stdint.h>

#define NET_MAC_LEN 6
#define NET_MAC_STRLEN 18 /* "xx:xx:xx:xx:xx:xx" + NUL */

/* Parses s; returns 0, or -EINVAL when it is not a MAC. */
int net_mac_parse(const char *s, uint8_t out[NET_MAC_LEN]);
/* Writes the normalised text form into out. */
void net_mac_format(const uint8_t mac[NET_MAC_LEN], char out[NET_MAC_STRLEN]);
/* True for a MAC an instance may own: unicast and not all zeros. */
bool net_mac_is_unicast(const uint8_t mac[NET_MAC_LEN]);
/* A new instance MAC in SmartOS's style: the first octet is X2 (the locally
 * administered bit set, unicast), the other five are random. */
void net_mac_generate(uint8_t out[NET_MAC_LEN]);
/* The same from given random bytes (for tests): out[0] = (r[0] & 0xf0) | 2. */
void net_mac_from_random(const uint8_t r[NET_MAC_LEN],
			 uint8_t out[NET_MAC_LEN]);
/* The IPv6 link-local address (fe80::/64 with the modified EUI-64 interface
 * id) that the kernel derives from mac. */
void net_mac_to_ipv6_ll(const uint8_t mac[NET_MAC_LEN], uint8_t out[16]);
#endif
