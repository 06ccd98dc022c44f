/*
 * stale.c - removing the antispoof chains a killed instance left (stale.h).
 */
#include "net/stale.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lock.h"
#include "lib/nft.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "net/antispoof.h"
#include "net/instance.h"
#include "net/netlink.h"

/* The text of "list table bridge hull_antispoof", or NULL when absent. */
static char *table_text(void)
{
	struct hull_err ignore = {0};
	struct nft_ctx *nft = hull_nft_open(&ignore);
	char *out = NULL;

	if (!nft)
		return NULL; /* no nftables: no table either */
	if (nft_run_cmd_from_buffer(
		nft, "list table bridge " NET_ANTISPOOF_TABLE "\n") == 0)
		out = xstrdup(nft_ctx_get_output_buffer(nft));
	nft_ctx_free(nft);
	return out;
}

static int any_cb(const char *name, const char *alias, int master, void *arg)
{
	return 1;
}

int net_instance_cleanup(const char *uuid, struct hull_err *err)
{
	int r = net_instance_teardown(uuid, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *text = table_text();
	if (!text)
		return 0;
	_cleanup_free_ char *lockp = hull_root_path("var/net.lock");
	int lock = hull_lock_take(lockp, true, err);
	if (lock < 0)
		return lock;
	struct nl_sock *sk = net_nl_open(-1, err);
	if (!sk) {
		hull_lock_release(lock);
		return -err->code;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	bool any = false;
	for (unsigned k = 0; k < NET_MAX_NICS; k++) {
		char port[IFNAMSIZ], pat[IFNAMSIZ + 16];
		snprintf(port, sizeof(port), "hv%.8s%u", uuid, k);
		snprintf(pat, sizeof(pat), "chain p_%s {", port);
		if (!strstr(text, pat) || net_link_index(sk, port) > 0)
			continue;
		char *c = net_antispoof_port_remove(port);
		fputs(c, f);
		free(c);
		any = true;
	}
	fclose(f);
	r = any ? net_antispoof_apply(buf, err) : 0;
	free(buf);
	struct hull_err ignore;
	if (!r && any &&
	    net_link_foreach(sk, "hull:", any_cb, NULL, &ignore) == 0)
		r = net_antispoof_table_delete(err);
	net_nl_close(sk);
	hull_lock_release(lock);
	return r;
}
