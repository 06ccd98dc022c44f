/*
 * qemustate.c - a kvm-brand VM's memory and device state through QEMU's
 * migration (see qemustate.h).
 */
#include "hvm/qemustate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/digest.h"
#include "lib/json.h"
#include "lib/xalloc.h"

/* QEMU's migration/savevm.c: QEMU_VM_FILE_MAGIC, QEMU_VM_FILE_VERSION,
 * both big-endian at the start of the stream. */
static const uint8_t qemu_magic[8] = {'Q', 'E', 'V', 'M', 0, 0, 0, 3};

/* How often the migration's progress is asked for. */
#define POLL_NS 5000000L

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls query-migrate until the migration (outgoing or incoming) is
 * completed or failed. */
static int migrate_wait(struct hvm_qmp *q, long long deadline,
			struct hull_err *err)
{
	for (;;) {
		json_t *v = NULL;
		int r = hvm_qmp_execute(q, "query-migrate", &v,
					(int)(deadline - now_ms()), err);
		if (r < 0)
			return r;
		const char *st = hull_json_str(v, "status", "");
		if (!strcmp(st, "completed")) {
			json_decref(v);
			return 0;
		}
		if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
			r = hull_err_set(
			    err, EIO, "QEMU: migration %s: %s", st,
			    hull_json_str(v, "error-desc", "no reason given"));
			json_decref(v);
			return r;
		}
		json_decref(v);
		if (now_ms() >= deadline)
			return hull_err_set(err, ETIMEDOUT,
					    "QEMU: migration not done in time");
		nanosleep(&(struct timespec){0, POLL_NS}, NULL);
	}
}

int hvm_qemu_state_save(struct hvm_qmp *q, int fd, int timeout_ms,
			struct hull_err *err)
{
	long long deadline = now_ms() + timeout_ms;
	int r;
	if ((r = hvm_qmp_execute(q, "stop", NULL, timeout_ms, err)) < 0)
		return r;
	/* QEMU caps migration at 128 MiB/s by default, meant for a
	 * network; to a local file the guest is paused, so no cap. */
	json_t *a = json_pack("{s:I}", "max-bandwidth", (json_int_t)1 << 40);
	r = hvm_qmp_execute_args(q, "migrate-set-parameters", a, NULL,
				 timeout_ms, err);
	json_decref(a);
	if (r < 0)
		return r;
	if ((r = hvm_qmp_getfd(q, "hull-vmstate", fd, timeout_ms, err)) < 0)
		return r;
	a = json_pack("{s:s}", "uri", "fd:hull-vmstate");
	r = hvm_qmp_execute_args(q, "migrate", a, NULL, timeout_ms, err);
	json_decref(a);
	if (r < 0)
		return r;
	return migrate_wait(q, deadline, err);
}

int hvm_qemu_state_load(struct hvm_qmp *q, int qemu_fd, int timeout_ms,
			struct hull_err *err)
{
	long long deadline = now_ms() + timeout_ms;
	char uri[32];
	snprintf(uri, sizeof(uri), "fd:%d", qemu_fd);
	json_t *a = json_pack("{s:s}", "uri", uri);
	int r = hvm_qmp_execute_args(q, "migrate-incoming", a, NULL, timeout_ms,
				     err);
	json_decref(a);
	if (r < 0)
		return r;
	/* QEMU exits when the load fails: that shows as the connection
	 * closing (EPIPE) */
	if ((r = migrate_wait(q, deadline, err)) < 0)
		return r;
	return hvm_qmp_execute(q, "cont", NULL, timeout_ms, err);
}

int hvm_qemu_state_digest(int fd, struct hvm_qemu_state_sum *out,
			  struct hull_err *err)
{
	enum { CHUNK = 1 << 20 };
	uint8_t *buf = xmalloc(CHUNK);
	struct hull_digest *d = hull_digest_new(HULL_DIGEST_SHA256, err);
	int r = 0;
	uint64_t off = 0;
	if (!d) {
		r = hull_err_prefix(err, "state file");
		goto out;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, CHUNK, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = hull_err_sys(err, errno, "state file");
			goto out;
		}
		if (n == 0)
			break;
		if (off == 0 && ((size_t)n < sizeof(qemu_magic) ||
				 memcmp(buf, qemu_magic, sizeof(qemu_magic)))) {
			r = hull_err_set(err, EINVAL,
					 "state file: not a QEMU state stream "
					 "of version 3");
			goto out;
		}
		hull_digest_update(d, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (off == 0) {
		r = hull_err_set(err, EINVAL, "state file: empty");
		goto out;
	}
	hull_digest_hex(d, out->sha256);
	out->size = off;
out:
	hull_digest_free(d);
	free(buf);
	return r;
}

char *hvm_qemu_state_sum_format(const struct hvm_qemu_state_sum *s)
{
	json_t *o = json_pack("{s:s,s:I,s:s}", "format", "qemu", "size",
			      (json_int_t)s->size, "sha256", s->sha256);
	char *t = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	size_t l = strlen(t);
	t = xrealloc(t, l + 2);
	memcpy(t + l, "\n", 2);
	return t;
}

int hvm_qemu_state_sum_parse(const char *buf, size_t len,
			     struct hvm_qemu_state_sum *out,
			     struct hull_err *err)
{
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	const char *fmt = hull_json_str(o, "format", "");
	const char *sha = hull_json_str(o, "sha256", "");
	json_t *size = json_object_get(o, "size");
	int r = 0;
	if (!json_is_object(o) || strcmp(fmt, "qemu") ||
	    !json_is_integer(size) || json_integer_value(size) <= 0 ||
	    strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64) {
		r = hull_err_set(err, EINVAL,
				 "state file: its sum file is "
				 "damaged");
	} else {
		out->size = (uint64_t)json_integer_value(size);
		memcpy(out->sha256, sha, 65);
	}
	json_decref(o);
	return r;
}
