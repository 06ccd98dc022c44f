/*
 * api.c - the firewall's transactions (include/hull/firewall.h).
 *
 * Each one: load the state under the store lock, build a change (records
 * to write, uuids to remove), compile the rules as they will be, write the
 * records, load the ruleset; on a load failure put the old records back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fw/nft.h"
#include "fw/state.h"
#include "hull/firewall.h"
#include "inst/record.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"

static const struct hull_fw_opts no_opts;

/* The ruleset for the given rules (enabled ones only) and st's instances. */
static char *compile(const struct fw_rec *recs, size_t n, struct fw_state *st)
{
	struct fw_crule *cr = xcalloc(n ? n : 1, sizeof(*cr));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!recs[i].enabled)
			continue;
		cr[k].uuid = recs[i].uuid;
		cr[k].owner_uuid = recs[i].owner_uuid;
		cr[k].rule = &recs[i].rule;
		k++;
	}
	char *text =
	    fw_nft_compile_flags(fw_nft_table(), cr, k, st->insts, st->ninsts,
				 fw_nft_bridge_supported() ? FW_NFT_BRIDGE : 0);
	free(cr);
	return text;
}

/* A change to the store: records to write and uuids to remove. */
struct change {
	struct fw_rec *put; /* owned */
	size_t nput;
	char (*del)[37];
	size_t ndel;
	bool full; /* replace the whole tables (reload) */
};

static void change_free(struct change *c)
{
	fw_rec_free_all(c->put, c->nput);
	free(c->del);
}

static void change_put(struct change *c, struct fw_rec *rec)
{
	c->put = xrealloc(c->put, (c->nput + 1) * sizeof(*c->put));
	c->put[c->nput++] = *rec;
}

/* The rule list after c: st's records with c applied (borrowed copies). */
static struct fw_rec *change_result(struct fw_state *st, const struct change *c,
				    size_t *n)
{
	struct fw_rec *out = xcalloc(st->n + c->nput + 1, sizeof(*out));
	size_t k = 0;
	for (size_t i = 0; i < st->n; i++) {
		bool gone = false;
		for (size_t d = 0; d < c->ndel; d++)
			gone |= !strcmp(c->del[d], st->recs[i].uuid);
		for (size_t p = 0; p < c->nput; p++)
			gone |= !strcmp(c->put[p].uuid, st->recs[i].uuid);
		if (!gone)
			out[k++] = st->recs[i];
	}
	for (size_t p = 0; p < c->nput; p++)
		out[k++] = c->put[p];
	*n = k;
	return out;
}

/* Writes c and loads the filter; on a failure puts the old records back. */
static int change_commit(struct fw_state *st, const struct change *c,
			 const struct hull_fw_opts *o, struct hull_err *err)
{
	size_t n;
	struct fw_rec *all = change_result(st, c, &n);
	char *ruleset = compile(all, n, st);
	free(all);
	if (o->ruleset)
		*o->ruleset = xstrdup(ruleset);
	int rc;
	if (o->dry_run) {
		rc = fw_nft_apply(fw_nft_table(), ruleset, false, true, err);
		free(ruleset);
		return rc;
	}
	size_t done_put = 0, done_del = 0;
	rc = 0;
	for (; rc == 0 && done_put < c->nput; done_put++)
		rc = fw_store_save(&c->put[done_put], err);
	for (; rc == 0 && done_del < c->ndel; done_del++)
		rc = fw_store_delete(c->del[done_del], err);
	if (rc == 0)
		rc = fw_nft_apply_flags(
		    fw_nft_table(), ruleset,
		    (fw_nft_legacy_ours(st->insts, st->ninsts)
			 ? FW_APPLY_DROP_LEGACY
			 : 0) |
			(c->full ? FW_APPLY_FULL : 0),
		    err);
	free(ruleset);
	if (rc == 0)
		return 0;
	/* Put the store back as it was. */
	struct hull_err ignore;
	for (size_t p = 0; p < c->nput && p <= done_put; p++) {
		const struct fw_rec *old = fw_state_rule(st, c->put[p].uuid);
		if (old)
			fw_store_save(old, &ignore);
		else
			fw_store_delete(c->put[p].uuid, &ignore);
	}
	for (size_t d = 0; d < c->ndel && d <= done_del; d++) {
		const struct fw_rec *old = fw_state_rule(st, c->del[d]);
		if (old)
			fw_store_save(old, &ignore);
	}
	return rc;
}

static json_t *put_json(const struct change *c)
{
	json_t *a = json_array();
	for (size_t i = 0; i < c->nput; i++)
		json_array_append_new(a, fw_rec_to_json(&c->put[i]));
	return a;
}

static int add_update(json_t *payloads, bool update,
		      const struct hull_fw_opts *o, json_t **out,
		      struct hull_err *err)
{
	if (out)
		*out = NULL;
	if (!o)
		o = &no_opts;
	if (!json_is_array(payloads) || json_array_size(payloads) == 0)
		return hull_err_set(err, EINVAL, "payload has no rules");
	struct fw_state st;
	struct change c = {0};
	int rc = fw_state_load(&st, err);
	if (rc < 0)
		goto out;
	size_t i;
	json_t *rj;
	json_array_foreach(payloads, i, rj)
	{
		const struct fw_rec *base = NULL;
		const char *uuid =
		    json_is_object(rj) ? hull_json_str(rj, "uuid", NULL) : NULL;
		if (update) {
			if (!uuid) {
				rc = hull_err_set(err, EINVAL,
						  "rule %zu: update needs a "
						  "uuid",
						  i);
				goto out;
			}
			base = fw_state_rule(&st, uuid);
			if (!base) {
				rc = hull_err_set(err, ENOENT,
						  "unknown rule: %s", uuid);
				goto out;
			}
		} else if (uuid && fw_state_rule(&st, uuid)) {
			rc = hull_err_set(err, EEXIST,
					  "rule already exists: %s", uuid);
			goto out;
		}
		for (size_t p = 0; uuid && p < c.nput; p++)
			if (!strcmp(c.put[p].uuid, uuid)) {
				rc = hull_err_set(err, EINVAL,
						  "rule %s given twice", uuid);
				goto out;
			}
		struct fw_rec rec;
		if ((rc = fw_rec_from_json(rj, base, &rec, err)) < 0) {
			fw_rec_free(&rec);
			if (json_array_size(payloads) > 1)
				hull_err_prefix(err, "rule %zu", i);
			goto out;
		}
		change_put(&c, &rec);
	}
	rc = change_commit(&st, &c, o, err);
	if (rc == 0 && out)
		*out = put_json(&c);
out:
	change_free(&c);
	fw_state_free(&st);
	return rc;
}

int hull_fw_rules_add(json_t *payloads, const struct hull_fw_opts *o,
		      json_t **added, struct hull_err *err)
{
	return add_update(payloads, false, o, added, err);
}

int hull_fw_rules_update(json_t *payloads, const struct hull_fw_opts *o,
			 json_t **updated, struct hull_err *err)
{
	return add_update(payloads, true, o, updated, err);
}

/* delete (enable < 0) or set enabled on the rules uuids. */
static int modify(const char *const *uuids, size_t n, int enable,
		  const struct hull_fw_opts *o, json_t **out,
		  struct hull_err *err)
{
	if (out)
		*out = NULL;
	if (!o)
		o = &no_opts;
	struct fw_state st;
	struct change c = {0};
	int rc = fw_state_load(&st, err);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct fw_rec *r = fw_state_rule(&st, uuids[i]);
		if (!r) {
			rc = hull_err_set(err, ENOENT, "unknown rule: %s",
					  uuids[i]);
			goto out;
		}
		if (enable < 0) {
			c.del = xrealloc(c.del, (c.ndel + 1) * sizeof(*c.del));
			snprintf(c.del[c.ndel++], 37, "%s", r->uuid);
			continue;
		}
		json_t *j = json_pack("{s:b}", "enabled", enable);
		struct fw_rec rec;
		rc = fw_rec_from_json(j, r, &rec, err);
		json_decref(j);
		if (rc < 0) {
			fw_rec_free(&rec);
			goto out;
		}
		change_put(&c, &rec);
	}
	rc = change_commit(&st, &c, o, err);
	if (rc == 0 && out)
		*out = put_json(&c);
out:
	change_free(&c);
	fw_state_free(&st);
	return rc;
}

int hull_fw_rules_delete(const char *const *uuids, size_t n,
			 const struct hull_fw_opts *o, struct hull_err *err)
{
	return modify(uuids, n, -1, o, NULL, err);
}

int hull_fw_rules_enable(const char *const *uuids, size_t n, bool enabled,
			 const struct hull_fw_opts *o, json_t **changed,
			 struct hull_err *err)
{
	return modify(uuids, n, enabled, o, changed, err);
}

int hull_fw_rules_list(json_t **rules, struct hull_err *err)
{
	*rules = NULL;
	struct fw_state st;
	int rc = fw_state_load(&st, err);
	if (rc == 0) {
		*rules = json_array();
		for (size_t i = 0; i < st.n; i++)
			json_array_append_new(*rules,
					      fw_rec_to_json(&st.recs[i]));
	}
	fw_state_free(&st);
	return rc;
}

int hull_fw_rule_get(const char *uuid, json_t **rule, struct hull_err *err)
{
	*rule = NULL;
	struct fw_state st;
	int rc = fw_state_load(&st, err);
	if (rc == 0) {
		const struct fw_rec *r = fw_state_rule(&st, uuid);
		if (r)
			*rule = fw_rec_to_json(r);
		else
			rc =
			    hull_err_set(err, ENOENT, "unknown rule: %s", uuid);
	}
	fw_state_free(&st);
	return rc;
}

int hull_fw_reload(const struct hull_fw_opts *o, struct hull_err *err)
{
	struct fw_state st;
	/* the whole tables, whatever the last load left */
	struct change full = {.full = true};
	int rc = fw_state_load(&st, err);
	if (rc == 0)
		rc = change_commit(&st, &full, o ? o : &no_opts, err);
	fw_state_free(&st);
	return rc;
}

/* start/stop: flip the marker, reload, and flip back on failure. */
static int set_marker(struct fw_state *st, const char *uuid, bool enabled,
		      const struct hull_fw_opts *o, struct hull_err *err)
{
	char *vmjson = inst_record_path(uuid);
	json_t *vm = hull_json_load_file(vmjson, err);
	free(vmjson);
	if (!vm)
		return -err->code;
	bool on = hull_json_bool(vm, "firewall_enabled", false);
	json_decref(vm);
	if (enabled && !on)
		return hull_err_set(err, EINVAL,
				    "VM %s does not have firewall_enabled set",
				    uuid);
	char *mark = hull_root_path("var/fw/stopped/%s", uuid);
	bool was_stopped = hull_path_exists(mark);
	int rc = 0;
	if (!o->dry_run) {
		if (!enabled) {
			char *dir = hull_root_path("var/fw/stopped");
			rc = hull_mkdir_p(dir, 0755, err);
			free(dir);
			if (rc == 0)
				rc = hull_file_write_atomic(mark, "", 0, 0644,
							    err);
		} else if (unlink(mark) < 0 && errno != ENOENT) {
			rc = hull_err_sys(err, errno, "start %s", uuid);
		}
		if (rc < 0) {
			free(mark);
			return rc;
		}
		/* The instance list carries the marker: rebuild this entry. */
		for (size_t i = 0; i < st->ninsts; i++)
			if (!strcmp(st->insts[i].uuid, uuid))
				st->insts[i].firewall_enabled = enabled;
	}
	struct change none = {0};
	rc = change_commit(st, &none, o, err);
	if (rc < 0 && !o->dry_run) {
		struct hull_err ignore;
		if (was_stopped)
			hull_file_write_atomic(mark, "", 0, 0644, &ignore);
		else
			unlink(mark);
	}
	free(mark);
	return rc;
}

int hull_fw_instance_set(const char *uuid, bool enabled,
			 const struct hull_fw_opts *o, struct hull_err *err)
{
	struct fw_state st;
	int rc = fw_state_load(&st, err);
	if (rc == 0 && !fw_state_inst(&st, uuid))
		rc = hull_err_set(err, ENOENT, "unknown VM: %s", uuid);
	if (rc == 0)
		rc = set_marker(&st, uuid, enabled, o ? o : &no_opts, err);
	fw_state_free(&st);
	return rc;
}
