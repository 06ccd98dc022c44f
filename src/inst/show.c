/*
 * show.c - vmadm get, list, lookup and info: reading instances.
 *
 * list and lookup add SmartOS's fake fields: `type` (OS, LX, KVM, BHYV)
 * and, for non-HVM brands, `ram` = max_physical_memory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/vmadm/vmadm.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "vm/filter.h"
#include "vm/proptable.h"
#include "vm/record.h"

int vmadm_get(int argc, char **argv)
{
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+dv")) != -1)
		if (c != 'd' && c != 'v')
			return vmadm_usage("get");
	if (optind != argc - 1)
		return vmadm_usage("get");
	struct hull_err err;
	json_t *vm = vm_record_load(argv[optind], &err);
	if (!vm)
		return vmadm_fail_err(&err);
	hull_json_print(vm);
	json_decref(vm);
	return VMADM_OK;
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

static int filters_parse(int argc, char **argv, struct filters *fs,
			 struct hull_err *err)
{
	fs->f = xcalloc((size_t)argc + 1, sizeof(*fs->f));
	fs->n = 0;
	for (int i = 0; i < argc; i++) {
		if (vm_filter_parse(argv[i], &fs->f[i], err) < 0)
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

/* Splits "a,b,c" into a NULL-terminated vector of fields, checking each. */
static char **fields_parse(const char *spec, bool sort, struct hull_err *err)
{
	char *dup = xstrdup(spec);
	size_t n = 1;
	for (const char *p = spec; *p; p++)
		n += *p == ',';
	char **v = xcalloc(n + 1, sizeof(char *));
	size_t k = 0;
	char *save = NULL;
	for (char *t = strtok_r(dup, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		const char *name = t;
		if (sort && (*name == '-' || *name == '+'))
			name++;
		if (!vm_field_valid(name, true)) {
			hull_err_set(err, EINVAL,
				     "Invalid field \"%s\" for -%c", name,
				     sort ? 's' : 'o');
			for (size_t j = 0; j < k; j++)
				free(v[j]);
			free(v);
			free(dup);
			return NULL;
		}
		v[k++] = xstrdup(t);
	}
	free(dup);
	if (k == 0) {
		free(v);
		hull_err_set(err, EINVAL, "Invalid empty field list");
		return NULL;
	}
	return v;
}

static void fields_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static char **sort_keys;

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

static int cmp_vms(const void *pa, const void *pb)
{
	json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	for (size_t i = 0; sort_keys[i]; i++) {
		const char *k = sort_keys[i];
		int dir = 1;
		if (*k == '-' || *k == '+')
			dir = *k++ == '-' ? -1 : 1;
		int r = cmp_field(a, b, k);
		if (r)
			return r * dir;
	}
	return 0;
}

static int column_width(const char *field)
{
	const struct vm_prop *p = vm_prop_find(field);
	int w = p && p->width ? p->width : (int)strlen(field);
	int h = p && p->header ? (int)strlen(p->header) : (int)strlen(field);
	return w > h ? w : h;
}

static void print_header(char **cols)
{
	for (size_t i = 0; cols[i]; i++) {
		const struct vm_prop *p = vm_prop_find(cols[i]);
		char *h =
		    p && p->header ? xstrdup(p->header) : xstrdup(cols[i]);
		if (!(p && p->header))
			for (char *q = h; *q; q++)
				*q = (char)(*q >= 'a' && *q <= 'z' ? *q - 32
								   : *q);
		if (cols[i + 1])
			printf("%-*s  ", column_width(cols[i]), h);
		else
			printf("%s\n", h);
		free(h);
	}
}

int vmadm_list(int argc, char **argv)
{
	bool parsable = false, header = true;
	const char *ospec = "uuid,type,ram,state,alias", *sspec = "ram,uuid";
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+pHho:s:dv")) != -1) {
		switch (c) {
		case 'p':
			parsable = true;
			header = false;
			break;
		case 'H':
			header = false;
			break;
		case 'h':
			header = true;
			break;
		case 'o':
			ospec = optarg;
			break;
		case 's':
			sspec = optarg;
			break;
		case 'd':
		case 'v':
			break;
		default:
			return vmadm_usage("list");
		}
	}
	struct hull_err err;
	char **cols = fields_parse(ospec, false, &err);
	if (!cols)
		return vmadm_fail_err(&err);
	sort_keys = fields_parse(sspec, true, &err);
	if (!sort_keys) {
		fields_free(cols);
		return vmadm_fail_err(&err);
	}
	struct filters fs;
	int rc = VMADM_ERROR;
	json_t *vms = NULL;
	if (filters_parse(argc - optind, argv + optind, &fs, &err) < 0 ||
	    !(vms = select_vms(&fs, &err))) {
		vmadm_fail_err(&err);
		goto out;
	}
	size_t n = json_array_size(vms);
	json_t **v = xcalloc(n + 1, sizeof(json_t *));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(vms, i);
	qsort(v, n, sizeof(json_t *), cmp_vms);
	if (header)
		print_header(cols);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; cols[k]; k++) {
			char *t = vm_field_text(v[i], cols[k]);
			const char *s = t ? t : (parsable ? "" : "-");
			if (parsable)
				printf("%s%c", s, cols[k + 1] ? ':' : '\n');
			else if (cols[k + 1])
				printf("%-*s  ", column_width(cols[k]), s);
			else
				printf("%s\n", s);
			free(t);
		}
	}
	free(v);
	rc = VMADM_OK;
out:
	json_decref(vms);
	filters_fini(&fs);
	fields_free(cols);
	fields_free(sort_keys);
	return rc;
}

int vmadm_lookup(int argc, char **argv)
{
	bool json = false, one = false;
	const char *ospec = NULL;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+j1o:dv")) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case '1':
			one = true;
			break;
		case 'o':
			ospec = optarg;
			break;
		case 'd':
		case 'v':
			break;
		default:
			return vmadm_usage("lookup");
		}
	}
	if (ospec && !json)
		return vmadm_fail("Cannot specify -o without -j");
	struct hull_err err;
	struct filters fs;
	json_t *vms = NULL;
	int rc = VMADM_ERROR;
	if (filters_parse(argc - optind, argv + optind, &fs, &err) < 0 ||
	    !(vms = select_vms(&fs, &err))) {
		vmadm_fail_err(&err);
		goto out;
	}
	if (one && json_array_size(vms) != 1) {
		vmadm_fail("Requested unique lookup but found %zu results.",
			   json_array_size(vms));
		goto out;
	}
	size_t i;
	json_t *vm;
	if (!json) {
		json_array_foreach(vms, i, vm)
		    printf("%s\n", hull_json_str(vm, "uuid", ""));
		rc = VMADM_OK;
		goto out;
	}
	/* -j shows the instance objects; type/hvm are list's own fields. */
	json_array_foreach(vms, i, vm)
	{
		json_object_del(vm, "type");
		json_object_del(vm, "hvm");
	}
	if (ospec) {
		char *dup = xstrdup(ospec);
		json_t *out = json_array();
		json_array_foreach(vms, i, vm)
		{
			json_t *o = json_object();
			char *save = NULL;
			char *copy = xstrdup(dup);
			for (char *t = strtok_r(copy, ",", &save); t;
			     t = strtok_r(NULL, ",", &save))
				if (json_object_get(vm, t))
					json_object_set(o, t,
							json_object_get(vm, t));
			free(copy);
			json_array_append_new(out, o);
		}
		free(dup);
		json_decref(vms);
		vms = out;
	}
	hull_json_print(vms);
	rc = VMADM_OK;
out:
	json_decref(vms);
	filters_fini(&fs);
	return rc;
}

int vmadm_info(int argc, char **argv)
{
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+dv")) != -1)
		if (c != 'd' && c != 'v')
			return vmadm_usage("info");
	if (optind != argc - 1 && optind != argc - 2)
		return vmadm_usage("info");
	const char *uuid = argv[optind];
	const char *types = optind + 1 < argc ? argv[optind + 1] : "all";
	struct hull_err err;
	json_t *vm = vm_record_load(uuid, &err);
	if (!vm)
		return vmadm_fail_err(&err);
	if (strcmp(hull_json_str(vm, "state", ""), "running")) {
		json_decref(vm);
		return vmadm_fail("Unable to get info for VM %s: VM is not "
				  "running",
				  uuid);
	}
	bool all = strstr(types, "all") != NULL;
	json_t *out = json_object();
	if (all || strstr(types, "status")) {
		json_t *st = json_object();
		const char *keys[] = {"state", "zone_state", "pid",
				      "boot_timestamp"};
		for (size_t i = 0; i < 4; i++)
			if (json_object_get(vm, keys[i]))
				json_object_set(st, keys[i],
						json_object_get(vm, keys[i]));
		json_object_set_new(out, "status", st);
	}
	if (all || strstr(types, "version"))
		json_object_set_new(out, "version",
				    json_pack("{s:s}", "hull", HULL_VERSION));
	const char *brand = hull_json_str(vm, "brand", "");
	if ((all || strstr(types, "vnc")) &&
	    (!strcmp(brand, "kvm") || !strcmp(brand, "bhyve"))) {
		/* What the supervisor's relay wrote (SmartOS's host, port,
		 * display, password); {} when there is none: vnc_port -1,
		 * the bhyve brand (no display), or no port to be had. */
		char *p = hull_root_path("%s/run/vnc.json", uuid);
		json_t *v =
		    hull_path_exists(p) ? hull_json_load_file(p, NULL) : NULL;
		free(p);
		json_object_set_new(out, "vnc",
				    json_is_object(v) ? v : json_object());
		if (v && !json_is_object(v))
			json_decref(v);
	}
	if (!json_object_size(out)) {
		json_decref(out);
		json_decref(vm);
		return vmadm_fail("Invalid info type(s) \"%s\": supported are "
				  "all, status, version and (HVM) vnc",
				  types);
	}
	hull_json_print(out);
	json_decref(out);
	json_decref(vm);
	return VMADM_OK;
}
