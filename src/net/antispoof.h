/*
 * antispoof.h - SmartOS's per-nic spoofing protection, in nftables.
 *
 * One table per pool in each host network namespace, `bridge
 * hull_antispoof_<tag>` (net_antispoof_table(), tag from the pool root,
 * hull_root_tag()), so pools on one host never share or remove each
 * other's tables; the last port of a pool takes its table with it. A base
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
 *   - IPv6 router advertisements and redirects (ICMPv6 134 and 137) and
 *     IPv4 ICMP redirects (type 5), unless allow_ip_spoofing: only a nic
 *     allowed to speak for other addresses (a router, a NAT zone) may tell
 *     its neighbours to route through it;
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
 *
 * Older versions kept every pool's ports in one `bridge hull_antispoof`
 * table. A port set up or torn down now leaves that table too
 * (net_antispoof_legacy_forget), and the table goes with its last port.
 */
#ifndef HULL_NET_ANTISPOOF_H
#define HULL_NET_ANTISPOOF_H
#include <net/if.h>
#include <stddef.h>

#include "lib/err.h"
#include "net/nic.h"

/* The table older versions shared among all pools; also the prefix of
 * each pool's own. */
#define NET_ANTISPOOF_LEGACY_TABLE "hull_antispoof"
/* Packet marks carrying a frame's VLAN across the bridge ("HU" | vid). */
#define NET_VLAN_MARK 0x48550000u
#define NET_VLAN_MARK_MASK 0xffff0000u

/* This pool's table, "hull_antispoof_" + hull_root_tag(). Borrowed. */
const char *net_antispoof_table(void);

/* Commands that create table, its map and base chain when missing and
 * (re)load port's chain from nic. Caller frees. */
char *net_antispoof_port_rules(const char *table, const struct net_nic *nic,
			       const char *port);
/* Commands that remove port's map entry and chain from table (fine when
 * absent). */
char *net_antispoof_port_remove(const char *table, const char *port);

/* Runs nft commands in the caller's network namespace, as one transaction.
 * The error is nft's first error line. */
int net_antispoof_apply(const char *cmds, struct hull_err *err);
/* Removes the whole table (fine when absent). */
int net_antispoof_table_delete(const char *table, struct hull_err *err);
/* Removes table once it holds no port's chain (fine when absent). */
int net_antispoof_table_gc(const char *table, struct hull_err *err);
/* The text of `list table bridge <table>`, or NULL when absent. Caller
 * frees. */
char *net_antispoof_table_text(const char *table);
/* Removes ports' chains from the legacy shared table, and that table once
 * it holds no port (nothing when it does not exist). */
int net_antispoof_legacy_forget(char (*ports)[IFNAMSIZ], size_t n,
				struct hull_err *err);
#endif
