/*
 * fwrules.h - CloudAPI's firewall rules (sdc-cloudapi lib/rules.js, the
 * FWAPI role): an account's rules on the head node, and their way to the
 * compute nodes that run the account's instances.
 *
 * Records: fwrules  uuid -> {id, rule (Triton's canonical text), enabled,
 * log, description, owner, created, updated}. Every change queues, to
 * each server with an instance of the owner, one "fw_rules" task carrying
 * the owner's whole rule set (params {owner, rules}); the agent makes its
 * host's rules of that owner exactly that set, so a task run twice, or
 * out of date and followed by a newer one, leaves the right rules.
 */
#ifndef HULL_HEAD_FWRULES_H
#define HULL_HEAD_FWRULES_H
#include <jansson.h>

#include "head/api.h"
#include "head/store.h"
#include "lib/err.h"

/* /:login/fwrules[/:id[/enable|disable|machines]] */
int fwrules_dispatch(struct api_req *q);

/* /:login/machines/:id/fwrules for machine m (the caller's). */
int fwrules_of_machine(struct api_req *q, json_t *m);

/* Queues owner's rule set to server when owner has rules (before an
 * instance of owner is created there). */
int fwrules_queue_to(struct store *s, const char *owner, const char *server,
		     struct hull_err *err);
#endif
