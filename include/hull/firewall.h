/*
 * hull/firewall.h - the firewall's transactions as a library: what fwadm
 * does to rules (add, update, delete, enable, disable), to an instance's
 * firewall (start, stop) and to the live filter (reload), callable from a
 * long-running process.
 *
 * Rules are JSON in Triton's serialized form (uuid, rule, enabled, global
 * or owner_uuid, log, description, created_by, version), the same objects
 * `fwadm add -f` takes and `fwadm get` prints.
 *
 * Every call is one transaction: it takes the rule store's lock
 * (<root>/var/fw/.lockfile, an exclusive flock on a descriptor of its own,
 * so concurrent calls from several threads or processes serialise), reads
 * the rules and instances, writes the changed records, and replaces this
 * pool's nftables tables in one netlink transaction in the caller's
 * network namespace. When loading fails, the records are put back: the
 * store and the filter never disagree. Nothing is printed and nothing
 * exits; a failure returns a negative errno-style code and fills err with
 * one line. The pool is hull_root() (lib/root.h): $HULL_ROOT as the
 * process first reads it (call hull_root() once before starting threads).
 */
#ifndef HULL_FIREWALL_H
#define HULL_FIREWALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

/* Options of a changing call (NULL: all defaults). */
struct hull_fw_opts {
	/* Compile and check the result against nftables, change nothing
	 * (fwadm --dryrun). */
	bool dry_run;
	/* When not NULL, receives the compiled ruleset (owned by the caller,
	 * free()) even when loading it fails (fwadm --stdout). */
	char **ruleset;
};

/* Adds the rules of payloads (a JSON array of rule payloads: "rule"
 * required; "uuid" optional, a new one is generated when absent; the other
 * serialized fields optional). All or nothing: EEXIST for a uuid that is
 * stored, EINVAL for a bad rule ("rule N: ..." when there are several).
 * *added (may be NULL) receives the array of the stored rules (new
 * reference). */
int hull_fw_rules_add(json_t *payloads, const struct hull_fw_opts *o,
		      json_t **added, struct hull_err *err);

/* Updates stored rules: each payload names its "uuid" (ENOENT when it is
 * not stored); fields it leaves out keep their values. *updated as for
 * add. */
int hull_fw_rules_update(json_t *payloads, const struct hull_fw_opts *o,
			 json_t **updated, struct hull_err *err);

/* Deletes the n rules uuids (ENOENT for one not stored: nothing is
 * deleted). */
int hull_fw_rules_delete(const char *const *uuids, size_t n,
			 const struct hull_fw_opts *o, struct hull_err *err);

/* Sets enabled on the n rules uuids; *changed as for add. */
int hull_fw_rules_enable(const char *const *uuids, size_t n, bool enabled,
			 const struct hull_fw_opts *o, json_t **changed,
			 struct hull_err *err);

/* All stored rules, sorted by uuid (new reference). */
int hull_fw_rules_list(json_t **rules, struct hull_err *err);

/* One stored rule (new reference); ENOENT when it is not stored. */
int hull_fw_rule_get(const char *uuid, json_t **rule, struct hull_err *err);

/* Starts (enabled true) or stops an instance's firewall: fwadm start/stop.
 * Starting needs firewall_enabled in its record (EINVAL); ENOENT for an
 * unknown instance. */
int hull_fw_instance_set(const char *uuid, bool enabled,
			 const struct hull_fw_opts *o, struct hull_err *err);

/* Recompiles every rule for every instance and replaces the whole table
 * with the result (the other calls load only what changed: fwadm(8)). */
int hull_fw_reload(const struct hull_fw_opts *o, struct hull_err *err);

#endif
