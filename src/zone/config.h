/*
 * config.h - what the zone runtime needs from an instance: the typed
 * instance (inst/inst.h, parsed once) and what the zone derives from it:
 * resolvers, init argv and env (for docker zones from internal_metadata
 * docker:* keys, which come from an untrusted image config), limit_priv,
 * the user namespace, the mounts. zone_config_from_inst() and
 * zone_config_parse() are pure so they can be fuzzed
 * (tests/fuzz/fuzz_zone_config.c).
 */
#ifndef HULL_ZONE_CONFIG_H
#define HULL_ZONE_CONFIG_H

/* Where every zone finds hull's guest tools (mdata-get…), read-only: the
 * path SmartOS's LX zones use. It ends every zone's default PATH. */
#define ZONE_TOOLS_DIR "/native/usr/sbin"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "inst/inst.h"
#include "lib/err.h"
#include "lib/uuid.h"
#include "zone/fs.h"
#include "zone/privs.h"

enum zone_restart {
	ZONE_RESTART_NEVER,
	ZONE_RESTART_ALWAYS,
	ZONE_RESTART_ON_FAILURE,
};

struct zone_config {
	/* The instance this was derived from; owned. Its fs array has moved
	 * to fs below. */
	struct inst inst;
	char uuid[HULL_UUID_LEN + 1];
	enum inst_brand brand;
	bool docker;
	/* Keep CAP_SYS_ADMIN (internal_metadata "hull:sys_admin": "true",
	 * joyent/lx/builder only). Without user namespaces a zone root with
	 * it can mount a fresh, unmasked procfs: opt-in, for images whose
	 * init insists on mounting (systemd's sandboxing). */
	bool sys_admin;
	/* internal_metadata "hull:userns": "true": the zone runs in a user
	 * namespace of its own, its root mapped to host uid userns_uid (and
	 * gid userns_gid), userns_count ids, kept in the record's hull_userns
	 * object by vmadm create (docs/vmadm.md). Such a zone keeps every
	 * capability within its namespaces. */
	bool userns;
	/* limit_priv's capabilities beyond and below the default (privs.h) */
	struct zone_privs privs;
	uint32_t userns_uid, userns_gid, userns_count;
	char *hostname;
	char *dns_domain;
	char **resolvers;     /* NULL-terminated */
	char *kernel_version; /* lx: what uname -r reports, else NULL */
	char **argv;	      /* init's argv, NULL-terminated */
	char **envp;	      /* init's environment, NULL-terminated */
	char *workdir;	      /* docker:workdir or "/" */
	char *user; /* docker:user ("name", "uid", "uid:gid") or NULL */
	enum zone_restart restart;
	int restart_max; /* on-failure:N, 0 = unlimited */
	struct inst_limits limits;
	struct zone_fs *fs; /* `filesystems`, mounted at every boot (fs.h) */
	size_t nfs;
};

/* Fills cfg from an instance (an OS brand), taking inst over: cfg owns
 * it and inst is left empty, on failure too. */
int zone_config_from_inst(struct inst *inst, struct zone_config *cfg,
			  struct hull_err *err);
/* inst_parse() and zone_config_from_inst() of a VM object. */
int zone_config_parse(json_t *vm, struct zone_config *cfg,
		      struct hull_err *err);
/* internal_metadata "hull:userns": 1 for "true", 0 for "false" or
 * absent, -EINVAL (with the property named in err) for anything else. */
int zone_config_userns_flag(json_t *internal_metadata, struct hull_err *err);
/* inst_load() and zone_config_from_inst(). */
int zone_config_load(const char *uuid, struct zone_config *cfg,
		     struct hull_err *err);
/* Limits only; invalid ones are left unset (inst_limits_parse). */
void zone_limits_from_json(json_t *vm, struct inst_limits *l);
void zone_config_fini(struct zone_config *cfg);
#endif
