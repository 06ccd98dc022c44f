/*
 * live_kvm.c - a kvm VM's live switch between two hosts: QEMU's pre-copy
 * over the agents' channel (see live_kvm.h).
 *
 * Frames on the channel after the intro: a 4-byte big-endian length and
 * that many bytes of QEMU's stream; length 0 ends it, followed by one
 * byte, 1 when QEMU completed (anything else: the source gave up). The
 * target answers with migrate.c's JSON line.
 */
#include "agent/live_kvm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hull/snapshot.h"
#include "hvm/qemu.h"
#include "hvm/qemumig.h"
#include "hvm/qmp.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "pool/pool.h"
#include "supervisor/vm.h"

#define FRAME_MAX (256 * 1024)
#define QMP_MS 10000
#define TICK_NS 10000000L
#define DOWNTIME_MS 300 /* as the one-host move's default */
#define MAX_PASSES 30
#define TIMEOUT_S 600

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *staged_path(const char *uuid, const char *suffix)
{
	return hull_root_path("var/agent/live-%s.vmstate%s", uuid, suffix);
}

static int ssl_write_all(SSL *ssl, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		size_t w = 0;
		if (SSL_write_ex(ssl, b, n, &w) <= 0)
			return -EPIPE;
		b += w;
		n -= w;
	}
	return 0;
}

static int ssl_read_all(SSL *ssl, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		size_t got = 0;
		if (SSL_read_ex(ssl, b, n, &got) <= 0)
			return -EPIPE;
		b += got;
		n -= got;
	}
	return 0;
}

/* ---- the source ---- */

struct relay {
	SSL *ssl;
	int from;  /* our end of QEMU's socket pair */
	int local; /* the local copy */
	int r;	   /* < 0: the channel or the copy failed */
	uint64_t bytes;
};

static void *relay_thread(void *arg)
{
	struct relay *rl = arg;
	uint8_t *buf = xmalloc(4 + FRAME_MAX);
	for (;;) {
		ssize_t n = read(rl->from, buf + 4, FRAME_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		uint32_t be = htonl((uint32_t)n);
		memcpy(buf, &be, 4);
		if (ssl_write_all(rl->ssl, buf, (size_t)n + 4) < 0) {
			rl->r = -EPIPE;
			break;
		}
		if (hull_write_all(rl->local, buf + 4, (size_t)n) < 0) {
			rl->r = -EIO;
			break;
		}
		rl->bytes += (uint64_t)n;
	}
	free(buf);
	/* A failed relay: QEMU's writes fail (EPIPE) and its migration
	 * with them. The caller closes the descriptor. */
	if (rl->r < 0)
		shutdown(rl->from, SHUT_RDWR);
	return NULL;
}

static struct hvm_qmp *qmp_open(const char *uuid, struct hull_err *err)
{
	_cleanup_free_ char *sock = hull_root_path(
	    "%s/run/" SV_VM_RUN_SUBDIR "/" HVM_QEMU_QMPC_SOCK, uuid);
	return hvm_qmp_open(sock, QMP_MS, err);
}

static int qmp_args(struct hvm_qmp *q, const char *cmd, json_t *a,
		    struct hull_err *err)
{
	int r = hvm_qmp_execute_args(q, cmd, a, NULL, QMP_MS, err);
	json_decref(a);
	return r < 0 ? hull_err_prefix(err, "%s", cmd) : 0;
}

/* QEMU's migration started on sp1, then polled until it ends; 0 once
 * completed (QEMU paused). */
static int precopy_run(struct hvm_qmp *q, int sp1, int64_t limit,
		       struct live_kvm_stat *st, struct hull_err *err)
{
	json_int_t bw = limit > 0 ? (json_int_t)limit : (json_int_t)1 << 40;
	int r;
	if ((r = qmp_args(q, "migrate-set-capabilities",
			  json_pack("{s:[{s:s, s:b}]}", "capabilities",
				    "capability", "auto-converge", "state", 0),
			  err)) < 0 ||
	    (r = qmp_args(q, "migrate-set-parameters",
			  json_pack("{s:I, s:I}", "downtime-limit",
				    (json_int_t)DOWNTIME_MS, "max-bandwidth",
				    bw),
			  err)) < 0)
		return r;
	if ((r = hvm_qmp_getfd(q, "hull-live", sp1, QMP_MS, err)) < 0)
		return hull_err_prefix(err, "getfd");
	if ((r = qmp_args(q, "migrate",
			  json_pack("{s:s}", "uri", "fd:hull-live"), err)) < 0)
		return r;
	int64_t deadline = now_ms() + (int64_t)TIMEOUT_S * 1000;
	bool cancelled = false;
	char why[200] = "";
	for (;;) {
		nanosleep(&(struct timespec){0, TICK_NS}, NULL);
		json_t *v = NULL;
		if ((r = hvm_qmp_execute(q, "query-migrate", &v, QMP_MS, err)) <
		    0)
			return hull_err_prefix(err, "query-migrate");
		struct hvm_qemu_mig_stat s;
		hvm_qemu_mig_stat_parse(v, &s);
		json_decref(v);
		*st = (struct live_kvm_stat){s.passes, s.downtime_ms,
					     s.total_ms, s.transferred};
		if (s.state == HVM_QEMU_MIG_COMPLETED)
			return 0;
		if (s.state != HVM_QEMU_MIG_ACTIVE)
			return cancelled
				   ? hull_err_set(err, ETIMEDOUT, "%s", why)
				   : hull_err_set(err, EIO,
						  "QEMU: migration "
						  "failed: %s",
						  s.error);
		if (cancelled)
			continue;
		if (s.passes > MAX_PASSES)
			snprintf(why, sizeof(why),
				 "did not converge within the downtime limit "
				 "of %d ms after %d passes (%lld bytes left)",
				 DOWNTIME_MS, MAX_PASSES,
				 (long long)s.remaining);
		else if (now_ms() > deadline)
			snprintf(why, sizeof(why),
				 "not done in %d s (%lld bytes left)",
				 TIMEOUT_S, (long long)s.remaining);
		else
			continue;
		cancelled = true;
		struct hull_err e2 = {0};
		(void)hvm_qmp_execute(q, "migrate_cancel", NULL, QMP_MS, &e2);
	}
}

int live_kvm_resume(const char *uuid, struct hull_err *err)
{
	struct hvm_qmp *q = qmp_open(uuid, err);
	if (!q)
		return -err->code;
	char st[32] = "";
	int r = hvm_qmp_status(q, st, sizeof(st), QMP_MS, err);
	if (r == 0 && strcmp(st, "running"))
		r = hvm_qmp_execute(q, "cont", NULL, QMP_MS, err);
	hvm_qmp_close(q);
	return r;
}

int live_kvm_precopy(const char *uuid, SSL *ssl, int64_t limit,
		     struct live_kvm_stat *st, struct hull_err *err)
{
	memset(st, 0, sizeof(*st));
	_cleanup_free_ char *tmp = staged_path(uuid, ".part");
	_cleanup_free_ char *staged = staged_path(uuid, "");
	unlink(staged);
	uint8_t intro[16] = {0};
	memcpy(intro, LIVE_KVM_MAGIC, 8);
	if (ssl_write_all(ssl, intro, sizeof(intro)) < 0)
		return hull_err_set(err, EPIPE, "send to the target: closed");
	struct hvm_qmp *q = qmp_open(uuid, err);
	if (!q)
		return hull_err_prefix(err, "QEMU");
	int local = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (local < 0) {
		hvm_qmp_close(q);
		return hull_err_sys(err, errno, "%s", tmp);
	}
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		close(local);
		hvm_qmp_close(q);
		return hull_err_sys(err, errno, "socketpair");
	}
	struct relay rl = {.ssl = ssl, .from = sp[0], .local = local};
	pthread_t t;
	if (pthread_create(&t, NULL, relay_thread, &rl) != 0) {
		close(sp[0]);
		close(sp[1]);
		close(local);
		hvm_qmp_close(q);
		return hull_err_set(err, EAGAIN, "cannot start a thread");
	}
	int r = precopy_run(q, sp[1], limit, st, err);
	/* QEMU holds its own copy: ours goes, so that the relay sees the
	 * stream end when QEMU closes its copy. */
	close(sp[1]);
	if (r < 0) {
		/* QEMU lets go of the stream (a descriptor it was given but
		 * never used stays with it until closefd), and the relay of
		 * what it wrote ends. */
		struct hull_err e2 = {0};
		(void)hvm_qmp_execute(q, "migrate_cancel", NULL, QMP_MS, &e2);
		json_t *a = json_pack("{s:s}", "fdname", "hull-live");
		(void)hvm_qmp_execute_args(q, "closefd", a, NULL, QMP_MS, &e2);
		json_decref(a);
		shutdown(sp[0], SHUT_RDWR);
	}
	pthread_join(t, NULL);
	close(sp[0]);
	close(local);
	if (r == 0 && rl.r < 0)
		r = hull_err_set(err, -rl.r, "relay to the target: %s",
				 strerror(-rl.r));
	/* The end frame, and the target's word that it has it all. */
	uint8_t end[5] = {0, 0, 0, 0, r == 0 ? 1 : 0};
	if (rl.r == 0 && ssl_write_all(ssl, end, sizeof(end)) < 0 && r == 0)
		r = hull_err_set(err, EPIPE, "send to the target: closed");
	if (r == 0) {
		char line[1024];
		size_t got = 0, n = 0;
		while (got < sizeof(line) - 1 &&
		       SSL_read_ex(ssl, line + got, 1, &n) > 0 &&
		       line[got] != '\n')
			got += n;
		line[got] = '\0';
		json_t *ans = json_loads(line, 0, NULL);
		if (!hull_json_bool(ans, "ok", false))
			r = hull_err_set(
			    err, EIO, "target: %s",
			    ans ? hull_json_str(ans, "error", "failed")
				: "did not confirm the state");
		json_decref(ans);
	}
	if (r == 0 && rename(tmp, staged) < 0)
		r = hull_err_sys(err, errno, "%s", staged);
	if (r < 0) {
		unlink(tmp);
		struct hull_err e2 = {0};
		char s[32] = "";
		if (hvm_qmp_status(q, s, sizeof(s), QMP_MS, &e2) == 0 &&
		    strcmp(s, "running"))
			(void)hvm_qmp_execute(q, "cont", NULL, QMP_MS, &e2);
	}
	hvm_qmp_close(q);
	return r < 0 ? hull_err_prefix(err, "pre-copy") : 0;
}

/* ---- the target ---- */

int live_kvm_stage_receive(const char *uuid, SSL *ssl, struct hull_err *err)
{
	_cleanup_free_ char *tmp = staged_path(uuid, ".part");
	_cleanup_free_ char *staged = staged_path(uuid, "");
	unlink(staged);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "%s", tmp);
	uint8_t *buf = xmalloc(FRAME_MAX);
	int r = 0;
	for (;;) {
		uint32_t be;
		if (ssl_read_all(ssl, &be, 4) < 0) {
			r = hull_err_set(err, EPIPE, "the source went away");
			break;
		}
		uint32_t n = ntohl(be);
		if (n == 0) {
			uint8_t ok = 0;
			if (ssl_read_all(ssl, &ok, 1) < 0 || ok != 1)
				r = hull_err_set(err, ECANCELED,
						 "the source's QEMU did not "
						 "complete");
			break;
		}
		if (n > FRAME_MAX) {
			r = hull_err_set(err, EPROTO, "frame of %u bytes", n);
			break;
		}
		if (ssl_read_all(ssl, buf, n) < 0) {
			r = hull_err_set(err, EPIPE, "the source went away");
			break;
		}
		if (hull_write_all(fd, buf, n) < 0) {
			r = hull_err_sys(err, errno, "%s", tmp);
			break;
		}
	}
	free(buf);
	if (r == 0 && fsync(fd) < 0)
		r = hull_err_sys(err, errno, "%s", tmp);
	close(fd);
	if (r == 0 && rename(tmp, staged) < 0)
		r = hull_err_sys(err, errno, "%s", staged);
	if (r < 0)
		unlink(tmp);
	return r;
}

static char *state_path(const char *uuid, struct hull_err *err)
{
	struct pool *p = NULL;
	if (pool_open(&p, err) < 0)
		return NULL;
	_cleanup_free_ char *dir = pool_dataset_path(p, uuid);
	pool_close(p);
	return xasprintf("%s/" HULL_VMSTATE_FILE, dir);
}

void live_kvm_state_remove(const char *uuid)
{
	_cleanup_free_ char *to = state_path(uuid, NULL);
	if (to)
		unlink(to);
}

int live_kvm_stage_place(const char *uuid, bool *placed, struct hull_err *err)
{
	*placed = false;
	_cleanup_free_ char *staged = staged_path(uuid, "");
	int in = open(staged, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return errno == ENOENT ? 0
				       : hull_err_sys(err, errno, "%s", staged);
	_cleanup_free_ char *to = state_path(uuid, err);
	if (!to) {
		close(in);
		return -err->code;
	}
	int r = 0;
	int out = open(
	    to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0) {
		r = hull_err_sys(err, errno, "%s", to);
		close(in);
		return r;
	}
	/* A clone of the extents where the filesystem shares them (btrfs),
	 * a copy elsewhere. */
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = hull_err_sys(err, errno, "copy to %s", to);
			break;
		}
		if (n == 0)
			break;
	}
	close(in);
	close(out);
	if (r < 0) {
		unlink(to);
		return r;
	}
	unlink(staged);
	*placed = true;
	return 0;
}

void live_kvm_stage_drop(const char *uuid)
{
	_cleanup_free_ char *tmp = staged_path(uuid, ".part");
	_cleanup_free_ char *staged = staged_path(uuid, "");
	unlink(tmp);
	unlink(staged);
}
