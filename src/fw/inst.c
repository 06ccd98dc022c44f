/*
 * inst.c - instance records as the firewall sees them (see inst.h).
 */
#include "fw/inst.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inst/record.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "lib/mac.h"
#include "net/netlink.h"

void fw_nic_default_ifname(const char *uuid, size_t idx, char out[16])
{
	char hex[9];
	size_t k = 0;
	for (const char *p = uuid; *p && k < 8; p++)
		if (*p != '-')
			hex[k++] = *p;
	hex[k] = '\0';
	snprintf(out, 16, "vh%s-%zu", hex, idx % 10000);
}

static void push(char ***v, size_t *n, char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = s;
}

/* "192.0.2.5/24" or "192.0.2.5" -> the address, when it is one. */
static void nic_add_ip(struct fw_nic *nic, const char *s)
{
	char *a = xstrdup(s);
	char *slash = strchr(a, '/');
	if (slash)
		*slash = '\0';
	unsigned char buf[16];
	if (inet_pton(AF_INET, a, buf) == 1 ||
	    inet_pton(AF_INET6, a, buf) == 1) {
		for (size_t i = 0; i < nic->nips; i++)
			if (!strcmp(nic->ips[i], a)) {
				free(a);
				return;
			}
		push(&nic->ips, &nic->nips, a);
		return;
	}
	free(a); /* dhcp, addrconf */
}

int fw_inst_from_json(json_t *vm, struct fw_inst *inst, struct hull_err *err)
{
	memset(inst, 0, sizeof(*inst));
	const char *uuid = hull_json_str(vm, "uuid", NULL);
	if (!uuid || !hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "VM record has no valid uuid");
	inst->uuid = xstrdup(uuid);
	const char *owner = hull_json_str(vm, "owner_uuid", NULL);
	inst->owner_uuid = owner ? xstrdup(owner) : NULL;
	inst->firewall_enabled = hull_json_bool(vm, "firewall_enabled", false);
	json_t *tags = json_object_get(vm, "tags");
	const char *key;
	json_t *val;
	if (json_is_object(tags)) {
		json_object_foreach(tags, key, val)
		{
			char *v;
			if (json_is_string(val))
				v = xstrdup(json_string_value(val));
			else if (json_is_integer(val))
				v = xasprintf("%" JSON_INTEGER_FORMAT,
					      json_integer_value(val));
			else if (json_is_real(val))
				v = xasprintf("%.17g", json_real_value(val));
			else if (json_is_boolean(val))
				v = xstrdup(json_is_true(val) ? "true"
							      : "false");
			else
				continue;
			size_t n = inst->ntags;
			push(&inst->tag_keys, &n, xstrdup(key));
			push(&inst->tag_vals, &inst->ntags, v);
		}
	}
	json_t *nics = json_object_get(vm, "nics");
	size_t i;
	json_t *nj;
	json_array_foreach(nics, i, nj)
	{
		inst->nics = xrealloc(inst->nics,
				      (inst->nnics + 1) * sizeof(*inst->nics));
		struct fw_nic *nic = &inst->nics[inst->nnics++];
		memset(nic, 0, sizeof(*nic));
		const char *mac = hull_json_str(nj, "mac", NULL);
		if (mac && strlen(mac) == 17)
			for (size_t k = 0; k < 17; k++)
				nic->mac[k] =
				    (char)tolower((unsigned char)mac[k]);
		const char *ifn = hull_json_str(nj, "host_ifname", NULL);
		if (ifn && strlen(ifn) > 0 && strlen(ifn) < 16) {
			nic->ifname = xstrdup(ifn);
			nic->named = true;
		} else {
			char def[16];
			fw_nic_default_ifname(uuid, i, def);
			nic->ifname = xstrdup(def);
		}
		const char *ip = hull_json_str(nj, "ip", NULL);
		if (ip)
			nic_add_ip(nic, ip);
		json_t *ips = json_object_get(nj, "ips");
		size_t k;
		json_t *ipj;
		json_array_foreach(ips, k, ipj)
		{
			if (json_is_string(ipj))
				nic_add_ip(nic, json_string_value(ipj));
		}
		/* The IPv6 link-local address every nic has (antispoof lets
		 * it out), so the filter finds traffic to it too. */
		uint8_t mb[HULL_MAC_LEN], ll[16];
		char lls[INET6_ADDRSTRLEN];
		if (hull_mac_parse(hull_json_str(nj, "mac", ""), mb) == 0) {
			hull_mac_to_ipv6_ll(mb, ll);
			if (inet_ntop(AF_INET6, ll, lls, sizeof(lls)))
				nic_add_ip(nic, lls);
		}
	}
	return 0;
}

struct port_scan {
	struct fw_inst *insts;
	size_t n;
};

/* A live port "hull:<uuid>:<mac>": give its name to that nic. */
static int port_cb(const char *name, const char *alias, int master, void *arg)
{
	struct port_scan *ps = arg;
	size_t len = strlen(alias);
	if (len != 5 + 36 + 1 + 17 || alias[41] != ':')
		return 0;
	for (size_t i = 0; i < ps->n; i++) {
		struct fw_inst *in = &ps->insts[i];
		if (strncmp(in->uuid, alias + 5, 36))
			continue;
		for (size_t k = 0; k < in->nnics; k++) {
			struct fw_nic *nic = &in->nics[k];
			if (nic->named || strcasecmp(nic->mac, alias + 42))
				continue;
			free(nic->ifname);
			nic->ifname = xstrdup(name);
			nic->bridged = master > 0;
		}
	}
	return 0;
}

/* Best effort: without a route socket the default names stay. */
static void ports_resolve(struct fw_inst *insts, size_t n)
{
	struct hull_err ignore;
	struct nl_sock *sk = net_nl_open(-1, &ignore);
	if (!sk)
		return;
	struct port_scan ps = {insts, n};
	net_link_foreach(sk, "hull:", port_cb, &ps, &ignore);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < insts[i].nnics; k++)
			if (insts[i].nics[k].named)
				insts[i].nics[k].bridged =
				    net_link_master(
					sk, insts[i].nics[k].ifname) > 0;
	net_nl_close(sk);
}

static int uuid_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fw_inst *)a)->uuid,
		      ((const struct fw_inst *)b)->uuid);
}

struct load_all {
	struct fw_inst **out;
	size_t *n;
	struct hull_err *err;
};

static int load_one(const char *uuid, json_t *vm, void *arg)
{
	struct load_all *la = arg;
	struct fw_inst inst;
	int rc = fw_inst_from_json(vm, &inst, la->err);
	if (rc < 0) {
		fw_inst_free(&inst);
		return hull_err_prefix(la->err, "instance %s", uuid);
	}
	char *mark = hull_root_path("var/fw/stopped/%s", inst.uuid);
	if (hull_path_exists(mark))
		inst.firewall_enabled = false;
	free(mark);
	*la->out = xrealloc(*la->out, (*la->n + 1) * sizeof(**la->out));
	(*la->out)[(*la->n)++] = inst;
	return 0;
}

int fw_inst_load_all(struct fw_inst **out, size_t *n, struct hull_err *err)
{
	*out = NULL;
	*n = 0;
	struct load_all la = {out, n, err};
	int rc = inst_record_foreach(INST_WALK_STRICT, load_one, &la, err);
	if (rc < 0) {
		fw_inst_free_all(*out, *n);
		*out = NULL;
		*n = 0;
		return rc;
	}
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), uuid_cmp);
	if (*n)
		ports_resolve(*out, *n);
	return 0;
}

bool fw_inst_has_tag(const struct fw_inst *inst, const char *key,
		     const char *value)
{
	for (size_t i = 0; i < inst->ntags; i++)
		if (!strcmp(inst->tag_keys[i], key) &&
		    (!value || !strcmp(inst->tag_vals[i], value)))
			return true;
	return false;
}

void fw_inst_free(struct fw_inst *inst)
{
	if (!inst)
		return;
	free(inst->uuid);
	free(inst->owner_uuid);
	for (size_t i = 0; i < inst->ntags; i++) {
		free(inst->tag_keys[i]);
		free(inst->tag_vals[i]);
	}
	free(inst->tag_keys);
	free(inst->tag_vals);
	for (size_t i = 0; i < inst->nnics; i++) {
		free(inst->nics[i].ifname);
		for (size_t k = 0; k < inst->nics[i].nips; k++)
			free(inst->nics[i].ips[k]);
		free(inst->nics[i].ips);
	}
	free(inst->nics);
	memset(inst, 0, sizeof(*inst));
}

void fw_inst_free_all(struct fw_inst *insts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fw_inst_free(&insts[i]);
	free(insts);
}
