/*
 * idmap.c - allocating userns zones' id ranges (see idmap.h).
 */
#include "vm/idmap.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inst/record.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "vm/record.h"

static int pool_from(const char *env, const char *path,
		     struct zone_idrange *out, struct hull_err *err)
{
	const char *p = getenv(env);
	if (!p || !*p)
		p = path;
	char *text = NULL;
	size_t len = 0;
	out->start = ZONE_IDRANGE_DEFAULT_START;
	out->count = ZONE_IDRANGE_DEFAULT_COUNT;
	int r = hull_file_read(p, 1 << 20, &text, &len, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return hull_err_sys(err, -r, "read %s", p);
	r = zone_subid_parse(text, len, "root", out);
	free(text);
	if (r == -ENOENT) {
		out->start = ZONE_IDRANGE_DEFAULT_START;
		out->count = ZONE_IDRANGE_DEFAULT_COUNT;
		return 0;
	}
	if (r < 0)
		return hull_err_set(err, EINVAL, "%s: malformed entry for root",
				    p);
	if (out->count < ZONE_IDRANGE_SIZE)
		return hull_err_set(err, ENOSPC,
				    "%s: root's range holds fewer than %u ids",
				    p, ZONE_IDRANGE_SIZE);
	return 0;
}

int vm_idmap_pools(struct zone_idrange *u, struct zone_idrange *g,
		   struct hull_err *err)
{
	int r = pool_from("HULL_SUBUID", "/etc/subuid", u, err);
	return r < 0 ? r : pool_from("HULL_SUBGID", "/etc/subgid", g, err);
}

int vm_idmap_lock(struct hull_err *err)
{
	_cleanup_free_ char *dir = hull_root_path("var/vmadm");
	int r = hull_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *p = hull_root_path("var/vmadm/userns.lock");
	return hull_lock_take(p, true, err);
}

struct used {
	struct zone_idrange *u, *g;
	size_t n, cap;
};

static void used_add(struct used *s, json_t *vm)
{
	json_t *r = json_object_get(vm, "hull_userns");
	json_t *u = json_object_get(r, "uid"), *g = json_object_get(r, "gid"),
	       *c = json_object_get(r, "count");
	if (!json_is_integer(u) || !json_is_integer(g) || !json_is_integer(c))
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->u = xrealloc(s->u, s->cap * sizeof(*s->u));
		s->g = xrealloc(s->g, s->cap * sizeof(*s->g));
	}
	s->u[s->n] = (struct zone_idrange){(uint32_t)json_integer_value(u),
					   (uint32_t)json_integer_value(c)};
	s->g[s->n] = (struct zone_idrange){(uint32_t)json_integer_value(g),
					   (uint32_t)json_integer_value(c)};
	s->n++;
}

static void used_add_file(struct used *s, const char *path)
{
	json_t *vm = hull_json_load_file(path, NULL);
	if (vm)
		used_add(s, vm);
	json_decref(vm);
}

static int used_add_rec(const char *uuid, json_t *rec, void *arg)
{
	used_add(arg, rec);
	return 0;
}

/* Every record and pending create: a range is taken from its create until
 * its instance's dataset and record are gone. */
static void used_collect(struct used *s)
{
	inst_record_foreach(0, used_add_rec, s, NULL);
	_cleanup_free_ char *pd = vm_pending_dir();
	DIR *d = opendir(pd);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", pd, de->d_name);
		used_add_file(s, p);
	}
	if (d)
		closedir(d);
}

/* The ledger, R/var/vmadm/userns.json: {"<uuid>": {"uid", "gid", "count"}}
 * of every range handed out, read and rewritten under the lock, so a
 * create never depends on a directory listing racing with another's
 * writes. An entry whose instance is gone (no record, dataset or pending
 * create) is dropped: its range is free again. */
static json_t *ledger_load(void)
{
	_cleanup_free_ char *p = hull_root_path("var/vmadm/userns.json");
	json_t *l = hull_json_load_file(p, NULL);
	if (!json_is_object(l)) {
		json_decref(l);
		l = json_object();
	}
	const char *uuid;
	json_t *v, *tmp;
	json_object_foreach_safe(l, tmp, uuid, v)
	{
		if (!hull_uuid_valid(uuid) || !vm_record_exists(uuid))
			json_object_del(l, uuid);
	}
	return l;
}

int vm_idmap_assign(json_t *vm, struct hull_err *err)
{
	struct zone_idrange up, gp;
	int r = vm_idmap_pools(&up, &gp, err);
	if (r < 0)
		return r;
	json_t *ledger = ledger_load();
	struct used s = {0};
	const char *k;
	json_t *v;
	json_object_foreach(ledger, k, v)
	{
		json_t *w = json_pack("{s:O}", "hull_userns", v);
		used_add(&s, w);
		json_decref(w);
	}
	used_collect(&s);
	uint32_t uid, gid;
	r = zone_idrange_pick(up, gp, s.u, s.g, s.n, &uid, &gid);
	free(s.u);
	free(s.g);
	if (r < 0) {
		json_decref(ledger);
		return hull_err_set(err, ENOSPC,
				    "no free range of %u host ids for a user "
				    "namespace",
				    ZONE_IDRANGE_SIZE);
	}
	json_t *range =
	    json_pack("{s:I, s:I, s:I}", "uid", (json_int_t)uid, "gid",
		      (json_int_t)gid, "count", (json_int_t)ZONE_IDRANGE_SIZE);
	json_object_set(ledger, hull_json_str(vm, "uuid", ""), range);
	_cleanup_free_ char *p = hull_root_path("var/vmadm/userns.json");
	r = hull_json_save_file(p, ledger, err);
	json_decref(ledger);
	if (r < 0) {
		json_decref(range);
		return r;
	}
	json_object_set_new(vm, "hull_userns", range);
	return 0;
}
