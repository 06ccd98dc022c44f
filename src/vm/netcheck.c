/*
 * netcheck.c - nics checked against the host and the pool (netcheck.h).
 */
#include "vm/netcheck.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inst/record.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "net/nic.h"
#include "net/nictag.h"

/* The other instance's nics: MACs and static addresses. */
static int other_check(const struct net_config *cfg, const char *other,
		       json_t *nics, struct hull_err *err)
{
	size_t i;
	json_t *nic;
	json_array_foreach(nics, i, nic)
	{
		uint8_t mac[HULL_MAC_LEN];
		const char *ms = hull_json_str(nic, "mac", "");
		bool have_mac = hull_mac_parse(ms, mac) == 0;
		/* Addresses: "ip" and the static entries of "ips". */
		struct net_addr addrs[NET_MAX_IPS + 1];
		size_t na = 0;
		const char *ip = hull_json_str(nic, "ip", NULL);
		if (ip && net_addr_parse(ip, &addrs[na]) == 0)
			na++;
		size_t k;
		json_t *e;
		json_array_foreach(json_object_get(nic, "ips"), k, e)
		{
			if (na < NET_MAX_IPS + 1 && json_is_string(e) &&
			    net_cidr_parse(json_string_value(e), true,
					   &addrs[na]) == 0)
				na++;
		}
		for (size_t n = 0; n < cfg->nnics; n++) {
			const struct net_nic *mine = &cfg->nics[n];
			if (have_mac && !memcmp(mac, mine->mac, HULL_MAC_LEN))
				return hull_err_set(
				    err, EEXIST,
				    "nics.%u: mac %s is already used "
				    "by VM %s",
				    mine->index, ms, other);
			for (size_t a = 0; a < mine->nips; a++)
				for (size_t b = 0; b < na; b++) {
					struct net_addr x = mine->ips[a],
							y = addrs[b];
					x.prefix = y.prefix = 0;
					if (!net_addr_equal(&x, &y))
						continue;
					char s[NET_ADDR_STRLEN];
					net_addr_format(&mine->ips[a], false, s,
							sizeof(s));
					return hull_err_set(
					    err, EEXIST,
					    "nics.%u: address %s is "
					    "already used by VM %s",
					    mine->index, s, other);
				}
		}
	}
	return 0;
}

struct others {
	const struct net_config *cfg;
	const char *self;
	struct hull_err *err;
};

static int other_one(const char *uuid, json_t *rec, void *arg)
{
	struct others *o = arg;
	if (!strcmp(uuid, o->self))
		return 0;
	return other_check(o->cfg, uuid, json_object_get(rec, "nics"), o->err);
}

int vm_nics_host_check(json_t *vm, struct hull_err *err)
{
	json_t *nics = json_object_get(vm, "nics");
	if (!json_is_array(nics) || json_array_size(nics) == 0)
		return 0;
	struct net_config *cfg = xcalloc(1, sizeof(*cfg));
	int r = net_config_parse(vm, cfg, err);
	for (size_t n = 0; r == 0 && n < cfg->nnics; n++) {
		struct net_tag tag;
		if ((r = net_tag_get(cfg->nics[n].tag, &tag, err)) < 0)
			hull_err_prefix(err, "nics.%u", cfg->nics[n].index);
	}
	struct others o = {cfg, hull_json_str(vm, "uuid", ""), err};
	if (r == 0)
		r = inst_record_foreach(0, other_one, &o, NULL);
	free(cfg);
	return r;
}
