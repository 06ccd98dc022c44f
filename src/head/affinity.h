/*
 * affinity.h - a create's placement hints as CloudAPI takes them, turned
 * into sets of servers for placement.h.
 *
 * `affinity`: an array of rules KEY OP VALUE (triton.md 2.4). KEY is
 * `instance` or `container` (the instance's name or uuid) or a tag name;
 * OP is `==` (must be on a server with a matching instance), `!=` (must
 * not), `==~` and `!=~` (the same, preferred only); VALUE is a string, a
 * glob with `*`, or a /regular expression/. `locality` (deprecated):
 * {near: [uuid...], far: [uuid...], strict: bool}, hard when strict.
 * Only the caller's own live instances are ever matched.
 *
 * The result: {must_near, must_far, near, far}, each an array of server
 * uuids (must_near absent when no hard `==` rule). A hard `==` rule that
 * matches no instance cannot be met: -EINVAL with the reason.
 */
#ifndef HULL_HEAD_AFFINITY_H
#define HULL_HEAD_AFFINITY_H
#include <jansson.h>

#include "head/store.h"
#include "lib/err.h"

/* hints gets NULL when body has neither affinity nor locality. */
int affinity_hints(struct store *s, const char *owner, json_t *body,
		   json_t **hints, struct hull_err *err);
#endif
