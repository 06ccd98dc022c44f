/*
 * net.c - the transactions' part of an instance's network: nic changes on a
 * running zone (add_nics, remove_nics, update_nics take effect at once, through
 * src/net, as on SmartOS) and reloading the firewall after a change to the
 * instances (docs/hull-net.md, docs/fwadm.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "inst/txn.h"
#include "fw/reload.h"
#include "inst/inst.h"
#include "lib/json.h"
#include "net/instance.h"
#include "supervisor/client.h"

/* The nic of nics whose mac is mac, or NULL. */
static json_t *nic_by_mac(json_t *nics, const char *mac)
{
	size_t i;
	json_t *n;
	json_array_foreach(
	    nics, i,
	    n) if (!strcasecmp(hull_json_str(n, "mac", ""), mac)) return n;
	return NULL;
}

int inst_nics_live(const char *uuid, json_t *old_nics, json_t *vm,
		   struct hull_err *err)
{
	json_t *nics = json_object_get(vm, "nics");
	const char *brand = hull_json_str(vm, "brand", "joyent");
	if (net_brand_is_hvm(brand) || json_equal(old_nics, nics))
		return 0;
	pid_t init = zone_init_pid(uuid, err);
	if (init <= 0)
		return 0; /* not running: the next start sets it all up */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)init);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "open %s", path);
	struct inst inst = {0};
	int r = inst_parse(vm, &inst, err);
	size_t i;
	json_t *n;
	if (r < 0)
		goto out;
	/* Gone or changed: remove the port. */
	json_array_foreach(old_nics, i, n)
	{
		const char *mac = hull_json_str(n, "mac", "");
		json_t *now = nic_by_mac(nics, mac);
		if (now && json_equal(now, n))
			continue;
		if ((r = net_nic_remove(uuid, mac, err)) < 0)
			goto out;
	}
	/* New or changed: make it, primary last so its routes win. */
	for (int pass = 0; pass < 2; pass++)
		json_array_foreach(nics, i, n)
		{
			const char *mac = hull_json_str(n, "mac", "");
			json_t *was = nic_by_mac(old_nics, mac);
			if ((was && json_equal(was, n)) ||
			    hull_json_bool(n, "primary", false) != (pass == 1))
				continue;
			if ((r = net_nic_add(&inst, mac, fd, NULL, err)) < 0)
				goto out;
		}
out:
	inst_fini(&inst);
	close(fd);
	return r < 0 ? hull_err_prefix(err, "update the nics of running VM %s",
				       uuid)
		     : 0;
}

int inst_fw_reload(struct hull_err *err)
{
	return fw_reload_if_used(err);
}

int inst_fw_reload_for(json_t *vm, struct hull_err *err)
{
	return fw_reload_for(vm, err);
}
