/*
 * netcfg.c - the platform's stored network configuration (see netcfg.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/mac.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "net/addr.h"
#include "net/netcfg.h"

bool net_cfg_platform(void)
{
	_cleanup_free_ char *p = hull_root_path("usbkey/config");

	return hull_path_exists(p);
}

json_t *net_cfg_load(struct hull_err *err)
{
	_cleanup_free_ char *p = hull_root_path("usbkey/net.json");
	json_t *j;

	if (!hull_path_exists(p))
		return json_pack("{s[] s[]}", "links", "addrs");
	if (!(j = hull_json_load_file(p, err)))
		return NULL;
	if (!json_is_array(json_object_get(j, "links")))
		json_object_set_new(j, "links", json_array());
	if (!json_is_array(json_object_get(j, "addrs")))
		json_object_set_new(j, "addrs", json_array());
	return j;
}

int net_cfg_put(const char *section, const char *key, const char *value,
		json_t *obj, struct hull_err *err)
{
	_cleanup_free_ char *dir = hull_root_path("usbkey");
	_cleanup_free_ char *lp = hull_root_path("usbkey/net.lock");
	_cleanup_free_ char *p = hull_root_path("usbkey/net.json");
	json_t *j, *a, *e;
	size_t i;
	int lock, r;

	if ((r = hull_mkdir_p(dir, 0700, err)))
		return r;
	if ((lock = hull_lock_take(lp, true, err)) < 0)
		return lock;
	if (!(j = net_cfg_load(err))) {
		hull_lock_release(lock);
		return -err->code;
	}
	a = json_object_get(j, section);
	json_array_foreach(a, i, e)
	{
		if (!strcmp(hull_json_str(e, key, ""), value)) {
			json_array_remove(a, i);
			break;
		}
	}
	if (obj)
		json_array_append(a, obj);
	r = hull_json_save_file(p, j, err);
	json_decref(j);
	hull_lock_release(lock);
	return r;
}

json_t *net_cfg_parse_kv(const char *text)
{
	json_t *o = json_object();
	const char *s = text;

	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		char *line = xstrndup(s, n), *k = line, *v, *end;

		s += n + (nl ? 1 : 0);
		while (*k == ' ' || *k == '\t')
			k++;
		if (*k == '#' || !(v = strchr(k, '='))) {
			free(line);
			continue;
		}
		*v++ = 0;
		for (end = v + strlen(v);
		     end > v &&
		     (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r');)
			*--end = 0;
		if (end - v >= 2 && (v[0] == '"' || v[0] == '\'') &&
		    end[-1] == v[0]) {
			end[-1] = 0;
			v++;
		}
		for (end = k + strlen(k);
		     end > k && (end[-1] == ' ' || end[-1] == '\t');)
			*--end = 0;
		if (*k)
			json_object_set_new(o, k, json_string(v));
		free(line);
	}
	return o;
}

json_t *net_cfg_usbkey(struct hull_err *err)
{
	_cleanup_free_ char *p = hull_root_path("usbkey/config");
	char *buf = NULL;
	size_t n;
	json_t *o;

	if (!hull_path_exists(p))
		return json_object();
	if (hull_file_read(p, 1 << 20, &buf, &n, err))
		return NULL;
	o = net_cfg_parse_kv(buf);
	free(buf);
	return o;
}

char *net_cfg_resolv_path(void)
{
	return hull_root_path("var/ipadm/resolv.conf");
}

/* resolv(5) reads at most 3 nameservers; a longer list is kept, as
 * SmartOS keeps what it is given, up to a bound. */
#define RESOLVERS_MAX 16

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

int net_cfg_resolv_render(json_t *kv, char **out, struct hull_err *err)
{
	const char *res = hull_json_str(kv, "dns_resolvers", "");
	const char *dom = hull_json_str(kv, "dns_domain", "");
	char *buf = NULL;
	size_t len = 0;
	int nres = 0;
	FILE *f;

	*out = NULL;
	for (const char *p = dom; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return hull_err_set(err, EINVAL,
					    "usbkey/config: dns_domain: not "
					    "a domain name");
	if (strlen(dom) > 253)
		return hull_err_set(err, EINVAL,
				    "usbkey/config: dns_domain: not a domain "
				    "name");
	if (!(f = open_memstream(&buf, &len)))
		abort();
	fprintf(f, "# Written by ipadm init from the host configuration's "
		   "dns_resolvers and dns_domain.\n");
	if (*dom)
		fprintf(f, "search %s\n", dom);
	for (const char *p = res; *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		_cleanup_free_ char *one = xstrndup(p, n);
		char *a = one, *e = one + strlen(one);
		struct net_addr ad;

		p += n + (end ? 1 : 0);
		while (is_space(*a))
			a++;
		while (e > a && is_space(e[-1]))
			*--e = 0;
		if (!*a)
			continue;
		if (net_addr_parse(a, &ad) < 0 || ++nres > RESOLVERS_MAX) {
			fclose(f);
			free(buf);
			if (nres > RESOLVERS_MAX)
				return hull_err_set(err, E2BIG,
						    "usbkey/config: "
						    "dns_resolvers: more "
						    "than %d",
						    RESOLVERS_MAX);
			return hull_err_set(err, EINVAL,
					    "usbkey/config: dns_resolvers: "
					    "'%.64s' is not an IP address",
					    a);
		}
		fprintf(f, "nameserver %s\n", a);
	}
	fclose(f);
	if (!nres && !*dom) {
		free(buf);
		return 0;
	}
	*out = buf;
	return 0;
}

static bool hostname_valid(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n >= NET_CFG_HOSTNAME_MAX || h[0] == '-' || h[0] == '.' ||
	    h[n - 1] == '-' || h[n - 1] == '.')
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return false;
	return true;
}

int net_cfg_hostname(json_t *kv, char out[NET_CFG_HOSTNAME_MAX],
		     struct hull_err *err)
{
	const char *h = hull_json_str(kv, "hostname", "");
	const char *nic = hull_json_str(kv, "admin_nic", "");
	uint8_t mac[HULL_MAC_LEN];

	out[0] = 0;
	if (*h && strcmp(h, "unknown")) {
		if (!hostname_valid(h))
			return hull_err_set(err, EINVAL,
					    "usbkey/config: hostname: '%.64s' "
					    "is not a host name",
					    h);
		snprintf(out, NET_CFG_HOSTNAME_MAX, "%s", h);
		return 0;
	}
	if (*nic && hull_mac_parse(nic, mac) == 0) {
		hull_mac_format(mac, out);
		for (char *p = out; *p; p++)
			if (*p == ':')
				*p = '-';
	}
	return 0;
}
