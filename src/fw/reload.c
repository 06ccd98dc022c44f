/*
 * reload.c - recompile and load the whole filter from the rule store and
 * the instance records (see nft.h).
 */
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdbool.h>
#include <stdlib.h>

#include "fw/inst.h"
#include "fw/nft.h"
#include "fw/store.h"
#include "lib/lock.h"
#include "lib/xalloc.h"

/* Whether table inet hull exists in this network namespace. */
static bool table_exists(void)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft)
		return true;
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	bool yes = nft_run_cmd_from_buffer(nft, "list table inet " FW_NFT_TABLE
					   "\n") == 0;
	nft_ctx_free(nft);
	return yes;
}

/* Whether any instance record has its firewall on (unlocked, a hint). */
static bool any_active(struct hull_err *err)
{
	struct fw_inst *insts = NULL;
	size_t n = 0;
	if (fw_inst_load_all(&insts, &n, err) < 0)
		return true; /* let the locked pass report it */
	bool active = false;
	for (size_t i = 0; i < n; i++)
		active |= insts[i].firewall_enabled && insts[i].nnics > 0;
	fw_inst_free_all(insts, n);
	return active;
}

int fw_reload(struct hull_err *err)
{
	/* Nothing filtered and nothing loaded: touch neither the host nor
	 * the store (no lock file in a pool that never used the firewall). */
	if (!any_active(err) && !table_exists())
		return 0;
	int lock = fw_store_lock(err);
	if (lock < 0)
		return lock;
	struct fw_rec *recs = NULL;
	struct fw_inst *insts = NULL;
	size_t n = 0, ninsts = 0;
	int r = fw_store_load_all(&recs, &n, err);
	if (r == 0)
		r = fw_inst_load_all(&insts, &ninsts, err);
	bool active = false;
	for (size_t i = 0; i < ninsts; i++)
		active |= insts[i].firewall_enabled && insts[i].nnics > 0;
	if (r == 0 && !active) {
		/* Nothing to filter: leave the host's settings alone. */
		r = table_exists() ? fw_nft_remove(err) : 0;
	} else if (r == 0) {
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
		char *text = fw_nft_compile(cr, k, insts, ninsts);
		free(cr);
		r = fw_nft_apply(text, false, err);
		free(text);
	}
	fw_rec_free_all(recs, n);
	fw_inst_free_all(insts, ninsts);
	hull_lock_release(lock);
	return r < 0 ? hull_err_prefix(err, "firewall") : 0;
}
