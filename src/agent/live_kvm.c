/*
 * live_kvm.c - a kvm VM's live switch between two hosts: QEMU's pre-copy
 * over the agents' channel (see live_kvm.h).
 *
 * Frames on the channel after the intro: a 4-byte big-endian length and
 * that many bytes of QEMU's stream; length 0 ends it, followed by one
 * byte, 1 when QEMU completed (anything else: the source gave up). The
 * target answers with migrate.c's JSON line.
 */
#include "agent/chan.h"
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

#include "agent/agent.h"
#include "hull/instance.h"
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
#define TIMEOUT_S 600

static char *staged_path(const char *uuid, const char *suffix)
{
	return hull_root_path("var/agent/live-%s.vmstate%s", uuid, suffix);
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
		if (chan_write_all(rl->ssl, buf, (size_t)n + 4) < 0) {
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
static int precopy_run(struct hvm_qmp *q, int sp1, const struct live_opts *o,
		       struct live_kvm_stat *st, struct hull_err *err)
{
	json_int_t bw = o->limit_bytes_s > 0 ? (json_int_t)o->limit_bytes_s
					     : (json_int_t)1 << 40;
	/* auto-converge gets the passes that take QEMU's throttle from
	 * 20% to 99% (its default steps of 10), as hull-vmm's does */
	int max_passes = LIVE_MAX_PASSES + (o->auto_converge ? 12 : 0);
	int r;
	if ((r = qmp_args(q, "migrate-set-capabilities",
			  json_pack("{s:[{s:s, s:b}]}", "capabilities",
				    "capability", "auto-converge", "state",
				    o->auto_converge),
			  err)) < 0 ||
	    (r = qmp_args(q, "migrate-set-parameters",
			  json_pack("{s:I, s:I}", "downtime-limit",
				    (json_int_t)o->downtime_ms, "max-bandwidth",
				    bw),
			  err)) < 0)
		return r;
	if ((r = hvm_qmp_getfd(q, "hull-live", sp1, QMP_MS, err)) < 0)
		return hull_err_prefix(err, "getfd");
	if ((r = qmp_args(q, "migrate",
			  json_pack("{s:s}", "uri", "fd:hull-live"), err)) < 0)
		return r;
	int64_t deadline = chan_now_ms() + (int64_t)TIMEOUT_S * 1000;
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
		if (s.passes > max_passes)
			snprintf(why, sizeof(why),
				 "did not converge within the downtime limit "
				 "of %d ms after %d passes (%lld bytes left); "
				 "%s",
				 o->downtime_ms, max_passes,
				 (long long)s.remaining,
				 o->auto_converge
				     ? "raise downtime"
				     : "allow auto_converge or raise downtime");
		else if (chan_now_ms() > deadline)
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

int live_kvm_precopy(const char *uuid, SSL *ssl, const struct live_opts *o,
		     struct live_kvm_stat *st, struct hull_err *err)
{
	memset(st, 0, sizeof(*st));
	_cleanup_free_ char *tmp = staged_path(uuid, ".part");
	_cleanup_free_ char *staged = staged_path(uuid, "");
	unlink(staged);
	uint8_t intro[16] = {0};
	memcpy(intro, LIVE_KVM_MAGIC, 8);
	if (chan_write_all(ssl, intro, sizeof(intro)) < 0)
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
	int r = precopy_run(q, sp[1], o, st, err);
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
	if (rl.r == 0 && chan_write_all(ssl, end, sizeof(end)) < 0 && r == 0)
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

/*
 * The target's QEMU takes the stream live: the instance starts paused
 * and waiting (HULL_VMSTATE_INCOMING), and each frame goes to it through
 * a socket given with getfd and `migrate-incoming fd:` as well as into
 * the staged file. Once the stream is in and QEMU paused with it, QEMU is
 * held for the switch (live_kvm_held). A QEMU that fails on the way
 * costs a log line: the staged file goes on and resumes the guest as
 * without it. HULL_AGENT_KVM_STAGED in the agent's environment: the
 * staged file only (the path before this one).
 */
#define STAGED_ENV "HULL_AGENT_KVM_STAGED"
#define INCOMING_FD "hull-incoming"
#define INCOMING_WAIT_MS 60000

struct incoming {
	const char *uuid;
	struct hvm_qmp *q;
	int fd; /* our end of QEMU's socket; -1: QEMU took nothing more */
	uint64_t bytes;
};

/* The running instance's QEMU command socket, which QEMU makes after
 * the supervisor's QMP connection: tried again for a while. */
static struct hvm_qmp *qmp_open_wait(const char *uuid, struct hull_err *err)
{
	struct hvm_qmp *q = NULL;
	for (int i = 0; i < 5000 && !q; i++) {
		q = qmp_open(uuid, err);
		if (!q && err->code != ENOENT && err->code != ECONNREFUSED)
			break;
		if (!q)
			nanosleep(&(struct timespec){0, 2000000L}, NULL);
	}
	return q;
}

static void incoming_end(struct incoming *in)
{
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
	if (in->q)
		hvm_qmp_close(in->q);
	in->q = NULL;
	struct hull_err e2 = {0};
	if (hull_instance_stop(in->uuid, true, 0, NULL, &e2) < 0)
		agent_log("warn", json_pack("{s:s}", "vm", in->uuid),
			  "stop the incoming QEMU: %s", e2.msg);
}

/* The instance started paused with QEMU waiting for the stream on a
 * socket of ours. */
static int incoming_start(struct incoming *in, struct hull_err *err)
{
	live_kvm_held_drop(in->uuid);
	_cleanup_free_ char *mark =
	    hull_root_path("%s/" HULL_VMSTATE_INCOMING, in->uuid);
	int fd = open(
	    mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "%s", mark);
	close(fd);
	int r = hull_instance_start(in->uuid, NULL, err);
	unlink(mark);
	if (r != 0)
		return r < 0 ? hull_err_prefix(err, "start")
			     : hull_err_set(err, EBUSY, "it ran already");
	/* The hidden copy must not boot by itself meanwhile (start set
	 * its autoboot). */
	json_t *p = json_pack("{s:b}", "autoboot", 0);
	r = hull_instance_update(in->uuid, p, NULL, err);
	json_decref(p);
	int sp[2] = {-1, -1};
	if (r == 0 && !(in->q = qmp_open_wait(in->uuid, err)))
		r = hull_err_prefix(err, "QEMU");
	/* The disks stay inactive until `cont`, not when the stream is in:
	 * the last increment comes after it. */
	if (r == 0)
		r = qmp_args(in->q, "migrate-set-capabilities",
			     json_pack("{s:[{s:s, s:b}]}", "capabilities",
				       "capability", "late-block-activate",
				       "state", 1),
			     err);
	if (r == 0 &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		r = hull_err_sys(err, errno, "socketpair");
	if (r == 0)
		r = hvm_qmp_getfd(in->q, INCOMING_FD, sp[1], QMP_MS, err);
	if (r == 0)
		r = qmp_args(in->q, "migrate-incoming",
			     json_pack("{s:s}", "uri", "fd:" INCOMING_FD), err);
	if (sp[1] >= 0)
		close(sp[1]);
	in->fd = sp[0];
	if (r < 0) {
		incoming_end(in);
		return r;
	}
	/* A QEMU that stops reading is given up, not waited for. */
	struct timeval tv = {QMP_MS / 1000, 0};
	setsockopt(in->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

static void incoming_feed(struct incoming *in, const void *b, size_t n)
{
	if (in->fd < 0)
		return;
	if (hull_write_all(in->fd, b, n) == 0) {
		in->bytes += n;
		return;
	}
	agent_log("warn", json_pack("{s:s}", "vm", in->uuid),
		  "the incoming QEMU stopped taking the stream after %llu "
		  "bytes: staged only",
		  (unsigned long long)in->bytes);
	close(in->fd);
	in->fd = -1;
}

/* The stream ended (complete: QEMU's end came): how QEMU took it,
 * logged, then the instance stopped again. */
static void incoming_finish(struct incoming *in, bool complete)
{
	int64_t t0 = chan_now_ms();
	bool fed = in->fd >= 0;
	if (fed)
		shutdown(in->fd, SHUT_WR);
	struct hull_err e = {0};
	int r = fed && complete ? 0 : hull_err_set(&e, ECANCELED, "not fed");
	while (r == 0) {
		json_t *v = NULL;
		if ((r = hvm_qmp_execute(in->q, "query-migrate", &v, QMP_MS,
					 &e)) < 0)
			break;
		struct hvm_qemu_mig_stat s;
		hvm_qemu_mig_stat_parse(v, &s);
		json_decref(v);
		if (s.state == HVM_QEMU_MIG_COMPLETED)
			break;
		if (s.state == HVM_QEMU_MIG_FAILED ||
		    s.state == HVM_QEMU_MIG_CANCELLED)
			r = hull_err_set(&e, EIO, "%s", s.error);
		else if (chan_now_ms() - t0 > INCOMING_WAIT_MS)
			r = hull_err_set(&e, ETIMEDOUT, "not done in time");
		else
			nanosleep(&(struct timespec){0, 1000000L}, NULL);
	}
	char st[32] = "";
	if (r == 0)
		r = hvm_qmp_status(in->q, st, sizeof(st), QMP_MS, &e);
	if (r == 0)
		agent_log("info", json_pack("{s:s}", "vm", in->uuid),
			  "the incoming QEMU took the stream live: %llu bytes, "
			  "completed %lld ms after its end, %s",
			  (unsigned long long)in->bytes,
			  (long long)(chan_now_ms() - t0), st);
	else
		agent_log("warn", json_pack("{s:s}", "vm", in->uuid),
			  "the incoming QEMU did not take the stream: %s",
			  e.msg);
	/* Paused with the whole state: held for the switch (the last
	 * increment, then live_kvm_held_resume). */
	_cleanup_free_ char *held = staged_path(in->uuid, ".held");
	int fd =
	    r == 0 && !strcmp(st, "paused")
		? open(held,
		       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		       0600)
		: -1;
	if (fd >= 0) {
		close(fd);
		close(in->fd);
		hvm_qmp_close(in->q);
		return;
	}
	incoming_end(in);
}

bool live_kvm_held(const char *uuid)
{
	_cleanup_free_ char *held = staged_path(uuid, ".held");
	return hull_path_exists(held);
}

void live_kvm_held_drop(const char *uuid)
{
	_cleanup_free_ char *held = staged_path(uuid, ".held");
	if (unlink(held) < 0)
		return;
	struct incoming in = {.uuid = uuid, .fd = -1};
	incoming_end(&in);
}

/* Each read-write disk of the instance's record (QEMU's nodes hull-fmtI
 * over hull-fileI) pointed at the file now under its path, the received
 * one, given by add-fd. The paths come from the record, never from QEMU:
 * this agent opens them as root. */
static int repoint_disks(struct hvm_qmp *q, const char *uuid,
			 struct hull_err *err)
{
	json_t *vm = hull_instance_get(uuid, err);
	if (!vm)
		return -err->code;
	_cleanup_free_ char *mine = hull_root_path("%s/disks/", uuid);
	int r = 0;
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(vm, "disks"), i, d)
	{
		const char *file = hull_json_str(d, "path", "");
		if (!strcmp(hull_json_str(d, "media", "disk"), "cdrom"))
			continue;
		if (strncmp(file, mine, strlen(mine)) || strstr(file, "/../")) {
			r = hull_err_set(err, EPERM,
					 "disk %s is not in the instance's "
					 "dataset",
					 file);
			break;
		}
		int fd = open(file, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			r = hull_err_sys(err, errno, "%s", file);
			break;
		}
		json_t *got = NULL;
		r = hvm_qmp_execute_fd(q, "add-fd", NULL, fd, &got, QMP_MS,
				       err);
		close(fd);
		if (r < 0)
			break;
		char path[64], live[32], fmt[32];
		snprintf(path, sizeof(path), "/dev/fdset/%lld",
			 (long long)hull_json_int(got, "fdset-id", -1));
		json_decref(got);
		snprintf(live, sizeof(live), "hull-live%zu", i);
		snprintf(fmt, sizeof(fmt), HVM_QEMU_NODE_FMT, i);
		if ((r = qmp_args(q, "blockdev-add",
				  json_pack("{s:s, s:s, s:s}", "driver", "file",
					    "filename", path, "node-name",
					    live),
				  err)) < 0 ||
		    (r = qmp_args(q, "blockdev-reopen",
				  json_pack("{s:[{s:s, s:s, s:s}]}", "options",
					    "driver", "raw", "node-name", fmt,
					    "file", live),
				  err)) < 0)
			break;
	}
	json_decref(vm);
	return r;
}

int live_kvm_held_resume(const char *uuid, struct hull_err *err)
{
	int64_t t0 = chan_now_ms();
	struct hvm_qmp *q = qmp_open(uuid, err);
	int r = q ? repoint_disks(q, uuid, err) : hull_err_prefix(err, "QEMU");
	if (r == 0 && (r = hvm_qmp_execute(q, "cont", NULL, QMP_MS, err)) < 0)
		hull_err_prefix(err, "cont");
	int64_t t1 = chan_now_ms();
	/* QEMU's own announcement went when the stream completed, while the
	 * guest was paused: again now that it runs (QEMU's defaults). */
	struct hull_err e2 = {0};
	if (r == 0 && qmp_args(q, "announce-self",
			       json_pack("{s:i, s:i, s:i, s:i}", "initial", 50,
					 "max", 550, "rounds", 5, "step", 100),
			       &e2) < 0)
		agent_log("warn", json_pack("{s:s}", "vm", uuid), "%s", e2.msg);
	if (q)
		hvm_qmp_close(q);
	if (r < 0) {
		live_kvm_held_drop(uuid);
		return hull_err_prefix(err,
				       "the QEMU that took the stream live");
	}
	_cleanup_free_ char *held = staged_path(uuid, ".held");
	unlink(held);
	agent_log("info", json_pack("{s:s}", "vm", uuid),
		  "resumed in the QEMU that took the stream live: disks "
		  "re-pointed and cont in %lld ms",
		  (long long)(t1 - t0));
	return 0;
}

int live_kvm_stage_receive(const char *uuid, SSL *ssl, struct hull_err *err)
{
	_cleanup_free_ char *tmp = staged_path(uuid, ".part");
	_cleanup_free_ char *staged = staged_path(uuid, "");
	unlink(staged);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "%s", tmp);
	struct incoming in = {.uuid = uuid, .fd = -1};
	bool live = getenv(STAGED_ENV) == NULL;
	struct hull_err e2 = {0};
	if (live && incoming_start(&in, &e2) < 0) {
		agent_log("warn", json_pack("{s:s}", "vm", uuid),
			  "the incoming QEMU: %s: staged only", e2.msg);
		live = false;
	}
	uint8_t *buf = xmalloc(FRAME_MAX);
	int r = 0;
	bool complete = false;
	for (;;) {
		uint32_t be;
		if (chan_read_all(ssl, &be, 4) < 0) {
			r = hull_err_set(err, EPIPE, "the source went away");
			break;
		}
		uint32_t n = ntohl(be);
		if (n == 0) {
			uint8_t ok = 0;
			if (chan_read_all(ssl, &ok, 1) < 0 || ok != 1)
				r = hull_err_set(err, ECANCELED,
						 "the source's QEMU did not "
						 "complete");
			complete = r == 0;
			break;
		}
		if (n > FRAME_MAX) {
			r = hull_err_set(err, EPROTO, "frame of %u bytes", n);
			break;
		}
		if (chan_read_all(ssl, buf, n) < 0) {
			r = hull_err_set(err, EPIPE, "the source went away");
			break;
		}
		if (hull_write_all(fd, buf, n) < 0) {
			r = hull_err_sys(err, errno, "%s", tmp);
			break;
		}
		if (live)
			incoming_feed(&in, buf, n);
	}
	free(buf);
	if (live)
		incoming_finish(&in, complete);
	/* With the state held in QEMU the file is only its fallback, read
	 * back in this boot if at all (a crash of this host loses both, and
	 * the source resumes from its own copy): not flushed inside the
	 * guest's pause. */
	bool flush = !(live && live_kvm_held(uuid));
	if (r == 0 && flush && fsync(fd) < 0)
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
	if ((r = hull_fd_copy(in, out)) < 0)
		r = hull_err_sys(err, -r, "copy to %s", to);
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
