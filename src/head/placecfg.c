/*
 * placecfg.c - the datacenter's placement settings: see placecfg.h.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "head/placecfg.h"
#include "lib/json.h"

/* The modes `hulladm placement set --spread|--pack` name. */
static const struct {
	const char *name;
	double ram, disk;
} modes[] = {{"spread", 2, 1}, {"pack", -2, -1}};

static void defaults(struct placement_cfg *c)
{
	*c = (struct placement_cfg){.w_ram = 2,
				    .w_disk = 1,
				    .ratio_cpu = 4.0,
				    .ratio_ram = 1.0,
				    .ratio_disk = 1.0,
				    .vm_limit = 224};
}

static void take_num(json_t *o, const char *k, double *out)
{
	json_t *v = json_object_get(o, k);
	if (json_is_number(v))
		*out = json_number_value(v);
}

/* Applies rec (a checked record) over c. */
static void apply(struct placement_cfg *c, json_t *rec)
{
	json_t *mode = json_object_get(rec, "mode");
	for (size_t i = 0; i < sizeof(modes) / sizeof(*modes); i++)
		if (json_is_string(mode) &&
		    !strcmp(json_string_value(mode), modes[i].name)) {
			c->w_ram = modes[i].ram;
			c->w_disk = modes[i].disk;
		}
	json_t *w = json_object_get(rec, "weights");
	take_num(w, "ram", &c->w_ram);
	take_num(w, "disk", &c->w_disk);
	take_num(w, "owner", &c->w_owner);
	take_num(w, "random", &c->w_random);
	json_t *o = json_object_get(rec, "overprovision_ratios");
	take_num(o, "cpu", &c->ratio_cpu);
	take_num(o, "ram", &c->ratio_ram);
	take_num(o, "disk", &c->ratio_disk);
	if (json_is_integer(json_object_get(rec, "vm_limit")))
		c->vm_limit =
		    (long)json_integer_value(json_object_get(rec, "vm_limit"));
	json_t *res = json_object_get(rec, "reserve");
	c->reserve_share = 0;
	c->reserve_largest = 0;
	take_num(res, "share", &c->reserve_share);
	if (json_is_integer(json_object_get(res, "largest")))
		c->reserve_largest =
		    (long)json_integer_value(json_object_get(res, "largest"));
}

int placement_cfg_load(struct store *s, struct placement_cfg *c,
		       struct hull_err *err)
{
	defaults(c);
	json_t *rec = NULL;
	int r = store_get(s, "config", "placement", &rec, NULL, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	apply(c, rec);
	json_decref(rec);
	return 0;
}

static int num_in(json_t *o, const char *what, const char *k, double lo,
		  double hi, struct hull_err *err)
{
	json_t *v = json_object_get(o, k);
	if (!v)
		return 0;
	double d = json_number_value(v);
	if (!json_is_number(v) || !isfinite(d) || d < lo || d > hi)
		return hull_err_set(err, EINVAL,
				    "%s %s must be a number from %g to %g",
				    what, k, lo, hi);
	return 0;
}

static int only_keys(json_t *o, const char *what, const char *const *keys,
		     struct hull_err *err)
{
	if (!o)
		return 0;
	if (!json_is_object(o))
		return hull_err_set(err, EINVAL, "%s must be an object", what);
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		bool known = false;
		for (size_t i = 0; keys[i]; i++)
			known |= !strcmp(keys[i], k);
		if (!known)
			return hull_err_set(err, EINVAL, "unknown %s %.40s",
					    what, k);
	}
	return 0;
}

static int check(json_t *p, struct hull_err *err)
{
	static const char *const top[] = {"weights",  "overprovision_ratios",
					  "vm_limit", "reserve",
					  "mode",     NULL};
	static const char *const w[] = {"ram", "disk", "owner", "random", NULL};
	static const char *const o[] = {"cpu", "ram", "disk", NULL};
	static const char *const res[] = {"share", "largest", NULL};
	json_t *weights = json_object_get(p, "weights");
	json_t *ratios = json_object_get(p, "overprovision_ratios");
	json_t *reserve = json_object_get(p, "reserve");
	json_t *mode = json_object_get(p, "mode");
	json_t *limit = json_object_get(p, "vm_limit");
	int r = only_keys(p, "setting", top, err);
	if (r == 0)
		r = only_keys(weights, "weight", w, err);
	if (r == 0)
		r = only_keys(ratios, "overprovision ratio", o, err);
	if (r == 0 && !json_is_null(reserve))
		r = only_keys(reserve, "reserve", res, err);
	for (size_t i = 0; r == 0 && w[i]; i++)
		r = num_in(weights, "weight", w[i], -100, 100, err);
	for (size_t i = 0; r == 0 && o[i]; i++)
		r = num_in(ratios, "overprovision ratio", o[i], 1, 100, err);
	if (r == 0 && json_is_object(reserve)) {
		r = num_in(reserve, "reserve", "share", 0, 0.9, err);
		json_t *l = json_object_get(reserve, "largest");
		if (r == 0 && l &&
		    (!json_is_integer(l) || json_integer_value(l) < 0 ||
		     json_integer_value(l) > 10000))
			r = hull_err_set(err, EINVAL,
					 "reserve largest must be a whole "
					 "number of servers");
		if (r == 0 && json_object_size(reserve) > 1)
			r = hull_err_set(err, EINVAL,
					 "reserve is a share or a number of "
					 "largest servers, not both");
	}
	if (r == 0 && limit &&
	    (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
	     json_integer_value(limit) > 100000))
		r = hull_err_set(err, EINVAL,
				 "vm_limit must be a whole number from 1");
	if (r == 0 && mode &&
	    (!json_is_string(mode) ||
	     (strcmp(json_string_value(mode), "spread") &&
	      strcmp(json_string_value(mode), "pack"))))
		r = hull_err_set(err, EINVAL, "mode must be spread or pack");
	return r;
}

int placement_cfg_update(struct store *s, json_t *patch, struct hull_err *err)
{
	int r = check(patch, err);
	if (r < 0)
		return r;
	for (int tries = 0; tries < 8; tries++) {
		json_t *rec = NULL;
		char *etag = NULL;
		r = store_get(s, "config", "placement", &rec, &etag, err);
		if (r == -ENOENT) {
			rec = json_object();
			etag = strdup("");
		} else if (r < 0) {
			return r;
		}
		/* A mode sets both resource weights: it replaces what was
		 * set for them before. */
		if (json_object_get(patch, "mode")) {
			json_t *w = json_object_get(rec, "weights");
			json_object_del(w, "ram");
			json_object_del(w, "disk");
			json_object_set(rec, "mode",
					json_object_get(patch, "mode"));
		}
		const char *k;
		json_t *v;
		json_object_foreach(patch, k, v)
		{
			if (!strcmp(k, "mode"))
				continue;
			json_t *have = json_object_get(rec, k);
			if (json_is_object(v) && json_is_object(have) &&
			    strcmp(k, "reserve"))
				json_object_update(have, v);
			else if (json_is_null(v))
				json_object_del(rec, k);
			else
				json_object_set(rec, k, v);
		}
		r = store_put(s, "config", "placement", rec, etag, NULL, err);
		free(etag);
		json_decref(rec);
		if (r != -ECANCELED)
			return r;
	}
	return hull_err_set(err, EAGAIN,
			    "placement settings changed "
			    "meanwhile; retry");
}

json_t *placement_cfg_json(const struct placement_cfg *c)
{
	const char *mode = "custom";
	for (size_t i = 0; i < sizeof(modes) / sizeof(*modes); i++)
		if (c->w_ram == modes[i].ram && c->w_disk == modes[i].disk)
			mode = modes[i].name;
	json_t *reserve = json_null();
	if (c->reserve_share > 0)
		reserve = json_pack("{s:f}", "share", c->reserve_share);
	else if (c->reserve_largest > 0)
		reserve = json_pack("{s:I}", "largest",
				    (json_int_t)c->reserve_largest);
	return json_pack(
	    "{s:s, s:{s:f, s:f, s:f, s:f}, s:{s:f, s:f, s:f}, s:I, s:o}",
	    "mode", mode, "weights", "ram", c->w_ram, "disk", c->w_disk,
	    "owner", c->w_owner, "random", c->w_random, "overprovision_ratios",
	    "cpu", c->ratio_cpu, "ram", c->ratio_ram, "disk", c->ratio_disk,
	    "vm_limit", (json_int_t)c->vm_limit, "reserve", reserve);
}
