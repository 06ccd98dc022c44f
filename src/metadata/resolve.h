/*
 * resolve.h - what a metadata key means for one instance (spec/smartos.md
 * §3.5, §3.6): reading a key from the instance record, listing keys, and
 * the rules for PUT and DELETE. Pure functions over the record (the SmartOS
 * VM object as JSON), no I/O: the store does the reading and the atomic
 * writing, the server does the wire.
 *
 * Key routing:
 *   sdc:<name>          read-only, computed from the record: sdc:nics,
 *                       sdc:resolvers, sdc:routes, sdc:tags, sdc:tmpfs as
 *                       JSON; sdc:operator-script and sdc:volumes from
 *                       internal_metadata; any other sdc:<prop>[.<k>|.<N>]...
 *                       by walking the record from an allow-listed
 *                       top-level property (never internal_metadata).
 *   <ns>:<k>            with <ns> in internal_metadata_namespaces: read
 *                       from internal_metadata; PUT and DELETE refused.
 *   <k>_pw              internal_metadata, readable and writable.
 *   operator-script     read from customer_metadata like any key, but PUT
 *                       and DELETE are refused: the operator's script is
 *                       the operator's (upstream lets a guest rewrite it;
 *                       hull deliberately does not, spec §0.6).
 *   anything else       customer_metadata.
 */
#ifndef HULL_METADATA_RESOLVE_H
#define HULL_METADATA_RESOLVE_H
#include <jansson.h>
#include <stddef.h>

#include "metadata/proto.h"

/* Most bytes of customer_metadata and writable internal_metadata (keys and
 * values together, as the record file holds them: JSON-escaped, quoted) a
 * guest may grow its record to with PUT. vmadm may set more; a guest may
 * then only shrink it. */
#define METADATA_RECORD_MAX (2u * 1024 * 1024)

/* Looks key up in the record vm. On SUCCESS *value is the value (owned,
 * NUL-terminated, *len bytes); on FAILURE *value is a reason to send back;
 * on NOTFOUND *value is NULL. */
enum metadata_status metadata_resolve(json_t *vm, const char *key, char **value,
				      size_t *len);

/* The KEYS answer: names joined by '\n', no trailing newline. Owned. */
char *metadata_keys(json_t *vm, size_t *len);

/* Applies a PUT (value != NULL) or DELETE (value == NULL) to vm in place.
 * Returns SUCCESS when vm was changed (or a DELETE found nothing), else
 * FAILURE with *msg (owned) the reason to send back, and vm unchanged. */
enum metadata_status metadata_apply(json_t *vm, const char *key,
				    const char *value, size_t len, char **msg);

#endif
