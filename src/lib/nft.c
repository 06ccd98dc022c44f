/*
 * nft.c - a libnftables context that cannot end the process (nft.h).
 */
#include "lib/nft.h"

#include "lib/dl.h"

#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

bool hull_nft_available(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

struct nft_ctx *hull_nft_open(struct hull_err *err)
{
	if (!hull_nft_available()) {
		hull_err_sys(err, errno,
			     "nftables: the kernel offers no netfilter netlink "
			     "(is nf_tables loaded?)");
		return NULL;
	}
	/* libnftables is loaded here, on first use (dl.h). */
	if (hull_dl_open(&hull_dl_nft, err) < 0)
		return NULL;
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft) {
		hull_err_set(err, ENOMEM, "nftables: cannot make a context");
		return NULL;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	return nft;
}
