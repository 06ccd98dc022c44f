/*
 * reload.c - rebuild and load the live filter from disk (see reload.h).
 */
#include "fw/reload.h"

#include <stdlib.h>

#include "fw/inst.h"
#include "fw/nft.h"
#include "fw/store.h"
#include "lib/lock.h"
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
		char *text = fw_nft_compile_flags(
		    cr, k, insts, ninsts,
		    fw_nft_bridge_supported() ? FW_NFT_BRIDGE : 0);
		rc = fw_nft_apply(text, dry_run, err);
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
