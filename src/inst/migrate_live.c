/*
 * migrate_live.c - a running VM's live migration on this host
 * (include/hull/instance.h, vmadm migrate UUID --live): the checks, then
 * the supervisor does the work (supervisor/vm_migrate.h) and answers
 * when the guest runs in the new emulator or, having failed, still runs
 * in the old one. SmartOS has no live migration (docs/vmadm.md).
 */
#include <errno.h>
#include <string.h>

#include "hull/instance.h"
#include "lib/json.h"
#include "supervisor/client.h"
#include "vm/record.h"

/* The supervisor's answer may come after the migration's own bound
 * (supervisor/vm_migrate.h SV_VM_MIG_TIMEOUT_S) and the cancel. */
#define MIGRATE_WAIT_MS (660 * 1000)

int hull_instance_migrate_live(const char *uuid, const struct hull_live_opts *o,
			       struct hull_live_result *res,
			       struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	memset(res, 0, sizeof(*res));
	if (o->downtime_ms < 0 || o->downtime_ms > 60000)
		return hull_err_set(err, EINVAL,
				    "downtime limit: not 1 to 60000 ms");
	json_t *vm = vm_record_load(uuid, err);
	if (!vm)
		return -err->code;
	const char *brand = hull_json_str(vm, "brand", "");
	const char *state = hull_json_str(vm, "state", "");
	int r = 0;
	if (strcmp(brand, "kvm"))
		r = hull_err_set(err, ENOTSUP,
				 "Cannot migrate VM %s: live migration on one "
				 "host is for kvm VMs (brand is %s)",
				 uuid, brand);
	else if (strcmp(state, "running"))
		r = hull_err_set(err, EINVAL,
				 "Cannot migrate VM %s: it is %s, not running",
				 uuid, state);
	json_decref(vm);
	if (r < 0)
		return r;
	json_t *req = json_pack("{s:s, s:b, s:b}", "cmd", "migrate", "live", 1,
				"auto_converge", o->auto_converge);
	if (o->downtime_ms > 0)
		json_object_set_new(req, "downtime_limit",
				    json_integer(o->downtime_ms));
	if (o->max_bandwidth > 0)
		json_object_set_new(req, "max_bandwidth",
				    json_integer(o->max_bandwidth));
	json_t *resp = NULL;
	r = supervisor_request(uuid, req, &resp, MIGRATE_WAIT_MS, err);
	json_decref(req);
	if (r < 0)
		return hull_err_prefix(err, "Cannot migrate VM %s", uuid);
	res->downtime_ms = hull_json_int(resp, "downtime_ms", 0);
	res->total_ms = hull_json_int(resp, "total_ms", 0);
	res->passes = hull_json_int(resp, "passes", 0);
	res->transferred = hull_json_int(resp, "transferred", 0);
	res->pid = (int)hull_json_int(resp, "pid", 0);
	res->source_pid = (int)hull_json_int(resp, "source_pid", 0);
	json_decref(resp);
	return 0;
}
