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

int net_instance_cleanup(const char *uuid, struct hull_err *err)
{
	int r = net_instance_teardown(uuid, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *text =
	    net_antispoof_table_text(net_antispoof_table());
	_cleanup_free_ char *legacy =
	    net_antispoof_table_text(NET_ANTISPOOF_LEGACY_TABLE);
	if (!text && !legacy)
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
	char gone[NET_MAX_NICS][IFNAMSIZ];
	size_t ngone = 0;
	for (unsigned k = 0; k < NET_MAX_NICS; k++) {
		char port[IFNAMSIZ], pat[IFNAMSIZ + 16];
		snprintf(port, sizeof(port), "hv%.8s%u", uuid, k);
		snprintf(pat, sizeof(pat), "chain p_%s {", port);
		if (net_link_index(sk, port) > 0)
			continue;
		memcpy(gone[ngone++], port, IFNAMSIZ);
		if (!text || !strstr(text, pat))
			continue;
		char *c =
		    net_antispoof_port_remove(net_antispoof_table(), port);
		fputs(c, f);
		free(c);
		any = true;
	}
	fclose(f);
	r = any ? net_antispoof_apply(buf, err) : 0;
	free(buf);
	if (!r && any)
		r = net_antispoof_table_gc(net_antispoof_table(), err);
	if (!r && legacy)
		r = net_antispoof_legacy_forget(gone, ngone, err);
	net_nl_close(sk);
	hull_lock_release(lock);
	return r;
}
