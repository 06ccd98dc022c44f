/*
 * payload.c - create/update payload validation and defaults (see payload.h).
 *
 * Validation collects every problem, as SmartOS's `vmadm validate` does, in
 * four buckets (bad_brand, bad_properties, bad_values, missing_properties);
 * the one-line error names the first problem found so a user fixes the
 * payload one property at a time without reading JSON.
 */
#include "vm/payload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "vm/check.h"
#include "vm/nics.h"
#include "vm/proptable.h"
#include "zone/fs.h"
#include "zone/privs.h"

#define ZERO_UUID "00000000-0000-0000-0000-000000000000"

struct verdict {
	json_t *out;
	char first[HULL_ERR_MSG_MAX];
	/* the first problem that is not a bad property: create and update
	 * fail on it, while they only drop bad properties */
	char fatal[HULL_ERR_MSG_MAX];
};

static void verdict_add(struct verdict *v, const char *bucket, const char *prop,
			const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void verdict_add(struct verdict *v, const char *bucket, const char *prop,
			const char *fmt, ...)
{
	if (!v->out)
		v->out = json_object();
	if (!strcmp(bucket, "bad_brand")) {
		json_object_set_new(v->out, bucket, json_string(prop));
	} else {
		json_t *a = json_object_get(v->out, bucket);
		if (!a) {
			a = json_array();
			json_object_set_new(v->out, bucket, a);
		}
		size_t i;
		json_t *e;
		json_array_foreach(
		    a, i, e) if (!strcmp(json_string_value(e), prop)) return;
		json_array_append_new(a, json_string(prop));
	}
	bool fatal = strcmp(bucket, "bad_properties") != 0;
	char *slot = !v->first[0]	     ? v->first
		     : fatal && !v->fatal[0] ? v->fatal
					     : NULL;
	if (slot) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(slot, HULL_ERR_MSG_MAX, fmt, ap);
		va_end(ap);
		if (fatal && slot == v->first)
			memcpy(v->fatal, v->first, sizeof(v->fatal));
	}
}

static json_t *verdict_end(struct verdict *v, struct hull_err *err)
{
	if (v->out)
		hull_err_set(err, EINVAL, "%s",
			     v->fatal[0] ? v->fatal : v->first);
	return v->out;
}

/* The keys of each nic that SmartOS does not take for brand: bad
 * properties named nics.*.KEY, as SmartOS's validate names them. */
static void nic_bad_props(json_t *nics, unsigned brand, const char *bname,
			  const char *field, struct verdict *v)
{
	size_t i;
	json_t *nic;
	json_array_foreach(nics, i, nic)
	{
		const char *k;
		json_t *val;
		json_object_foreach(nic, k, val)
		{
			const char *why = vm_nic_prop_bad(k, brand);
			if (!why)
				continue;
			char name[96];
			snprintf(name, sizeof(name), "nics.*.%.64s", k);
			verdict_add(v, "bad_properties", name,
				    "Invalid property %s in %s: %s (brand %s)",
				    name, field, why, bname);
		}
	}
}

/* SmartOS takes "" (and on create null) for an integer as "not given". */
static bool int_unset(const struct vm_prop *p, json_t *val)
{
	return p->type == VM_T_INT &&
	       (json_is_null(val) ||
		(json_is_string(val) && json_string_length(val) == 0));
}

/* Cross-property rules on memory, after defaults. */
static void check_memory(json_t *vm, unsigned brand, struct verdict *v)
{
	json_int_t ram = hull_json_int(vm, "ram", -1);
	json_int_t phys = hull_json_int(vm, "max_physical_memory", -1);
	json_int_t locked = hull_json_int(vm, "max_locked_memory", -1);
	json_int_t swap = hull_json_int(vm, "max_swap", -1);
	if ((brand & VM_BRANDS_HVM) && ram > 0 && phys > 0 && phys < ram)
		verdict_add(v, "bad_values", "max_physical_memory",
			    "Invalid value for %s: must be >= ram",
			    "max_physical_memory");
	if (phys > 0 && locked > phys)
		verdict_add(
		    v, "bad_values", "max_locked_memory",
		    "Invalid value for %s: must be <= max_physical_memory",
		    "max_locked_memory");
	if (phys > 0 && swap > 0 && swap < phys)
		verdict_add(
		    v, "bad_values", "max_swap",
		    "Invalid value for %s: must be >= max_physical_memory",
		    "max_swap");
}

static json_int_t jint(json_t *o, const char *k)
{
	return hull_json_int(o, k, -1);
}

/* hull's own internal_metadata switch hull:userns (docs/vmadm.md): "true"
 * or "false", and only for zones. The create path checks it again. */
static void check_userns_key(json_t *payload, unsigned brand, struct verdict *v)
{
	json_t *val = json_object_get(
	    json_object_get(payload, "internal_metadata"), "hull:userns");
	if (!val)
		return;
	const char *s = json_string_value(val);
	if (!s || (strcmp(s, "true") && strcmp(s, "false")))
		verdict_add(v, "bad_values", "internal_metadata",
			    "Invalid value for internal_metadata hull:userns: "
			    "must be \"true\" or \"false\"");
	else if (!strcmp(s, "true") && (brand & VM_BRANDS_HVM))
		verdict_add(v, "bad_values", "internal_metadata",
			    "Invalid value for internal_metadata hull:userns: "
			    "only zones run in user namespaces");
}

json_t *vm_payload_check_create(json_t *payload, struct hull_err *err)
{
	struct verdict v = {0};
	char why[VM_WHY_MAX];
	if (!json_is_object(payload)) {
		hull_err_set(err, EINVAL,
			     "Invalid JSON payload: not an object");
		json_t *o = json_object();
		json_object_set_new(o, "bad_values",
				    json_pack("[s]", "payload"));
		return o;
	}
	const char *bname = "joyent";
	json_t *b = json_object_get(payload, "brand");
	if (b) {
		if (!json_is_string(b) ||
		    !vm_brand_from_name(json_string_value(b))) {
			char *s = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);
			verdict_add(
			    &v, "bad_brand", s,
			    "Invalid brand while validating payload: %s", s);
			free(s);
			return verdict_end(&v, err);
		}
		bname = json_string_value(b);
	}
	unsigned brand = vm_brand_from_name(bname);
	const char *k;
	json_t *val;
	json_object_foreach(payload, k, val)
	{
		const struct vm_prop *p = vm_prop_find(k);
		if (!p) {
			verdict_add(&v, "bad_properties", k,
				    "Invalid property %s: not a VM property",
				    k);
			continue;
		}
		if (!(p->flags & VM_P_CREATE)) {
			verdict_add(
			    &v, "bad_properties", k,
			    "Invalid property %s: cannot be set at create", k);
			continue;
		}
		if (!(p->brands & brand)) {
			snprintf(why, sizeof(why), "%s", bname);
			verdict_add(
			    &v, "bad_properties", k,
			    "Invalid property %s: not valid for brand %s", k,
			    bname);
			continue;
		}
		if (int_unset(p, val))
			continue;
		bool ok = vm_check_value(p, val, why, sizeof(why));
		if (ok && p->type == VM_T_NICS) {
			nic_bad_props(val, brand, bname, k, &v);
			ok = vm_check_nics(val, brand, why, sizeof(why));
		}
		if (!ok)
			verdict_add(&v, "bad_values", k,
				    "Invalid value for %s: %s", k, why);
	}
	check_userns_key(payload, brand, &v);
	if ((brand & VM_BRANDS_OS) && !json_object_get(payload, "image_uuid"))
		verdict_add(&v, "missing_properties", "image_uuid",
			    "Missing required property: %s", "image_uuid");
	unsigned n;
	const struct vm_prop *all = vm_prop_all(&n);
	for (unsigned i = 0; i < n; i++)
		if ((all[i].flags & VM_P_REQUIRED) && (all[i].brands & brand) &&
		    !json_object_get(payload, all[i].name))
			verdict_add(&v, "missing_properties", all[i].name,
				    "Missing required property: %s",
				    all[i].name);
	if (!v.fatal[0]) {
		json_t *vm = vm_payload_defaults(payload);
		check_memory(vm, brand, &v);
		json_decref(vm);
	}
	return verdict_end(&v, err);
}

/* The maps and arrays an update changes through helper keys. */
static const struct {
	const char *prefix;
	const char *prop;
} helpers[] = {
    {"set_", "customer_metadata"},
    {"remove_", "customer_metadata"},
    {"set_", "internal_metadata"},
    {"remove_", "internal_metadata"},
    {"set_", "tags"},
    {"remove_", "tags"},
    {"set_", "routes"},
    {"remove_", "routes"},
    {"add_", "nics"},
    {"update_", "nics"},
    {"remove_", "nics"},
    {"add_", "disks"},
    {"update_", "disks"},
    {"remove_", "disks"},
    {"add_", "filesystems"},
    {"update_", "filesystems"},
    {"remove_", "filesystems"},
    {"add_", "pci_devices"},
    {"update_", "pci_devices"},
    {"remove_", "pci_devices"},
};

static bool helper_split(const char *key, const char **prefix,
			 const char **prop)
{
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		size_t pl = strlen(helpers[i].prefix);
		if (!strncmp(key, helpers[i].prefix, pl) &&
		    !strcmp(key + pl, helpers[i].prop)) {
			*prefix = helpers[i].prefix;
			*prop = helpers[i].prop;
			return true;
		}
	}
	return false;
}

static bool check_helper(const char *prefix, const struct vm_prop *p,
			 json_t *val, unsigned brand, char *why, size_t n)
{
	if (!strcmp(prefix, "set_")) {
		if (p->type == VM_T_ROUTES)
			return vm_check_routes(val, why, n);
		return vm_check_value(p, val, why, n);
	}
	if (!json_is_array(val)) {
		snprintf(why, n, "must be an array");
		return false;
	}
	size_t i;
	json_t *e;
	if (!strcmp(prefix, "remove_")) {
		json_array_foreach(val, i, e)
		{
			if (!json_is_string(e)) {
				snprintf(why, n, "must be an array of strings");
				return false;
			}
			if (p->type == VM_T_NICS &&
			    !vm_check_mac(json_string_value(e))) {
				snprintf(why, n, "\"%s\" is not a MAC address",
					 json_string_value(e));
				return false;
			}
		}
		return true;
	}
	json_array_foreach(val, i, e)
	{
		if (!json_is_object(e)) {
			snprintf(why, n, "must be an array of objects");
			return false;
		}
		char sub[VM_WHY_MAX / 2];
		if (!strcmp(p->name, "filesystems") &&
		    !zone_fs_check(e, !strcmp(prefix, "update_"), sub,
				   sizeof(sub))) {
			snprintf(why, n, "filesystem %zu: %s", i, sub);
			return false;
		}
		if (p->type != VM_T_NICS)
			continue;
		bool add = !strcmp(prefix, "add_");
		if (!vm_check_nic(e, brand, add, sub, sizeof(sub))) {
			snprintf(why, n, "nic %zu: %s", i, sub);
			return false;
		}
		if (!add && !json_object_get(e, "mac")) {
			snprintf(why, n, "nic %zu: mac is required", i);
			return false;
		}
	}
	return true;
}

json_t *vm_payload_check_update(json_t *payload, const char *bname,
				struct hull_err *err)
{
	struct verdict v = {0};
	char why[VM_WHY_MAX];
	unsigned brand = vm_brand_from_name(bname);
	if (!brand) {
		verdict_add(&v, "bad_brand", bname ? bname : "",
			    "Invalid brand while validating payload: %s",
			    bname ? bname : "");
		return verdict_end(&v, err);
	}
	if (!json_is_object(payload)) {
		hull_err_set(err, EINVAL,
			     "Invalid JSON payload: not an object");
		json_t *o = json_object();
		json_object_set_new(o, "bad_values",
				    json_pack("[s]", "payload"));
		return o;
	}
	const char *k;
	json_t *val;
	json_object_foreach(payload, k, val)
	{
		const char *prefix, *pname;
		if (helper_split(k, &prefix, &pname)) {
			const struct vm_prop *p = vm_prop_find(pname);
			if (!(p->brands & brand)) {
				verdict_add(&v, "bad_properties", k,
					    "Invalid property %s: not valid "
					    "for brand %s",
					    k, bname);
				continue;
			}
			if (p->type == VM_T_NICS && json_is_array(val) &&
			    strcmp(prefix, "remove_"))
				nic_bad_props(val, brand, bname, k, &v);
			if (!check_helper(prefix, p, val, brand, why,
					  sizeof(why)))
				verdict_add(&v, "bad_values", k,
					    "Invalid value for %s: %s", k, why);
			continue;
		}
		const struct vm_prop *p = vm_prop_find(k);
		if (!p) {
			verdict_add(&v, "bad_properties", k,
				    "Invalid property %s: not a VM property",
				    k);
			continue;
		}
		if (p->flags & VM_P_VIA) {
			verdict_add(
			    &v, "bad_properties", k,
			    "Invalid property %s: update it with set_/remove_ "
			    "or add_/update_/remove_ keys",
			    k);
			continue;
		}
		if (!(p->flags & VM_P_UPDATE)) {
			verdict_add(&v, "bad_properties", k,
				    "Invalid property %s: cannot be updated",
				    k);
			continue;
		}
		if (!(p->brands & brand)) {
			verdict_add(
			    &v, "bad_properties", k,
			    "Invalid property %s: not valid for brand %s", k,
			    bname);
			continue;
		}
		if (json_is_null(val) || int_unset(p, val)) {
			if (p->flags & VM_P_REQUIRED)
				verdict_add(
				    &v, "bad_values", k,
				    "Invalid value for %s: cannot be removed",
				    k);
			continue;
		}
		if (!vm_check_value(p, val, why, sizeof(why)))
			verdict_add(&v, "bad_values", k,
				    "Invalid value for %s: %s", k, why);
	}
	return verdict_end(&v, err);
}

static void set_default_int(json_t *vm, const char *k, json_int_t val)
{
	if (!json_object_get(vm, k))
		json_object_set_new(vm, k, json_integer(val));
}

static void set_default(json_t *vm, const char *k, json_t *val)
{
	if (!json_object_get(vm, k))
		json_object_set(vm, k, val);
	json_decref(val);
}

static void warn(json_t *warnings, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(json_t *warnings, const char *fmt, ...)
{
	if (!warnings)
		return;
	char line[HULL_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	size_t i;
	json_t *e;
	json_array_foreach(warnings, i,
			   e) if (!strcmp(json_string_value(e), line)) return;
	json_array_append_new(warnings, json_string(line));
}

/* A nic's integers and booleans given in the forms SmartOS takes, as JSON
 * types; primary false means "not primary" and is dropped as SmartOS
 * does. */
static void coerce_nic(json_t *nic, json_t *warnings)
{
	static const char *const ints[] = {"vlan_id", "mtu", "vrrp_vrid"};
	static const char *const bools[] = {"primary",
					    "allow_ip_spoofing",
					    "allow_mac_spoofing",
					    "allow_dhcp_spoofing",
					    "dhcp_server",
					    "allow_restricted_traffic",
					    "allow_unfiltered_promisc"};
	if (!json_is_object(nic))
		return;
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		json_t *v = json_object_get(nic, ints[i]);
		json_int_t n;
		if (v && !json_is_integer(v) && vm_int_from_json(v, &n))
			json_object_set_new(nic, ints[i], json_integer(n));
	}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		json_t *v = json_object_get(nic, bools[i]);
		bool dep;
		int b = v ? vm_bool_from_json(v, &dep) : -1;
		if (b < 0)
			continue;
		if (dep)
			warn(warnings,
			     "DEPRECATED: nics.*.%s is given as 1; use true",
			     bools[i]);
		if (!b && !strcmp(bools[i], "primary"))
			json_object_del(nic, bools[i]);
		else
			json_object_set_new(nic, bools[i], json_boolean(b));
	}
}

static void solaris_only(json_t *payload, json_t *vm, json_t *warnings);

static void coerce(json_t *payload, bool update, json_t *warnings)
{
	const char *k;
	json_t *val;
	void *tmp;
	json_object_foreach_safe(payload, tmp, k, val)
	{
		const char *prefix, *pname;
		const struct vm_prop *p =
		    helper_split(k, &prefix, &pname) ? NULL : vm_prop_find(k);
		if (!p) {
			if (helper_split(k, &prefix, &pname) &&
			    !strcmp(pname, "nics") &&
			    strcmp(prefix, "remove_")) {
				size_t i;
				json_t *nic;
				json_array_foreach(val, i, nic)
				    coerce_nic(nic, warnings);
			}
			continue;
		}
		if (p->type == VM_T_NICS) {
			size_t i;
			json_t *nic;
			json_array_foreach(val, i, nic)
			    coerce_nic(nic, warnings);
		} else if (int_unset(p, val)) {
			if (update)
				json_object_set_new(payload, k, json_null());
			else
				json_object_del(payload, k);
		} else if (p->type == VM_T_INT && !json_is_integer(val)) {
			json_int_t n;
			if (vm_int_from_json(val, &n))
				json_object_set_new(payload, k,
						    json_integer(n));
		} else if (p->type == VM_T_BOOL) {
			bool dep;
			int b = vm_bool_from_json(val, &dep);
			if (b < 0)
				continue;
			if (dep)
				warn(warnings,
				     "DEPRECATED: %s is given as 1; use true",
				     k);
			json_object_set_new(payload, k, json_boolean(b));
		}
	}
}

void vm_payload_warnings(json_t *payload, bool update, json_t *warnings)
{
	json_t *copy = json_deep_copy(payload);
	if (json_is_object(copy)) {
		coerce(copy, update, warnings);
		if (!update)
			solaris_only(copy, NULL, warnings);
	}
	json_decref(copy);
}

/* Removes the bad properties a verdict lists, nics.*.KEY from every nic
 * of nics, add_nics and update_nics. */
static void drop_bad(json_t *payload, json_t *verdict, const char *action,
		     json_t *warnings)
{
	static const char *const nic_fields[] = {"nics", "add_nics",
						 "update_nics"};
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(verdict, "bad_properties"), i, e)
	{
		const char *name = json_string_value(e);
		warn(warnings,
		     "Warning: invalid %s property %s, removed from the "
		     "payload",
		     action, name);
		if (strncmp(name, "nics.*.", 7)) {
			json_object_del(payload, name);
			continue;
		}
		for (size_t f = 0; f < 3; f++) {
			size_t j;
			json_t *nic;
			json_array_foreach(
			    json_object_get(payload, nic_fields[f]), j, nic)
			    json_object_del(nic, name + 7);
		}
	}
}

static json_t *nic_by_mac(json_t *nics, const char *mac)
{
	size_t i;
	json_t *nic;
	json_array_foreach(nics, i, nic)
	{
		const char *m = json_string_value(json_object_get(nic, "mac"));
		if (mac && m && !strcasecmp(m, mac))
			return nic;
	}
	return NULL;
}

static int upgrade_nics(json_t *payload, json_t *vm, struct hull_err *err)
{
	static const char *const fields[] = {"nics", "add_nics", "update_nics"};
	char why[VM_WHY_MAX];
	for (size_t f = 0; f < 3; f++) {
		size_t i;
		json_t *nic;
		json_array_foreach(json_object_get(payload, fields[f]), i, nic)
		{
			int r;
			if (f == 2)
				r = vm_nic_upgrade_update(
				    nic,
				    nic_by_mac(json_object_get(vm, "nics"),
					       hull_json_str(nic, "mac", NULL)),
				    why, sizeof(why));
			else
				r = vm_nic_upgrade(nic, why, sizeof(why));
			if (r < 0)
				return hull_err_set(err, EINVAL,
						    "Invalid value for %s: nic "
						    "%zu: %s",
						    fields[f], i, why);
		}
	}
	return 0;
}

/* Properties of illumos's zones that Linux has no counterpart for: taken
 * and stored (vmadm get shows them) with one warning each; limit_priv's
 * names without a capability warn the same way (privs.h). An HVM
 * instance's limit_priv is its emulator zone's on SmartOS; hull's
 * emulator zone has a fixed set, so it is stored without a word. */
static void solaris_only(json_t *payload, json_t *vm, json_t *warnings)
{
	static const char *const props[] = {
	    "fs_allowed", "zfs_root_compression", "zfs_data_compression"};
	const char *bname = vm ? hull_json_str(vm, "brand", "joyent")
			       : hull_json_str(payload, "brand", "joyent");
	if (!(vm_brand_from_name(bname) & VM_BRANDS_OS))
		return;
	for (size_t i = 0; i < sizeof(props) / sizeof(*props); i++) {
		json_t *v = json_object_get(payload, props[i]);
		if (v && !json_is_null(v))
			warn(warnings,
			     "Warning: %s has no effect on Linux, ignored",
			     props[i]);
	}
	struct zone_privs privs;
	struct hull_err e = {0};
	zone_privs_parse(json_object_get(payload, "limit_priv"), &privs,
			 warnings, &e);
}

/* limit_priv and fs_allowed given as arrays are kept as SmartOS keeps
 * them, one comma-separated string. */
static void join_lists(json_t *payload)
{
	static const char *const props[] = {"limit_priv", "fs_allowed"};
	for (size_t i = 0; i < sizeof(props) / sizeof(*props); i++) {
		json_t *v = json_object_get(payload, props[i]);
		if (!json_is_array(v))
			continue;
		size_t len = 1, j;
		json_t *e;
		json_array_foreach(v, j, e) len += json_string_length(e) + 1;
		char *s = xmalloc(len);
		s[0] = '\0';
		json_array_foreach(v, j, e)
		{
			if (j)
				strcat(s, ",");
			strcat(s, json_string_value(e));
		}
		json_object_set_new(payload, props[i], json_string(s));
		free(s);
	}
}

int vm_payload_prepare(json_t *payload, json_t *vm, json_t *warnings,
		       struct hull_err *err)
{
	bool update = vm != NULL;
	json_t *bad =
	    update ? vm_payload_check_update(
			 payload, hull_json_str(vm, "brand", "joyent"), err)
		   : vm_payload_check_create(payload, err);
	if (bad) {
		json_t *only = json_object_get(bad, "bad_properties");
		bool fatal = !only || json_object_size(bad) != 1;
		if (fatal) {
			json_decref(bad);
			return -EINVAL;
		}
		drop_bad(payload, bad, update ? "update" : "create", warnings);
		json_decref(bad);
	}
	coerce(payload, update, warnings);
	solaris_only(payload, vm, warnings);
	join_lists(payload);
	return upgrade_nics(payload, vm, err);
}

json_t *vm_payload_defaults(json_t *payload)
{
	json_t *vm = json_deep_copy(payload);
	if (!json_is_object(vm))
		return vm;
	coerce(vm, false, NULL);
	/* a create-time switch, never stored (SmartOS keeps no nowait) */
	json_object_del(vm, "nowait");
	set_default(vm, "brand", json_string("joyent"));
	const char *bname = json_string_value(json_object_get(vm, "brand"));
	unsigned brand = vm_brand_from_name(bname);
	if (brand & VM_BRANDS_HVM) {
		set_default_int(vm, "ram", 256);
		json_int_t over = brand == VM_BRAND_KVM ? 1024 : 1280;
		set_default_int(vm, "max_physical_memory",
				jint(vm, "ram") + over);
		set_default_int(vm, "vcpus", 1);
		set_default_int(vm, "quota", brand == VM_BRAND_BHYVE ? 1 : 10);
	} else {
		/* For OS brands ram is an alias that feeds max_physical_memory;
		 * list shows ram = max_physical_memory. */
		json_int_t phys = jint(vm, "max_physical_memory");
		if (phys < 0)
			phys = jint(vm, "ram") > 0 ? jint(vm, "ram") : 256;
		json_object_set_new(vm, "max_physical_memory",
				    json_integer(phys));
		json_object_set_new(vm, "ram", json_integer(phys));
		set_default_int(vm, "quota", 10);
		set_default_int(vm, "tmpfs", phys);
		set_default(vm, "dns_domain", json_string("local"));
	}
	json_int_t phys = jint(vm, "max_physical_memory");
	set_default_int(vm, "max_locked_memory", phys);
	set_default_int(vm, "max_swap", phys > 256 ? phys : 256);
	set_default_int(vm, "max_lwps", 2000);
	set_default_int(vm, "cpu_shares", 100);
	set_default_int(vm, "zfs_io_priority", 100);
	set_default(vm, "autoboot", json_true());
	set_default(vm, "owner_uuid", json_string(ZERO_UUID));
	set_default(vm, "billing_id", json_string(ZERO_UUID));
	set_default(vm, "zpool", json_string("zones"));
	set_default(vm, "limit_priv", json_string("default"));
	set_default(vm, "customer_metadata", json_object());
	set_default(vm, "internal_metadata", json_object());
	set_default(vm, "tags", json_object());
	set_default(vm, "nics", json_array());
	set_default(vm, "resolvers", json_array());
	vm_nics_assign(json_object_get(vm, "nics"), brand);
	vm_nics_represent(json_object_get(vm, "nics"));
	return vm;
}

void vm_payload_fill_generated(json_t *vm, const char *uuid,
			       const char *now_iso, unsigned (*rand32)(void))
{
	set_default(vm, "uuid", json_string(uuid));
	set_default(vm, "zonename",
		    json_string(hull_json_str(vm, "uuid", uuid)));
	set_default(vm, "create_timestamp", json_string(now_iso));
	json_object_set_new(vm, "last_modified", json_string(now_iso));
	vm_nics_fill_macs(json_object_get(vm, "nics"), rand32);
}

/* Properties whose change matters only to hull's bookkeeping, not to a
 * running instance. */
static bool bookkeeping(const char *k)
{
	static const char *const names[] = {
	    "alias",
	    "autoboot",
	    "owner_uuid",
	    "billing_id",
	    "package_name",
	    "package_version",
	    "do_not_inventory",
	    "indestructible_zoneroot",
	    "indestructible_delegated",
	    "archive_on_delete",
	    "tags",
	    "customer_metadata",
	    "internal_metadata",
	    "internal_metadata_namespaces",
	    "firewall_enabled",
	    "maintain_resolvers",
	    "last_modified",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(k, names[i]))
			return true;
	return false;
}

static void map_apply(json_t *vm, const char *prefix, const char *prop,
		      json_t *val)
{
	json_t *m = json_object_get(vm, prop);
	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(vm, prop, m);
	}
	if (!strcmp(prefix, "set_")) {
		json_object_update(m, val);
	} else {
		size_t i;
		json_t *e;
		json_array_foreach(val, i, e)
		    json_object_del(m, json_string_value(e));
	}
}

static json_t *array_find(json_t *arr, const char *key, const char *value)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		const char *s = json_string_value(json_object_get(e, key));
		if (s && !strcasecmp(s, value))
			return e;
	}
	return NULL;
}

static int array_apply(json_t *vm, const char *prefix, const char *prop,
		       json_t *val, struct hull_err *err)
{
	const char *key = !strcmp(prop, "nics")		 ? "mac"
			  : !strcmp(prop, "filesystems") ? "target"
							 : "path";
	json_t *arr = json_object_get(vm, prop);
	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(vm, prop, arr);
	}
	size_t i;
	json_t *e;
	json_array_foreach(val, i, e)
	{
		if (!strcmp(prefix, "remove_")) {
			const char *id = json_string_value(e);
			for (size_t j = 0; j < json_array_size(arr); j++) {
				const char *s =
				    json_string_value(json_object_get(
					json_array_get(arr, j), key));
				if (s && !strcasecmp(s, id)) {
					json_array_remove(arr, j);
					break;
				}
			}
			continue;
		}
		const char *id = json_string_value(json_object_get(e, key));
		json_t *old = id ? array_find(arr, key, id) : NULL;
		if (!strcmp(prefix, "add_")) {
			if (old)
				return hull_err_set(err, EEXIST,
						    "Invalid value for %s%s: "
						    "%s %s is already present",
						    prefix, prop, key, id);
			json_array_append(arr, e);
		} else {
			if (!old)
				return hull_err_set(
				    err, ENOENT,
				    "Invalid value for %s%s: no %s with %s %s",
				    prefix, prop, prop, key,
				    id ? id : "(none)");
			json_object_update(old, e);
		}
	}
	return 0;
}

/* Keeps the memory caps consistent after an update changed some of them,
 * the way SmartOS does: ram feeds max_physical_memory on OS brands, and
 * caps the update did not name follow max_physical_memory. */
static void memory_follow(json_t *vm, json_t *old, json_t *update,
			  unsigned brand)
{
	bool os = brand & VM_BRANDS_OS;
	if (os && json_object_get(update, "ram") &&
	    !json_object_get(update, "max_physical_memory"))
		json_object_set(vm, "max_physical_memory",
				json_object_get(vm, "ram"));
	json_int_t phys = jint(vm, "max_physical_memory");
	json_int_t ophys = jint(old, "max_physical_memory");
	if (phys < 0 || phys == ophys)
		return;
	if (os)
		json_object_set_new(vm, "ram", json_integer(phys));
	if (!json_object_get(update, "max_locked_memory")) {
		json_int_t locked = jint(vm, "max_locked_memory");
		if (locked == ophys || locked > phys)
			json_object_set_new(vm, "max_locked_memory",
					    json_integer(phys));
	}
	if (!json_object_get(update, "max_swap")) {
		json_int_t swap = jint(vm, "max_swap");
		if (swap >= 0 && swap < phys)
			json_object_set_new(vm, "max_swap", json_integer(phys));
	}
	if (os && !json_object_get(update, "tmpfs") && jint(vm, "tmpfs") > phys)
		json_object_set_new(vm, "tmpfs", json_integer(phys));
}

int vm_payload_apply_update(json_t *vm, json_t *update, bool *live,
			    bool *restart, struct hull_err *err)
{
	json_t *old = json_deep_copy(vm);
	unsigned brand =
	    vm_brand_from_name(hull_json_str(vm, "brand", "joyent"));
	const char *k;
	json_t *val;
	int r = 0;
	json_object_foreach(update, k, val)
	{
		const char *prefix, *pname;
		if (helper_split(k, &prefix, &pname)) {
			const struct vm_prop *p = vm_prop_find(pname);
			if (p->type == VM_T_MAP || p->type == VM_T_TAGS ||
			    p->type == VM_T_ROUTES)
				map_apply(vm, prefix, pname, val);
			else if ((r = array_apply(vm, prefix, pname, val,
						  err)) < 0)
				goto fail;
			continue;
		}
		const struct vm_prop *p = vm_prop_find(k);
		if (json_is_null(val) ||
		    (json_is_integer(val) && json_integer_value(val) == 0 &&
		     p && !(p->flags & VM_P_KEEPZERO)))
			json_object_del(vm, k);
		else
			json_object_set(vm, k, val);
	}
	if (json_object_get(update, "add_nics") ||
	    json_object_get(update, "update_nics") ||
	    json_object_get(update, "remove_nics")) {
		json_t *nics = json_object_get(vm, "nics");
		char why[VM_WHY_MAX];
		vm_nics_assign(nics, brand);
		vm_nics_represent(nics);
		if (!vm_check_nics(nics, brand, why, sizeof(why))) {
			r = hull_err_set(err, EINVAL,
					 "Invalid value for nics: %s", why);
			goto fail;
		}
	}
	if (json_object_get(update, "add_filesystems") ||
	    json_object_get(update, "update_filesystems") ||
	    json_object_get(update, "remove_filesystems")) {
		char why[VM_WHY_MAX];
		if (!zone_fs_check_list(json_object_get(vm, "filesystems"), why,
					sizeof(why))) {
			r = hull_err_set(err, EINVAL,
					 "Invalid value for filesystems: %s",
					 why);
			goto fail;
		}
	}
	memory_follow(vm, old, update, brand);
	struct verdict v = {0};
	check_memory(vm, brand, &v);
	if (v.out) {
		r = hull_err_set(err, EINVAL, "%s", v.first);
		json_decref(v.out);
		goto fail;
	}
	*live = *restart = false;
	json_object_foreach(vm, k, val)
	{
		json_t *o = json_object_get(old, k);
		if (o && json_equal(o, val))
			continue;
		const struct vm_prop *p = vm_prop_find(k);
		if (p && (p->flags & VM_P_LIVE))
			*live = true;
		else if (!bookkeeping(k))
			*restart = true;
	}
	json_object_foreach(old, k, val)
	{
		if (json_object_get(vm, k))
			continue;
		const struct vm_prop *p = vm_prop_find(k);
		if (p && (p->flags & VM_P_LIVE))
			*live = true;
		else if (!bookkeeping(k))
			*restart = true;
	}
	json_decref(old);
	return 0;
fail:
	/* Put vm back as it was: the caller saves nothing on failure, but
	 * keep the object consistent for it too. */
	json_object_clear(vm);
	json_object_update(vm, old);
	json_decref(old);
	return r;
}

json_t *vm_payload_from_args(int argc, char **argv, struct hull_err *err)
{
	json_t *u = json_object();
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i]) {
			json_decref(u);
			hull_err_set(
			    err, EINVAL,
			    "Invalid argument \"%s\": expected key=value",
			    argv[i]);
			return NULL;
		}
		char *key = xstrndup(argv[i], (size_t)(eq - argv[i]));
		const char *s = eq + 1;
		const struct vm_prop *p = vm_prop_find(key);
		json_t *val = NULL;
		if (p && p->type == VM_T_INT) {
			char *end;
			errno = 0;
			long long n = strtoll(s, &end, 10);
			if (*s && !*end && !errno)
				val = json_integer(n);
		} else if (p && p->type == VM_T_BOOL) {
			if (!strcmp(s, "true"))
				val = json_true();
			else if (!strcmp(s, "false"))
				val = json_false();
		}
		json_object_set_new(u, key, val ? val : json_string(s));
		free(key);
	}
	return u;
}
