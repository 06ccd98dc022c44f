/*
 * view.c - vmadm's commands that read instances: get, list, lookup, info
 * and events. The instances come from the instance library
 * (include/hull/instance.h, hull/events.h); this file parses arguments
 * and prints them as SmartOS's vmadm does. list and lookup show SmartOS's
 * fake fields the library adds (type, ram, hvm); lookup -j leaves out
 * type and hvm.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/vmadm/vmadm.h"
#include "hull/events.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "vm/filter.h"
#include "vm/proptable.h"
#include "vm/record.h"

/* vmadm events rescans at least this often. */
#define RESCAN_MS 1000

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
	json_t *vm = hull_instance_get(argv[optind], &err);
	if (!vm)
		return vmadm_fail_err(&err);
	hull_json_print(vm);
	json_decref(vm);
	return VMADM_OK;
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
	char **sort_keys = fields_parse(sspec, true, &err);
	if (!sort_keys) {
		fields_free(cols);
		return vmadm_fail_err(&err);
	}
	fields_free(sort_keys);
	int rc = VMADM_ERROR;
	json_t *vms = hull_instance_list((const char *const *)argv + optind,
					 (size_t)(argc - optind), sspec, &err);
	if (!vms) {
		vmadm_fail_err(&err);
		goto out;
	}
	size_t n = json_array_size(vms);
	if (header)
		print_header(cols);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; cols[k]; k++) {
			char *t =
			    vm_field_text(json_array_get(vms, i), cols[k]);
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
	rc = VMADM_OK;
out:
	json_decref(vms);
	fields_free(cols);
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
	int rc = VMADM_ERROR;
	json_t *vms = hull_instance_list((const char *const *)argv + optind,
					 (size_t)(argc - optind), NULL, &err);
	if (!vms) {
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
	json_t *vm = hull_instance_get(uuid, &err);
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

static void stamp(char *out, size_t n, bool full)
{
	char iso[32];
	vm_time_iso(iso);
	snprintf(out, n, "%s", full ? iso : iso + 11);
}

struct events_out {
	bool full, json;
};

static void emit(const char *type, json_t *vm, json_t *changes, void *arg)
{
	struct events_out *ev = arg;
	const char *uuid = hull_json_str(vm, "uuid", "");
	char when[40];
	stamp(when, sizeof(when), true);
	if (ev->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:O}", "type", type,
				      "date", when, "zonename",
				      hull_json_str(vm, "zonename", uuid),
				      "uuid", uuid, "vm", vm);
		if (changes)
			json_object_set(o, "changes", changes);
		char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		printf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		stamp(when, sizeof(when), ev->full);
		char shortid[9];
		snprintf(shortid, sizeof(shortid), "%s", uuid);
		const char *id =
		    ev->full ? hull_json_str(vm, "zonename", uuid) : shortid;
		const char *alias = hull_json_str(vm, "alias", "-");
		if (!changes) {
			printf("[%s] %s %s %s\n", when, id, alias, type);
		} else {
			size_t i;
			json_t *c;
			json_array_foreach(changes, i, c)
			{
				char *o =
				    json_dumps(json_object_get(c, "oldValue"),
					       JSON_ENCODE_ANY | JSON_COMPACT);
				char *n =
				    json_dumps(json_object_get(c, "newValue"),
					       JSON_ENCODE_ANY | JSON_COMPACT);
				printf("[%s] %s %s %s: %s %s :: %s -> %s\n",
				       when, id, alias, type,
				       hull_json_str(c, "prettyPath", ""),
				       hull_json_str(c, "action", ""),
				       o ? o : "null", n ? n : "null");
				free(o);
				free(n);
			}
		}
	}
	fflush(stdout);
}

int vmadm_events(int argc, char **argv)
{
	struct events_out ev = {0};
	bool ready = false;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+fjrdv")) != -1) {
		switch (c) {
		case 'f':
			ev.full = true;
			break;
		case 'j':
			ev.json = true;
			break;
		case 'r':
			ready = true;
			break;
		case 'd':
		case 'v':
			break;
		default:
			return vmadm_usage("events");
		}
	}
	if (optind < argc - 1)
		return vmadm_usage("events");
	struct hull_err err;
	struct hull_events *stream;
	if (hull_events_open(optind < argc ? argv[optind] : NULL, &stream,
			     &err) < 0)
		return vmadm_fail_err(&err);
	if (ready) {
		if (ev.json) {
			char when[40];
			stamp(when, sizeof(when), true);
			printf("{\"date\":\"%s\",\"type\":\"ready\"}\n", when);
		} else {
			char when[40];
			stamp(when, sizeof(when), ev.full);
			printf("[%s] ready\n", when);
		}
		fflush(stdout);
	}
	/* A rescan at least every RESCAN_MS catches what inotify cannot
	 * see (a supervisor's cgroup emptying). */
	int r;
	while ((r = hull_events_wait(stream, RESCAN_MS, emit, &ev, &err)) >= 0)
		;
	hull_events_close(stream);
	return vmadm_fail_err(&err);
}
