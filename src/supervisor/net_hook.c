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
#include "net/instance.h"
#include "net/stale.h"
#include "supervisor/log.h"

int net_hook_prepare(const struct zone_config *cfg, pid_t init,
		     struct hull_err *err)
{
	const struct inst *inst = &cfg->inst;
	if (inst_is_hvm(inst))
		return 0; /* the VMM's nics are taps, made by its own start */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)init);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_sys(err, errno, "network: open %s", path);
	int r = net_instance_setup(inst, fd, NULL, err);
	close(fd);
	if (r == 0 && inst->firewall_enabled &&
	    (r = fw_reload(false, err)) < 0) {
		struct hull_err ignore;
		net_instance_teardown(cfg->uuid, &ignore);
	}
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
