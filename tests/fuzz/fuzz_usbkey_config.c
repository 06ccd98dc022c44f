/*
 * fuzz_usbkey_config.c - the platform's host configuration, usbkey/config
 * (SmartOS's key=value lines): root's file, but a pool may come from
 * another host. Through net_cfg_parse_kv and on to what ipadm init makes
 * of it: the host name and the resolv.conf text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/xalloc.h"
#include "net/netcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The file is read as text: a NUL ends it. */
	char *text = xstrndup((const char *)data, size);
	char host[NET_CFG_HOSTNAME_MAX], *resolv = NULL;
	struct hull_err err;
	const char *k;
	json_t *kv = net_cfg_parse_kv(text), *v;

	if (!json_is_object(kv))
		abort();
	json_object_foreach(kv, k, v)
	{
		/* A key is one line's text before its first '='. */
		if (!*k || strchr(k, '=') || strchr(k, '\n') ||
		    !json_is_string(v) || strchr(json_string_value(v), '\n'))
			abort();
	}
	if (net_cfg_hostname(kv, host, &err) == 0) {
		if (strlen(host) >= NET_CFG_HOSTNAME_MAX)
			abort();
		for (const char *p = host; *p; p++)
			if (*p <= ' ' || *p == '/' || *p == 0x7f)
				abort();
	}
	if (net_cfg_resolv_render(kv, &resolv, &err) == 0 && resolv) {
		/* Every line is a comment, search or nameserver line. */
		for (char *l = resolv; *l;) {
			char *nl = strchr(l, '\n');
			if (!nl ||
			    (strncmp(l, "# ", 2) && strncmp(l, "search ", 7) &&
			     strncmp(l, "nameserver ", 11)))
				abort();
			l = nl + 1;
		}
	}
	free(resolv);
	json_decref(kv);
	free(text);
	return 0;
}
