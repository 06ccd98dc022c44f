/*
 * host.c - host facts for sysinfo (see host.h). Everything comes from the
 * kernel's own files and calls: /proc, /sys, uname, getifaddrs, /dev/kvm.
 */
#include "lib/host.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <linux/kvm.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "lib/cgroupfs.h"
#include "lib/fileio.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* ---- pure ---- */

int host_machine_id_to_uuid(const char *id, char out[37])
{
	size_t n = 0;
	char hex[33];
	for (const char *c = id; *c && *c != '\n'; c++) {
		if (!isxdigit((unsigned char)*c) || n == 32)
			return -1;
		hex[n++] = (char)tolower((unsigned char)*c);
	}
	if (n != 32)
		return -1;
	hex[32] = '\0';
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
	return 0;
}

json_t *host_cmdline_parse(const char *cmdline)
{
	json_t *o = json_object();
	_cleanup_free_ char *copy = xstrdup(cmdline ? cmdline : "");
	char *save = NULL;
	for (char *tok = strtok_r(copy, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		/* What follows "--" is for init, not the kernel. */
		if (strcmp(tok, "--") == 0)
			break;
		char *eq = strchr(tok, '=');
		if (eq)
			*eq = '\0';
		if (!*tok)
			continue;
		json_object_set_new(o, tok, json_string(eq ? eq + 1 : ""));
	}
	return o;
}

static void flat_key(char *buf, size_t len, const char *prefix, const char *key)
{
	snprintf(buf, len, "%s%s%s", prefix, *prefix ? "_" : "", key);
	for (char *c = buf; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			*c = '_';
}

static void flat_value(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

static char *scalar_text(json_t *v)
{
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%lld", (long long)json_integer_value(v));
	if (json_is_real(v))
		return xasprintf("%g", json_real_value(v));
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "true" : "false");
	return xstrdup("");
}

static void flatten_into(FILE *f, const char *prefix, json_t *v)
{
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x)
		{
			char key[512];
			flat_key(key, sizeof(key), prefix, k);
			flatten_into(f, key, x);
		}
		return;
	}
	char *text;
	if (json_is_array(v)) {
		size_t i, len = 0;
		json_t *x;
		text = xstrdup("");
		json_array_foreach(v, i, x)
		{
			char *s = scalar_text(x);
			char *t = xasprintf("%s%s%s", text, len ? "," : "", s);
			free(s);
			free(text);
			text = t;
			len++;
		}
	} else {
		text = scalar_text(v);
	}
	fprintf(f, "%s=", prefix);
	flat_value(f, text);
	fputc('\n', f);
	free(text);
}

char *host_sysinfo_flatten(json_t *info)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	flatten_into(f, "", info);
	fclose(f);
	return buf;
}

/* ---- facts ---- */

static char *read_line(const char *path)
{
	char *buf = NULL;
	size_t len;
	if (hull_file_read(path, 1 << 16, &buf, &len, NULL) < 0)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/*
 * A pool's own server identity (HULL_ROOT set): R/var/server-uuid, 0600,
 * made once. Written to a temp file and then linked into place, so two
 * processes making it at once agree on the first one linked and no reader
 * ever sees a half-written file.
 */
static int pool_uuid_get(const char *root, char out[37], struct hull_err *err)
{
	_cleanup_free_ char *var = xasprintf("%s/var", root);
	_cleanup_free_ char *path = xasprintf("%s/server-uuid", var);
	for (int tries = 0; tries < 2; tries++) {
		_cleanup_free_ char *kept = read_line(path);
		if (kept && hull_uuid_valid(kept)) {
			snprintf(out, 37, "%s", kept);
			return 0;
		}
		if (kept)
			return hull_err_set(
			    err, EINVAL, "server uuid: %s is not a uuid", path);
		int r = hull_mkdir_p(var, 0700, err);
		if (r < 0)
			return hull_err_prefix(err, "server uuid");
		char fresh[HULL_UUID_LEN + 1];
		hull_uuid_generate(fresh);
		_cleanup_free_ char *tmp =
		    xasprintf("%s.%d.tmp", path, (int)getpid());
		_cleanup_free_ char *text = xasprintf("%s\n", fresh);
		r = hull_file_write_atomic(tmp, text, strlen(text), 0600, err);
		if (r < 0)
			return hull_err_prefix(err, "server uuid");
		r = link(tmp, path);
		int e = errno;
		unlink(tmp);
		if (r == 0) {
			snprintf(out, 37, "%s", fresh);
			return 0;
		}
		if (e != EEXIST)
			return hull_err_sys(err, e, "server uuid: %s", path);
	}
	return hull_err_set(err, EIO, "server uuid: %s unreadable", path);
}

int host_uuid_get(char out[37], struct hull_err *err)
{
	/* A pool of its own (tests, several simulated compute nodes on one
	 * machine) is a server of its own: it must not share the host's
	 * identity with every other pool. */
	const char *env = getenv("HULL_ROOT");
	if (env && *env)
		return pool_uuid_get(hull_root(), out, err);
	_cleanup_free_ char *mid = read_line("/etc/machine-id");
	if (mid && host_machine_id_to_uuid(mid, out) == 0)
		return 0;
	_cleanup_free_ char *dmi = read_line("/sys/class/dmi/id/product_uuid");
	if (dmi && hull_uuid_valid(dmi)) {
		for (int i = 0; i < 36; i++)
			out[i] = (char)tolower((unsigned char)dmi[i]);
		out[36] = '\0';
		return 0;
	}
	_cleanup_free_ char *kept = read_line(HOST_UUID_FILE);
	if (kept && hull_uuid_valid(kept)) {
		snprintf(out, 37, "%s", kept);
		return 0;
	}
	char fresh[HULL_UUID_LEN + 1];
	hull_uuid_generate(fresh);
	_cleanup_free_ char *text = xasprintf("%s\n", fresh);
	int r = hull_mkdir_p("/var/lib/hull", 0755, err);
	if (r == 0)
		r = hull_file_write_atomic(HOST_UUID_FILE, text, strlen(text),
					   0644, err);
	if (r < 0)
		return hull_err_prefix(err, "host uuid");
	snprintf(out, 37, "%s", fresh);
	return 0;
}

const char *host_cgroup_layout(void)
{
	struct statfs st;
	/* Under `ip netns exec` the hierarchies are mounted privately first
	 * (where that fails, what is left to see is reported). */
	hull_cgroupfs_ensure(NULL);
	if (statfs(HULL_CGROUP_ROOT, &st) == 0 &&
	    st.f_type == CGROUP2_SUPER_MAGIC)
		return "v2";
	if (statfs(HULL_CGROUP_ROOT "/unified", &st) == 0 &&
	    st.f_type == CGROUP2_SUPER_MAGIC)
		return "hybrid";
	return "v1";
}

bool host_kvm_usable(int *max_vcpus)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;
	if (ok && max_vcpus) {
		int n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
		if (n <= 0)
			n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
		*max_vcpus = n > 0 ? n : 0;
	}
	close(fd);
	return ok;
}

/* CPU model, virtualization flag and socket count from /proc/cpuinfo. */
static void cpu_facts(json_t *o)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	char *model = NULL;
	const char *virt = "none";
	/* Socket ids seen; hosts have few. */
	long sockets[256];
	int nsock = 0;
	while (f && getline(&line, &cap, f) > 0) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		char *val = colon + 1;
		while (*val == ' ')
			val++;
		val[strcspn(val, "\n")] = '\0';
		if (!model && strncmp(line, "model name", 10) == 0) {
			model = xstrdup(val);
		} else if (strncmp(line, "flags", 5) == 0) {
			char *s = xasprintf(" %s ", val);
			if (strstr(s, " vmx "))
				virt = "vmx";
			else if (strstr(s, " svm "))
				virt = "svm";
			free(s);
		} else if (strncmp(line, "physical id", 11) == 0) {
			long id = strtol(val, NULL, 10);
			bool seen = false;
			for (int i = 0; i < nsock; i++)
				seen |= sockets[i] == id;
			if (!seen && nsock < 256)
				sockets[nsock++] = id;
		}
	}
	free(line);
	if (f)
		fclose(f);
	json_object_set_new(o, "CPU Type",
			    json_string(model ? model : "unknown"));
	json_object_set_new(o, "CPU Virtualization", json_string(virt));
	json_object_set_new(o, "VM Capable",
			    json_boolean(strcmp(virt, "none")));
	json_object_set_new(o, "CPU Physical Cores",
			    json_integer(nsock > 0 ? nsock : 1));
	json_object_set_new(o, "CPU Total Cores",
			    json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
	free(model);
}

static long long meminfo_kib(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char *line = NULL;
	size_t cap = 0, kl = strlen(key);
	long long v = 0;
	while (f && getline(&line, &cap, f) > 0)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtoll(line + kl + 1, NULL, 10);
	free(line);
	if (f)
		fclose(f);
	return v;
}

static long long boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char *line = NULL;
	size_t cap = 0;
	long long v = 0;
	while (f && getline(&line, &cap, f) > 0)
		if (strncmp(line, "btime ", 6) == 0)
			v = strtoll(line + 6, NULL, 10);
	free(line);
	if (f)
		fclose(f);
	return v;
}

/* One entry per interface but the loopback: MAC, IPv4 addresses, link. */
static json_t *interfaces(void)
{
	json_t *o = json_object();
	struct ifaddrs *ifa;
	if (getifaddrs(&ifa) < 0)
		return o;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_name || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		json_t *nic = json_object_get(o, i->ifa_name);
		if (!nic) {
			nic = json_pack("{s:s, s:s, s:[], s:s, s:[]}",
					"MAC Address", "", "ip4addr", "",
					"IPv4 Addresses", "Link Status",
					(i->ifa_flags & IFF_UP) &&
						(i->ifa_flags & IFF_RUNNING)
					    ? "up"
					    : "down",
					"NIC Names");
			json_object_set_new(o, i->ifa_name, nic);
		}
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_PACKET) {
			const struct sockaddr_ll *ll =
			    (const struct sockaddr_ll *)i->ifa_addr;
			char packed[3 * 8] = "";
			for (int b = 0; b < ll->sll_halen && b < 8; b++) {
				char part[4];
				snprintf(part, sizeof(part), "%s%02x",
					 b ? ":" : "", ll->sll_addr[b]);
				strncat(packed, part,
					sizeof(packed) - strlen(packed) - 1);
			}
			json_object_set_new(nic, "MAC Address",
					    json_string(packed));
		} else if (i->ifa_addr->sa_family == AF_INET) {
			char a[INET_ADDRSTRLEN];
			const struct sockaddr_in *in =
			    (const struct sockaddr_in *)i->ifa_addr;
			inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
			json_array_append_new(
			    json_object_get(nic, "IPv4 Addresses"),
			    json_string(a));
			if (!*json_string_value(
				json_object_get(nic, "ip4addr")))
				json_object_set_new(nic, "ip4addr",
						    json_string(a));
		}
	}
	freeifaddrs(ifa);
	return o;
}

json_t *host_sysinfo_collect(struct hull_err *err)
{
	char uuid[37];
	if (host_uuid_get(uuid, err) < 0)
		return NULL;
	json_t *o = json_object();
	struct utsname u;
	uname(&u);
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	json_object_set_new(o, "UUID", json_string(uuid));
	json_object_set_new(o, "Hostname", json_string(host));
	json_object_set_new(o, "System Type", json_string("Linux"));
	json_object_set_new(o, "Kernel Version", json_string(u.release));
	/* On the platform image the live image is the platform's version
	 * (its initramfs writes it at boot); elsewhere hull's own. */
	_cleanup_free_ char *pi = read_line("/etc/hull/platform");
	json_object_set_new(o, "Live Image",
			    json_string(pi && *pi ? pi : HULL_VERSION));
	json_object_set_new(o, "Hull Version", json_string(HULL_VERSION));
	_cleanup_free_ char *bt = xasprintf("%lld", boot_time());
	json_object_set_new(o, "Boot Time", json_string(bt));
	cpu_facts(o);
	/* SmartOS gives the memory as a string of MiB. */
	_cleanup_free_ char *mib =
	    xasprintf("%lld", meminfo_kib("MemTotal") / 1024);
	json_object_set_new(o, "MiB of Memory", json_string(mib));
	int maxv = 0;
	bool kvm = host_kvm_usable(&maxv);
	json_object_set_new(o, "HVM API", json_boolean(kvm));
	json_object_set_new(o, "Bhyve Capable", json_boolean(kvm));
	json_object_set_new(o, "Bhyve Max Vcpus", json_integer(kvm ? maxv : 0));
	json_object_set_new(o, "Cgroup Layout",
			    json_string(host_cgroup_layout()));
	static const char *const dmi[][2] = {
	    {"Manufacturer", "/sys/class/dmi/id/sys_vendor"},
	    {"Product", "/sys/class/dmi/id/product_name"},
	    {"Serial Number", "/sys/class/dmi/id/product_serial"},
	};
	for (size_t i = 0; i < sizeof(dmi) / sizeof(dmi[0]); i++) {
		char *v = read_line(dmi[i][1]);
		if (v)
			json_object_set_new(o, dmi[i][0], json_string(v));
		free(v);
	}
	_cleanup_free_ char *cmdline = read_line("/proc/cmdline");
	json_object_set_new(o, "Boot Parameters", host_cmdline_parse(cmdline));
	json_object_set_new(o, "Network Interfaces", interfaces());
	return o;
}
