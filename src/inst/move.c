/*
 * move.c - a running bhyve VM's live move to a fresh hull-vmm on this
 * host (include/hull/instance.h; vmadm migrate --live). SmartOS has no
 * live migration at all; the checks follow VM.js's for other requests
 * to a running VM (the state, then the brand). The work is the
 * supervisor's (supervisor/vmmove.h): it starts the new emulator, hands
 * it the taps and takes its console and sockets over.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hull/instance.h"
#include "lib/json.h"
#include "supervisor/client.h"
#include "vm/record.h"

int hull_instance_move_live(const char *uuid, int downtime_ms,
			    bool auto_converge, int bandwidth_mib,
			    json_t **result, struct hull_err *err)
{
	struct hull_err local;
	if (!err)
		err = &local;
	*result = NULL;
	if (downtime_ms < 0 || downtime_ms > 60000)
		return hull_err_set(err, EINVAL,
				    "Invalid value for downtime: must be an "
				    "integer from 1 to 60000 (ms)");
	if (bandwidth_mib < 0 || bandwidth_mib > 1048576)
		return hull_err_set(err, EINVAL,
				    "Invalid value for bandwidth: must be an "
				    "integer from 1 to 1048576 (MiB/s)");
	json_t *vm = vm_record_load(uuid, err);
	if (!vm)
		return -err->code;
	const char *state = hull_json_str(vm, "state", "");
	const char *brand = hull_json_str(vm, "brand", "");
	int r = 0;
	bool kvm = !strcmp(brand, "kvm");
	if (strcmp(brand, "bhyve") && !kvm)
		r = hull_err_set(err, EINVAL,
				 "Live migration is only supported for VMs "
				 "with brand \"bhyve\" or \"kvm\", not "
				 "\"%s\".",
				 brand);
	else if (strcmp(state, "running"))
		r = hull_err_set(err, EINVAL,
				 "Unable to migrate vm from state \"%s\", "
				 "must be \"running\".",
				 state);
	json_decref(vm);
	if (r < 0)
		return r;
	if (kvm) {
		/* QEMU to QEMU through QEMU's own migration (migrate_live.c) */
		struct hull_live_opts o = {.downtime_ms = downtime_ms,
					   .auto_converge = auto_converge,
					   .max_bandwidth =
					       (long long)bandwidth_mib << 20};
		struct hull_live_result lr;
		if ((r = hull_instance_migrate_live(uuid, &o, &lr, err)) < 0)
			return r;
		*result = json_pack(
		    "{s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I}", "emulator",
		    "QEMU", "pid", lr.pid, "source_pid", lr.source_pid,
		    "downtime_ns", (json_int_t)lr.downtime_ms * 1000000,
		    "total_ns", (json_int_t)lr.total_ms * 1000000, "iterations",
		    (json_int_t)lr.passes, "bytes", (json_int_t)lr.transferred,
		    "downtime_ms", (json_int_t)lr.downtime_ms);
		return 0;
	}
	json_t *req = json_pack("{s:s}", "cmd", "move");
	if (downtime_ms > 0)
		json_object_set_new(req, "downtime_ms",
				    json_integer(downtime_ms));
	if (auto_converge)
		json_object_set_new(req, "auto_converge", json_true());
	if (bandwidth_mib > 0)
		json_object_set_new(req, "bandwidth_mib",
				    json_integer(bandwidth_mib));
	r = supervisor_request(uuid, req, result, -1, err);
	json_decref(req);
	if (r < 0)
		return hull_err_prefix(err, "VM %s", uuid);
	return 0;
}
