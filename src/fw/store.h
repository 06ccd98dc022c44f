/*
 * store.h - firewall rule records: their JSON (Triton's serialized rule:
 * uuid, rule, enabled, owner_uuid or global, log, description, created_by,
 * version) and the store under the pool root, one file per rule,
 * <root>/var/fw/rules/<uuid>.json, written atomically.
 */
#ifndef HULL_FW_STORE_H
#define HULL_FW_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "fw/rule.h"
#include "lib/err.h"

struct fw_rec {
	char uuid[37];
	char *text;	     /* canonical rule text */
	struct fw_rule rule; /* parsed */
	bool enabled;
	bool log;
	char *owner_uuid;  /* NULL: global */
	char *description; /* NULL when unset */
	char *created_by;
	char *version; /* "<ms since epoch>.<pid, 6 digits>" */
};

/* Builds a record from a JSON payload (as `fwadm add -f` and `update -f`
 * take them, and as stored). base, when not NULL, is the record being
 * updated: fields absent from j keep its values. A new uuid is generated
 * when neither has one. Validates everything Triton validates. */
int fw_rec_from_json(json_t *j, const struct fw_rec *base, struct fw_rec *rec,
		     struct hull_err *err);

/* The serialized record (new reference). */
json_t *fw_rec_to_json(const struct fw_rec *rec);

/* A fresh version string. */
char *fw_rec_version_new(void);

void fw_rec_free(struct fw_rec *rec);
void fw_rec_free_all(struct fw_rec *recs, size_t n);

/* <root>/var/fw/rules, and the lock file <root>/var/fw/.lockfile (take it
 * exclusively around a read-modify-write of the store). */
char *fw_store_dir(void);
int fw_store_lock(struct hull_err *err);

/* All stored rules, sorted by uuid. */
int fw_store_load_all(struct fw_rec **recs, size_t *n, struct hull_err *err);

int fw_store_save(const struct fw_rec *rec, struct hull_err *err);
int fw_store_delete(const char *uuid, struct hull_err *err);

#endif
