/*
 * fwrules.c - CloudAPI's firewall rules: see fwrules.h.
 *
 * A rule is checked with the same parser fwadm uses (src/fw, Triton's
 * language version 4) and stored as Triton's canonical text. A rule may
 * name only the caller's own instances (`vm UUID`): another account's
 * instance is refused as one that does not exist. The answers have
 * CloudAPI's shape: {id, rule, enabled, log[, global][, description]}.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw/rule.h"
#include "head/admin.h"
#include "head/fwrules.h"
#include "head/machines.h"
#include "head/servers.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* The shortest id prefix a lookup accepts (the CLI's short ids). */
#define SHORT_ID_MIN 8

static bool is(struct api_req *q, const char *m)
{
	return !strcmp(q->method, m);
}

static const char *me(struct api_req *q)
{
	return hull_json_str(q->account, "uuid", "");
}

static int not_found(struct api_req *q)
{
	return api_error(q, 404, "ResourceNotFound", "%.200s does not exist",
			 q->path);
}

static json_t *rule_view(json_t *r)
{
	json_t *v =
	    json_pack("{s:O, s:O, s:b, s:b}", "id", json_object_get(r, "id"),
		      "rule", json_object_get(r, "rule"), "enabled",
		      hull_json_bool(r, "enabled", false), "log",
		      hull_json_bool(r, "log", false));
	if (json_is_string(json_object_get(r, "description")))
		json_object_set(v, "description",
				json_object_get(r, "description"));
	return v;
}

static int owner_rules(struct store *s, const char *owner, json_t **out,
		       struct hull_err *err)
{
	return store_find(s, "fwrules", "owner", owner, out, err);
}

/* The caller's live machines. */
static int owner_machines(struct store *s, const char *owner, json_t **out,
			  struct hull_err *err)
{
	json_t *all = NULL;
	int r = store_find(s, "machines", "owner", owner, &all, err);
	if (r < 0)
		return r;
	json_t *live = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(
	    all, i, m) if (strcmp(hull_json_str(m, "state", ""), "deleted"))
	    json_array_append(live, m);
	json_decref(all);
	*out = live;
	return 0;
}

/* ---- which instances a rule affects ---- */

static bool tag_matches(const struct fw_tag *t, json_t *tags)
{
	json_t *v = json_object_get(tags, t->name);
	if (!v)
		return false;
	if (t->all)
		return true;
	char buf[32];
	const char *have = json_string_value(v);
	if (json_is_boolean(v))
		have = json_is_true(v) ? "true" : "false";
	else if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld",
			 (long long)json_integer_value(v));
		have = buf;
	}
	for (size_t i = 0; have && i < t->nvalues; i++)
		if (!strcmp(t->values[i], have))
			return true;
	return false;
}

static bool side_names(const struct fw_side *s, json_t *m)
{
	if (s->allvms)
		return true;
	const char *id = hull_json_str(m, "id", "");
	for (size_t i = 0; i < s->nvms; i++)
		if (!strcmp(s->vms[i], id))
			return true;
	for (size_t i = 0; i < s->ntags; i++)
		if (tag_matches(&s->tags[i], json_object_get(m, "tags")))
			return true;
	return false;
}

/* True when the rule (one of m's owner) names m on either side. */
static bool affects(json_t *rule, json_t *m)
{
	struct fw_rule fr;
	struct hull_err err = {0};
	bool yes = false;
	if (fw_rule_parse(hull_json_str(rule, "rule", ""), &fr, &err) == 0)
		yes = side_names(&fr.from, m) || side_names(&fr.to, m);
	fw_rule_free(&fr);
	return yes;
}

/* ---- to the compute nodes ---- */

static json_t *task_params(const char *owner, json_t *rules)
{
	json_t *list = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(rules, i, r)
	{
		json_t *p = json_pack("{s:O, s:O, s:b, s:b, s:s}", "uuid",
				      json_object_get(r, "id"), "rule",
				      json_object_get(r, "rule"), "enabled",
				      hull_json_bool(r, "enabled", false),
				      "log", hull_json_bool(r, "log", false),
				      "owner_uuid", owner);
		if (json_is_string(json_object_get(r, "description")))
			json_object_set(p, "description",
					json_object_get(r, "description"));
		json_array_append_new(list, p);
	}
	return json_pack("{s:s, s:o}", "owner", owner, "rules", list);
}

static int queue_rules(struct store *s, const char *owner, const char *server,
		       json_t *rules, struct hull_err *err)
{
	json_t *p = task_params(owner, rules);
	int r = task_queue(s, server, "", "fw_rules", NULL, p, NULL, err);
	json_decref(p);
	return r;
}

int fwrules_queue_to(struct store *s, const char *owner, const char *server,
		     struct hull_err *err)
{
	json_t *rules = NULL;
	int r = owner_rules(s, owner, &rules, err);
	if (r == 0 && json_array_size(rules))
		r = queue_rules(s, owner, server, rules, err);
	json_decref(rules);
	return r;
}

/* Every server with an instance of owner gets owner's rules as they are
 * now. */
static int distribute(struct store *s, const char *owner, struct hull_err *err)
{
	json_t *rules = NULL, *machines = NULL, *done = json_object();
	int r = owner_rules(s, owner, &rules, err);
	if (r == 0)
		r = owner_machines(s, owner, &machines, err);
	size_t i;
	json_t *m;
	json_array_foreach(machines, i, m)
	{
		const char *server = hull_json_str(m, "server", "");
		if (r < 0 || !*server || json_object_get(done, server))
			continue;
		json_object_set_new(done, server, json_true());
		r = queue_rules(s, owner, server, rules, err);
	}
	json_decref(rules);
	json_decref(machines);
	json_decref(done);
	return r;
}

/* ---- checks ---- */

/* The canonical text of the body's rule, or NULL after an error answer.
 * Every `vm UUID` must be one of the caller's instances. */
static char *checked_rule(struct api_req *q, const char *text)
{
	struct hull_err err = {0};
	struct fw_rule fr;
	if (fw_rule_parse(text, &fr, &err) < 0) {
		fw_rule_free(&fr);
		api_error(q, 409, "InvalidArgument", "rule: %s", err.msg);
		return NULL;
	}
	const struct fw_side *sides[] = {&fr.from, &fr.to};
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < sides[k]->nvms; i++) {
			json_t *m = NULL;
			const char *id = sides[k]->vms[i];
			bool mine =
			    store_get(q->store, "machines", id, &m, NULL,
				      &err) == 0 &&
			    !strcmp(hull_json_str(m, "owner", ""), me(q)) &&
			    strcmp(hull_json_str(m, "state", ""), "deleted");
			json_decref(m);
			if (!mine) {
				api_error(q, 409, "InvalidArgument",
					  "rule: instance %s does not exist",
					  id);
				fw_rule_free(&fr);
				return NULL;
			}
		}
	char *canon = fw_rule_print(&fr);
	fw_rule_free(&fr);
	return canon;
}

/* Checks body's optional fields onto r; -1 after an error answer. */
static int take_fields(struct api_req *q, json_t *r)
{
	static const char *const bools[] = {"enabled", "log"};
	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(q->body, bools[i]);
		if (!v)
			continue;
		if (!json_is_boolean(v)) {
			api_error(q, 409, "InvalidArgument",
				  "%s must be a boolean", bools[i]);
			return -1;
		}
		json_object_set(r, bools[i], v);
	}
	json_t *d = json_object_get(q->body, "description");
	if (d && !json_is_string(d)) {
		api_error(q, 409, "InvalidArgument",
			  "description must be a string");
		return -1;
	}
	if (d)
		json_object_set(r, "description", d);
	json_t *text = json_object_get(q->body, "rule");
	if (text && !json_is_string(text)) {
		api_error(q, 409, "InvalidArgument", "rule must be a string");
		return -1;
	}
	if (text) {
		char *canon = checked_rule(q, json_string_value(text));
		if (!canon)
			return -1;
		json_object_set_new(r, "rule", json_string(canon));
		free(canon);
	}
	return 0;
}

/* The caller's rule named by id (its uuid, or a unique prefix of at
 * least SHORT_ID_MIN characters, as the CLI's short ids); NULL after a
 * 404 answer. */
static json_t *rule_load(struct api_req *q, const char *id, char **etag)
{
	struct hull_err err = {0};
	json_t *rules = NULL, *found = NULL;
	if (owner_rules(q->store, me(q), &rules, &err) < 0) {
		api_error(q, 500, "InternalError", "%s", err.msg);
		return NULL;
	}
	size_t n = strlen(id), i, hits = 0;
	json_t *r;
	json_array_foreach(rules, i, r)
	{
		const char *rid = hull_json_str(r, "id", "");
		if (!strcmp(rid, id) || (n >= SHORT_ID_MIN && n < strlen(rid) &&
					 !strncmp(rid, id, n))) {
			found = r;
			hits++;
		}
	}
	json_t *rec = NULL;
	if (hits == 1 &&
	    store_get(q->store, "fwrules", hull_json_str(found, "id", ""), &rec,
		      etag, &err) < 0)
		rec = NULL;
	json_decref(rules);
	if (!rec)
		not_found(q);
	return rec;
}

/* ---- handlers ---- */

struct change {
	json_t *rule; /* the record to write, or NULL to delete id */
	const char *id;
	const char *etag; /* "" for a new record */
	const char *owner;
	struct hull_err *err;
};

/* The record and the tasks that carry it land together. */
static int change_txn(struct store *s, void *arg)
{
	struct change *c = arg;
	int r = c->rule ? store_put(s, "fwrules", c->id, c->rule, c->etag, NULL,
				    c->err)
			: store_del(s, "fwrules", c->id, c->etag, c->err);
	return r < 0 ? r : distribute(s, c->owner, c->err);
}

static int commit(struct api_req *q, struct change *c, unsigned status)
{
	struct hull_err err = {0};
	c->owner = me(q);
	c->err = &err;
	int r = store_txn(q->store, change_txn, c, &err);
	if (r == -ECANCELED)
		return api_error(q, 409, "ConcurrentChange",
				 "firewall rule %s changed meanwhile; retry",
				 c->id);
	if (r < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	return api_reply(q, status, c->rule ? rule_view(c->rule) : NULL);
}

static int rule_create(struct api_req *q)
{
	if (!json_is_string(json_object_get(q->body, "rule")))
		return api_error(q, 409, "MissingParameter",
				 "rule is a required argument");
	char id[HULL_UUID_LEN + 1], now[32];
	hull_uuid_generate(id);
	head_now_iso(now);
	/* CloudAPI's default: a new rule is disabled unless asked. */
	json_t *r =
	    json_pack("{s:s, s:b, s:b, s:s, s:s, s:s}", "id", id, "enabled", 0,
		      "log", 0, "owner", me(q), "created", now, "updated", now);
	if (take_fields(q, r) < 0) {
		json_decref(r);
		return 0;
	}
	struct change c = {.rule = r, .id = id, .etag = ""};
	commit(q, &c, 201);
	json_decref(r);
	return 0;
}

static int rule_update(struct api_req *q, json_t *r, const char *etag,
		       json_t *set)
{
	char now[32];
	head_now_iso(now);
	if (set)
		json_object_update(r, set);
	else if (take_fields(q, r) < 0)
		return 0;
	json_object_set_new(r, "updated", json_string(now));
	struct change c = {
	    .rule = r, .id = hull_json_str(r, "id", ""), .etag = etag};
	return commit(q, &c, 200);
}

static int rule_machines(struct api_req *q, json_t *rule)
{
	struct hull_err err = {0};
	json_t *machines = NULL;
	if (owner_machines(q->store, me(q), &machines, &err) < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	json_t *out = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(machines, i, m) if (affects(rule, m))
	    json_array_append_new(out, machine_view(m));
	json_decref(machines);
	return api_reply(q, 200, out);
}

int fwrules_of_machine(struct api_req *q, json_t *m)
{
	if (!is(q, "GET") && !is(q, "HEAD"))
		return api_error(q, 405, "MethodNotAllowed",
				 "%s is not allowed on %.200s", q->method,
				 q->path);
	struct hull_err err = {0};
	json_t *rules = NULL;
	if (owner_rules(q->store, me(q), &rules, &err) < 0)
		return api_error(q, 500, "InternalError", "%s", err.msg);
	json_t *out = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(rules, i, r) if (affects(r, m))
	    json_array_append_new(out, rule_view(r));
	json_decref(rules);
	return api_reply(q, 200, out);
}

int fwrules_dispatch(struct api_req *q)
{
	struct hull_err err = {0};
	if (q->nseg == 2) {
		if (is(q, "POST"))
			return rule_create(q);
		if (!is(q, "GET") && !is(q, "HEAD"))
			return api_error(q, 405, "MethodNotAllowed",
					 "%s is not allowed on %.200s",
					 q->method, q->path);
		json_t *rules = NULL;
		if (owner_rules(q->store, me(q), &rules, &err) < 0)
			return api_error(q, 500, "InternalError", "%s",
					 err.msg);
		json_t *out = json_array();
		size_t i;
		json_t *r;
		json_array_foreach(rules, i, r)
		    json_array_append_new(out, rule_view(r));
		json_decref(rules);
		return api_reply(q, 200, out);
	}
	if (q->nseg > 4)
		return not_found(q);
	char *etag = NULL;
	json_t *r = rule_load(q, q->seg[2], &etag);
	if (!r)
		return 0;
	const char *sub = q->nseg == 4 ? q->seg[3] : "";
	if (!*sub && (is(q, "GET") || is(q, "HEAD")))
		api_reply(q, 200, rule_view(r));
	else if (!*sub && is(q, "POST"))
		rule_update(q, r, etag, NULL);
	else if (!*sub && is(q, "DELETE")) {
		struct change c = {.id = hull_json_str(r, "id", ""),
				   .etag = etag};
		commit(q, &c, 204);
	} else if ((!strcmp(sub, "enable") || !strcmp(sub, "disable")) &&
		   is(q, "POST")) {
		json_t *set = json_pack("{s:b}", "enabled", sub[0] == 'e');
		rule_update(q, r, etag, set);
		json_decref(set);
	} else if (!strcmp(sub, "machines") && is(q, "GET"))
		rule_machines(q, r);
	else if (!strcmp(sub, "enable") || !strcmp(sub, "disable") ||
		 !strcmp(sub, "machines") || !*sub)
		api_error(q, 405, "MethodNotAllowed",
			  "%s is not allowed on %.200s", q->method, q->path);
	else
		not_found(q);
	json_decref(r);
	free(etag);
	return 0;
}
