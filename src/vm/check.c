/*
 * check.c - value checks for payload properties and nics (see check.h).
 * Pure: no I/O, no allocation that outlives a call.
 */
#include "vm/check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/uuid.h"
#include "zone/fs.h"
#include "zone/privs.h"

/* Strings in a payload end up in files, zone attributes and list columns;
 * SmartOS keeps zone attributes short, this bound keeps a hostile payload
 * from growing records without limit. */
#define VM_STRING_MAX 4096
/* A metadata value may be as long as the metadata protocol carries
 * (METADATA_VALUE_MAX, src/metadata/proto.h): a user-script or cloud-init
 * user-data is often well past 4 KiB. */
#define VM_METADATA_VALUE_MAX (512 * 1024)
#define VM_MAP_MAX_KEYS 4096
#define VM_NIC_MAX 32

static bool why_set(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool why_set(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return false;
}

bool vm_check_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

bool vm_check_cidr(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || slash - s >= 64)
		return false;
	char addr[64];
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	unsigned char buf[16];
	int max;
	if (inet_pton(AF_INET, addr, buf) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, addr, buf) == 1)
		max = 128;
	else
		return false;
	const char *p = slash + 1;
	if (!*p || strlen(p) > 3)
		return false;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return false;
	return atoi(p) <= max;
}

bool vm_check_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

bool vm_check_netmask(const char *s, unsigned *bits)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	uint32_t m = ntohl(a.s_addr);
	/* ones, then zeros only: the inverse plus one is a single bit */
	uint32_t inv = ~m;
	if ((inv & (inv + 1)) != 0)
		return false;
	if (bits) {
		unsigned b = 0;
		while (b < 32 && (m & (0x80000000u >> b)))
			b++;
		*bits = b;
	}
	return true;
}

bool vm_check_hostname(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 255)
		return false;
	size_t label = 0;
	char prev = '.';
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (label == 0 || prev == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*p) || *p == '-') {
			if (label == 0 && *p == '-')
				return false;
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		prev = *p;
	}
	return prev != '.' && prev != '-';
}

static bool check_string_max(json_t *v, size_t max, char *why, size_t n)
{
	if (!json_is_string(v))
		return why_set(why, n, "must be a string");
	if (json_string_length(v) > max)
		return why_set(why, n, "must be at most %zu bytes", max);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return why_set(why, n, "must not contain NUL bytes");
	return true;
}

/* A decimal number as JavaScript's Number() reads one from a string:
 * surrounding blanks, a sign, digits with an optional fraction and
 * exponent. Hexadecimal, octal, binary and Infinity are left out (see
 * docs/vmadm.md, DIFFERENCES). */
static bool js_decimal(const char *s, double *out)
{
	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	size_t digits = 0;
	while (isdigit((unsigned char)*p))
		p++, digits++;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++, digits++;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		p++;
	if (*p)
		return false;
	*out = strtod(s, NULL);
	return true;
}

bool vm_int_from_json(json_t *v, json_int_t *out)
{
	double d;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_real(v))
		d = json_real_value(v);
	else if (!json_is_string(v) ||
		 strlen(json_string_value(v)) != json_string_length(v) ||
		 !js_decimal(json_string_value(v), &d))
		return false;
	/* Whole numbers only, and inside what an int64 holds exactly
	 * enough for every range in the property table. */
	if (!(d >= -9.0e18 && d <= 9.0e18) || d != (double)(json_int_t)d)
		return false;
	*out = (json_int_t)d;
	return true;
}

int vm_bool_from_json(json_t *v, bool *deprecated)
{
	if (deprecated)
		*deprecated = false;
	if (json_is_boolean(v))
		return json_is_true(v);
	const char *s = json_string_value(v);
	if (s && !strcmp(s, "true"))
		return 1;
	if (s && !strcmp(s, "false"))
		return 0;
	if ((json_is_integer(v) && json_integer_value(v) == 1) ||
	    (s && !strcmp(s, "1"))) {
		if (deprecated)
			*deprecated = true;
		return 1;
	}
	return -1;
}

static bool check_string(json_t *v, char *why, size_t n)
{
	return check_string_max(v, VM_STRING_MAX, why, n);
}

static bool check_int(const struct vm_prop *p, json_t *v, char *why, size_t n)
{
	json_int_t i;
	if (!vm_int_from_json(v, &i))
		return why_set(why, n, "must be an integer");
	if (i < p->min || i > p->max)
		return why_set(
		    why, n, "must be an integer from %" PRId64 " to %" PRId64,
		    p->min, p->max);
	return true;
}

static bool check_list(json_t *v, char *why, size_t n)
{
	if (json_is_string(v))
		return check_string(v, why, n);
	if (!json_is_array(v))
		return why_set(why, n,
			       "must be a string or an array of strings");
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) if (!check_string(e, why, n)) return false;
	return true;
}

static bool check_strlist(json_t *v, bool ips, char *why, size_t n)
{
	if (!json_is_array(v))
		return why_set(why, n, "must be an array of %s",
			       ips ? "IP addresses" : "strings");
	if (json_array_size(v) > VM_MAP_MAX_KEYS)
		return why_set(why, n, "has too many elements");
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!check_string(e, why, n))
			return false;
		if (ips && !vm_check_ip(json_string_value(e)))
			return why_set(why, n, "\"%s\" is not an IP address",
				       json_string_value(e));
	}
	return true;
}

static bool check_map(json_t *v, bool tags, char *why, size_t n)
{
	if (!json_is_object(v))
		return why_set(why, n, "must be an object");
	if (json_object_size(v) > VM_MAP_MAX_KEYS)
		return why_set(why, n, "has too many keys");
	const char *k;
	json_t *e;
	json_object_foreach(v, k, e)
	{
		if (!*k || strlen(k) > 1024)
			return why_set(why, n, "has an empty or too long key");
		if (json_is_string(e)) {
			if (!check_string_max(
				e, tags ? VM_STRING_MAX : VM_METADATA_VALUE_MAX,
				why, n))
				return false;
			continue;
		}
		/* Metadata values are strings (the guest reads bytes); tags may
		 * also be numbers and booleans (firewall rules match them). */
		if (!tags)
			return why_set(why, n,
				       "value of \"%s\" must be a string", k);
		if (!json_is_number(e) && !json_is_boolean(e))
			return why_set(why, n,
				       "value of \"%s\" must be a string, "
				       "number or boolean",
				       k);
	}
	return true;
}

bool vm_check_routes(json_t *routes, char *why, size_t n)
{
	if (!json_is_object(routes))
		return why_set(why, n, "must be an object");
	const char *dst;
	json_t *gw;
	json_object_foreach(routes, dst, gw)
	{
		if (!vm_check_ip(dst) && !vm_check_cidr(dst))
			return why_set(
			    why, n, "destination \"%s\" is not an IP or CIDR",
			    dst);
		if (!json_is_string(gw))
			return why_set(
			    why, n, "gateway for \"%s\" must be a string", dst);
		const char *g = json_string_value(gw);
		if (vm_check_ip(g))
			continue;
		size_t gl = strlen(g);
		if (!strncmp(g, "nics[", 5) && gl > 6 && g[gl - 1] == ']') {
			bool digits = true;
			for (size_t i = 5; i < gl - 1; i++)
				digits = digits && isdigit((unsigned char)g[i]);
			if (digits && gl - 6 <= 3)
				continue;
		}
		if (!strncmp(g, "macs[", 5) && gl == 23 && g[22] == ']') {
			char mac[18];
			memcpy(mac, g + 5, 17);
			mac[17] = '\0';
			if (vm_check_mac(mac))
				continue;
		}
		return why_set(why, n,
			       "gateway \"%s\" for \"%s\" must be an IP, "
			       "nics[N] or macs[MAC]",
			       g, dst);
	}
	return true;
}

static bool nic_ips(json_t *v, char *why, size_t n)
{
	if (!json_is_array(v) || json_array_size(v) > 20)
		return why_set(why, n,
			       "must be an array of at most 20 addresses");
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return why_set(why, n, "must hold strings");
		const char *s = json_string_value(e);
		if ((!strcmp(s, "dhcp") || !strcmp(s, "addrconf")))
			continue;
		if (!vm_check_cidr(s))
			return why_set(why, n, "\"%s\" is not a valid address",
				       s);
	}
	return true;
}

static bool nic_iface(const char *s, unsigned brand)
{
	const char *pfx = brand == VM_BRAND_LX ? "eth" : "net";
	if (strncmp(s, pfx, 3) || !s[3] || strlen(s) > 6)
		return false;
	for (const char *p = s + 3; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static const char *const nic_keys[] = {
    "allow_dhcp_spoofing",
    "allow_ip_spoofing",
    "allow_mac_spoofing",
    "allow_restricted_traffic",
    "allow_unfiltered_promisc",
    "allowed_dhcp_cids",
    "allowed_ips",
    "blocked_outgoing_ports",
    "dhcp_server",
    "gateway",
    "gateways",
    "interface",
    "ip",
    "ips",
    "mac",
    "model",
    "mtu",
    "netmask",
    "network_uuid",
    "nic_tag",
    "primary",
    "vlan_id",
    "vrrp_primary_ip",
    "vrrp_vrid",
};

const char *vm_nic_prop_bad(const char *key, unsigned brand)
{
	bool known = false;
	for (size_t i = 0; i < sizeof(nic_keys) / sizeof(nic_keys[0]); i++)
		known = known || !strcmp(key, nic_keys[i]);
	if (!known)
		return "not a nic property";
	if ((!strcmp(key, "model") ||
	     !strcmp(key, "allow_unfiltered_promisc")) &&
	    !(brand & VM_BRANDS_HVM))
		return "valid only for HVM brands";
	return NULL;
}

static bool nic_int(json_t *v, json_int_t lo, json_int_t hi)
{
	json_int_t i;
	return vm_int_from_json(v, &i) && i >= lo && i <= hi;
}

bool vm_check_nic(json_t *nic, unsigned brand, bool need_tag, char *why,
		  size_t n)
{
	char sub[VM_WHY_MAX / 2];
	if (!json_is_object(nic))
		return why_set(why, n, "must be an object");
	const char *k;
	json_t *v;
	json_object_foreach(nic, k, v)
	{
		bool ok = true;
		sub[0] = '\0';
		if (vm_nic_prop_bad(k, brand))
			continue;
		if (!strcmp(k, "mac")) {
			ok = json_is_string(v) &&
			     vm_check_mac(json_string_value(v));
		} else if (!strcmp(k, "interface")) {
			ok = json_is_string(v) &&
			     nic_iface(json_string_value(v), brand);
		} else if (!strcmp(k, "nic_tag") || !strcmp(k, "model")) {
			ok = check_string(v, sub, sizeof(sub)) &&
			     json_string_length(v) > 0 &&
			     json_string_length(v) <= 64;
		} else if (!strcmp(k, "vlan_id")) {
			ok = nic_int(v, 0, 4095);
		} else if (!strcmp(k, "ips")) {
			ok = nic_ips(v, sub, sizeof(sub));
		} else if (!strcmp(k, "allowed_ips")) {
			ok = json_is_array(v);
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e) ok =
			    ok && json_is_string(e) &&
			    (vm_check_ip(json_string_value(e)) ||
			     vm_check_cidr(json_string_value(e)));
		} else if (!strcmp(k, "gateways")) {
			ok = check_strlist(v, true, sub, sizeof(sub));
		} else if (!strcmp(k, "ip")) {
			ok = json_is_string(v) &&
			     (!strcmp(json_string_value(v), "dhcp") ||
			      !strcmp(json_string_value(v), "addrconf") ||
			      vm_check_ip(json_string_value(v)));
		} else if (!strcmp(k, "netmask")) {
			ok = json_is_string(v) &&
			     vm_check_netmask(json_string_value(v), NULL);
			if (!ok)
				snprintf(sub, sizeof(sub),
					 "must be an IPv4 netmask");
		} else if (!strcmp(k, "gateway")) {
			ok = json_is_string(v) &&
			     vm_check_ip(json_string_value(v));
		} else if (!strcmp(k, "mtu")) {
			ok = nic_int(v, 576, 9000);
		} else if (!strcmp(k, "primary") ||
			   !strcmp(k, "allow_ip_spoofing") ||
			   !strcmp(k, "allow_mac_spoofing") ||
			   !strcmp(k, "allow_dhcp_spoofing") ||
			   !strcmp(k, "dhcp_server") ||
			   !strcmp(k, "allow_restricted_traffic") ||
			   !strcmp(k, "allow_unfiltered_promisc")) {
			ok = vm_bool_from_json(v, NULL) >= 0;
		} else if (!strcmp(k, "allowed_dhcp_cids")) {
			ok = json_is_array(v) && json_array_size(v) <= 20;
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e)
			{
				const char *s = json_is_string(e)
						    ? json_string_value(e)
						    : "";
				size_t l = strlen(s);
				bool hex = l > 2 && l % 2 == 0 && l <= 514 &&
					   !strncmp(s, "0x", 2);
				for (size_t j = 2; hex && j < l; j++)
					hex = isxdigit((unsigned char)s[j]);
				ok = ok && hex;
			}
		} else if (!strcmp(k, "blocked_outgoing_ports")) {
			ok = json_is_array(v);
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e) ok =
			    ok && json_is_integer(e) &&
			    json_integer_value(e) >= 0 &&
			    json_integer_value(e) <= 65535;
		} else if (!strcmp(k, "network_uuid")) {
			ok = json_is_string(v) &&
			     hull_uuid_valid(json_string_value(v));
		} else if (!strcmp(k, "vrrp_vrid")) {
			if (!(brand & VM_BRANDS_OS))
				return why_set(
				    why, n,
				    "vrrp_vrid is valid only for OS brands");
			ok = nic_int(v, 0, 255);
		} else if (!strcmp(k, "vrrp_primary_ip")) {
			unsigned char b[4];
			ok = json_is_string(v) &&
			     inet_pton(AF_INET, json_string_value(v), b) == 1;
		}
		if (!ok)
			return sub[0] ? why_set(why, n, "%s %s", k, sub)
				      : why_set(why, n,
						"%s has an invalid value", k);
	}
	if (need_tag && !json_object_get(nic, "nic_tag"))
		return why_set(why, n, "nic_tag is required");
	return true;
}

bool vm_check_nics(json_t *nics, unsigned brand, char *why, size_t n)
{
	char sub[VM_WHY_MAX / 2];
	if (!json_is_array(nics))
		return why_set(why, n, "must be an array of objects");
	if (json_array_size(nics) > VM_NIC_MAX)
		return why_set(why, n, "must hold at most %d nics", VM_NIC_MAX);
	size_t i, j;
	json_t *nic;
	int primaries = 0;
	json_array_foreach(nics, i, nic)
	{
		if (!vm_check_nic(nic, brand, true, sub, sizeof(sub)))
			return why_set(why, n, "nic %zu: %s", i, sub);
		primaries += vm_bool_from_json(json_object_get(nic, "primary"),
					       NULL) == 1;
		const char *mac =
		    json_string_value(json_object_get(nic, "mac"));
		const char *ifc =
		    json_string_value(json_object_get(nic, "interface"));
		for (j = 0; j < i; j++) {
			json_t *o = json_array_get(nics, j);
			const char *om =
			    json_string_value(json_object_get(o, "mac"));
			const char *oi =
			    json_string_value(json_object_get(o, "interface"));
			if (mac && om && !strcasecmp(mac, om))
				return why_set(why, n,
					       "nic %zu: mac %s is used twice",
					       i, mac);
			if (ifc && oi && !strcmp(ifc, oi))
				return why_set(
				    why, n,
				    "nic %zu: interface %s is used twice", i,
				    ifc);
		}
	}
	if (primaries > 1)
		return why_set(why, n, "only one nic may be primary");
	return true;
}

bool vm_check_value(const struct vm_prop *p, json_t *v, char *why, size_t n)
{
	switch (p->type) {
	case VM_T_UUID:
		if (!json_is_string(v) ||
		    !hull_uuid_valid(json_string_value(v)))
			return why_set(why, n, "must be a UUID");
		return true;
	case VM_T_STRING:
		if (!check_string(v, why, n))
			return false;
		if (!strcmp(p->name, "hostname") &&
		    !vm_check_hostname(json_string_value(v)))
			return why_set(why, n, "must be a valid host name");
		if (!strcmp(p->name, "brand") &&
		    !vm_brand_from_name(json_string_value(v)))
			return why_set(why, n,
				       "must be one of joyent, joyent-minimal, "
				       "builder, lx, kvm, bhyve");
		if (!strcmp(p->name, "vnc_password") &&
		    json_string_length(v) > 8)
			return why_set(why, n, "must be at most 8 characters");
		if (!strcmp(p->name, "zonename") && json_string_length(v) > 64)
			return why_set(why, n, "must be at most 64 bytes");
		return true;
	case VM_T_BOOL:
		if (vm_bool_from_json(v, NULL) < 0)
			return why_set(why, n, "must be true or false");
		return true;
	case VM_T_INT:
		return check_int(p, v, why, n);
	case VM_T_LIST:
		if (!check_list(v, why, n))
			return false;
		if (!strcmp(p->name, "limit_priv")) {
			/* an unknown privilege, as zonecfg refuses it */
			struct zone_privs privs;
			struct hull_err e = {0};
			if (zone_privs_parse(v, &privs, NULL, &e) < 0)
				return why_set(why, n, "%s",
					       e.msg + strlen("limit_priv: "));
		}
		return true;
	case VM_T_IPLIST:
		return check_strlist(v, true, why, n);
	case VM_T_STRLIST:
		return check_strlist(v, false, why, n);
	case VM_T_MAP:
		return check_map(v, false, why, n);
	case VM_T_TAGS:
		return check_map(v, true, why, n);
	case VM_T_ROUTES:
		return vm_check_routes(v, why, n);
	case VM_T_NICS:
		/* brand-specific checks run from payload.c with the brand */
		return json_is_array(v) ? true
					: why_set(why, n, "must be an array");
	case VM_T_ARRAY:
		if (!strcmp(p->name, "filesystems"))
			return zone_fs_check_list(v, why, n);
		if (!json_is_array(v))
			return why_set(why, n, "must be an array of objects");
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) if (
		    !json_is_object(
			e)) return why_set(why, n,
					   "must be an array of objects");
		return true;
	case VM_T_TIMESTAMP:
		return check_string(v, why, n);
	case VM_T_ANY:
		return true;
	}
	return why_set(why, n, "has an unknown type");
}
