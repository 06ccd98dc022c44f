/*
 * state.c - one consistent read of the firewall (see state.h).
 */
#include <errno.h>
#include <string.h>

#include "fw/nft.h"
#include "fw/state.h"
#include "lib/fileio.h"
#include "lib/lock.h"
#include "lib/root.h"

int fw_state_load(struct fw_state *st, struct hull_err *err)
{
	memset(st, 0, sizeof(*st));
	st->lock = -1;
	if (!hull_is_dir(hull_root()))
		return hull_err_set(err, ENOENT, "no hull pool at %s",
				    hull_root());
	st->lock = fw_store_lock(err);
	if (st->lock < 0)
		return st->lock;
	if (fw_store_load_all(&st->recs, &st->n, err) < 0)
		return -EINVAL;
	return fw_inst_load_all(&st->insts, &st->ninsts, err);
}

void fw_state_free(struct fw_state *st)
{
	fw_rec_free_all(st->recs, st->n);
	fw_inst_free_all(st->insts, st->ninsts);
	hull_lock_release(st->lock);
	memset(st, 0, sizeof(*st));
	st->lock = -1;
}

struct fw_rec *fw_state_rule(struct fw_state *st, const char *uuid)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->recs[i].uuid, uuid))
			return &st->recs[i];
	return NULL;
}

const struct fw_inst *fw_state_inst(struct fw_state *st, const char *uuid)
{
	for (size_t i = 0; i < st->ninsts; i++)
		if (!strcmp(st->insts[i].uuid, uuid))
			return &st->insts[i];
	return NULL;
}

bool fw_rule_touches(const struct fw_rec *r, const struct fw_inst *in)
{
	struct fw_crule cr = {r->uuid, r->owner_uuid, &r->rule};
	return fw_side_names_inst(&cr, &r->rule.from, in) ||
	       fw_side_names_inst(&cr, &r->rule.to, in);
}
