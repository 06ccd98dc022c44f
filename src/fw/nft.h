/*
 * nft.h - the firewall compiled to nftables, and loaded.
 *
 * fw_nft_compile() is a pure function: enabled rules plus the instances
 * they may touch in, one nftables ruleset out: table inet <table> (with
 * FW_NFT_BRIDGE, also table bridge <table> for ports that are bridge
 * ports; the same chains either way).
 *
 * Each pool has tables of its own, named by fw_nft_table() from the pool
 * root (several pools share a host, the head node's tests run many): a
 * pool's reload replaces its own tables and never another pool's. A packet
 * between instances of two pools passes the sender's table and the
 * receiver's, as it passes two instances' chains in one table. Older hull
 * versions had one `hull` table per host; a pool's reload drops it with its
 * own load once it holds only that pool's instances (fw_nft_legacy_ours). For
 * every instance with its firewall on, and each of its host-side ports:
 *
 *   - established/related traffic and IPv6 neighbour discovery pass first,
 *     in the base chains (forward: port to port, input: port to host,
 *     output: host to port);
 *   - traffic to the instance (forward and output, by oifname, through map
 *     to-inst) goes through chain i-<uuid>: invalid packets drop, then the
 *     inbound rules in priority order (higher first; at equal priority
 *     ALLOW before BLOCK), then drop;
 *   - traffic from it (forward and input, by iifname, through map
 *     from-inst) goes first through o-<uuid>, when it has outbound rules:
 *     higher priority first, at equal priority BLOCK before ALLOW; what is
 *     not blocked goes on (return), so a packet between two instances
 *     passes the sender's outbound and the receiver's inbound rules.
 *
 * Ports in table inet are also found by address: with br_netfilter, a
 * packet bridged between two ports of a nic tag reaches the inet hooks
 * with the bridge's name as iifname/oifname, not the port's. So the same
 * chains are entered from maps from-addr4/6 (by source) and to-addr4/6 (by
 * destination) holding the addresses of those instances' nics (ip, ips and
 * the MAC's IPv6 link-local address), which antispoof (src/net) pins to
 * them; fw_nft_apply then turns bridge-nf-call-ip(6)tables on in the
 * caller's namespace, or bridged traffic would never reach these hooks. A
 * nic with only dhcp/addrconf IPv4 is matched by link-local and port only.
 *
 * Rules that only repeat a chain's default after the last rule against it
 * are left out, and every address or port list longer than a few entries
 * is one named set shared by all rules that resolve to it.
 *
 * A rule touches an instance through a side that names it (vm, tag, all
 * vms), resolved among the instances of the rule's owner (all of them for a
 * global rule); the other side becomes an address match (any: none; ip,
 * subnet; vm/tag/all vms: those instances' addresses). Ports are always
 * destination ports.
 *
 * fw_nft_apply() changes a pool's tables in one transaction (one
 * nft_run_cmd_from_buffer), so the filter changes atomically; it replaces
 * only what differs from its last load (see below and delta.h).
 */
#ifndef HULL_FW_NFT_H
#define HULL_FW_NFT_H

#include <stdbool.h>
#include <stddef.h>

#include "fw/inst.h"
#include "fw/rule.h"
#include "lib/err.h"

/* The one table older versions shared among all pools of a host. */
#define FW_NFT_LEGACY_TABLE "hull"

/* This pool's table name, "hull_" + hull_root_tag(). Borrowed. */
const char *fw_nft_table(void);

struct fw_crule {
	const char *uuid;
	const char *owner_uuid; /* NULL: global */
	const struct fw_rule *rule;
};

/* The ruleset text for tables named table (caller frees). Only pass
 * enabled rules. */
char *fw_nft_compile(const char *table, const struct fw_crule *rules,
		     size_t nrules, const struct fw_inst *insts, size_t ninsts);

/* With FW_NFT_BRIDGE, ports that are bridge ports (fw_nic.bridged) are
 * dispatched from a `table bridge hull` with the same chains, so traffic
 * bridged between two ports of one nic tag is filtered too. Only pass it
 * when fw_nft_bridge_supported(): stateful filtering in the bridge family
 * needs the kernel's bridge connection tracking (nf_conntrack_bridge). */
#define FW_NFT_BRIDGE 1u
char *fw_nft_compile_flags(const char *table, const struct fw_crule *rules,
			   size_t nrules, const struct fw_inst *insts,
			   size_t ninsts, unsigned flags);

/* Whether the kernel can track connections in the bridge family (checked
 * with a dry-run transaction; changes nothing). */
bool fw_nft_bridge_supported(void);

/* Whether a side of rule r names instance inst (owner taken into account). */
bool fw_side_names_inst(const struct fw_crule *r, const struct fw_side *side,
			const struct fw_inst *inst);

/* Whether the legacy table exists in this network namespace and every
 * instance chain in it is one of insts' (this pool's): then this pool
 * may drop it. */
bool fw_nft_legacy_ours(const struct fw_inst *insts, size_t ninsts);

/* Loads ruleset (from fw_nft_compile for the same name) into tables inet
 * and bridge named table, atomically. By default the change is
 * incremental: against the copy of the last load kept in
 * <root>/var/fw/<table>.loaded, only the chains, map elements and sets
 * that differ are replaced (delta.h), in one transaction that also swaps
 * a token in set `gen`; nothing at all is loaded when nothing differs.
 * When there is no copy, the token in the kernel is not the copy's (a
 * crash between a load and the copy's update, another network namespace,
 * someone else's nft command), or the delta cannot be loaded, the whole
 * tables are replaced instead. */
#define FW_APPLY_FULL 1u	/* always replace the whole tables */
#define FW_APPLY_DROP_LEGACY 2u /* and remove the legacy tables (full) */
#define FW_APPLY_DRY_RUN 4u	/* only check the full load */
int fw_nft_apply_flags(const char *table, const char *ruleset, unsigned flags,
		       struct hull_err *err);

/* Whether this pool keeps a copy of a load into table (a hint that the
 * table is in use; no nftables call). */
bool fw_nft_loaded(const char *table);

/* fw_nft_apply_flags with FW_APPLY_DROP_LEGACY and FW_APPLY_DRY_RUN. */
int fw_nft_apply(const char *table, const char *ruleset, bool drop_legacy,
		 bool dry_run, struct hull_err *err);

/* Removes tables inet and bridge named table (fine when absent). */
int fw_nft_remove(const char *table, struct hull_err *err);

#endif
