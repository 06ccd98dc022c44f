/*
 * host.h - facts about this host, in the shape of SmartOS's sysinfo: its
 * stable UUID (a compute node's server_uuid), CPUs, memory, virtualization,
 * cgroup layout, network interfaces. `sysinfo` prints them, adding the
 * pool's figures; other programs take single facts from here.
 */
#ifndef HULL_HOST_H
#define HULL_HOST_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"

/* Where a host UUID is kept when the host has no machine-id and no
 * firmware UUID to derive one from. */
#define HOST_UUID_FILE "/var/lib/hull/host-uuid"

/* The server's UUID, the same on every run. With HULL_ROOT set, the
 * pool's own (R/var/server-uuid, 0600, made on first use), so each pool is
 * a server of its own; else the host's: /etc/machine-id written as a
 * UUID, else the firmware's (SMBIOS) UUID, else one made once and kept in
 * HOST_UUID_FILE. */
int host_uuid_get(char out[37], struct hull_err *err);

/* "v1", "hybrid" or "v2": how /sys/fs/cgroup is mounted. */
const char *host_cgroup_layout(void);

/* True when /dev/kvm opens and speaks the stable KVM API. */
bool host_kvm_usable(int *max_vcpus);

/* Every fact as a new JSON object (SmartOS's key names), the pool's
 * excepted. */
json_t *host_sysinfo_collect(struct hull_err *err);

/* Pure helpers, exposed for tests. */
/* "a=b c d= -- x" -> {"a": "b", "c": "", "d": ""} (init's part
 * after "--" left out). */
json_t *host_cmdline_parse(const char *cmdline);
/* machine-id (32 hex digits) as a UUID in out; -1 when malformed. */
int host_machine_id_to_uuid(const char *id, char out[37]);
/* The `sysinfo -p` form: one NAME='value' line per leaf, nested keys
 * joined with '_', spaces as '_', arrays joined with ','. Caller frees. */
char *host_sysinfo_flatten(json_t *info);

#endif
