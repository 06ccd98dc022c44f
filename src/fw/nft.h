/*
 * nft.h - the firewall compiled to nftables, and loaded.
 *
 * fw_nft_compile() is a pure function: enabled rules plus the instances
 * they may touch in, one nftables ruleset (table inet hull) out. For every
 * instance with its firewall on, and each of its host-side ports:
 *
 *   - traffic to the instance (forward and output hooks, by oifname) goes
 *     through chain i-<uuid>: established/related and IPv6 neighbour
 *     discovery pass, then the inbound rules in priority order (higher
 *     first; at equal priority ALLOW before BLOCK), then drop;
 *   - traffic from it (forward and input hooks, by iifname) goes through
 *     o-<uuid> first: established/related pass, then the outbound rules
 *     (higher priority first; at equal priority BLOCK before ALLOW), and
 *     whatever is not blocked goes on (return), so a packet between two
 *     instances passes the sender's outbound and the receiver's inbound
 *     rules.
 *
 * A rule touches an instance through a side that names it (vm, tag, all
 * vms), resolved among the instances of the rule's owner (all of them for a
 * global rule); the other side becomes an address match (any: none; ip,
 * subnet; vm/tag/all vms: those instances' addresses). Ports are always
 * destination ports.
 *
 * fw_nft_apply() replaces the whole table in one transaction (one
 * nft_run_cmd_from_buffer), so the filter changes atomically.
 */
#ifndef HULL_FW_NFT_H
#define HULL_FW_NFT_H

#include <stdbool.h>
#include <stddef.h>

#include "fw/inst.h"
#include "fw/rule.h"
#include "lib/err.h"

#define FW_NFT_TABLE "hull"

struct fw_crule {
	const char *uuid;
	const char *owner_uuid;  /* NULL: global */
	const struct fw_rule *rule;
};

/* The ruleset text (caller frees). Only pass enabled rules. */
char *fw_nft_compile(const struct fw_crule *rules, size_t nrules,
		     const struct fw_inst *insts, size_t ninsts);

/* Whether a side of rule r names instance inst (owner taken into account). */
bool fw_side_names_inst(const struct fw_crule *r, const struct fw_side *side,
			const struct fw_inst *inst);

/* Atomically replaces table inet hull with ruleset (from fw_nft_compile);
 * dry_run only checks it. */
int fw_nft_apply(const char *ruleset, bool dry_run, struct hull_err *err);

/* Removes table inet hull (fine when absent). */
int fw_nft_remove(struct hull_err *err);

#endif
