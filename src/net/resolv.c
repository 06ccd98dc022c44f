/*
 * resolv.c - render resolv.conf from a record (see resolv.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "net/resolv.h"

/* resolv(5) reads at most 3 nameservers; SmartOS passes what it is given. */
#define RESOLVERS_MAX 16

int net_resolv_conf_render(json_t *record, char **out, struct hull_err *err)
{
	json_t *res = json_object_get(record, "resolvers"), *v;
	json_t *dom = json_object_get(record, "dns_domain");
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;

	*out = NULL;
	if (res && !json_is_null(res) && !json_is_array(res))
		return hull_err_set(err, EINVAL, "resolvers: not an array");
	if (dom && !json_is_null(dom) && !json_is_string(dom))
		return hull_err_set(err, EINVAL, "dns_domain: not a string");
	if (json_array_size(res) > RESOLVERS_MAX)
		return hull_err_set(err, E2BIG, "resolvers: more than %d",
				    RESOLVERS_MAX);
	json_array_foreach(res, i, v)
	{
		struct net_addr a;
		if (!json_is_string(v) ||
		    net_addr_parse(json_string_value(v), &a) < 0)
			return hull_err_set(
			    err, EINVAL, "resolvers.%zu: not an IP address", i);
	}
	if (json_string_value(dom)) {
		const char *d = json_string_value(dom);
		for (const char *p = d; *p; p++)
			if (*p <= ' ' || *p == 0x7f)
				return hull_err_set(err, EINVAL,
						    "dns_domain: not a domain "
						    "name");
		if (!*d || strlen(d) > 253)
			return hull_err_set(err, EINVAL,
					    "dns_domain: not a domain name");
	}
	if (!json_array_size(res) && !json_string_value(dom))
		return 0;
	if (!(f = open_memstream(&buf, &len)))
		abort();
	fprintf(f, "# Written by hull from the instance's resolvers and "
		   "dns_domain.\n");
	if (json_string_value(dom))
		fprintf(f, "search %s\n", json_string_value(dom));
	json_array_foreach(res, i, v)
	    fprintf(f, "nameserver %s\n", json_string_value(v));
	fclose(f);
	*out = buf;
	return 0;
}
