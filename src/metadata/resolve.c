/*
 * resolve.c - metadata keys of one instance record (see resolve.h for the
 * routing rules and where they come from).
 */
#include "metadata/resolve.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

/* Top-level record properties a guest may read as sdc:<prop>[.path]. The
 * record also holds things that are not the guest's business (for example
 * internal_metadata outside the readable namespaces), so this is an allow
 * list, after the list the SmartOS agent serves. */
static const char *const sdc_props[] = {
    "alias",
    "billing_id",
    "brand",
    "cpu_cap",
    "cpu_shares",
    "create_timestamp",
    "datacenter_name",
    "disks",
    "dns_domain",
    "do_not_inventory",
    "hostname",
    "image_uuid",
    "last_modified",
    "limit_priv",
    "maintain_resolvers",
    "max_locked_memory",
    "max_lwps",
    "max_physical_memory",
    "max_shm_memory",
    "max_swap",
    "nics",
    "owner_uuid",
    "package_name",
    "package_version",
    "quota",
    "ram",
    "resolvers",
    "routes",
    "server_uuid",
    "state",
    "tags",
    "tmpfs",
    "uuid",
    "vcpus",
    "zfs_io_priority",
    "zone_state",
    "zonename",
    NULL,
};

static bool sdc_prop_allowed(const char *name, size_t n)
{
	for (const char *const *p = sdc_props; *p; p++)
		if (strlen(*p) == n && !memcmp(*p, name, n))
			return true;
	return false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* The namespace of "ns:key" when ns is one the instance may read from
 * internal_metadata, else NULL. Returns a pointer into the record. */
static const char *readable_namespace(json_t *vm, const char *key)
{
	const char *colon = strchr(key, ':');
	json_t *nss = json_object_get(vm, "internal_metadata_namespaces");
	size_t i;
	json_t *ns;

	if (!colon || !json_is_array(nss))
		return NULL;
	json_array_foreach(nss, i, ns)
	{
		const char *s = json_string_value(ns);
		if (s && strlen(s) == (size_t)(colon - key) &&
		    !memcmp(s, key, (size_t)(colon - key)))
			return s;
	}
	return NULL;
}

static enum metadata_status fail(char **value, size_t *len, const char *msg)
{
	*value = xstrdup(msg);
	*len = strlen(msg);
	return METADATA_FAILURE;
}

/* A scalar as the protocol carries it: strings as they are, numbers and
 * booleans as text; null is absent, objects and arrays are no value. */
static enum metadata_status scalar(json_t *v, char **value, size_t *len)
{
	*value = NULL;
	*len = 0;
	switch (json_typeof(v)) {
	case JSON_STRING:
		*len = json_string_length(v);
		*value = xmalloc(*len + 1);
		memcpy(*value, json_string_value(v), *len);
		(*value)[*len] = '\0';
		return METADATA_SUCCESS;
	case JSON_INTEGER:
		*value =
		    xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		*value = xasprintf("%.17g", json_real_value(v));
		break;
	case JSON_TRUE:
		*value = xstrdup("true");
		break;
	case JSON_FALSE:
		*value = xstrdup("false");
		break;
	case JSON_NULL:
		return METADATA_NOTFOUND;
	case JSON_OBJECT:
	case JSON_ARRAY:
		return fail(value, len, "Unsupported value type");
	}
	*len = strlen(*value);
	return METADATA_SUCCESS;
}

static enum metadata_status as_json(json_t *v, const char *dflt, char **value,
				    size_t *len)
{
	*value =
	    v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : xstrdup(dflt);
	if (!*value)
		abort();
	*len = strlen(*value);
	return METADATA_SUCCESS;
}

/* The address part of a nic's IP: the deprecated "ip", else the first of
 * "ips" without its prefix length. NULL when missing or dhcp/addrconf. */
static char *nic_address(json_t *nic)
{
	const char *ip = json_string_value(json_object_get(nic, "ip"));
	json_t *ips = json_object_get(nic, "ips");
	if (!ip && json_is_array(ips))
		ip = json_string_value(json_array_get(ips, 0));
	if (!ip || !strcmp(ip, "dhcp") || !strcmp(ip, "addrconf"))
		return NULL;
	const char *slash = strchr(ip, '/');
	return slash ? xstrndup(ip, (size_t)(slash - ip)) : xstrdup(ip);
}

/* A route gateway "nics[N]" or "macs[aa:bb:...]" names one of the
 * instance's nics; the route then goes to that nic's address, link-local. */
static json_t *route_nic(json_t *vm, const char *gw)
{
	json_t *nics = json_object_get(vm, "nics");
	size_t n = strlen(gw);
	if (n < 7 || gw[n - 1] != ']')
		return NULL;
	if (!strncmp(gw, "nics[", 5)) {
		char *end;
		unsigned long i = strtoul(gw + 5, &end, 10);
		if (end == gw + 5 || end != gw + n - 1)
			return NULL;
		return json_array_get(nics, i);
	}
	if (!strncmp(gw, "macs[", 5)) {
		size_t k;
		json_t *nic;
		json_array_foreach(nics, k, nic)
		{
			const char *mac =
			    json_string_value(json_object_get(nic, "mac"));
			if (mac && strlen(mac) == n - 6 &&
			    !strncasecmp(mac, gw + 5, n - 6))
				return nic;
		}
	}
	return NULL;
}

static enum metadata_status sdc_routes(json_t *vm, char **value, size_t *len)
{
	json_t *routes = json_object_get(vm, "routes");
	json_t *out = json_array();
	const char *dst;
	json_t *gwj;

	json_object_foreach(routes, dst, gwj)
	{
		const char *gw = json_string_value(gwj);
		bool linklocal = false;
		char *addr = NULL;
		if (!gw)
			continue;
		if (!strncmp(gw, "nics[", 5) || !strncmp(gw, "macs[", 5)) {
			json_t *nic = route_nic(vm, gw);
			addr = nic ? nic_address(nic) : NULL;
			if (!addr)
				continue;
			linklocal = true;
		}
		json_array_append_new(
		    out, json_pack("{s:s, s:s, s:b}", "dst", dst, "gateway",
				   addr ? addr : gw, "linklocal", linklocal));
		free(addr);
	}
	enum metadata_status st = as_json(out, NULL, value, len);
	json_decref(out);
	return st;
}

/* sdc:<prop>[.<key>|.<index>]... */
static enum metadata_status sdc_walk(json_t *vm, const char *path, char **value,
				     size_t *len)
{
	const char *dot = strchr(path, '.');
	size_t n = dot ? (size_t)(dot - path) : strlen(path);
	json_t *cur;

	if (!sdc_prop_allowed(path, n))
		return METADATA_NOTFOUND;
	char *top = xstrndup(path, n);
	cur = json_object_get(vm, top);
	free(top);
	while (cur && dot) {
		const char *seg = dot + 1;
		dot = strchr(seg, '.');
		n = dot ? (size_t)(dot - seg) : strlen(seg);
		char *name = xstrndup(seg, n);
		if (json_is_object(cur)) {
			cur = json_object_get(cur, name);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long i = strtoul(name, &end, 10);
			cur = (n && *end == '\0' && name[0] != '-' &&
			       name[0] != '+')
				  ? json_array_get(cur, i)
				  : NULL;
		} else {
			cur = NULL;
		}
		free(name);
	}
	if (!cur)
		return METADATA_NOTFOUND;
	return scalar(cur, value, len);
}

static enum metadata_status from_object(json_t *vm, const char *which,
					const char *key, char **value,
					size_t *len)
{
	json_t *v = json_object_get(json_object_get(vm, which), key);
	*value = NULL;
	*len = 0;
	if (!v)
		return METADATA_NOTFOUND;
	return scalar(v, value, len);
}

enum metadata_status metadata_resolve(json_t *vm, const char *key, char **value,
				      size_t *len)
{
	*value = NULL;
	*len = 0;
	if (!strncmp(key, "sdc:", 4)) {
		const char *k = key + 4;
		if (!strcmp(k, "nics"))
			return as_json(json_object_get(vm, "nics"), "[]", value,
				       len);
		if (!strcmp(k, "resolvers"))
			return as_json(json_object_get(vm, "resolvers"), "[]",
				       value, len);
		if (!strcmp(k, "tags"))
			return as_json(json_object_get(vm, "tags"), "{}", value,
				       len);
		if (!strcmp(k, "tmpfs")) {
			json_t *t = json_object_get(vm, "tmpfs");
			if (!json_is_number(t))
				return METADATA_NOTFOUND;
			return as_json(t, NULL, value, len);
		}
		if (!strcmp(k, "routes"))
			return sdc_routes(vm, value, len);
		if (!strcmp(k, "operator-script"))
			return from_object(vm, "internal_metadata",
					   "operator-script", value, len);
		if (!strcmp(k, "volumes"))
			return from_object(vm, "internal_metadata",
					   "sdc:volumes", value, len);
		return sdc_walk(vm, k, value, len);
	}
	if (readable_namespace(vm, key) || ends_with(key, "_pw"))
		return from_object(vm, "internal_metadata", key, value, len);
	return from_object(vm, "customer_metadata", key, value, len);
}

char *metadata_keys(json_t *vm, size_t *len)
{
	struct metadata_buf out = {0};
	const char *k;
	json_t *v;

	json_object_foreach(json_object_get(vm, "customer_metadata"), k, v)
	{
		if (ends_with(k, "_pw") || readable_namespace(vm, k))
			continue;
		if (out.len)
			metadata_buf_append(&out, "\n", 1);
		metadata_buf_puts(&out, k);
	}
	json_object_foreach(json_object_get(vm, "internal_metadata"), k, v)
	{
		if (!ends_with(k, "_pw") && !readable_namespace(vm, k))
			continue;
		if (out.len)
			metadata_buf_append(&out, "\n", 1);
		metadata_buf_puts(&out, k);
	}
	*len = out.len;
	return out.data ? out.data : xstrdup("");
}

/* Bytes v takes in the record file: counted as jansson writes it, after
 * escaping (a control character is six bytes there, "\u0001"), so a
 * value full of escapes cannot make the record six times the bound. */
static size_t json_size(json_t *v)
{
	return v ? json_dumpb(v, NULL, 0, JSON_ENCODE_ANY) : 0;
}

static size_t key_size(const char *k)
{
	json_t *s = json_string(k);
	size_t n = s ? json_size(s) : 6 * strlen(k) + 2;
	json_decref(s);
	return n;
}

/* Bytes of keys and values a guest can write, for METADATA_RECORD_MAX. */
static size_t writable_size(json_t *vm)
{
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(vm, "customer_metadata"), k, v) n +=
	    key_size(k) + json_size(v);
	json_object_foreach(json_object_get(vm, "internal_metadata"), k,
			    v) if (ends_with(k, "_pw")) n +=
	    key_size(k) + json_size(v);
	return n;
}

enum metadata_status metadata_apply(json_t *vm, const char *key,
				    const char *value, size_t len, char **msg)
{
	const char *ns;

	*msg = NULL;
	if (!json_is_object(vm)) {
		*msg = xstrdup("Instance record unreadable");
		return METADATA_FAILURE;
	}
	if (!strncmp(key, "sdc:", 4)) {
		*msg = xstrdup("Cannot update the \"sdc\" Namespace.");
		return METADATA_FAILURE;
	}
	if ((ns = readable_namespace(vm, key))) {
		*msg = xasprintf("Cannot update the \"%s\" Namespace.", ns);
		return METADATA_FAILURE;
	}
	if (!strcmp(key, "operator-script")) {
		*msg = xstrdup("Cannot update \"operator-script\".");
		return METADATA_FAILURE;
	}
	const char *which =
	    ends_with(key, "_pw") ? "internal_metadata" : "customer_metadata";
	json_t *obj = json_object_get(vm, which);
	if (!json_is_object(obj)) {
		obj = json_object();
		json_object_set_new(vm, which, obj);
	}
	if (!value) {
		json_object_del(obj, key);
		return METADATA_SUCCESS;
	}
	json_t *s = json_stringn(value, len);
	if (!s) {
		*msg = xstrdup("Invalid PUT Request: value is not UTF-8 text");
		return METADATA_FAILURE;
	}
	json_t *old = json_object_get(obj, key);
	size_t before = writable_size(vm);
	size_t after = before - (old ? key_size(key) + json_size(old) : 0) +
		       key_size(key) + json_size(s);
	if (after > METADATA_RECORD_MAX && after > before) {
		json_decref(s);
		*msg = xstrdup("Metadata too large");
		return METADATA_FAILURE;
	}
	json_object_set_new(obj, key, s);
	return METADATA_SUCCESS;
}
