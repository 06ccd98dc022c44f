/*
 * fwsync.c - the "fw_rules" task: this host's firewall rules of one
 * account made exactly the set the head node sent (head/fwrules.h), through
 * the firewall library as fwadm would change them.
 *
 * The task carries the whole set, so it needs no done-log: run twice, or
 * after a crash, it changes nothing more. Rules of other accounts, and the
 * host's own rules (no owner), are never touched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "hull/firewall.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* The fields the head node decides; a rule differing in one is updated. */
static bool same_rule(json_t *want, json_t *have)
{
	static const char *const fields[] = {"rule", "enabled", "log",
					     "description"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++) {
		json_t *a = json_object_get(want, fields[i]);
		json_t *b = json_object_get(have, fields[i]);
		/* log false and absent are the same. */
		if (!a && json_is_false(b))
			continue;
		if (!json_equal(a ? a : json_null(), b ? b : json_null()) &&
		    (a || b))
			return false;
	}
	return true;
}

static int check_rules(const char *owner, json_t *rules, struct hull_err *err)
{
	if (!hull_uuid_valid(owner) || !json_is_array(rules))
		return hull_err_set(err, EINVAL,
				    "fw_rules: an owner and rules are needed");
	size_t i;
	json_t *r;
	json_array_foreach(rules, i, r)
	{
		if (!hull_uuid_valid(hull_json_str(r, "uuid", "")) ||
		    strcmp(hull_json_str(r, "owner_uuid", ""), owner))
			return hull_err_set(err, EINVAL,
					    "fw_rules: rule %zu is not one of "
					    "%s's",
					    i, owner);
	}
	return 0;
}

int agent_fw_rules(json_t *params, struct hull_err *err)
{
	const char *owner = hull_json_str(params, "owner", "");
	json_t *rules = json_object_get(params, "rules");
	int r = check_rules(owner, rules, err);
	if (r < 0)
		return r;
	json_t *have = NULL;
	if ((r = hull_fw_rules_list(&have, err)) < 0)
		return r;
	json_t *add = json_array(), *update = json_array();
	const char **gone = xcalloc(json_array_size(have) + 1, sizeof(*gone));
	size_t ngone = 0, i;
	json_t *h, *w;
	json_array_foreach(have, i, h)
	{
		if (strcmp(hull_json_str(h, "owner_uuid", ""), owner))
			continue;
		bool wanted = false;
		size_t j;
		json_array_foreach(rules, j, w) wanted |= !strcmp(
		    hull_json_str(w, "uuid", ""), hull_json_str(h, "uuid", ""));
		if (!wanted)
			gone[ngone++] = hull_json_str(h, "uuid", "");
	}
	json_array_foreach(rules, i, w)
	{
		json_t *mine = NULL;
		size_t j;
		json_array_foreach(have, j,
				   h) if (!strcmp(hull_json_str(h, "uuid", ""),
						  hull_json_str(w, "uuid", "")))
		    mine = h;
		if (mine &&
		    strcmp(hull_json_str(mine, "owner_uuid", ""), owner)) {
			r = hull_err_set(err, EPERM,
					 "fw_rules: rule %s is another owner's",
					 hull_json_str(w, "uuid", ""));
			goto out;
		}
		if (!mine)
			json_array_append(add, w);
		else if (!same_rule(w, mine))
			json_array_append(update, w);
	}
	if (ngone && (r = hull_fw_rules_delete(gone, ngone, NULL, err)) < 0)
		goto out;
	json_t *changed = NULL;
	if (json_array_size(update) &&
	    (r = hull_fw_rules_update(update, NULL, &changed, err)) < 0)
		goto out;
	json_decref(changed);
	changed = NULL;
	if (json_array_size(add) &&
	    (r = hull_fw_rules_add(add, NULL, &changed, err)) < 0)
		goto out;
	json_decref(changed);
	r = 0;
out:
	free(gone);
	json_decref(add);
	json_decref(update);
	json_decref(have);
	return r;
}
