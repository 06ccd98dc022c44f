/*
 * antispoof.c - nftables text for per-port spoofing protection, and its
 * application through libnftables (see antispoof.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/nft.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "net/antispoof.h"

static void base(FILE *f, const char *tb)
{
	/* Idempotent: `add` of an existing table, chain or map is a no-op, and
	 * the dispatch rule is flushed and re-added in the same transaction. */
	fprintf(f, "add table bridge %s\n", tb);
	fprintf(f, "add map bridge %s ports { type ifname : verdict; }\n", tb);
	fprintf(f,
		"add chain bridge %s pre { type filter hook prerouting "
		"priority -300; policy accept; }\n",
		tb);
	fprintf(f, "flush chain bridge %s pre\n", tb);
	fprintf(f, "add rule bridge %s pre iifname vmap @ports\n", tb);
	fprintf(f, "add map bridge %s out_ports { type ifname : verdict; }\n",
		tb);
	fprintf(f,
		"add chain bridge %s out { type filter hook forward "
		"priority -300; policy accept; }\n",
		tb);
	fprintf(f, "flush chain bridge %s out\n", tb);
	fprintf(f, "add rule bridge %s out oifname vmap @out_ports\n", tb);
	/* The VLAN mark is for the bridge alone: frames for the host itself
	 * enter its IP stack unmarked (fwmark routing, the firewall). */
	fprintf(f,
		"add chain bridge %s in { type filter hook input "
		"priority -300; policy accept; }\n",
		tb);
	fprintf(f, "flush chain bridge %s in\n", tb);
	fprintf(
	    f,
	    "add rule bridge %s in meta mark and 0x%08x == 0x%08x meta mark "
	    "set 0\n",
	    tb, NET_VLAN_MARK_MASK, NET_VLAN_MARK);
}

/* Writes the addresses of family from ips/allowed as an nft set body. */
static size_t addr_list(FILE *f, const struct net_nic *n, int family,
			bool with_prefix_of_ips)
{
	char txt[NET_ADDR_STRLEN];
	size_t count = 0;

	for (size_t i = 0; i < n->nips; i++) {
		if (n->ips[i].family != family)
			continue;
		net_addr_format(&n->ips[i], with_prefix_of_ips, txt,
				sizeof(txt));
		fprintf(f, "%s%s", count++ ? ", " : "", txt);
	}
	for (size_t i = 0; i < n->nallowed; i++) {
		const struct net_addr *a = &n->allowed[i];
		struct net_addr net;
		if (a->family != family)
			continue;
		/* nft refuses a prefix with host bits set; use the network. */
		net_addr_network(a, &net);
		net_addr_format(&net, true, txt, sizeof(txt));
		fprintf(f, "%s%s", count++ ? ", " : "", txt);
	}
	return count;
}

static void hex128(FILE *f, const uint8_t a[16])
{
	fprintf(f, "0x");
	for (int i = 0; i < 16; i++)
		fprintf(f, "%02x", a[i]);
}

/* NDP target addresses as 128-bit integers: nft 1.0.6 has no icmpv6 taddr,
 * so the rule reads the target at offset 8 of the ICMPv6 header. */
static void target_list(FILE *f, const struct net_nic *n)
{
	uint8_t ll[16];

	hull_mac_to_ipv6_ll(n->mac, ll);
	hex128(f, ll);
	for (size_t i = 0; i < n->nips; i++) {
		if (n->ips[i].family != AF_INET6)
			continue;
		fprintf(f, ", ");
		hex128(f, n->ips[i].a);
	}
	for (size_t i = 0; i < n->nallowed; i++) {
		struct net_addr lo, hi;
		if (n->allowed[i].family != AF_INET6)
			continue;
		net_addr_network(&n->allowed[i], &lo);
		hi = lo;
		for (unsigned b = lo.prefix; b < 128; b++)
			hi.a[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		fprintf(f, ", ");
		hex128(f, lo.a);
		if (lo.prefix < 128) {
			fprintf(f, "-");
			hex128(f, hi.a);
		}
	}
}

/* The addresses of family from ips and allowed_ips as an nft set body
 * ("a, b/24"), or NULL when there are none. Caller frees. */
static char *addr_set(const struct net_nic *n, int family)
{
	char *buf = NULL;
	size_t len = 0, count;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	count = addr_list(f, n, family, false);
	fclose(f);
	if (count == 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *net_antispoof_port_rules(const char *tb, const struct net_nic *n,
			       const char *port)
{
	char mac[HULL_MAC_STRLEN], ll[NET_ADDR_STRLEN];
	struct net_addr lla = {.family = AF_INET6, .prefix = 128};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	hull_mac_format(n->mac, mac);
	hull_mac_to_ipv6_ll(n->mac, lla.a);
	net_addr_format(&lla, false, ll, sizeof(ll));
	base(f, tb);
	fprintf(f, "add chain bridge %s p_%s\n", tb, port);
	fprintf(f, "flush chain bridge %s p_%s\n", tb, port);
	/* VLAN membership, enforced here too: on a kernel without bridge
	 * VLAN filtering this is what keeps VLANs apart on an etherstub. A
	 * frame from a port carries the port's VLAN in its mark; a port takes
	 * frames marked with its own VLAN and frames from elsewhere (the
	 * uplink, the host), never those of another VLAN. */
	fprintf(f, "add rule bridge %s p_%s meta mark set 0x%08x\n", tb, port,
		NET_VLAN_MARK | n->vlan_id);
	fprintf(f, "add chain bridge %s o_%s\n", tb, port);
	fprintf(f, "flush chain bridge %s o_%s\n", tb, port);
	fprintf(f,
		"add rule bridge %s o_%s meta mark and 0x%08x == 0x%08x "
		"meta mark != 0x%08x drop\n",
		tb, port, NET_VLAN_MARK_MASK, NET_VLAN_MARK,
		NET_VLAN_MARK | n->vlan_id);
	fprintf(f, "add element bridge %s out_ports { \"%s\" : jump o_%s }\n",
		tb, port, port);
#define RULE(...)                                                              \
	do {                                                                   \
		fprintf(f, "add rule bridge %s p_%s ", tb, port);              \
		fprintf(f, __VA_ARGS__);                                       \
		fputc('\n', f);                                                \
	} while (0)
	if (!n->allow_restricted_traffic)
		RULE("ether type != { ip, ip6, arp } drop");
	if (n->nblocked) {
		fprintf(f,
			"add rule bridge %s p_%s meta l4proto { tcp, udp } "
			"th dport { ",
			tb, port);
		for (size_t i = 0; i < n->nblocked; i++)
			fprintf(f, "%s%u", i ? ", " : "", n->blocked_ports[i]);
		fprintf(f, " } drop\n");
	}
	/* allow_unfiltered_promisc: a VM may bridge other MACs behind its
	 * nic (nested guests), so its source MAC is not pinned. */
	if (!n->allow_mac_spoofing && !n->allow_unfiltered_promisc) {
		RULE("ether saddr != %s drop", mac);
		RULE("arp saddr ether != %s drop", mac);
	}
	if (!n->allow_dhcp_spoofing) {
		RULE("ether type ip udp sport 67 drop");
		RULE("ether type ip6 udp sport 547 drop");
	}
	/* Router advertisements and redirects make their sender a router
	 * of every neighbour that listens: only a nic that may speak for
	 * other addresses (allow_ip_spoofing, a router or NAT zone) may send
	 * them. The kernel finds the ICMP header behind any IPv6 extension
	 * headers, so a hop-by-hop or destination header hides nothing. */
	if (!n->allow_ip_spoofing) {
		RULE("icmpv6 type { nd-router-advert, nd-redirect } drop");
		RULE("icmp type redirect drop");
	}
	if (!n->allow_ip_spoofing && !n->dhcp) {
		_cleanup_free_ char *v4 = addr_set(n, AF_INET);
		/* 0.0.0.0 in ARP: probes (RFC 5227) come from no address. */
		RULE("arp saddr ip != { 0.0.0.0%s%s } drop", v4 ? ", " : "",
		     v4 ? v4 : "");
		if (v4)
			RULE("ip saddr != { %s } drop", v4);
		else
			RULE("ether type ip drop");
	}
	if (!n->allow_ip_spoofing && !n->addrconf) {
		_cleanup_free_ char *v6 = addr_set(n, AF_INET6);
		/* :: is the source of DAD probes and early MLD reports; the
		 * link-local address is the one the kernel derives from the
		 * MAC (addr_gen_mode eui64, the default). */
		RULE("ip6 saddr != { ::, %s%s%s } drop", ll, v6 ? ", " : "",
		     v6 ? v6 : "");
		fprintf(
		    f,
		    "add rule bridge %s p_%s icmpv6 type nd-neighbor-advert "
		    "@th,64,128 != { ",
		    tb, port);
		target_list(f, n);
		fprintf(f, " } drop\n");
	}
#undef RULE
	fprintf(f, "add element bridge %s ports { \"%s\" : jump p_%s }\n", tb,
		port, port);
	fclose(f);
	return buf;
}

char *net_antispoof_port_remove(const char *tb, const char *port)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	base(f, tb);
	/* Make what is removed exist first, so removal never fails. */
	fprintf(f, "add chain bridge %s p_%s\n", tb, port);
	fprintf(f, "add element bridge %s ports { \"%s\" : jump p_%s }\n", tb,
		port, port);
	fprintf(f, "delete element bridge %s ports { \"%s\" }\n", tb, port);
	fprintf(f, "flush chain bridge %s p_%s\n", tb, port);
	fprintf(f, "delete chain bridge %s p_%s\n", tb, port);
	fprintf(f, "add chain bridge %s o_%s\n", tb, port);
	fprintf(f, "add element bridge %s out_ports { \"%s\" : jump o_%s }\n",
		tb, port, port);
	fprintf(f, "delete element bridge %s out_ports { \"%s\" }\n", tb, port);
	fprintf(f, "flush chain bridge %s o_%s\n", tb, port);
	fprintf(f, "delete chain bridge %s o_%s\n", tb, port);
	fclose(f);
	return buf;
}

int net_antispoof_apply(const char *cmds, struct hull_err *err)
{
	struct nft_ctx *nft = hull_nft_open(err);
	int r;

	if (!nft)
		return -err->code;
	r = nft_run_cmd_from_buffer(nft, cmds);
	if (r != 0) {
		const char *e = nft_ctx_get_error_buffer(nft);
		const char *line = e ? strstr(e, "Error: ") : NULL;
		size_t n;
		line = line ? line + 7 : (e ? e : "failed");
		n = strcspn(line, "\n");
		r = hull_err_set(err, EIO, "nftables: %.*s", (int)n, line);
	}
	nft_ctx_free(nft);
	return r;
}

static char table_name[40];

static void table_name_once(void)
{
	snprintf(table_name, sizeof(table_name), "%s_%s",
		 NET_ANTISPOOF_LEGACY_TABLE, hull_root_tag());
}

const char *net_antispoof_table(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, table_name_once);
	return table_name;
}

int net_antispoof_table_delete(const char *tb, struct hull_err *err)
{
	_cleanup_free_ char *c =
	    xasprintf("add table bridge %s\ndelete table bridge %s\n", tb, tb);
	return net_antispoof_apply(c, err);
}

char *net_antispoof_table_text(const char *tb)
{
	struct hull_err ignore = {0};
	struct nft_ctx *nft = hull_nft_open(&ignore);
	char *out = NULL;

	if (!nft)
		return NULL; /* no nftables: no table either */
	_cleanup_free_ char *c = xasprintf("list table bridge %s\n", tb);
	if (nft_run_cmd_from_buffer(nft, c) == 0)
		out = xstrdup(nft_ctx_get_output_buffer(nft));
	nft_ctx_free(nft);
	return out;
}

int net_antispoof_table_gc(const char *tb, struct hull_err *err)
{
	_cleanup_free_ char *text = net_antispoof_table_text(tb);

	if (!text || strstr(text, "chain p_"))
		return 0;
	return net_antispoof_table_delete(tb, err);
}

int net_antispoof_legacy_forget(char (*ports)[IFNAMSIZ], size_t n,
				struct hull_err *err)
{
	const char *tb = NET_ANTISPOOF_LEGACY_TABLE;
	_cleanup_free_ char *text = net_antispoof_table_text(tb);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	if (!text)
		return 0;
	if (!(f = open_memstream(&buf, &len)))
		abort();
	for (size_t i = 0; i < n; i++) {
		char pat[IFNAMSIZ + 16];
		snprintf(pat, sizeof(pat), "chain p_%s {", ports[i]);
		if (!strstr(text, pat))
			continue;
		char *c = net_antispoof_port_remove(tb, ports[i]);
		fputs(c, f);
		free(c);
	}
	fclose(f);
	r = len ? net_antispoof_apply(buf, err) : 0;
	free(buf);
	return r ? r : net_antispoof_table_gc(tb, err);
}
