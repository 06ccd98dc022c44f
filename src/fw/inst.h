/*
 * inst.h - what the firewall needs to know about an instance: its uuid,
 * owner, tags, whether its firewall is on, and its nics (the host-side port
 * each one is plugged into, and its addresses). Read from the instance
 * records (<root>/<uuid>/config/vm.json, the SmartOS VM object).
 */
#ifndef HULL_FW_INST_H
#define HULL_FW_INST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

struct fw_nic {
	char *ifname; /* host-side port name */
	char mac[18]; /* lower case, "" when the record has none */
	bool named;   /* ifname came from the record's host_ifname */
	bool bridged; /* the port is live and enslaved to a bridge */
	char **ips;   /* plain addresses (no prefix length) */
	size_t nips;
};

struct fw_inst {
	char *uuid;
	char *owner_uuid;      /* NULL when the record has none */
	bool firewall_enabled; /* the record's property and not `fwadm stop`ped
				*/
	char **tag_keys;       /* tag values as text: numbers in decimal, */
	char **tag_vals;       /* booleans as true/false */
	size_t ntags;
	struct fw_nic *nics;
	size_t nnics;
};

/* The host-side port name of nic number idx of an instance when its record
 * does not name one (nics[].host_ifname): "vh" + the first 8 hex digits of
 * the uuid + "-" + idx, at most 15 characters. Writes into out[16]. */
void fw_nic_default_ifname(const char *uuid, size_t idx, char out[16]);

/* Fills inst from a SmartOS VM object. */
int fw_inst_from_json(json_t *vm, struct fw_inst *inst, struct hull_err *err);

/* All instance records under the pool root (directories named by a uuid
 * holding config/vm.json), sorted by uuid; an instance stopped with
 * `fwadm stop` (marker <root>/var/fw/stopped/<uuid>) has firewall_enabled
 * false. A nic's port name is, in order: the record's host_ifname, the
 * live port in the caller's network namespace whose alias is
 * "hull:<uuid>:<mac>" (how src/net marks the ports it makes), or the
 * default name. */
int fw_inst_load_all(struct fw_inst **out, size_t *n, struct hull_err *err);

/* True when the instance carries tag key (any value, when value is NULL). */
bool fw_inst_has_tag(const struct fw_inst *inst, const char *key,
		     const char *value);

void fw_inst_free(struct fw_inst *inst);
void fw_inst_free_all(struct fw_inst *insts, size_t n);

#endif
