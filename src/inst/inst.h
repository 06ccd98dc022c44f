/*
 * inst.h - an instance, parsed and validated once: the typed form of the
 * record (record.h) that every runtime layer (zone, net, fw, hvm,
 * metadata, the supervisor) receives instead of a JSON tree and a brand
 * string.
 *
 * The JSON stays the storage and round-trip format: struct inst keeps the
 * record it was parsed from (json), so what the runtime does not use is
 * still shown and saved exactly as stored. Strings are borrowed from it.
 *
 * inst_parse() is pure (JSON in, struct out, no I/O): records can come
 * from payloads, so it is fuzzed (tests/fuzz/fuzz_inst.c). It refuses a
 * present property of the wrong type or out of range, naming it; what is
 * absent takes SmartOS's default. What needs the host (does a nic tag
 * exist, is a path there) is checked by the layer that uses it.
 */
#ifndef HULL_INST_INST_H
#define HULL_INST_INST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inst/brand.h"
#include "lib/err.h"
#include "lib/uuid.h"

struct net_config;
struct zone_fs;

/* Resource limits; -1 means "not set, leave the kernel's default". */
struct inst_limits {
	int64_t cpu_cap; /* percent of one CPU; 0 = uncapped */
	int64_t cpu_shares;
	int64_t max_physical_memory; /* MiB; ram when unset */
	int64_t max_swap;	     /* MiB, RAM + swap */
	int64_t max_lwps;
	int64_t zfs_io_priority;
};

/* One disks[] entry of a VM (borrowed strings; NULL when absent). */
struct inst_disk {
	const char *path;
	const char *model;
	const char *media; /* "disk" or "cdrom" */
	const char *uuid;  /* the disk's own, the guest's serial */
	const char *image_uuid;
	int64_t size; /* MiB, -1 when absent */
	bool boot;
	bool cdrom; /* media "cdrom" */
	bool read_only;
};

/* What a VM's emulator takes from the record besides disks and nics
 * (kvm and bhyve only; zeroed for the OS brands). Strings are NULL when
 * absent; hvm/qemu.h and hvm/vmm.h check their values against what
 * each emulator offers. */
struct inst_vm {
	const char *cpu_type;
	const char *bootrom;
	const char *boot; /* QEMU's boot order */
	const char *qemu_extra_opts;
	const char *vnc_password;
	const char *disk_driver; /* the disks' default model */
	const char *nic_driver;	 /* the nics' default model */
	int64_t vnc_port;	 /* 0 when absent (a port chosen), -1: none */
	const char **nic_model;	 /* per nics[] entry, NULL when absent */
};

/* The host id range of the instance (hull_userns, vm/idmap.h). */
struct inst_ids {
	bool set;
	uint32_t uid, gid, count;
};

struct inst {
	json_t *json; /* the record as stored: one reference, owned */
	char uuid[HULL_UUID_LEN + 1];
	enum inst_brand brand; /* "joyent" when absent */
	bool docker;
	bool autoboot;
	bool firewall_enabled;
	bool delegate_dataset;
	const char *alias;	    /* NULL when absent */
	const char *hostname;	    /* the uuid when absent */
	const char *dns_domain;	    /* NULL when absent */
	const char *zpool;	    /* "zones" when absent */
	const char *kernel_version; /* lx only, else NULL */
	int64_t ram;		    /* MiB, -1 when absent */
	int64_t vcpus;		    /* -1 when absent */
	int64_t quota;		    /* GiB, -1 when absent */
	struct inst_limits limits;
	struct net_config *net;	 /* nics[] and routes (net/nic.h), owned */
	struct inst_disk *disks; /* owned array */
	size_t ndisks;
	struct inst_vm vm;  /* VM brands */
	struct zone_fs *fs; /* `filesystems` (zone/fs.h), OS brands */
	size_t nfs;
	json_t *customer_metadata; /* borrowed objects, NULL when absent */
	json_t *internal_metadata;
	json_t *tags;
	struct inst_ids ids;
};

/* Parses and validates rec into out, which takes its own reference to
 * rec. On failure out holds nothing to free (inst_fini is still fine). */
int inst_parse(json_t *rec, struct inst *out, struct hull_err *err);

/* Reads R/<uuid>/config/vm.json (with its side files) and parses it; the
 * record must name the same uuid. */
int inst_load(const char *uuid, struct inst *out, struct hull_err *err);

/* Frees what out owns; NULL and a zeroed or finished struct are fine. */
void inst_fini(struct inst *inst);

/* The limits of rec. Every limit is filled (-1 when absent or invalid);
 * returns the first invalid one's error. */
int inst_limits_parse(json_t *rec, struct inst_limits *l, struct hull_err *err);

/* The brand's name, as stored. */
static inline const char *inst_brand_str(const struct inst *inst)
{
	return inst_brand_name(inst->brand);
}

static inline bool inst_is_hvm(const struct inst *inst)
{
	return inst_brand_is_hvm(inst->brand);
}

#endif
