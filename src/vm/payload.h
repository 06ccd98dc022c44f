/*
 * payload.h - SmartOS create and update payloads: validation, defaults and
 * applying an update to an instance object. Pure functions (JSON in, JSON
 * out, no I/O), so tests/fuzz/fuzz_payload.c drives them directly.
 */
#ifndef HULL_VM_PAYLOAD_H
#define HULL_VM_PAYLOAD_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"

/*
 * Validates a create payload. Returns NULL when it is valid; otherwise a new
 * object in the shape `vmadm validate` prints ({"bad_brand": …,
 * "bad_properties": […], "bad_values": […], "missing_properties": […]}),
 * with err holding one line that names the first offending property.
 */
json_t *vm_payload_check_create(json_t *payload, struct hull_err *err);

/* The same for an update payload of an instance of brand (a brand name). */
json_t *vm_payload_check_update(json_t *payload, const char *brand,
				struct hull_err *err);

/*
 * Returns a new instance object: the (valid) create payload with SmartOS's
 * defaults filled in (brand, memory caps, quota, cpu_shares, autoboot,
 * owner_uuid, nics' interfaces and primary, …). uuid, mac addresses and
 * timestamps that are missing are left for the caller, which owns the
 * randomness and the clock (vm_payload_fill_generated).
 */
json_t *vm_payload_defaults(json_t *payload);

/* Fills uuid (when absent), nic macs, zonename, create_timestamp and
 * last_modified from the given uuid generator output and time string. */
void vm_payload_fill_generated(json_t *vm, const char *uuid,
			       const char *now_iso, unsigned (*rand32)(void));

/*
 * Applies a valid update payload to vm (an instance object, changed in
 * place): scalars set or removed (null, or 0 where SmartOS removes), maps
 * through set_X/remove_X, nics through add/update/remove_nics, memory caps
 * kept consistent. *live receives whether any property that applies live
 * changed; *restart whether any that needs a restart did. Fails (nothing
 * changed) when the result breaks a cross-property rule.
 */
int vm_payload_apply_update(json_t *vm, json_t *update, bool *live,
			    bool *restart, struct hull_err *err);

/*
 * Turns `key=value` command-line arguments into an update payload, typing
 * values by the property table ("512" for ram becomes 512, "true" a
 * boolean); unknown keys stay strings so validation names them.
 */
json_t *vm_payload_from_args(int argc, char **argv, struct hull_err *err);

#endif
