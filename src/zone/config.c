/*
 * config.c - the instance record, reduced to what the zone runtime needs.
 *
 * Docker zones carry their image's OCI config in internal_metadata as
 * strings holding JSON (docker:entrypoint, docker:cmd, docker:env are JSON
 * arrays of strings), the way SmartOS's dockerinit reads them. Those bytes
 * come from an image, so every value is type-checked and bounded here.
 */
#include "zone/config.h"

#include <errno.h>
#include <string.h>

#include "lib/json.h"
#include "lib/strv.h"
#include "lib/xalloc.h"
#include "zone/idrange.h"

#define ZONE_ARGV_MAX 4096
#define ZONE_DEFAULT_PATH                                                      \
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/"       \
	"bin:" ZONE_TOOLS_DIR

/* A JSON array of strings, or a string holding one (docker:* keys). */
static int strv_from_json(json_t *j, const char *what, char ***out,
			  struct hull_err *err)
{
	json_t *owned = NULL;
	if (json_is_string(j)) {
		const char *s = json_string_value(j);
		owned = json_loads(s, 0, NULL);
		if (!owned)
			return hull_err_set(err, EINVAL,
					    "%s: not a JSON array of strings",
					    what);
		j = owned;
	}
	if (!json_is_array(j) || json_array_size(j) > ZONE_ARGV_MAX) {
		json_decref(owned);
		return hull_err_set(err, EINVAL, "%s: not an array of strings",
				    what);
	}
	size_t i;
	json_t *e;
	json_array_foreach(j, i, e)
	{
		if (!json_is_string(e) ||
		    strlen(json_string_value(e)) != json_string_length(e)) {
			json_decref(owned);
			return hull_err_set(err, EINVAL,
					    "%s: element %zu is not a string",
					    what, i);
		}
		hull_strv_append(out, json_string_value(e));
	}
	json_decref(owned);
	return 0;
}

void zone_limits_from_json(json_t *vm, struct inst_limits *l)
{
	inst_limits_parse(vm, l, NULL);
}

static bool strv_has_prefix(char **v, const char *prefix)
{
	size_t n = strlen(prefix);
	for (size_t i = 0; v && v[i]; i++)
		if (strncmp(v[i], prefix, n) == 0)
			return true;
	return false;
}

static int parse_docker(json_t *im, struct zone_config *cfg,
			struct hull_err *err)
{
	int r;
	json_t *ep = json_object_get(im, "docker:entrypoint");
	json_t *cmd = json_object_get(im, "docker:cmd");
	if (ep && !json_is_null(ep) &&
	    (r = strv_from_json(ep, "docker:entrypoint", &cfg->argv, err)) < 0)
		return r;
	if (cmd && !json_is_null(cmd) &&
	    (r = strv_from_json(cmd, "docker:cmd", &cfg->argv, err)) < 0)
		return r;
	if (hull_strv_len(cfg->argv) == 0)
		return hull_err_set(
		    err, EINVAL,
		    "docker zone has neither docker:entrypoint nor docker:cmd");
	json_t *env = json_object_get(im, "docker:env");
	if (env && !json_is_null(env) &&
	    (r = strv_from_json(env, "docker:env", &cfg->envp, err)) < 0)
		return r;
	const char *wd = hull_json_str(im, "docker:workdir", NULL);
	if (wd && *wd) {
		if (wd[0] != '/')
			return hull_err_set(
			    err, EINVAL,
			    "docker:workdir: not an absolute path: %s", wd);
		free(cfg->workdir);
		cfg->workdir = xstrdup(wd);
	}
	const char *user = hull_json_str(im, "docker:user", NULL);
	if (user && *user)
		cfg->user = xstrdup(user);
	const char *pol = hull_json_str(im, "docker:restartpolicy", "no");
	if (strcmp(pol, "always") == 0 || strcmp(pol, "unless-stopped") == 0) {
		cfg->restart = ZONE_RESTART_ALWAYS;
	} else if (strncmp(pol, "on-failure", 10) == 0) {
		cfg->restart = ZONE_RESTART_ON_FAILURE;
		if (pol[10] == ':')
			cfg->restart_max = atoi(pol + 11);
	}
	return 0;
}

int zone_config_userns_flag(json_t *im, struct hull_err *err)
{
	json_t *v = json_object_get(im, "hull:userns");
	if (!v)
		return 0;
	const char *s = json_string_value(v);
	if (s && strcmp(s, "true") == 0)
		return 1;
	if (s && strcmp(s, "false") == 0)
		return 0;
	return hull_err_set(err, EINVAL,
			    "Invalid value for internal_metadata hull:userns: "
			    "must be \"true\" or \"false\"");
}

/* The id range vmadm create recorded for a userns zone (idrange.h). */
static int userns_range(const struct inst *inst, struct zone_config *cfg,
			struct hull_err *err)
{
	if (!inst->ids.set)
		return hull_err_set(err, EINVAL,
				    "hull:userns is set but the record holds "
				    "no id range (hull_userns)");
	if (inst->ids.count != ZONE_IDRANGE_SIZE)
		return hull_err_set(err, EINVAL,
				    "hull_userns: not a range of %u host ids",
				    ZONE_IDRANGE_SIZE);
	cfg->userns_uid = inst->ids.uid;
	cfg->userns_gid = inst->ids.gid;
	cfg->userns_count = inst->ids.count;
	return 0;
}

static int from_inst(struct zone_config *cfg, struct hull_err *err)
{
	int r;
	const struct inst *inst = &cfg->inst;
	json_t *vm = inst->json;
	memcpy(cfg->uuid, inst->uuid, HULL_UUID_LEN + 1);
	if (inst_brand_is_hvm(inst->brand))
		return hull_err_set(err, EINVAL, "brand %s is not a zone brand",
				    inst_brand_str(inst));
	cfg->brand = inst->brand;
	cfg->docker = inst->docker;
	cfg->hostname = xstrdup(inst->hostname);
	cfg->dns_domain = inst->dns_domain ? xstrdup(inst->dns_domain) : NULL;
	json_t *res = json_object_get(vm, "resolvers");
	if (res &&
	    (r = strv_from_json(res, "resolvers", &cfg->resolvers, err)) < 0)
		return r;
	if (inst->kernel_version)
		cfg->kernel_version = xstrdup(inst->kernel_version);
	cfg->workdir = xstrdup("/");
	cfg->restart = hull_json_bool(vm, "restart_init", true)
			   ? ZONE_RESTART_ALWAYS
			   : ZONE_RESTART_NEVER;

	json_t *im = inst->internal_metadata;
	if (cfg->docker) {
		cfg->restart = ZONE_RESTART_NEVER;
		if ((r = parse_docker(im, cfg, err)) < 0)
			return r;
		if (json_is_boolean(json_object_get(vm, "restart_init")) &&
		    !json_is_true(json_object_get(vm, "restart_init")))
			cfg->restart = ZONE_RESTART_NEVER;
	} else {
		const char *init = hull_json_str(vm, "init_name", "/sbin/init");
		if (init[0] != '/')
			return hull_err_set(
			    err, EINVAL, "init_name: not an absolute path: %s",
			    init);
		hull_strv_append(&cfg->argv, init);
	}

	cfg->sys_admin =
	    !cfg->docker && cfg->brand != INST_BRAND_JOYENT_MINIMAL &&
	    strcmp(hull_json_str(im, "hull:sys_admin", "false"), "true") == 0;
	if ((r = zone_privs_parse(json_object_get(vm, "limit_priv"),
				  &cfg->privs, NULL, err)) < 0)
		return r;
	if ((r = zone_config_userns_flag(im, err)) < 0)
		return r;
	cfg->userns = r == 1;
	if (cfg->userns && (r = userns_range(inst, cfg, err)) < 0)
		return r;

	/* systemd's container interface: container= names the manager. */
	if (!strv_has_prefix(cfg->envp, "PATH="))
		hull_strv_append(&cfg->envp, ZONE_DEFAULT_PATH);
	if (!strv_has_prefix(cfg->envp, "HOME="))
		hull_strv_append(&cfg->envp, "HOME=/root");
	if (!strv_has_prefix(cfg->envp, "TERM="))
		hull_strv_append(&cfg->envp, "TERM=vt100");
	hull_strv_append(&cfg->envp, "container=hull");
	char *hn = xasprintf("HOSTNAME=%s", cfg->hostname);
	if (!strv_has_prefix(cfg->envp, "HOSTNAME="))
		hull_strv_append(&cfg->envp, hn);
	free(hn);
	cfg->limits = inst->limits;
	/* the mounts move here: the delegated dataset joins them */
	cfg->fs = cfg->inst.fs;
	cfg->nfs = cfg->inst.nfs;
	cfg->inst.fs = NULL;
	cfg->inst.nfs = 0;
	if (inst->delegate_dataset)
		return zone_fs_add_delegated(&cfg->fs, &cfg->nfs, cfg->uuid,
					     inst->zpool, err);
	return 0;
}

int zone_config_from_inst(struct inst *inst, struct zone_config *cfg,
			  struct hull_err *err)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->inst = *inst;
	memset(inst, 0, sizeof(*inst));
	return from_inst(cfg, err);
}

int zone_config_parse(json_t *vm, struct zone_config *cfg, struct hull_err *err)
{
	struct inst inst;
	memset(cfg, 0, sizeof(*cfg));
	int r = inst_parse(vm, &inst, err);
	if (r < 0)
		return r;
	return zone_config_from_inst(&inst, cfg, err);
}

int zone_config_load(const char *uuid, struct zone_config *cfg,
		     struct hull_err *err)
{
	struct inst inst;
	memset(cfg, 0, sizeof(*cfg));
	/* With its side files: docker:* values may be large. */
	int r = inst_load(uuid, &inst, err);
	if (r < 0)
		return r;
	return zone_config_from_inst(&inst, cfg, err);
}

void zone_config_fini(struct zone_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->hostname);
	free(cfg->dns_domain);
	hull_strv_free(cfg->resolvers);
	free(cfg->kernel_version);
	hull_strv_free(cfg->argv);
	hull_strv_free(cfg->envp);
	free(cfg->workdir);
	free(cfg->user);
	zone_fs_free(cfg->fs, cfg->nfs);
	inst_fini(&cfg->inst);
	memset(cfg, 0, sizeof(*cfg));
}
