/*
 * dl_nft.c - libnftables, loaded on first use (dl.h).
 *
 * hull_nft_open (nft.c) loads it and reports a missing library; every
 * other function here takes the context that made.
 */
#include <nftables/libnftables.h>

#include "lib/dl.h"

struct hull_dl hull_dl_nft = HULL_DL_INIT("libnftables.so.1");
#define L hull_dl_nft

struct nft_ctx *nft_ctx_new(uint32_t flags)
{
	__typeof__(&nft_ctx_new) f = HULL_DL_TRY(L, nft_ctx_new);
	return f ? f(flags) : NULL;
}

HULL_DL_VOID1(L, nft_ctx_free, struct nft_ctx *)
HULL_DL_FWD1(L, int, nft_ctx_buffer_output, struct nft_ctx *)
HULL_DL_FWD1(L, int, nft_ctx_buffer_error, struct nft_ctx *)
HULL_DL_FWD1(L, const char *, nft_ctx_get_output_buffer, struct nft_ctx *)
HULL_DL_FWD1(L, const char *, nft_ctx_get_error_buffer, struct nft_ctx *)
HULL_DL_VOID2(L, nft_ctx_set_dry_run, struct nft_ctx *, bool)
HULL_DL_FWD2(L, int, nft_run_cmd_from_buffer, struct nft_ctx *, const char *)
