/*
 * rule.h - the Triton firewall rule language: a parsed rule and the pure
 * functions that read and write its text.
 *
 * fw_rule_parse() accepts exactly what Triton's own parser (the `fwrule`
 * package, language version 4) accepts and refuses what it refuses, and
 * builds the rule in Triton's canonical shape: targets deduplicated and
 * sorted per kind (wildcard, ip, subnet, tag, vm), ports sorted by start,
 * ICMP types in the order Triton's sort leaves them. fw_rule_print() writes
 * that shape back as Triton's canonical text, so print(parse(x)) is what
 * Triton stores for x.
 *
 * Strings in a rule are UTF-8, with U+0000 (possible through a \u0000
 * escape in a quoted tag) written as the two bytes C0 80, so they stay C
 * strings. Everything a rule owns is freed by fw_rule_free().
 */
#ifndef HULL_FW_RULE_H
#define HULL_FW_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Limits from the language (version 4). */
#define FW_MAX_TARGETS_PER_SIDE 24
#define FW_MAX_PROTO_TARGETS 24
#define FW_PRIORITY_MAX 100

enum fw_action { FW_ALLOW, FW_BLOCK };

enum fw_proto { FW_TCP, FW_UDP, FW_ICMP, FW_ICMP6, FW_AH, FW_ESP };

/* `tag NAME` (all == true: any value) or `tag NAME = V` for each value. */
struct fw_tag {
	char *name;
	bool all;
	char **values; /* sorted, unique; ignored when all */
	size_t nvalues;
};

/* One side of a rule (FROM or TO). Each list is sorted and unique; ip and
 * subnet entries are the text as written (Triton keeps them so). */
struct fw_side {
	bool any;    /* `any` */
	bool allvms; /* `all vms` */
	char **ips;
	size_t nips;
	char **subnets;
	size_t nsubnets;
	struct fw_tag *tags;
	size_t ntags;
	char **vms;
	size_t nvms;
};

/* A TCP/UDP port (start == end and !range for a single port). */
struct fw_port {
	uint16_t start, end;
	bool range;
};

/* An ICMP type with an optional code (code < 0: none). */
struct fw_icmp {
	int type;
	int code;
};

struct fw_rule {
	struct fw_side from, to;
	enum fw_action action;
	enum fw_proto proto;
	bool all;	       /* PORT ALL, TYPE ALL, and always for ah/esp */
	struct fw_port *ports; /* tcp/udp, unless all */
	size_t nports;
	struct fw_icmp *types; /* icmp/icmp6, unless all */
	size_t ntypes;
	int priority; /* 0..100 */
};

/* Parses rule text into *rule (zeroed first; free with fw_rule_free even
 * on failure). On a bad rule returns -EINVAL with a one-line reason that
 * names the character position and the offending token. */
int fw_rule_parse(const char *text, struct fw_rule *rule, struct hull_err *err);

/* Triton's canonical text for a parsed rule; caller frees. */
char *fw_rule_print(const struct fw_rule *rule);

/* Parses and prints in one step: the canonical text or NULL with err set. */
char *fw_rule_canonical(const char *text, struct hull_err *err);

void fw_rule_free(struct fw_rule *rule);

/* True when the rule names instances on that side (vm, tag or all vms). */
bool fw_side_has_vms(const struct fw_side *side);

#endif
