/*
 * config.c - hull-vmm's options and JSON config, validated.
 *
 * Every option has a JSON field of the same name (docs/hull-vmm.md), and
 * both go through the same field parsers, so a bad value reads the same
 * whichever way it came in: one line naming the field and the value.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/fileio.h"
#include "lib/mac.h"
#include "lib/xalloc.h"
#include "vmm/config.h"

void vmm_config_init(struct vmm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->memory = 256ull << 20;
	c->cpus = 1;
	c->console = VMM_CONSOLE_STDIO;
	c->restore_fd = -1;
	c->incoming_fd = -1;
	c->incoming_disks_fd = -1;
	for (unsigned i = 0; i < VMM_MAX_NETS; i++)
		c->nets[i].fd = -1;
}

void vmm_config_fini(struct vmm_config *c)
{
	free(c->kernel);
	free(c->restore);
	free(c->initrd);
	free(c->cmdline);
	for (unsigned i = 0; i < c->n_disks; i++)
		free(c->disks[i].path);
	for (unsigned i = 0; i < c->n_nets; i++)
		free(c->nets[i].tap);
	free(c->console_path);
	free(c->metadata_path);
	free(c->control_path);
	free(c->uuid);
	free(c->product);
	memset(c, 0, sizeof(*c));
}

static void set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = xstrdup(s);
}

int vmm_parse_size(const char *s, uint64_t *out, struct hull_err *err)
{
	char *end;
	uint64_t shift = 20; /* no suffix: MiB, as QEMU's -m */

	if (!isdigit((unsigned char)s[0]))
		return hull_err_set(err, EINVAL, "not a size: '%s'", s);
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return hull_err_set(err, EINVAL, "not a size: '%s'", s);
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			shift = 10;
			break;
		case 'M':
			shift = 20;
			break;
		case 'G':
			shift = 30;
			break;
		case 'T':
			shift = 40;
			break;
		default:
			return hull_err_set(err, EINVAL, "not a size: '%s'", s);
		}
		end++;
		if (*end == 'i' && end[1] == 'B')
			end += 2;
		else if (toupper((unsigned char)*end) == 'B')
			end++;
		if (*end)
			return hull_err_set(err, EINVAL, "not a size: '%s'", s);
	}
	if (v > (UINT64_MAX >> shift))
		return hull_err_set(err, ERANGE, "size too large: '%s'", s);
	*out = (uint64_t)v << shift;
	return 0;
}

static int check_memory(uint64_t m, const char *text, struct hull_err *err)
{
	if (m < VMM_MEM_MIN || m > VMM_MEM_MAX)
		return hull_err_set(err, ERANGE,
				    "memory: '%s' is out of range (8M to 1T)",
				    text);
	if (m % (2u << 20))
		return hull_err_set(
		    err, EINVAL, "memory: '%s' is not a multiple of 2M", text);
	return 0;
}

static int parse_memory(struct vmm_config *c, const char *s,
			struct hull_err *err)
{
	uint64_t m = 0;
	if (vmm_parse_size(s, &m, err) < 0)
		return hull_err_prefix(err, "memory");
	if (check_memory(m, s, err) < 0)
		return -err->code;
	c->memory = m;
	return 0;
}

static int parse_cpus_value(struct vmm_config *c, long long v, const char *text,
			    struct hull_err *err)
{
	if (v < 1 || v > VMM_MAX_CPUS)
		return hull_err_set(err, ERANGE,
				    "cpus: '%s' is out of range (1 to %d)",
				    text, VMM_MAX_CPUS);
	c->cpus = (unsigned)v;
	return 0;
}

static int parse_cpus(struct vmm_config *c, const char *s, struct hull_err *err)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!isdigit((unsigned char)s[0]) || *end || errno)
		return hull_err_set(err, EINVAL, "cpus: not a number: '%s'", s);
	return parse_cpus_value(c, v, s, err);
}

int vmm_parse_mac(const char *s, uint8_t mac[6], struct hull_err *err)
{
	uint8_t m[HULL_MAC_LEN];
	if (hull_mac_parse_canonical(s, m) < 0)
		return hull_err_set(err, EINVAL, "not a MAC address: '%s'", s);
	if (m[0] & 1)
		return hull_err_set(err, EINVAL,
				    "MAC address is multicast: '%s'", s);
	if (!hull_mac_is_unicast(m))
		return hull_err_set(err, EINVAL, "MAC address is zero: '%s'",
				    s);
	memcpy(mac, m, HULL_MAC_LEN);
	return 0;
}

static int check_path(const char *what, const char *p, struct hull_err *err)
{
	if (!p[0])
		return hull_err_set(err, EINVAL, "%s: empty path", what);
	if (strlen(p) >= PATH_MAX)
		return hull_err_set(err, ENAMETOOLONG, "%s: path too long",
				    what);
	return 0;
}

/* --restore PATH | fd=N: a snapshot file to resume instead of booting. */
static int parse_restore(struct vmm_config *c, const char *s,
			 struct hull_err *err)
{
	if (!strncmp(s, "fd=", 3)) {
		char *end;
		errno = 0;
		long fd = strtol(s + 3, &end, 10);
		if (errno || *end || end == s + 3 || fd < 3 || fd > 65535)
			return hull_err_set(err, EINVAL,
					    "restore: '%s' is not fd=N with "
					    "N >= 3",
					    s);
		free(c->restore);
		c->restore = NULL;
		c->restore_fd = (int)fd;
		return 0;
	}
	if (check_path("restore", s, err) < 0)
		return -err->code;
	free(c->restore);
	c->restore = xstrdup(s);
	c->restore_fd = -1;
	return 0;
}

static long parse_fd_num(const char *s, const char *key, size_t *used)
{
	size_t kl = strlen(key);
	char *end;
	if (strncmp(s, key, kl))
		return -1;
	errno = 0;
	long fd = strtol(s + kl, &end, 10);
	if (errno || end == s + kl || (*end && *end != ','))
		return -1;
	*used = (size_t)(end - s);
	return fd;
}

/* --incoming fd=N[,disks=M]: a connected stream socket carrying a live
 * migration, and the socket on which the disks come at its end
 * (docs/hull-vmm.md "Live migration"). */
static int parse_incoming(struct vmm_config *c, const char *s,
			  struct hull_err *err)
{
	size_t used = 0;
	long fd = parse_fd_num(s, "fd=", &used);
	long dfd = -1;
	if (fd >= 0 && s[used] == ',') {
		const char *t = s + used + 1;
		dfd = parse_fd_num(t, "disks=", &used);
		if (dfd < 3 || dfd > 65535 || t[used] || dfd == fd)
			return hull_err_set(err, EINVAL,
					    "incoming: '%s' is not fd=N or "
					    "fd=N,disks=M with N and M >= 3 "
					    "and different",
					    s);
	} else if (fd >= 0 && s[used]) {
		fd = -1;
	}
	if (fd < 3 || fd > 65535)
		return hull_err_set(
		    err, EINVAL, "incoming: '%s' is not fd=N with N >= 3", s);
	c->incoming_fd = (int)fd;
	c->incoming_disks_fd = (int)dfd;
	return 0;
}

static int check_serial(const char *s, struct hull_err *err)
{
	if (strlen(s) > VMM_SERIAL_ID_MAX)
		return hull_err_set(
		    err, EINVAL,
		    "disk serial '%s' is longer than %d characters", s,
		    VMM_SERIAL_ID_MAX);
	for (const char *p = s; *p; p++)
		if (!isprint((unsigned char)*p) || *p == ',')
			return hull_err_set(err, EINVAL,
					    "disk serial '%s' has a character "
					    "that is not printable",
					    s);
	return 0;
}

int vmm_parse_disk(const char *s, struct vmm_disk_config *d,
		   struct hull_err *err)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;
	char *tok = strtok_r(copy, ",", &save);

	memset(d, 0, sizeof(*d));
	if (!tok || s[0] == ',')
		return hull_err_set(err, EINVAL, "disk: no path in '%s'", s);
	if (check_path("disk", tok, err) < 0)
		return -err->code;
	d->path = xstrdup(tok);
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "ro")) {
			d->readonly = true;
		} else if (!strncmp(tok, "serial=", 7)) {
			if (check_serial(tok + 7, err) < 0)
				goto fail;
			strcpy(d->serial, tok + 7);
		} else {
			hull_err_set(err, EINVAL,
				     "disk: unknown option '%s' in '%s'", tok,
				     s);
			goto fail;
		}
	}
	return 0;
fail:
	free(d->path);
	d->path = NULL;
	return -err->code;
}

static int check_tap_name(const char *t, struct hull_err *err)
{
	if (!t[0] || strlen(t) >= 16)
		return hull_err_set(
		    err, EINVAL,
		    "net: tap name '%s' must be 1 to 15 characters", t);
	for (const char *p = t; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			return hull_err_set(
			    err, EINVAL,
			    "net: tap name '%s' has a character not allowed in "
			    "an interface name",
			    t);
	return 0;
}

static int parse_fd(const char *s, int *fd, struct hull_err *err)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!isdigit((unsigned char)s[0]) || *end || errno || v < 3 ||
	    v > INT_MAX)
		return hull_err_set(
		    err, EINVAL,
		    "net: fd must be a descriptor number of 3 or more: '%s'",
		    s);
	*fd = (int)v;
	return 0;
}

int vmm_parse_net(const char *s, struct vmm_net_config *n, struct hull_err *err)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	for (char *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "tap=", 4)) {
			if (check_tap_name(tok + 4, err) < 0)
				goto fail;
			free(n->tap);
			n->tap = xstrdup(tok + 4);
		} else if (!strncmp(tok, "fd=", 3)) {
			if (parse_fd(tok + 3, &n->fd, err) < 0)
				goto fail;
		} else if (!strncmp(tok, "mac=", 4)) {
			if (vmm_parse_mac(tok + 4, n->mac, err) < 0) {
				hull_err_prefix(err, "net");
				goto fail;
			}
			n->has_mac = true;
		} else {
			hull_err_set(err, EINVAL,
				     "net: unknown option '%s' in '%s'", tok,
				     s);
			goto fail;
		}
	}
	if (!n->tap == (n->fd < 0)) {
		hull_err_set(err, EINVAL,
			     "net: give exactly one of tap=NAME or fd=N: '%s'",
			     s);
		goto fail;
	}
	return 0;
fail:
	free(n->tap);
	n->tap = NULL;
	return -err->code;
}

static int parse_unix(const char *what, const char *s, char **out,
		      struct hull_err *err)
{
	if (strncmp(s, "unix:", 5))
		return hull_err_set(
		    err, EINVAL, "%s: expected unix:PATH, got '%s'", what, s);
	if (check_path(what, s + 5, err) < 0)
		return -err->code;
	/* sun_path is 108 bytes with the NUL */
	if (strlen(s + 5) > 107)
		return hull_err_set(err, ENAMETOOLONG,
				    "%s: socket path longer than 107 bytes",
				    what);
	set_str(out, s + 5);
	return 0;
}

static int parse_console(struct vmm_config *c, const char *s,
			 struct hull_err *err)
{
	if (!strcmp(s, "stdio")) {
		c->console = VMM_CONSOLE_STDIO;
	} else if (!strcmp(s, "pty")) {
		c->console = VMM_CONSOLE_PTY;
	} else if (!strcmp(s, "none")) {
		c->console = VMM_CONSOLE_NONE;
	} else if (!strncmp(s, "unix:", 5)) {
		if (parse_unix("console", s, &c->console_path, err) < 0)
			return -err->code;
		c->console = VMM_CONSOLE_UNIX;
	} else {
		return hull_err_set(
		    err, EINVAL,
		    "console: expected stdio, pty, none or unix:PATH, got '%s'",
		    s);
	}
	return 0;
}

static int parse_uuid(struct vmm_config *c, const char *s, struct hull_err *err)
{
	if (strlen(s) != 36)
		return hull_err_set(err, EINVAL, "uuid: not a UUID: '%s'", s);
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return hull_err_set(err, EINVAL,
					    "uuid: not a UUID: '%s'", s);
	}
	set_str(&c->uuid, s);
	return 0;
}

static int parse_product(struct vmm_config *c, const char *s,
			 struct hull_err *err)
{
	if (!s[0] || strlen(s) > 64)
		return hull_err_set(err, EINVAL,
				    "product: must be 1 to 64 characters");
	for (const char *p = s; *p; p++)
		if (!isprint((unsigned char)*p))
			return hull_err_set(
			    err, EINVAL,
			    "product: has a character that is not printable");
	set_str(&c->product, s);
	return 0;
}

static int parse_cmdline(struct vmm_config *c, const char *s,
			 struct hull_err *err)
{
	if (strlen(s) > VMM_CMDLINE_MAX)
		return hull_err_set(err, E2BIG, "cmdline: longer than %d bytes",
				    VMM_CMDLINE_MAX);
	set_str(&c->cmdline, s);
	return 0;
}

static int add_disk(struct vmm_config *c, const char *s, struct hull_err *err)
{
	if (c->n_disks == VMM_MAX_DISKS)
		return hull_err_set(err, E2BIG, "disk: more than %d disks",
				    VMM_MAX_DISKS);
	if (vmm_parse_disk(s, &c->disks[c->n_disks], err) < 0)
		return -err->code;
	c->n_disks++;
	return 0;
}

static int add_net(struct vmm_config *c, const char *s, struct hull_err *err)
{
	if (c->n_nets == VMM_MAX_NETS)
		return hull_err_set(err, E2BIG, "net: more than %d nics",
				    VMM_MAX_NETS);
	if (vmm_parse_net(s, &c->nets[c->n_nets], err) < 0)
		return -err->code;
	c->n_nets++;
	return 0;
}

static int parse_boot(struct vmm_config *c, const char *s, struct hull_err *err)
{
	if (!strcmp(s, "auto"))
		c->boot = VMM_BOOT_AUTO;
	else if (!strcmp(s, "linux"))
		c->boot = VMM_BOOT_LINUX;
	else if (!strcmp(s, "pvh"))
		c->boot = VMM_BOOT_PVH;
	else
		return hull_err_set(
		    err, EINVAL, "boot: expected auto, linux or pvh, got '%s'",
		    s);
	return 0;
}

static int parse_forbidden(struct vmm_config *c, const char *s,
			   struct hull_err *err)
{
	if (!strcmp(s, "execve"))
		c->forbidden = VMM_FORBIDDEN_EXECVE;
	else if (!strcmp(s, "open"))
		c->forbidden = VMM_FORBIDDEN_OPEN;
	else
		return hull_err_set(
		    err, EINVAL,
		    "test-forbidden-syscall: expected execve or open, got '%s'",
		    s);
	return 0;
}

/* --- JSON ---------------------------------------------------------------- */

static int json_want_string(const char *key, json_t *v, const char **out,
			    struct hull_err *err)
{
	if (!json_is_string(v))
		return hull_err_set(err, EINVAL, "config: %s: must be a string",
				    key);
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v))
		return hull_err_set(err, EINVAL,
				    "config: %s: contains a NUL byte", key);
	return 0;
}

static int json_want_bool(const char *key, json_t *v, bool *out,
			  struct hull_err *err)
{
	if (!json_is_boolean(v))
		return hull_err_set(err, EINVAL,
				    "config: %s: must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int json_disk(struct vmm_config *c, size_t i, json_t *d,
		     struct hull_err *err)
{
	const char *key;
	json_t *v;
	struct vmm_disk_config disk = {0};

	if (!json_is_object(d))
		return hull_err_set(err, EINVAL,
				    "config: disks[%zu]: must be an object", i);
	if (c->n_disks == VMM_MAX_DISKS)
		return hull_err_set(err, E2BIG,
				    "config: disks: more than %d disks",
				    VMM_MAX_DISKS);
	json_object_foreach(d, key, v)
	{
		const char *s = NULL;
		if (!strcmp(key, "path")) {
			if (json_want_string("disks[].path", v, &s, err) < 0 ||
			    check_path("config: disks[].path", s, err) < 0)
				goto fail;
			set_str(&disk.path, s);
		} else if (!strcmp(key, "readonly")) {
			if (json_want_bool("disks[].readonly", v,
					   &disk.readonly, err) < 0)
				goto fail;
		} else if (!strcmp(key, "serial")) {
			if (json_want_string("disks[].serial", v, &s, err) < 0)
				goto fail;
			if (check_serial(s, err) < 0) {
				hull_err_prefix(err, "config");
				goto fail;
			}
			strcpy(disk.serial, s);
		} else {
			hull_err_set(err, EINVAL,
				     "config: disks[%zu]: unknown field '%s'",
				     i, key);
			goto fail;
		}
	}
	if (!disk.path) {
		hull_err_set(err, EINVAL, "config: disks[%zu]: path is missing",
			     i);
		goto fail;
	}
	c->disks[c->n_disks++] = disk;
	return 0;
fail:
	free(disk.path);
	return -err->code;
}

static int json_net(struct vmm_config *c, size_t i, json_t *n,
		    struct hull_err *err)
{
	const char *key;
	json_t *v;
	struct vmm_net_config net = {.fd = -1};

	if (!json_is_object(n))
		return hull_err_set(err, EINVAL,
				    "config: nets[%zu]: must be an object", i);
	if (c->n_nets == VMM_MAX_NETS)
		return hull_err_set(err, E2BIG,
				    "config: nets: more than %d nics",
				    VMM_MAX_NETS);
	json_object_foreach(n, key, v)
	{
		const char *s = NULL;
		if (!strcmp(key, "tap")) {
			if (json_want_string("nets[].tap", v, &s, err) < 0)
				goto fail;
			if (check_tap_name(s, err) < 0) {
				hull_err_prefix(err, "config");
				goto fail;
			}
			set_str(&net.tap, s);
		} else if (!strcmp(key, "fd")) {
			if (!json_is_integer(v) || json_integer_value(v) < 3 ||
			    json_integer_value(v) > INT_MAX) {
				hull_err_set(err, EINVAL,
					     "config: nets[].fd: must be a "
					     "descriptor number of 3 or more");
				goto fail;
			}
			net.fd = (int)json_integer_value(v);
		} else if (!strcmp(key, "mac")) {
			if (json_want_string("nets[].mac", v, &s, err) < 0)
				goto fail;
			if (vmm_parse_mac(s, net.mac, err) < 0) {
				hull_err_prefix(err, "config: nets[].mac");
				goto fail;
			}
			net.has_mac = true;
		} else {
			hull_err_set(err, EINVAL,
				     "config: nets[%zu]: unknown field '%s'", i,
				     key);
			goto fail;
		}
	}
	if (!net.tap == (net.fd < 0)) {
		hull_err_set(err, EINVAL,
			     "config: nets[%zu]: give exactly one of tap or fd",
			     i);
		goto fail;
	}
	c->nets[c->n_nets++] = net;
	return 0;
fail:
	free(net.tap);
	return -err->code;
}

static int json_field(struct vmm_config *c, const char *key, json_t *v,
		      struct hull_err *err)
{
	const char *s = NULL;
	int r = 0;

	if (!strcmp(key, "memory")) {
		if (json_is_integer(v)) {
			/* a bare number is MiB, as on the command line */
			json_int_t m = json_integer_value(v);
			char text[32];
			snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
				 m);
			if (m < 0 || (uint64_t)m > (VMM_MEM_MAX >> 20))
				return hull_err_set(err, ERANGE,
						    "config: memory: '%s' is "
						    "out of range (8M to 1T)",
						    text);
			if (check_memory((uint64_t)m << 20, text, err) < 0)
				return hull_err_prefix(err, "config");
			c->memory = (uint64_t)m << 20;
			return 0;
		}
		if (json_want_string("memory", v, &s, err) < 0)
			return -err->code;
		r = parse_memory(c, s, err);
	} else if (!strcmp(key, "cpus")) {
		char text[32];
		if (!json_is_integer(v))
			return hull_err_set(err, EINVAL,
					    "config: cpus: must be an integer");
		snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		r = parse_cpus_value(c, json_integer_value(v), text, err);
	} else if (!strcmp(key, "restore")) {
		if (json_want_string(key, v, &s, err) < 0)
			return -err->code;
		if (parse_restore(c, s, err) < 0)
			return hull_err_prefix(err, "config");
		return 0;
	} else if (!strcmp(key, "kernel") || !strcmp(key, "initrd")) {
		if (json_want_string(key, v, &s, err) < 0)
			return -err->code;
		if (check_path(key, s, err) < 0)
			return hull_err_prefix(err, "config");
		set_str(key[0] == 'k' ? &c->kernel : &c->initrd, s);
		return 0;
	} else if (!strcmp(key, "cmdline")) {
		if (json_want_string(key, v, &s, err) < 0)
			return -err->code;
		r = parse_cmdline(c, s, err);
	} else if (!strcmp(key, "disks")) {
		size_t i;
		json_t *d;
		if (!json_is_array(v))
			return hull_err_set(err, EINVAL,
					    "config: disks: must be an array");
		json_array_foreach(v, i, d) if (json_disk(c, i, d, err) <
						0) return -err->code;
		return 0;
	} else if (!strcmp(key, "nets")) {
		size_t i;
		json_t *n;
		if (!json_is_array(v))
			return hull_err_set(err, EINVAL,
					    "config: nets: must be an array");
		json_array_foreach(v, i, n) if (json_net(c, i, n, err) <
						0) return -err->code;
		return 0;
	} else if (!strcmp(key, "console")) {
		if (json_want_string(key, v, &s, err) < 0)
			return -err->code;
		r = parse_console(c, s, err);
	} else if (!strcmp(key, "metadata") || !strcmp(key, "control")) {
		if (json_want_string(key, v, &s, err) < 0)
			return -err->code;
		r = parse_unix(
		    key, s,
		    key[0] == 'm' ? &c->metadata_path : &c->control_path, err);
	} else if (!strcmp(key, "uuid")) {
		if (json_want_string(key, v, &s, err) < 0)
			return -err->code;
		r = parse_uuid(c, s, err);
	} else if (!strcmp(key, "product")) {
		if (json_want_string(key, v, &s, err) < 0)
			return -err->code;
		r = parse_product(c, s, err);
	} else if (!strcmp(key, "boot")) {
		if (json_want_string(key, v, &s, err) < 0)
			return -err->code;
		r = parse_boot(c, s, err);
	} else if (!strcmp(key, "rng") || !strcmp(key, "virtio_console")) {
		return json_want_bool(
		    key, v, key[0] == 'r' ? &c->rng : &c->vconsole, err);
	} else {
		return hull_err_set(err, EINVAL, "config: unknown field '%s'",
				    key);
	}
	if (r < 0)
		return hull_err_prefix(err, "config");
	return 0;
}

int vmm_config_apply_json(struct vmm_config *c, const char *text, size_t len,
			  struct hull_err *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *key;
	json_t *v;
	int r = 0;

	if (!root)
		return hull_err_set(err, EINVAL, "config: line %d: %s",
				    jerr.line, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return hull_err_set(err, EINVAL,
				    "config: must be a JSON object");
	}
	json_object_foreach(root, key, v)
	{
		if ((r = json_field(c, key, v, err)) < 0)
			break;
	}
	json_decref(root);
	return r;
}

/* --- options ------------------------------------------------------------- */

enum {
	OPT_CONFIG = 256,
	OPT_UUID,
	OPT_PRODUCT,
	OPT_RNG,
	OPT_VCONSOLE,
	OPT_FORBIDDEN,
	OPT_CHECK,
	OPT_METADATA,
	OPT_CONTROL,
	OPT_VERSION,
	OPT_BOOT_TIMER,
	OPT_BOOT,
	OPT_RESTORE,
	OPT_INCOMING
};

static const struct option options[] = {
    {"memory", required_argument, NULL, 'm'},
    {"cpus", required_argument, NULL, 'c'},
    {"kernel", required_argument, NULL, 'k'},
    {"initrd", required_argument, NULL, 'i'},
    {"cmdline", required_argument, NULL, 'p'},
    {"disk", required_argument, NULL, 'd'},
    {"net", required_argument, NULL, 'n'},
    {"console", required_argument, NULL, 's'},
    {"metadata", required_argument, NULL, OPT_METADATA},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"uuid", required_argument, NULL, OPT_UUID},
    {"product", required_argument, NULL, OPT_PRODUCT},
    {"rng", no_argument, NULL, OPT_RNG},
    {"virtio-console", no_argument, NULL, OPT_VCONSOLE},
    {"check", no_argument, NULL, OPT_CHECK},
    {"boot-timer", no_argument, NULL, OPT_BOOT_TIMER},
    {"boot", required_argument, NULL, OPT_BOOT},
    {"restore", required_argument, NULL, OPT_RESTORE},
    {"incoming", required_argument, NULL, OPT_INCOMING},
    {"test-forbidden-syscall", required_argument, NULL, OPT_FORBIDDEN},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char usage_text[] =
    "usage: hull-vmm [OPTIONS]\n"
    "Runs one KVM virtual machine (see the hull-vmm man page).\n"
    "  --memory SIZE            guest memory, e.g. 512M or 2G (default 256M)\n"
    "  --cpus N                 vCPUs, 1 to 64 (default 1)\n"
    "  --kernel PATH            bzImage or ELF kernel with a PVH entry note\n"
    "  --initrd PATH            initial ramdisk\n"
    "  --cmdline STRING         kernel command line\n"
    "  --boot auto|linux|pvh    how a bzImage boots (default auto: PVH into\n"
    "                           its ELF payload when it can)\n"
    "  --disk PATH[,ro][,serial=ID]   virtio-blk disk (repeatable)\n"
    "  --net tap=NAME|fd=N[,mac=MAC]  virtio-net nic (repeatable)\n"
    "  --rng                    virtio-rng device\n"
    "  --virtio-console         virtio-console device on the console\n"
    "  --console stdio|pty|none|unix:PATH   COM1 (default stdio)\n"
    "  --metadata unix:PATH     COM2 on a listening unix socket\n"
    "  --control unix:PATH      JSON-lines control socket\n"
    "  --uuid UUID              SMBIOS system UUID\n"
    "  --product NAME           SMBIOS product name\n"
    "  --config FILE.json       the same fields as a JSON object\n"
    "  --check                  validate and open everything, then exit\n"
    "  --boot-timer             print when the guest first writes port 0x440\n"
    "  --restore PATH|fd=N      resume a memory snapshot instead of booting\n"
    "  --incoming fd=N[,disks=M] receive a live migration on this socket\n"
    "                           (and the disks on socket M at its end)\n"
    "  --help, --version\n";

int vmm_config_parse_args(struct vmm_config *c, int argc, char **argv,
			  char **out_text, struct hull_err *err)
{
	int opt, r = 0;

	*out_text = NULL;
	optind = 0; /* full reset, so the unit tests can parse repeatedly */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:", options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			r = parse_memory(c, optarg, err);
			break;
		case 'c':
			r = parse_cpus(c, optarg, err);
			break;
		case 'k':
		case 'i':
			if ((r = check_path(opt == 'k' ? "kernel" : "initrd",
					    optarg, err)) == 0)
				set_str(opt == 'k' ? &c->kernel : &c->initrd,
					optarg);
			break;
		case 'p':
			r = parse_cmdline(c, optarg, err);
			break;
		case 'd':
			r = add_disk(c, optarg, err);
			break;
		case 'n':
			r = add_net(c, optarg, err);
			break;
		case 's':
			r = parse_console(c, optarg, err);
			break;
		case OPT_METADATA:
			r = parse_unix("metadata", optarg, &c->metadata_path,
				       err);
			break;
		case OPT_CONTROL:
			r = parse_unix("control", optarg, &c->control_path,
				       err);
			break;
		case OPT_UUID:
			r = parse_uuid(c, optarg, err);
			break;
		case OPT_PRODUCT:
			r = parse_product(c, optarg, err);
			break;
		case OPT_RNG:
			c->rng = true;
			break;
		case OPT_VCONSOLE:
			c->vconsole = true;
			break;
		case OPT_CHECK:
			c->check_only = true;
			break;
		case OPT_BOOT_TIMER:
			c->boot_timer = true;
			break;
		case OPT_RESTORE:
			r = parse_restore(c, optarg, err);
			break;
		case OPT_INCOMING:
			r = parse_incoming(c, optarg, err);
			break;
		case OPT_BOOT:
			r = parse_boot(c, optarg, err);
			break;
		case OPT_FORBIDDEN:
			r = parse_forbidden(c, optarg, err);
			break;
		case OPT_CONFIG: {
			_cleanup_free_ char *text = NULL;
			size_t len;
			if ((r = hull_file_read(optarg, 1 << 20, &text, &len,
						err)) < 0) {
				hull_err_prefix(err, "config");
				break;
			}
			r = vmm_config_apply_json(c, text, len, err);
			break;
		}
		case 'h':
			*out_text = xstrdup(usage_text);
			return 1;
		case OPT_VERSION:
			*out_text =
			    xasprintf("hull-vmm (hull) %s\n", HULL_VERSION);
			return 1;
		case ':':
			return hull_err_set(err, EINVAL,
					    "option %s needs a value",
					    argv[optind - 1]);
		default:
			return hull_err_set(
			    err, EINVAL,
			    "unknown option '%s' (see hull-vmm --help)",
			    argv[optind - 1]);
		}
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return hull_err_set(
		    err, EINVAL,
		    "unexpected argument '%s' (see hull-vmm --help)",
		    argv[optind]);
	return 0;
}

int vmm_config_validate(const struct vmm_config *c, struct hull_err *err)
{
	if (!c->kernel && !c->restore && c->restore_fd < 0 &&
	    c->incoming_fd < 0)
		return hull_err_set(err, EINVAL,
				    "no kernel: give --kernel PATH");
	if (c->incoming_fd >= 0 && (c->restore || c->restore_fd >= 0))
		return hull_err_set(err, EINVAL,
				    "--incoming and --restore exclude each "
				    "other");
	for (unsigned i = 0; i < c->n_disks; i++)
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(c->disks[i].path, c->disks[j].path) &&
			    (!c->disks[i].readonly || !c->disks[j].readonly))
				return hull_err_set(
				    err, EBUSY,
				    "disk %s is given twice and at least once "
				    "read-write",
				    c->disks[i].path);
	return 0;
}
