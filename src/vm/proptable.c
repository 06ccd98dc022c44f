/*
 * proptable.c - the SmartOS property table (see proptable.h).
 *
 * One row per property, sorted by name so lookups are a binary search.
 * Ranges are SmartOS's where it has one; where it has none the bound is
 * what the Linux mechanism behind the property accepts (noted per row).
 */
#include "vm/proptable.h"

#include <stdlib.h>
#include <string.h>

#define ANY VM_BRANDS_ANY
#define OS VM_BRANDS_OS
#define HVM VM_BRANDS_HVM
#define LX VM_BRAND_LX
#define KVM VM_BRAND_KVM
#define BHYVE VM_BRAND_BHYVE

#define C VM_P_CREATE
#define REQ VM_P_REQUIRED
#define U VM_P_UPDATE
#define L (VM_P_UPDATE | VM_P_LIVE)
#define VIA VM_P_VIA
#define RO VM_P_RO
#define KZ VM_P_KEEPZERO
#define LS VM_P_LISTABLE
#define ST VM_P_STORED

#define I64MAX INT64_MAX
/* MiB values: 2^40 MiB is a petabyte of RAM, far past any host. */
#define MIBMAX (1LL << 40)

static const struct vm_prop props[] = {
    {"alias", VM_T_STRING, ANY, C | U | LS, 0, 0, "ALIAS", 10},
    {"archive_on_delete", VM_T_BOOL, ANY, C | U, 0, 0, NULL, 0},
    {"autoboot", VM_T_BOOL, ANY, C | U | LS, 0, 0, "AUTOBOOT", 8},
    {"bhyve_extra_opts", VM_T_STRING, BHYVE, C | U, 0, 0, NULL, 0},
    {"billing_id", VM_T_STRING, ANY, C | U | LS, 0, 0, "BILLING_ID", 36},
    {"boot", VM_T_STRING, KVM | BHYVE, C | U, 0, 0, NULL, 0},
    {"boot_timestamp", VM_T_TIMESTAMP, ANY, RO | LS, 0, 0, "BOOT_TIMESTAMP",
     24},
    {"bootrom", VM_T_STRING, BHYVE, C | U, 0, 0, NULL, 0},
    {"brand", VM_T_STRING, ANY, C | LS, 0, 0, "BRAND", 14},
    {"com1", VM_T_STRING, BHYVE, C | U, 0, 0, NULL, 0},
    {"com2", VM_T_STRING, BHYVE, C | U, 0, 0, NULL, 0},
    /* percent of one CPU; cgroups take any quota, 0 means no cap */
    {"cpu_cap", VM_T_INT, ANY, C | L | LS, 0, I64MAX / 1000000, "CPU_CAP", 7},
    /* SmartOS caps shares at 65535 */
    {"cpu_shares", VM_T_INT, ANY, C | L | KZ | LS, 0, 65535, "CPU_SHARE", 9},
    {"cpu_type", VM_T_STRING, KVM, C | U | LS, 0, 0, "CPU_TYPE", 8},
    {"create_timestamp", VM_T_TIMESTAMP, ANY, RO | ST | LS, 0, 0,
     "CREATE_TIMESTAMP", 24},
    {"customer_metadata", VM_T_MAP, ANY, C | VIA, 0, 0, NULL, 0},
    {"datacenter_name", VM_T_STRING, ANY, RO, 0, 0, NULL, 0},
    {"datasets", VM_T_STRLIST, OS, RO, 0, 0, NULL, 0},
    {"delegate_dataset", VM_T_BOOL, OS, C, 0, 0, NULL, 0},
    {"disk_driver", VM_T_STRING, HVM, C | U, 0, 0, NULL, 0},
    {"disks", VM_T_ARRAY, HVM, C | VIA, 0, 0, NULL, 0},
    {"dns_domain", VM_T_STRING, OS, C | U | LS, 0, 0, "DOMAIN", 32},
    {"do_not_inventory", VM_T_BOOL, ANY, C | U | LS, 0, 0, "DNI", 5},
    {"docker", VM_T_BOOL, VM_BRAND_JOYENT_MINIMAL | LX, C | U | LS, 0, 0,
     "DOCKER", 6},
    {"exit_status", VM_T_INT, ANY, RO | LS, 0, 0, "EXIT", 4},
    {"exit_timestamp", VM_T_TIMESTAMP, ANY, RO | LS, 0, 0, "EXIT_TIMESTAMP",
     24},
    {"filesystems", VM_T_ARRAY, OS, C | VIA, 0, 0, NULL, 0},
    {"firewall_enabled", VM_T_BOOL, ANY, C | U | LS, 0, 0, "FIREWALL_ENABLED",
     16},
    {"flexible_disk_size", VM_T_INT, BHYVE, C | L | LS, 1, MIBMAX,
     "FLEX_DISK_SIZE", 14},
    {"free_space", VM_T_INT, BHYVE, RO | LS, 0, 0, "FREE_SPACE", 10},
    {"fs_allowed", VM_T_LIST, OS, C | U, 0, 0, NULL, 0},
    {"hostname", VM_T_STRING, ANY, C | U | LS, 0, 0, "HOSTNAME", 32},
    {"hvm", VM_T_BOOL, ANY, RO | LS, 0, 0, "HVM", 5},
    {"image_uuid", VM_T_UUID, ANY, C | LS, 0, 0, "IMAGE_UUID", 36},
    {"indestructible_delegated", VM_T_BOOL, ANY, C | U | LS, 0, 0,
     "INDESTR_DATA", 12},
    {"indestructible_zoneroot", VM_T_BOOL, ANY, C | U | LS, 0, 0,
     "INDESTR_ROOT", 12},
    {"init_name", VM_T_STRING, OS, C | U, 0, 0, NULL, 0},
    {"internal_metadata", VM_T_MAP, ANY, C | VIA, 0, 0, NULL, 0},
    {"internal_metadata_namespaces", VM_T_STRLIST, ANY, C | U, 0, 0, NULL, 0},
    {"kernel_version", VM_T_STRING, LX, C | REQ | U, 0, 0, NULL, 0},
    {"last_modified", VM_T_TIMESTAMP, ANY, RO | ST, 0, 0, NULL, 0},
    {"limit_priv", VM_T_LIST, ANY, C | U, 0, 0, NULL, 0},
    {"maintain_resolvers", VM_T_BOOL, OS, C | U, 0, 0, NULL, 0},
    {"max_locked_memory", VM_T_INT, ANY, C | L | LS, 1, MIBMAX, "MAX_LOCKED",
     10},
    /* a thread limit; the kernel's pids.max takes any positive count */
    {"max_lwps", VM_T_INT, ANY, C | L | LS, 1, 4194304, "MAX_LWP", 7},
    {"max_msg_ids", VM_T_INT, ANY, C | L, 1, I64MAX, NULL, 0},
    {"max_physical_memory", VM_T_INT, ANY, C | L | LS, 1, MIBMAX, "MAX_PHYS",
     8},
    {"max_sem_ids", VM_T_INT, ANY, C | L, 1, I64MAX, NULL, 0},
    {"max_shm_ids", VM_T_INT, ANY, C | L, 1, I64MAX, NULL, 0},
    {"max_shm_memory", VM_T_INT, ANY, C | L, 1, MIBMAX, NULL, 0},
    /* SmartOS: virtual memory cap, at least 256 MiB */
    {"max_swap", VM_T_INT, ANY, C | L | LS, 256, MIBMAX, "MAX_SWAP", 8},
    {"mdata_exec_timeout", VM_T_INT, OS, C, 0, I64MAX, NULL, 0},
    {"nic_driver", VM_T_STRING, HVM, C | U, 0, 0, NULL, 0},
    {"nics", VM_T_NICS, ANY, C | VIA, 0, 0, NULL, 0},
    {"nowait", VM_T_BOOL, OS, C, 0, 0, NULL, 0},
    {"owner_uuid", VM_T_UUID, ANY, C | U | LS, 0, 0, "OWNER_UUID", 36},
    {"package_name", VM_T_STRING, ANY & ~BHYVE, C | U | LS, 0, 0,
     "PACKAGE_NAME", 12},
    {"package_version", VM_T_STRING, ANY & ~BHYVE, C | U | LS, 0, 0,
     "PACKAGE_VER", 11},
    {"pci_devices", VM_T_ARRAY, BHYVE, C | VIA, 0, 0, NULL, 0},
    {"pid", VM_T_INT, ANY, RO | LS, 0, 0, "PID", 6},
    {"qemu_extra_opts", VM_T_STRING, KVM, C | U | LS, 0, 0, "QEMU_EXTRA_OPTS",
     15},
    {"qemu_opts", VM_T_STRING, KVM, C | U, 0, 0, NULL, 0},
    /* GiB; 0 means no quota and is kept as 0 */
    {"quota", VM_T_INT, ANY, C | L | KZ | LS, 0, 1LL << 30, "QUOTA", 5},
    {"ram", VM_T_INT, ANY, C | U | LS, 1, MIBMAX, "RAM", 7},
    {"resolvers", VM_T_IPLIST, ANY, C | U, 0, 0, NULL, 0},
    {"restart_init", VM_T_BOOL, OS, C | U, 0, 0, NULL, 0},
    {"routes", VM_T_ROUTES, ANY, C | VIA, 0, 0, NULL, 0},
    {"server_uuid", VM_T_UUID, ANY, RO, 0, 0, NULL, 0},
    {"snapshots", VM_T_ANY, OS | BHYVE, RO, 0, 0, NULL, 0},
    {"spice_opts", VM_T_STRING, KVM, C | U, 0, 0, NULL, 0},
    {"spice_password", VM_T_STRING, KVM, C | U, 0, 0, NULL, 0},
    {"spice_port", VM_T_INT, KVM, C | U, -1, 65535, NULL, 0},
    {"state", VM_T_STRING, ANY, RO | LS, 0, 0, "STATE", 16},
    {"tags", VM_T_TAGS, ANY, C | VIA, 0, 0, NULL, 0},
    {"tmpfs", VM_T_INT, OS, C | U | KZ | LS, 0, MIBMAX, "TMPFS", 5},
    {"transition_expire", VM_T_INT, ANY, RO, 0, 0, NULL, 0},
    {"transition_to", VM_T_STRING, ANY, RO, 0, 0, NULL, 0},
    {"type", VM_T_STRING, ANY, RO | LS, 0, 0, "TYPE", 4},
    {"uuid", VM_T_UUID, ANY, C | LS, 0, 0, "UUID", 36},
    {"vcpus", VM_T_INT, HVM, C | U | LS, 1, 64, "VCPUS", 5},
    {"vga", VM_T_STRING, KVM, C | U, 0, 0, NULL, 0},
    {"virtio_txburst", VM_T_INT, KVM, C | U, 1, I64MAX, NULL, 0},
    {"virtio_txtimer", VM_T_INT, KVM, C | U, 1, I64MAX, NULL, 0},
    /* kvm only: SmartOS's bhyve has a framebuffer, hull-vmm has none;
     * at most 8 characters (VNC authentication's DES key) */
    {"vnc_password", VM_T_STRING, KVM, C | U, 0, 0, NULL, 0},
    {"vnc_port", VM_T_INT, KVM, C | U, -1, 65535, NULL, 0},
    {"zfs_data_compression", VM_T_STRING, OS, C | U, 0, 0, NULL, 0},
    {"zfs_data_recsize", VM_T_INT, OS, C | U, 512, 131072, NULL, 0},
    {"zfs_filesystem", VM_T_STRING, ANY, RO, 0, 0, NULL, 0},
    {"zfs_filesystem_limit", VM_T_INT, ANY, C | U, 0, I64MAX, NULL, 0},
    /* an I/O weight; cgroup io.weight/blkio.weight scale it (1..10000) */
    {"zfs_io_priority", VM_T_INT, ANY, C | L | KZ | LS, 0, 10000, "IO_PRIORITY",
     11},
    {"zfs_root_compression", VM_T_STRING, OS, C | U, 0, 0, NULL, 0},
    {"zfs_root_recsize", VM_T_INT, OS, C | U, 512, 131072, NULL, 0},
    {"zfs_snapshot_limit", VM_T_INT, ANY, C | U, 0, I64MAX, NULL, 0},
    {"zlog_max_size", VM_T_INT, OS, C | U, 0, I64MAX, NULL, 0},
    {"zlog_mode", VM_T_STRING, OS, C | U, 0, 0, NULL, 0},
    {"zone_state", VM_T_STRING, ANY, RO | LS, 0, 0, "ZONE_STATE", 13},
    {"zonedid", VM_T_INT, ANY, RO, 0, 0, NULL, 0},
    {"zoneid", VM_T_INT, ANY, RO | LS, 0, 0, "ZONEID", 6},
    {"zonename", VM_T_STRING, ANY, C | LS, 0, 0, "ZONENAME", 12},
    {"zonepath", VM_T_STRING, ANY, RO | ST | LS, 0, 0, "ZONEPATH", 40},
    {"zpool", VM_T_STRING, ANY, C | LS, 0, 0, "ZPOOL", 5},
};

#define NPROPS (sizeof(props) / sizeof(props[0]))

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct vm_prop *)elem)->name);
}

const struct vm_prop *vm_prop_find(const char *name)
{
	return bsearch(name, props, NPROPS, sizeof(props[0]), cmp_name);
}

const struct vm_prop *vm_prop_all(unsigned *count)
{
	*count = NPROPS;
	return props;
}

unsigned vm_brand_from_name(const char *name)
{
	return inst_brand_from_name(name);
}

const char *vm_brand_type(unsigned brand)
{
	return inst_brand_type(brand);
}

bool vm_brand_supported(unsigned brand)
{
	return (brand & (VM_BRANDS_OS | VM_BRANDS_HVM)) != 0;
}
