/*
 * live_vmm.c - a bhyve VM's live switch between two hosts: hull-vmm's
 * pre-copy over the agents' channel (see live_vmm.h).
 *
 * On the channel after the intro: hull-vmm's migration stream as it
 * wrote it. Each end applies it with the stream's own checked reader
 * (vmm/migfmt.h, fuzzed) and knows its end by the end record; a source
 * that gives up sends hull-vmm's abort record or closes the channel. The
 * target answers with migrate.c's JSON line.
 */
#include "agent/chan.h"
#include "agent/live_vmm.h"
#include "agent/live_stage.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hull/instance.h"
#include "hull/snapshot.h"
#include "hvm/com2.h"
#include "hvm/vmm.h"
#include "lib/fdpass.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "pool/pool.h"
#include "supervisor/vm.h"
#include "vmm/migfmt.h"
#include "vmm/snapfmt.h"

#define RELAY_BUF (256 * 1024)
#define CONNECT_MS 2000
/* hull-vmm's own answer after a failure: it waits 30 s for R at most. */
#define ANSWER_MS 40000
#define IO_TIMEOUT_S 120  /* as the channel's (migrate.c) */
#define HANDOVER_MS 15000 /* of hull-vmm's 30 s wait for R */

static char *staged_path(const char *uuid, const char *suffix)
{
	return hull_root_path("var/agent/live-%s.vmm%s", uuid, suffix);
}

/* ---- the channel ---- */

/* The target's JSON line: 0 when it says ok. */
static int target_word(SSL *ssl, struct hull_err *err)
{
	char line[1024];
	size_t got = 0, n = 0;
	while (got < sizeof(line) - 1 &&
	       SSL_read_ex(ssl, line + got, 1, &n) > 0 && line[got] != '\n')
		got += n;
	line[got] = '\0';
	json_t *ans = json_loads(line, 0, NULL);
	int r = 0;
	if (!hull_json_bool(ans, "ok", false))
		r = hull_err_set(err, EIO, "target: %s",
				 ans ? hull_json_str(ans, "error", "failed")
				     : "did not confirm the state");
	json_decref(ans);
	return r;
}

/* ---- the source ---- */

/* hull-vmm's answer on its control connection (a failed migration's),
 * waited for up to ms; NULL when none came. */
static json_t *vmm_answer(int ctl, int ms)
{
	char line[4096];
	size_t len = 0;
	int64_t end = chan_now_ms() + ms;
	while (!memchr(line, '\n', len) && len < sizeof(line)) {
		int64_t left = end - chan_now_ms();
		struct pollfd p = {ctl, POLLIN, 0};
		if (left < 0 || poll(&p, 1, (int)left) != 1)
			return NULL;
		ssize_t n = read(ctl, line + len, sizeof(line) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		len += (size_t)n;
	}
	char *nl = memchr(line, '\n', len);
	return nl ? json_loadb(line, (size_t)(nl - line), 0, NULL) : NULL;
}

/* Starts hull-vmm's migration on sp1: the control connection, or < 0. */
static int vmm_migrate(const char *uuid, int sp1, const struct live_opts *o,
		       struct hull_err *err)
{
	_cleanup_free_ char *path = hull_root_path(
	    "%s/run/" SV_VM_RUN_SUBDIR "/" HVM_VMM_CONTROL_SOCK, uuid);
	int ctl = hvm_com2_connect(path, CONNECT_MS, err);
	if (ctl < 0)
		return hull_err_prefix(err, "hull-vmm's control socket");
	json_t *req = json_pack("{s:s, s:I, s:I, s:b}", "command", "migrate",
				"downtime_ms", (json_int_t)o->downtime_ms,
				"max_iterations", (json_int_t)LIVE_MAX_PASSES,
				"auto_converge", o->auto_converge);
	if (o->limit_bytes_s > 0)
		json_object_set_new(req, "bandwidth",
				    json_integer(o->limit_bytes_s));
	char *text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	_cleanup_free_ char *line = xasprintf("%s\n", text);
	free(text);
	int r = hull_fd_send(ctl, line, strlen(line), &sp1, 1);
	if (r < 0) {
		close(ctl);
		return hull_err_sys(err, -r, "%s", path);
	}
	return ctl;
}

int live_vmm_precopy(const char *uuid, SSL *ssl, const struct live_opts *o,
		     struct live_vmm_stat *st, struct hull_err *err)
{
	memset(st, 0, sizeof(*st));
	st->stream = st->ctl = -1;
	_cleanup_free_ char *tmp = staged_path(uuid, ".part");
	_cleanup_free_ char *staged = staged_path(uuid, "");
	unlink(staged);
	uint8_t intro[16] = {0};
	memcpy(intro, LIVE_VMM_MAGIC, 8);
	if (chan_write_all(ssl, intro, sizeof(intro)) < 0)
		return hull_err_set(err, EPIPE, "send to the target: closed");
	struct live_stage s;
	int r = live_stage_open(&s, tmp, err);
	if (r < 0)
		return r;
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		live_stage_close(&s);
		unlink(tmp);
		return hull_err_sys(err, errno, "socketpair");
	}
	int64_t t0 = chan_now_ms();
	int ctl = vmm_migrate(uuid, sp[1], o, err);
	close(sp[1]);
	if (ctl < 0) {
		close(sp[0]);
		live_stage_close(&s);
		unlink(tmp);
		return ctl;
	}
	uint8_t *buf = xmalloc(RELAY_BUF);
	bool vmm_failed = false;
	while (r == 0 && !live_stage_done(&s)) {
		struct pollfd p[2] = {{sp[0], POLLIN, 0}, {ctl, POLLIN, 0}};
		int ready = poll(p, 2, IO_TIMEOUT_S * 1000);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0) {
			r = ready < 0
				? hull_err_sys(err, errno, "poll")
				: hull_err_set(err, ETIMEDOUT,
					       "hull-vmm sent nothing for "
					       "%d s",
					       IO_TIMEOUT_S);
			break;
		}
		/* An answer before the end: hull-vmm gave up (or the VM
		 * ended); its words follow below. */
		if (p[1].revents && !p[0].revents) {
			vmm_failed = true;
			break;
		}
		ssize_t n = read(sp[0], buf, RELAY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			vmm_failed = true;
			break;
		}
		r = live_stage_feed(&s, buf, (size_t)n, err);
		/* hull-vmm's abort record: it gave up, and says why below
		 * (the target sees the channel close) */
		if (r == -ECANCELED) {
			vmm_failed = true;
			break;
		}
		if (r == 0 && chan_write_all(ssl, buf, (size_t)n) < 0)
			r = hull_err_set(err, EPIPE,
					 "send to the target: closed");
		st->bytes += n;
	}
	free(buf);
	if (live_stage_done(&s)) {
		st->state_ms = s.state_at - t0;
		int64_t t1 = chan_now_ms();
		r = target_word(ssl, err);
		st->confirm_ms = chan_now_ms() - t1;
		/* hull-vmm resumes its guest by itself 30 s after its pause
		 * without an R: its end must come well before that. */
		if (r == 0 && chan_now_ms() - s.state_at > HANDOVER_MS)
			r = hull_err_set(
			    err, ETIMEDOUT,
			    "the target took %lld ms to confirm "
			    "the state",
			    (long long)(chan_now_ms() - s.state_at));
	}
	live_stage_close(&s);
	if (r == 0 && !vmm_failed && rename(tmp, staged) < 0)
		r = hull_err_sys(err, errno, "%s", staged);
	if (r == 0 && !vmm_failed) {
		/* The guest is paused in hull-vmm, waiting for an R: the
		 * stream stays open until it is ended (closing it would
		 * resume the guest). */
		st->stream = sp[0];
		st->ctl = ctl;
		return 0;
	}
	unlink(tmp);
	close(sp[0]);
	/* The stream closed: hull-vmm resumes its guest and says so. */
	json_t *ans = vmm_answer(ctl, ANSWER_MS);
	if (vmm_failed) {
		const char *why =
		    ans ? hull_json_str(ans, "error", "migration failed")
			: "hull-vmm ended the migration";
		/* what the operator can change (begin's options) */
		bool stuck = strstr(why, "did not converge") != NULL;
		r = hull_err_set(err, EIO, "%s%s", why,
				 stuck && !o->auto_converge
				     ? "; allow auto_converge or raise downtime"
				 : stuck ? "; raise downtime"
					 : "");
	}
	json_decref(ans);
	close(ctl);
	return hull_err_prefix(err, "pre-copy");
}

int live_vmm_source_end(const char *uuid, struct live_vmm_stat *st,
			struct hull_err *err)
{
	int64_t t0 = chan_now_ms();
	int r = hull_instance_stop(uuid, true, 0, NULL, err);
	st->stop_ms = chan_now_ms() - t0;
	close(st->stream);
	if (r < 0) {
		/* Not ended: the stream closed resumes the guest here. */
		json_decref(vmm_answer(st->ctl, ANSWER_MS));
		live_vmm_stage_drop(uuid);
		hull_err_prefix(err, "stop of the paused source");
	} else {
		/* An answer before the end: hull-vmm resumed its guest (no R
		 * in time), so the staged state is older than the disks, and
		 * must never be resumed; the next start boots. */
		json_t *ans = vmm_answer(st->ctl, 0);
		if (ans) {
			live_vmm_stage_drop(uuid);
			r = hull_err_set(err, ETIMEDOUT,
					 "the source's hull-vmm resumed its "
					 "guest before its stop: %s",
					 hull_json_str(ans, "error", "?"));
		}
		json_decref(ans);
	}
	close(st->ctl);
	st->stream = st->ctl = -1;
	return r;
}

/* ---- the target ---- */

int live_vmm_stage_receive(const char *uuid, SSL *ssl, struct hull_err *err)
{
	_cleanup_free_ char *tmp = staged_path(uuid, ".part");
	_cleanup_free_ char *staged = staged_path(uuid, "");
	unlink(staged);
	struct live_stage s;
	int r = live_stage_open(&s, tmp, err);
	if (r < 0)
		return r;
	uint8_t *buf = xmalloc(RELAY_BUF);
	while (r == 0 && !live_stage_done(&s)) {
		size_t got = 0;
		if (SSL_read_ex(ssl, buf, RELAY_BUF, &got) <= 0) {
			r = hull_err_set(err, EPIPE, "the source went away");
			break;
		}
		r = live_stage_feed(&s, buf, got, err);
	}
	free(buf);
	live_stage_close(&s);
	if (r == 0 && rename(tmp, staged) < 0)
		r = hull_err_sys(err, errno, "%s", staged);
	if (r < 0)
		unlink(tmp);
	return r;
}

/* A copy of what in holds, holes left as holes (another filesystem). */
static int sparse_copy(int in, int out)
{
	struct stat st;
	if (fstat(in, &st) < 0 || ftruncate(out, st.st_size) < 0)
		return -errno;
	off_t data = 0;
	while ((data = lseek(in, data, SEEK_DATA)) >= 0) {
		off_t hole = lseek(in, data, SEEK_HOLE);
		off_t to = data;
		while (data < hole) {
			ssize_t n = copy_file_range(in, &data, out, &to,
						    (size_t)(hole - data), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
		}
	}
	return errno == ENXIO ? 0 : -errno;
}

int live_vmm_stage_place(const char *uuid, bool *placed, struct hull_err *err)
{
	*placed = false;
	_cleanup_free_ char *staged = staged_path(uuid, "");
	if (access(staged, F_OK) < 0)
		return errno == ENOENT ? 0
				       : hull_err_sys(err, errno, "%s", staged);
	struct pool *p = NULL;
	if (pool_open(&p, err) < 0)
		return -err->code;
	_cleanup_free_ char *dir = pool_dataset_path(p, uuid);
	pool_close(p);
	_cleanup_free_ char *to = xasprintf("%s/" HULL_VMSTATE_FILE, dir);
	if (rename(staged, to) == 0) {
		*placed = true;
		return 0;
	}
	if (errno != EXDEV)
		return hull_err_sys(err, errno, "%s", to);
	int in = open(staged, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int out = open(
	    to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r = in < 0 || out < 0 ? -errno : sparse_copy(in, out);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (r < 0) {
		unlink(to);
		return hull_err_sys(err, -r, "copy to %s", to);
	}
	unlink(staged);
	*placed = true;
	return 0;
}

void live_vmm_stage_drop(const char *uuid)
{
	_cleanup_free_ char *tmp = staged_path(uuid, ".part");
	_cleanup_free_ char *staged = staged_path(uuid, "");
	unlink(tmp);
	unlink(staged);
}
