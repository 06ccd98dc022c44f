/*
 * resolv.h - /etc/resolv.conf for a zone from its record's `resolvers` and
 * `dns_domain` (SmartOS writes it at create, and again on update when
 * `maintain_resolvers` is set). Pure: the zone runtime writes the text.
 */
#ifndef HULL_NET_RESOLV_H
#define HULL_NET_RESOLV_H
#include <jansson.h>

#include "lib/err.h"

/* *out gets the file's text (caller frees), or NULL when the record has
 * neither resolvers nor dns_domain. */
int net_resolv_conf_render(json_t *record, char **out, struct hull_err *err);
#endif
