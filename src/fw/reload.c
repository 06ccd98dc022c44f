/*
 * reload.c - rebuild and load the live filter from disk (see reload.h).
 */
#include "fw/reload.h"

#include <stdlib.h>

#include "fw/inst.h"
#include "fw/nft.h"
#include "fw/store.h"
#include "lib/err.h"
#include "lib/lock.h"
#include "lib/nft.h"
#include "lib/xalloc.h"

int fw_reload(bool dry_run, struct hull_err *err)
{
	int lock = fw_store_lock(err);
	if (lock < 0)
		return lock;
	struct fw_rec *recs = NULL;
	struct fw_inst *insts = NULL;
	size_t n = 0, ninsts = 0;
	int rc = fw_store_load_all(&recs, &n, err);
	if (rc == 0)
		rc = fw_inst_load_all(&insts, &ninsts, err);
	if (rc == 0) {
		struct fw_crule *cr = xcalloc(n ? n : 1, sizeof(*cr));
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (!recs[i].enabled)
				continue;
			cr[k].uuid = recs[i].uuid;
			cr[k].owner_uuid = recs[i].owner_uuid;
			cr[k].rule = &recs[i].rule;
			k++;
		}
		const char *table = fw_nft_table();
		char *text = fw_nft_compile_flags(
		    table, cr, k, insts, ninsts,
		    fw_nft_bridge_supported() ? FW_NFT_BRIDGE : 0);
		rc =
		    fw_nft_apply(table, text, fw_nft_legacy_ours(insts, ninsts),
				 dry_run, err);
		free(text);
		free(cr);
	}
	fw_rec_free_all(recs, n);
	fw_inst_free_all(insts, ninsts);
	hull_lock_release(lock);
	if (rc < 0)
		hull_err_prefix(err, "firewall reload");
	return rc;
}

/* Whether this pool's table, or the one older versions shared, exists in
 * this network namespace (a reload may then have to drop or migrate it). */
static bool table_exists(void)
{
	struct hull_err ignore = {0};
	struct nft_ctx *nft = hull_nft_open(&ignore);
	if (!nft)
		return false; /* no nftables: no table either */
	char *own = xasprintf("list table inet %s\n", fw_nft_table());
	bool yes = nft_run_cmd_from_buffer(nft, own) == 0 ||
		   nft_run_cmd_from_buffer(
		       nft, "list table inet " FW_NFT_LEGACY_TABLE "\n") == 0;
	free(own);
	nft_ctx_free(nft);
	return yes;
}

/* Whether any instance record has its firewall on (unlocked: a hint). */
static bool any_active(void)
{
	struct fw_inst *insts = NULL;
	size_t n = 0;
	struct hull_err ignore;
	if (fw_inst_load_all(&insts, &n, &ignore) < 0)
		return true; /* let fw_reload report it */
	bool active = false;
	for (size_t i = 0; i < n; i++)
		active |= insts[i].firewall_enabled && insts[i].nnics > 0;
	fw_inst_free_all(insts, n);
	return active;
}

int fw_reload_if_used(struct hull_err *err)
{
	if (!any_active() && !fw_nft_loaded(fw_nft_table()) && !table_exists())
		return 0;
	return fw_reload(false, err);
}

/* Whether the filter depends on inst: its firewall is on, or an enabled
 * rule names it on either side (then its addresses are some other
 * instance's peers). Under the rule store lock, so that a rule added at
 * the same time either is seen here or sees the instance's record. */
static int inst_concerned(const struct fw_inst *inst, struct hull_err *err)
{
	if (inst->firewall_enabled && inst->nnics > 0)
		return 1;
	int lock = fw_store_lock(err);
	if (lock < 0)
		return lock;
	struct fw_rec *recs = NULL;
	size_t n = 0;
	int rc = fw_store_load_all(&recs, &n, err);
	hull_lock_release(lock);
	if (rc < 0)
		return rc;
	int yes = 0;
	for (size_t i = 0; i < n && !yes; i++) {
		if (!recs[i].enabled)
			continue;
		struct fw_crule cr = {recs[i].uuid, recs[i].owner_uuid,
				      &recs[i].rule};
		yes = fw_side_names_inst(&cr, &recs[i].rule.from, inst) ||
		      fw_side_names_inst(&cr, &recs[i].rule.to, inst);
	}
	fw_rec_free_all(recs, n);
	return yes;
}

int fw_reload_for(json_t *vm, struct hull_err *err)
{
	struct fw_inst inst = {0};
	if (fw_inst_from_json(vm, &inst, err) < 0)
		return hull_err_prefix(err, "firewall reload");
	int c = inst_concerned(&inst, err);
	fw_inst_free(&inst);
	if (c < 0)
		return hull_err_prefix(err, "firewall reload");
	return c ? fw_reload_if_used(err) : 0;
}
