/*
 * qemumig.c - the pure half of the kvm brand's live migration (see
 * qemumig.h).
 */
#include "hvm/qemumig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/strv.h"
#include "lib/xalloc.h"

/* The sockets QEMU listens on in the run directory (qemu.h). */
static const char *const run_socks[] = {"console.sock", "ttyb.sock", "qmp.sock",
					"qmp-cmd.sock", "vnc.sock",  NULL};

/* Bounds on what a command line may hold: QEMU's own is a few KiB. */
#define CMDLINE_ARGS_MAX 512

char **hvm_qemu_cmdline_parse(const char *buf, size_t len, struct hull_err *err)
{
	if (len == 0 || buf[len - 1] != '\0') {
		hull_err_set(err, EINVAL,
			     "QEMU's command line: not "
			     "NUL-terminated");
		return NULL;
	}
	struct hull_strv v = {0};
	size_t n = 0;
	for (size_t off = 0; off < len; n++) {
		size_t l = strlen(buf + off);
		if (n == CMDLINE_ARGS_MAX) {
			hull_strv_free(hull_strv_steal(&v));
			hull_err_set(err, E2BIG,
				     "QEMU's command line: over %d arguments",
				     CMDLINE_ARGS_MAX);
			return NULL;
		}
		hull_strv_add(&v, buf + off);
		off += l + 1;
	}
	return hull_strv_steal(&v);
}

/* The value of ",fd=" in a -netdev tap option, or NULL. */
static const char *tap_fd_opt(const char *opt)
{
	if (strncmp(opt, "tap,", 4))
		return NULL;
	for (const char *p = opt; (p = strchr(p, ',')); p++)
		if (!strncmp(p, ",fd=", 4))
			return p + 4;
	return NULL;
}

int hvm_qemu_argv_taps(char *const *argv, int *fds, size_t max,
		       struct hull_err *err)
{
	size_t n = 0;
	for (size_t i = 0; argv[i]; i++) {
		if (strcmp(argv[i], "-netdev") || !argv[i + 1])
			continue;
		const char *v = tap_fd_opt(argv[i + 1]);
		if (!v)
			continue;
		char *end;
		long fd = strtol(v, &end, 10);
		if (end == v || (*end && *end != ',') || fd < 3 || fd > 65535)
			return hull_err_set(err, EINVAL,
					    "QEMU's command line: a tap's fd "
					    "is not a descriptor number");
		if (n == max)
			return hull_err_set(err, E2BIG,
					    "QEMU's command line: over %zu "
					    "taps",
					    max);
		fds[n++] = (int)fd;
	}
	return (int)n;
}

/* s with every "<run>/<sock>" of run_socks prefixed (owned). */
static char *socks_prefixed(const char *s, const char *run)
{
	char *out = xstrdup(s);
	size_t rl = strlen(run);
	for (const char *const *k = run_socks; *k; k++) {
		_cleanup_free_ char *from = xasprintf("%s/%s", run, *k);
		char *at = strstr(out, from);
		/* the path ends the option or is followed by a comma */
		if (!at || (at[strlen(from)] && at[strlen(from)] != ','))
			continue;
		char *next =
		    xasprintf("%.*s" HVM_QEMU_MIG_PREFIX "%s",
			      (int)(at - out + rl + 1), out, at + rl + 1);
		free(out);
		out = next;
	}
	return out;
}

char **hvm_qemu_migrate_argv(char *const *argv, const char *run_dir,
			     const int *tap_fds, size_t ntaps,
			     struct hull_err *err)
{
	struct hull_strv v = {0};
	size_t tap = 0;
	for (size_t i = 0; argv[i]; i++) {
		if (!strcmp(argv[i], "-incoming")) {
			if (argv[i + 1])
				i++;
			continue;
		}
		const char *fdv = i > 0 && !strcmp(argv[i - 1], "-netdev")
				      ? tap_fd_opt(argv[i])
				      : NULL;
		if (fdv) {
			if (tap == ntaps) {
				hull_strv_free(hull_strv_steal(&v));
				hull_err_set(err, EINVAL,
					     "QEMU's command line: more taps "
					     "than descriptors");
				return NULL;
			}
			const char *rest = strchr(fdv, ',');
			hull_strv_push(&v, xasprintf("%.*s%d%s",
						     (int)(fdv - argv[i]),
						     argv[i], tap_fds[tap++],
						     rest ? rest : ""));
			continue;
		}
		hull_strv_push(&v, socks_prefixed(argv[i], run_dir));
	}
	if (tap != ntaps) {
		hull_strv_free(hull_strv_steal(&v));
		hull_err_set(err, EINVAL,
			     "QEMU's command line: fewer taps than "
			     "descriptors");
		return NULL;
	}
	hull_strv_add(&v, "-incoming");
	hull_strv_add(&v, "defer");
	return hull_strv_steal(&v);
}

static int64_t int_at(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

void hvm_qemu_mig_stat_parse(const json_t *v, struct hvm_qemu_mig_stat *out)
{
	memset(out, 0, sizeof(*out));
	const char *st = hull_json_str((json_t *)v, "status", "");
	if (!strcmp(st, "completed"))
		out->state = HVM_QEMU_MIG_COMPLETED;
	else if (!strcmp(st, "failed"))
		out->state = HVM_QEMU_MIG_FAILED;
	else if (!strcmp(st, "cancelled"))
		out->state = HVM_QEMU_MIG_CANCELLED;
	else if (!*st || !strcmp(st, "none"))
		out->state = HVM_QEMU_MIG_NONE;
	else
		out->state = HVM_QEMU_MIG_ACTIVE;
	const json_t *ram = json_object_get(v, "ram");
	out->passes = int_at(ram, "dirty-sync-count");
	out->transferred = int_at(ram, "transferred");
	out->remaining = int_at(ram, "remaining");
	out->downtime_ms = int_at(v, "downtime");
	out->total_ms = int_at(v, "total-time");
	out->throttle_pct = int_at(v, "cpu-throttle-percentage");
	snprintf(out->error, sizeof(out->error), "%s",
		 hull_json_str((json_t *)v, "error-desc", "no reason given"));
}
