/*
 * privs.c - illumos privilege names and their Linux capabilities.
 *
 * The table holds every privilege illumos (and SmartOS's zones) know, so a
 * name can be told apart from a typo. Where Linux has a capability that
 * guards the same operation the name maps onto it; the zone's default set
 * already holds most of those (SmartOS's "default" holds the privileges
 * too), so adding one changes something only for what caps.c drops by
 * default: sys_time (the clock) is the one a payload asks for in practice.
 */
#include "zone/privs.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A capability bit, or one of the markers below. */
#define CAPB(c) (1ULL << (c))
#define NO_LINUX 0ULL	       /* nothing on Linux corresponds */
#define SYS_ADMIN_ONLY (~0ULL) /* CAP_SYS_ADMIN: hull:sys_admin's */

static const struct {
	const char *name;
	uint64_t caps;
} table[] = {
    {"contract_event", NO_LINUX},
    {"contract_identity", NO_LINUX},
    {"contract_observer", NO_LINUX},
    {"cpc_cpu", NO_LINUX},
    {"dtrace_kernel", NO_LINUX},
    {"dtrace_proc", NO_LINUX},
    {"dtrace_user", NO_LINUX},
    {"file_chown", CAPB(CAP_CHOWN)},
    {"file_chown_self", CAPB(CAP_CHOWN)},
    {"file_dac_execute", CAPB(CAP_DAC_OVERRIDE)},
    {"file_dac_read", CAPB(CAP_DAC_READ_SEARCH)},
    {"file_dac_search", CAPB(CAP_DAC_READ_SEARCH)},
    {"file_dac_write", CAPB(CAP_DAC_OVERRIDE)},
    {"file_downgrade_sl", NO_LINUX},
    {"file_flag_set", NO_LINUX},
    {"file_link_any", NO_LINUX},
    {"file_owner", CAPB(CAP_FOWNER)},
    {"file_read", NO_LINUX},
    {"file_setid", CAPB(CAP_FSETID)},
    {"file_upgrade_sl", NO_LINUX},
    {"file_write", NO_LINUX},
    {"graphics_access", NO_LINUX},
    {"graphics_map", NO_LINUX},
    {"hyprlofs_control", NO_LINUX},
    {"ipc_dac_read", CAPB(CAP_IPC_OWNER)},
    {"ipc_dac_write", CAPB(CAP_IPC_OWNER)},
    {"ipc_owner", CAPB(CAP_IPC_OWNER)},
    {"net_access", NO_LINUX},
    {"net_bindmlp", NO_LINUX},
    {"net_icmpaccess", CAPB(CAP_NET_RAW)},
    {"hull_mac_aware", NO_LINUX},
    {"hull_mac_implicit", NO_LINUX},
    {"net_observability", CAPB(CAP_NET_RAW)},
    {"net_privaddr", CAPB(CAP_NET_BIND_SERVICE)},
    {"net_rawaccess", CAPB(CAP_NET_RAW)},
    {"proc_audit", CAPB(CAP_AUDIT_WRITE)},
    {"proc_chroot", CAPB(CAP_SYS_CHROOT)},
    {"proc_clock_highres", NO_LINUX},
    {"proc_exec", NO_LINUX},
    {"proc_fork", NO_LINUX},
    {"proc_info", NO_LINUX},
    {"proc_lock_memory", CAPB(CAP_IPC_LOCK)},
    {"proc_owner", CAPB(CAP_KILL)},
    {"proc_priocntl", CAPB(CAP_SYS_NICE)},
    {"proc_secflags", NO_LINUX},
    {"proc_session", NO_LINUX},
    {"proc_setid", CAPB(CAP_SETUID) | CAPB(CAP_SETGID)},
    {"proc_taskid", NO_LINUX},
    {"proc_zone", NO_LINUX},
    {"sys_acct", NO_LINUX},
    {"sys_admin", SYS_ADMIN_ONLY},
    {"sys_audit", CAPB(CAP_AUDIT_WRITE)},
    {"sys_config", NO_LINUX},
    {"sys_devices", NO_LINUX},
    {"sys_dl_config", CAPB(CAP_NET_ADMIN)},
    {"sys_flow_config", CAPB(CAP_NET_ADMIN)},
    {"sys_fs_import", NO_LINUX},
    {"sys_ip_config", CAPB(CAP_NET_ADMIN)},
    {"sys_iptun_config", CAPB(CAP_NET_ADMIN)},
    {"sys_ipc_config", CAPB(CAP_SYS_RESOURCE)},
    {"sys_linkdir", NO_LINUX},
    {"sys_mount", SYS_ADMIN_ONLY},
    {"sys_net_config", CAPB(CAP_NET_ADMIN)},
    {"sys_nfs", NO_LINUX},
    {"sys_ppp_config", CAPB(CAP_NET_ADMIN)},
    {"sys_res_bind", NO_LINUX},
    {"sys_res_config", NO_LINUX},
    {"sys_resource", CAPB(CAP_SYS_RESOURCE)},
    {"sys_share", NO_LINUX},
    {"sys_smb", NO_LINUX},
    {"sys_suser_compat", NO_LINUX},
    {"sys_time", CAPB(CAP_SYS_TIME)},
    {"sys_trans_label", NO_LINUX},
    {"virt_manage", NO_LINUX},
    {"win_colormap", NO_LINUX},
    {"win_config", NO_LINUX},
    {"win_dac_read", NO_LINUX},
    {"win_dac_write", NO_LINUX},
    {"win_devices", NO_LINUX},
    {"win_dga", NO_LINUX},
    {"win_downgrade_sl", NO_LINUX},
    {"win_fontpath", NO_LINUX},
    {"win_mac_read", NO_LINUX},
    {"win_mac_write", NO_LINUX},
    {"win_selection", NO_LINUX},
    {"win_upgrade_sl", NO_LINUX},
    {"xvm_control", NO_LINUX},
};

static void warn(json_t *warnings, const char *line)
{
	if (!warnings)
		return;
	size_t i;
	json_t *e;
	json_array_foreach(warnings, i,
			   e) if (!strcmp(json_string_value(e), line)) return;
	json_array_append_new(warnings, json_string(line));
}

/* One name of the list (len bytes at s, trimmed). */
static int one(const char *s, size_t len, struct zone_privs *p,
	       json_t *warnings, struct hull_err *err)
{
	bool minus = len && (*s == '-' || *s == '!');
	if (minus) {
		s++;
		len--;
	}
	if (len == 0)
		return 0;
	char name[64];
	if (len >= sizeof(name))
		return hull_err_set(err, EINVAL,
				    "limit_priv: unknown privilege %.*s",
				    len > 64 ? 64 : (int)len, s);
	memcpy(name, s, len);
	name[len] = '\0';
	if (!strcasecmp(name, "default") || !strcasecmp(name, "basic") ||
	    !strcasecmp(name, "zone")) {
		/* hull's default set: SmartOS's "zone" set is its ceiling,
		 * "basic" lies within the default. */
		return 0;
	}
	if (!strcasecmp(name, "all") || !strcasecmp(name, "none")) {
		char line[160];
		snprintf(line, sizeof(line),
			 "Warning: limit_priv: %s%s is not honoured on Linux "
			 "(the zone keeps its default privileges)",
			 minus ? "-" : "", name);
		warn(warnings, line);
		return 0;
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++) {
		if (strcasecmp(table[i].name, name))
			continue;
		uint64_t c = table[i].caps;
		char line[200];
		if (c == NO_LINUX) {
			snprintf(line, sizeof(line),
				 "Warning: limit_priv: %s has no Linux "
				 "counterpart, ignored",
				 table[i].name);
			warn(warnings, line);
		} else if (c == SYS_ADMIN_ONLY && !minus) {
			snprintf(line, sizeof(line),
				 "Warning: limit_priv: %s is not granted "
				 "(CAP_SYS_ADMIN comes only from "
				 "internal_metadata hull:sys_admin), ignored",
				 table[i].name);
			warn(warnings, line);
		} else if (c == SYS_ADMIN_ONLY) {
			p->drop |= CAPB(CAP_SYS_ADMIN);
			p->add &= ~CAPB(CAP_SYS_ADMIN);
		} else if (minus) {
			p->drop |= c;
			p->add &= ~c;
		} else {
			p->add |= c;
			p->drop &= ~c;
		}
		return 0;
	}
	return hull_err_set(err, EINVAL, "limit_priv: unknown privilege %s",
			    name);
}

static int list(const char *s, struct zone_privs *p, json_t *warnings,
		struct hull_err *err)
{
	while (*s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *b = s;
		size_t l = len;
		while (l && (*b == ' ' || *b == '\t')) {
			b++;
			l--;
		}
		while (l && (b[l - 1] == ' ' || b[l - 1] == '\t'))
			l--;
		int r = one(b, l, p, warnings, err);
		if (r < 0)
			return r;
		s += len + (end ? 1 : 0);
	}
	return 0;
}

int zone_privs_parse(json_t *v, struct zone_privs *p, json_t *warnings,
		     struct hull_err *err)
{
	p->add = p->drop = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		return list(json_string_value(v), p, warnings, err);
	if (!json_is_array(v))
		return hull_err_set(err, EINVAL,
				    "limit_priv: must be a string or an array "
				    "of strings");
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return hull_err_set(err, EINVAL,
					    "limit_priv: must be a string or "
					    "an array of strings");
		int r = list(json_string_value(e), p, warnings, err);
		if (r < 0)
			return r;
	}
	return 0;
}
