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
 * Readies a create payload (vm NULL) or an update payload of instance vm
 * in place, as SmartOS's create and update do before they apply one:
 *  - validation as above; a bad value, a missing property or a bad brand
 *    fails (-EINVAL, err names the first);
 *  - bad properties (unknown, not for this brand or action, nics.*.KEY
 *    SmartOS does not know) are removed, a warning line each;
 *  - integers given as strings ("512") or whole reals become integers,
 *    "" (and null on create) for an integer means "not given"; booleans
 *    given as "true", "false", 1 or "1" become booleans, 1 and "1" with
 *    SmartOS's deprecation warning; a nic's primary false is dropped;
 *  - nics in the older form (ip, netmask, gateway) in nics, add_nics and
 *    update_nics are upgraded to ips and gateways (nics.h); an ip without
 *    a netmask fails.
 * warnings (an array, or NULL) receives the warning lines, for the caller
 * to print.
 */
int vm_payload_prepare(json_t *payload, json_t *vm, json_t *warnings,
		       struct hull_err *err);

/* The deprecation warnings vm_payload_prepare would give for payload,
 * without changing it (for `vmadm validate`). */
void vm_payload_warnings(json_t *payload, bool update, json_t *warnings);

/*
 * Returns a new instance object: the (valid) create payload with SmartOS's
 * defaults filled in (brand, memory caps, quota, cpu_shares, autoboot,
 * owner_uuid, nics' interfaces, primary and representative ip, netmask
 * and gateway, …) and the create-only nowait left out. uuid, mac addresses and
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
