/*
 * state.h - one consistent read of the firewall: every rule record and
 * every instance, under the rule store's lock. The transactions of
 * hull/firewall.h (src/fw/api.c) and fwadm's read-only commands (list,
 * get, vms, rules, status) start from one.
 */
#ifndef HULL_FW_STATE_H
#define HULL_FW_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "fw/inst.h"
#include "fw/store.h"
#include "lib/err.h"

struct fw_state {
	int lock; /* the store lock, held until fw_state_free */
	struct fw_rec *recs;
	size_t n;
	struct fw_inst *insts;
	size_t ninsts;
};

/* Takes the store lock and loads everything; ENOENT when there is no
 * pool. On a failure st is still safe to fw_state_free. */
int fw_state_load(struct fw_state *st, struct hull_err *err);
/* Frees and releases the lock; idempotent. */
void fw_state_free(struct fw_state *st);

/* Borrowed from st, or NULL. */
struct fw_rec *fw_state_rule(struct fw_state *st, const char *uuid);
const struct fw_inst *fw_state_inst(struct fw_state *st, const char *uuid);

/* Whether r names instance in on either side (what `fwadm vms` lists). */
bool fw_rule_touches(const struct fw_rec *r, const struct fw_inst *in);

#endif
