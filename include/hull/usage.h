/*
 * usage.h - what an instance uses now, read from the kernel and the pool:
 * the figures the web console's instance page shows (through the agent's
 * heartbeat and GET /:login/machines/:id/usage, docs/hull-api.md).
 */
#ifndef HULL_USAGE_H
#define HULL_USAGE_H

#include <stdbool.h>

#include <jansson.h>

/*
 * A new object with what could be read (a field that could not is left
 * out; nothing is an error):
 *   mem_used_bytes, mem_limit_bytes   its memory cgroup (limit absent
 *                                      when unlimited);
 *   cpu_usec                           CPU time used, all its processes;
 *   processes, processes_limit        its pids cgroup;
 *   net_rx_bytes, net_tx_bytes        what its nics received and sent
 *                                      (the host ends of a zone's veths,
 *                                      counted the other way round);
 *   disk_used_bytes, disk_quota_bytes its dataset (with_disk only: on a
 *                                      dir pool this walks the tree).
 */
json_t *hull_instance_usage(const char *uuid, bool with_disk);

#endif
