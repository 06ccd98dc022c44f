/*
 * show.c - reading instances: get, and list with filters and sort
 * (include/hull/instance.h; vmadm get, list, lookup).
 *
 * list adds SmartOS's fake fields: `type` (OS, LX, KVM, BHYV)
 * and, for non-HVM brands, `ram` = max_physical_memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inst/txn.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "vm/filter.h"
#include "vm/proptable.h"
#include "vm/record.h"

json_t *hull_instance_get(const char *uuid, struct hull_err *err)
{
	return vm_record_load(uuid, err);
}

static void add_fake_fields(json_t *vm)
{
	unsigned brand = vm_brand_from_name(hull_json_str(vm, "brand", ""));
	json_object_set_new(vm, "type", json_string(vm_brand_type(brand)));
	if (!(brand & VM_BRANDS_HVM) &&
	    json_object_get(vm, "max_physical_memory"))
		json_object_set(vm, "ram",
				json_object_get(vm, "max_physical_memory"));
	json_object_set_new(vm, "hvm", json_boolean(brand & VM_BRANDS_HVM));
}

struct filters {
	struct vm_filter *f;
	int n;
};

static int filters_parse(const char *const *args, size_t n, struct filters *fs,
			 struct hull_err *err)
{
	fs->f = xcalloc(n + 1, sizeof(*fs->f));
	fs->n = 0;
	for (size_t i = 0; i < n; i++) {
		if (vm_filter_parse(args[i], &fs->f[i], err) < 0)
			return -EINVAL;
		fs->n++;
	}
	return 0;
}

static void filters_fini(struct filters *fs)
{
	for (int i = 0; i < fs->n; i++)
		vm_filter_fini(&fs->f[i]);
	free(fs->f);
}

/* Instances matching all filters, with fake fields, in a new array. */
static json_t *select_vms(struct filters *fs, struct hull_err *err)
{
	json_t *all = vm_record_list(err);
	if (!all)
		return NULL;
	json_t *out = json_array();
	size_t i;
	json_t *vm;
	json_array_foreach(all, i, vm)
	{
		add_fake_fields(vm);
		bool ok = true;
		for (int k = 0; ok && k < fs->n; k++)
			ok = vm_filter_match(&fs->f[k], vm);
		if (ok)
			json_array_append(out, vm);
	}
	json_decref(all);
	return out;
}

static int cmp_field(json_t *a, json_t *b, const char *key)
{
	json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
	if (!x || !y)
		return (x != NULL) - (y != NULL);
	if (json_is_number(x) && json_is_number(y)) {
		double d = json_number_value(x) - json_number_value(y);
		return d < 0 ? -1 : d > 0;
	}
	if (json_is_string(x) && json_is_string(y))
		return strcmp(json_string_value(x), json_string_value(y));
	char *s = vm_field_text(a, key), *t = vm_field_text(b, key);
	int r = strcmp(s ? s : "", t ? t : "");
	free(s);
	free(t);
	return r;
}

static int cmp_vms(const void *pa, const void *pb, void *keys)
{
	json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	for (char **k = keys; *k; k++) {
		const char *key = *k;
		int dir = 1;
		if (*key == '-' || *key == '+')
			dir = *key++ == '-' ? -1 : 1;
		int r = cmp_field(a, b, key);
		if (r)
			return r * dir;
	}
	return 0;
}

/* Sorts vms by spec ("field,-field,..."). */
static int sort_vms(json_t *vms, const char *spec, struct hull_err *err)
{
	_cleanup_free_ char *dup = xstrdup(spec);
	size_t n = 1;
	for (const char *p = spec; *p; p++)
		n += *p == ',';
	_cleanup_free_ char **keys = xcalloc(n + 1, sizeof(char *));
	size_t k = 0;
	char *save = NULL;
	for (char *t = strtok_r(dup, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		const char *name = *t == '-' || *t == '+' ? t + 1 : t;
		if (!vm_field_valid(name, true))
			return hull_err_set(err, EINVAL,
					    "Invalid sort field \"%s\"", name);
		keys[k++] = t;
	}
	size_t nvm = json_array_size(vms);
	_cleanup_free_ json_t **v = xcalloc(nvm + 1, sizeof(json_t *));
	for (size_t i = 0; i < nvm; i++)
		v[i] = json_incref(json_array_get(vms, i));
	qsort_r(v, nvm, sizeof(json_t *), cmp_vms, keys);
	json_array_clear(vms);
	for (size_t i = 0; i < nvm; i++)
		json_array_append_new(vms, v[i]);
	return 0;
}

json_t *hull_instance_list(const char *const *filters, size_t nfilters,
			   const char *sort, struct hull_err *err)
{
	struct filters fs;
	json_t *vms = NULL;
	if (filters_parse(filters, nfilters, &fs, err) == 0 &&
	    (vms = select_vms(&fs, err)) && sort &&
	    sort_vms(vms, sort, err) < 0) {
		json_decref(vms);
		vms = NULL;
	}
	filters_fini(&fs);
	return vms;
}
