/*
 * mac.h - Ethernet MAC addresses as SmartOS writes them: parsing (one or two
 * hex digits per octet, ':' or '-' separated), the normalised zero-padded
 * lower-case text form, and generation of instance MACs.
 *
 * Pure functions: no I/O except the random bytes of hull_mac_generate().
 * The one MAC helper of hull (libhull and the VMM both link it).
 */
#ifndef HULL_LIB_MAC_H
#define HULL_LIB_MAC_H
#include <stdbool.h>
#include <stdint.h>

#define HULL_MAC_LEN 6
#define HULL_MAC_STRLEN 18 /* "xx:xx:xx:xx:xx:xx" + NUL */

/* Parses s; returns 0, or -EINVAL when it is not a MAC. */
int hull_mac_parse(const char *s, uint8_t out[HULL_MAC_LEN]);
/* Parses only the canonical form "xx:xx:xx:xx:xx:xx" (two hex digits
 * each, either case, ':' only), the one hull writes into the VMM's and
 * QEMU's options; returns 0 or -EINVAL. */
int hull_mac_parse_canonical(const char *s, uint8_t out[HULL_MAC_LEN]);
/* Writes the normalised text form into out. */
void hull_mac_format(const uint8_t mac[HULL_MAC_LEN],
		     char out[HULL_MAC_STRLEN]);
/* True for a MAC an instance may own: unicast and not all zeros. */
bool hull_mac_is_unicast(const uint8_t mac[HULL_MAC_LEN]);
/* A new instance MAC in SmartOS's style: the first octet is X2 (the locally
 * administered bit set, unicast), the other five are random. */
void hull_mac_generate(uint8_t out[HULL_MAC_LEN]);
/* The same from given random bytes (for tests): out[0] = (r[0] & 0xf0) | 2. */
void hull_mac_from_random(const uint8_t r[HULL_MAC_LEN],
			  uint8_t out[HULL_MAC_LEN]);
/* The IPv6 link-local address (fe80::/64 with the modified EUI-64 interface
 * id) that the kernel derives from mac. */
void hull_mac_to_ipv6_ll(const uint8_t mac[HULL_MAC_LEN], uint8_t out[16]);
#endif
