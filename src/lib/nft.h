/*
 * nft.h - a libnftables context that cannot end the process.
 *
 * libnftables exits the whole program ("Unable to initialize Netlink
 * socket") when the kernel has no nf_tables netlink, as on a host that
 * cannot load modules. hull_nft_open probes that socket first and reports
 * the problem as an error instead.
 */
#ifndef HULL_LIB_NFT_H
#define HULL_LIB_NFT_H

#include <nftables/libnftables.h>
#include <stdbool.h>

#include "lib/err.h"

/* Whether this network namespace's kernel answers nf_tables netlink. */
bool hull_nft_available(void);

/* A context with buffered output and errors (free with nft_ctx_free), or
 * NULL with err set when nftables is unavailable. */
struct nft_ctx *hull_nft_open(struct hull_err *err);

#endif
