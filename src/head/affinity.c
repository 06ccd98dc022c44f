/*
 * affinity.c - affinity rules and locality hints: see affinity.h.
 */
#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "head/affinity.h"
#include "head/servers.h"
#include "lib/json.h"
#include "lib/xalloc.h"

#define RULE_MAX 512

struct rule {
	char key[RULE_MAX], value[RULE_MAX];
	bool not, soft;
	regex_t re;
	bool is_re;
};

/* Splits KEY OP VALUE at the first ==, !=, ==~ or !=~. */
static int rule_parse(const char *text, struct rule *r, struct hull_err *err)
{
	*r = (struct rule){0};
	const char *op = strstr(text, "==");
	const char *ne = strstr(text, "!=");
	if (!op || (ne && ne < op))
		op = ne;
	if (!op || op == text || strlen(text) >= RULE_MAX)
		return hull_err_set(err, EINVAL,
				    "affinity rule %.80s: not KEY==VALUE, "
				    "KEY!=VALUE, KEY==~VALUE or KEY!=~VALUE",
				    text);
	r->not = op[0] == '!';
	const char *v = op + 2;
	if (*v == '~') {
		r->soft = true;
		v++;
	}
	memcpy(r->key, text, (size_t)(op - text));
	snprintf(r->value, sizeof(r->value), "%s", v);
	size_t n = strlen(r->value);
	if (!*r->key || !n)
		return hull_err_set(err, EINVAL,
				    "affinity rule %.80s: empty key or value",
				    text);
	if (n >= 2 && r->value[0] == '/' && r->value[n - 1] == '/') {
		r->value[n - 1] = '\0';
		if (regcomp(&r->re, r->value + 1, REG_EXTENDED | REG_NOSUB))
			return hull_err_set(err, EINVAL,
					    "affinity rule %.80s: bad regular "
					    "expression",
					    text);
		r->is_re = true;
	}
	return 0;
}

static bool value_matches(const struct rule *r, const char *have)
{
	if (!have)
		return false;
	if (r->is_re)
		return regexec(&r->re, have, 0, NULL, 0) == 0;
	if (strchr(r->value, '*'))
		return fnmatch(r->value, have, 0) == 0;
	return !strcmp(r->value, have);
}

static bool rule_matches(const struct rule *r, json_t *m)
{
	if (!strcmp(r->key, "instance") || !strcmp(r->key, "container"))
		return value_matches(r, hull_json_str(m, "name", NULL)) ||
		       value_matches(r, hull_json_str(m, "id", NULL));
	json_t *t = json_object_get(json_object_get(m, "tags"), r->key);
	char buf[32];
	const char *have = json_string_value(t);
	if (json_is_boolean(t))
		have = json_is_true(t) ? "true" : "false";
	else if (json_is_integer(t)) {
		snprintf(buf, sizeof(buf), "%lld",
			 (long long)json_integer_value(t));
		have = buf;
	}
	return value_matches(r, have);
}

static void add_server(json_t *hints, const char *set, const char *server)
{
	json_t *a = json_object_get(hints, set);
	if (!a) {
		a = json_array();
		json_object_set_new(hints, set, a);
	}
	size_t i;
	json_t *v;
	json_array_foreach(a, i,
			   v) if (!strcmp(json_string_value(v), server)) return;
	json_array_append_new(a, json_string(server));
}

/* must_near from several hard == rules: the servers every rule allows. */
static void intersect(json_t *hints, json_t *allowed)
{
	json_t *have = json_object_get(hints, "must_near");
	if (!have) {
		json_object_set(hints, "must_near", allowed);
		return;
	}
	json_t *both = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(have, i, v)
	{
		size_t j;
		json_t *w;
		json_array_foreach(allowed, j, w) if (json_equal(v, w))
		    json_array_append(both, v);
	}
	json_object_set_new(hints, "must_near", both);
}

static int apply_rule(json_t *hints, json_t *machines, const char *text,
		      struct hull_err *err)
{
	struct rule r;
	int rc = rule_parse(text, &r, err);
	if (rc == 0) {
		json_t *servers = json_array();
		size_t i;
		json_t *m;
		json_array_foreach(machines, i, m) if (rule_matches(&r, m))
		{
			const char *srv = hull_json_str(m, "server", "");
			json_array_append_new(servers, json_string(srv));
		}
		if (!r.not &&!r.soft && !json_array_size(servers))
			rc = hull_err_set(err, EINVAL,
					  "affinity rule %.80s: no instance "
					  "matches",
					  text);
		else if (!r.not &&!r.soft)
			intersect(hints, servers);
		else
			json_array_foreach(servers, i, m) add_server(
			    hints,
			    r.not ? (r.soft ? "far" : "must_far") : "near",
			    json_string_value(m));
		json_decref(servers);
	}
	if (r.is_re)
		regfree(&r.re);
	return rc;
}

/* locality's near/far: an instance uuid or an array of them. */
static int apply_locality(json_t *hints, json_t *machines, json_t *loc,
			  struct hull_err *err)
{
	if (!json_is_object(loc))
		return hull_err_set(err, EINVAL, "locality must be an object");
	bool strict = hull_json_bool(loc, "strict", false);
	static const char *const keys[] = {"near", "far"};
	for (int k = 0; k < 2; k++) {
		json_t *want = json_object_get(loc, keys[k]);
		json_t *list = json_is_string(want) ? json_pack("[O]", want)
						    : json_incref(want);
		if (want && !json_is_array(list)) {
			json_decref(list);
			return hull_err_set(err, EINVAL,
					    "locality %s must be instance "
					    "uuids",
					    keys[k]);
		}
		json_t *servers = json_array();
		size_t i;
		json_t *id;
		json_array_foreach(list, i, id)
		{
			size_t j;
			json_t *m;
			json_array_foreach(
			    machines, j,
			    m) if (json_equal(json_object_get(m, "id"), id))
			    json_array_append_new(
				servers,
				json_string(hull_json_str(m, "server", "")));
		}
		size_t nwant = json_array_size(list);
		json_decref(list);
		if (strict && k == 0 && nwant)
			intersect(hints, servers);
		else
			json_array_foreach(servers, i, id) add_server(
			    hints,
			    k == 0 ? "near" : (strict ? "must_far" : "far"),
			    json_string_value(id));
		json_decref(servers);
	}
	return 0;
}

int affinity_hints(struct store *s, const char *owner, json_t *body,
		   json_t **hints, struct hull_err *err)
{
	*hints = NULL;
	json_t *aff = json_object_get(body, "affinity");
	json_t *loc = json_object_get(body, "locality");
	if (!aff && !loc)
		return 0;
	if (aff && !json_is_array(aff))
		return hull_err_set(err, EINVAL,
				    "affinity must be an array of rules");
	json_t *all = NULL;
	int r = store_find(s, "machines", "owner", owner, &all, err);
	if (r < 0)
		return r;
	json_t *live = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(all, i, m) if (machine_books(m))
	    json_array_append(live, m);
	json_decref(all);
	json_t *h = json_object();
	json_t *rule;
	json_array_foreach(aff, i, rule)
	{
		if (!json_is_string(rule)) {
			r = hull_err_set(err, EINVAL,
					 "affinity rules must be strings");
			break;
		}
		if ((r = apply_rule(h, live, json_string_value(rule), err)) < 0)
			break;
	}
	if (r == 0 && loc)
		r = apply_locality(h, live, loc, err);
	json_decref(live);
	if (r < 0) {
		json_decref(h);
		return r;
	}
	*hints = h;
	return 0;
}
