/*
 * antispoof.h - SmartOS's per-nic spoofing protection, in nftables.
 *
 * One table per host network namespace, `bridge hull_antispoof`: a base
 * chain on the bridge prerouting hook dispatches each frame by its ingress
 * port (the host end of an instance's veth or tap) through the verdict map
 * `ports` to that port's chain, which drops what the instance may not send:
 *
 *   - a source MAC other than the nic's (ARP sender MAC too), unless
 *     allow_mac_spoofing;
 *   - IPv4/ARP/IPv6 source addresses (and NDP advertised targets) outside
 *     the nic's ips, allowed_ips and, for IPv6, its link-local address,
 *     unless allow_ip_spoofing (a "dhcp"/"addrconf" nic cannot be pinned to
 *     an address it has yet to learn, so that family is left open for it);
 *   - DHCP/DHCPv6 server replies (udp source port 67/547), unless
 *     allow_dhcp_spoofing;
 *   - ethertypes other than IPv4, IPv6 and ARP (VLAN tags included), unless
 *     allow_restricted_traffic;
 *   - TCP and UDP to the nic's blocked_outgoing_ports.
 *
 * allow_unfiltered_promisc (VMs with nested guests) lifts the MAC checks.
 *
 * The same table keeps VLANs apart where the kernel cannot (no bridge VLAN
 * filtering): a port's chain marks what it sends with its vlan_id, and a
 * second map, `out_ports`, on the bridge forward hook, drops at each port
 * what another port of another VLAN sent.
 *
 * Building the rule text is pure (unit-tested); applying it is one
 * libnftables transaction, so a port never runs with half its rules.
 */
#ifndef HULL_NET_ANTISPOOF_H
#define HULL_NET_ANTISPOOF_H
#include <stddef.h>

#include "lib/err.h"
#include "net/nic.h"

#define NET_ANTISPOOF_TABLE "hull_antispoof"
/* Packet marks carrying a frame's VLAN across the bridge ("HU" | vid). */
#define NET_VLAN_MARK 0x48550000u
#define NET_VLAN_MARK_MASK 0xffff0000u

/* Commands that create the table, map and base chain when missing and
 * (re)load port's chain from nic. Caller frees. */
char *net_antispoof_port_rules(const struct net_nic *nic, const char *port);
/* Commands that remove port's map entry and chain (fine when absent). */
char *net_antispoof_port_remove(const char *port);

/* Runs nft commands in the caller's network namespace, as one transaction.
 * The error is nft's first error line. */
int net_antispoof_apply(const char *cmds, struct hull_err *err);
/* Removes the whole table (fine when absent). */
int net_antispoof_table_delete(struct hull_err *err);
#endif
