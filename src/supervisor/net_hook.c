/*
 * net_hook.c - the zone's nics (src/net) and firewall (src/fw) around each
 * boot of the zone (net_hook.h).
 */
#include "supervisor/net_hook.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "fw/reload.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "net/instance.h"
#include "net/stale.h"
#include "supervisor/log.h"

static json_t *record_load(const char *uuid, struct hull_err *err)
{
	_cleanup_free_ char *p = hull_root_path("%s/config/vm.json", uuid);
	json_error_t je;
	json_t *rec = json_load_file(p, 0, &je);
	if (!rec)
		hull_err_set(err, EINVAL, "%s: %s", p, je.text);
	return rec;
}

int net_hook_prepare(const struct zone_config *cfg, pid_t init,
		     struct hull_err *err)
{
	json_t *rec = record_load(cfg->uuid, err);
	if (!rec)
		return -err->code;
	const char *brand = hull_json_str(rec, "brand", "joyent");
	int r = 0;
	if (net_brand_is_hvm(brand))
		goto out; /* the VMM's nics are taps, made by its own start */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)init);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = hull_err_sys(err, errno, "open %s", path);
		goto out;
	}
	r = net_instance_setup(rec, fd, brand, NULL, err);
	close(fd);
	if (r < 0)
		goto out;
	if (hull_json_bool(rec, "firewall_enabled", false) &&
	    (r = fw_reload(false, err)) < 0) {
		struct hull_err ignore;
		net_instance_teardown(cfg->uuid, &ignore);
	}
out:
	json_decref(rec);
	return r < 0 ? hull_err_prefix(err, "network") : 0;
}

static void net_stopped(struct sv_loop *loop, const struct zone_config *cfg)
{
	struct hull_err err = {0};
	if (net_instance_cleanup(cfg->uuid, &err) < 0)
		sv_log("error", "network teardown: %s", err.msg);
}

const struct sv_hook net_hook = {
    .name = "network",
    .zone_stopped = net_stopped,
};
