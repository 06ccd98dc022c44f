/*
 * sysrq.c - NMIs and screenshots for running VMs (see sysrq.h).
 */
#include "hvm/sysrq.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvm/com2.h"
#include "hvm/qemu.h"
#include "hvm/qmp.h"
#include "hvm/vmm.h"
#include "lib/xalloc.h"

/* QMP answers come from QEMU's main loop: a busy guest may delay them,
 * a hung QEMU must not hang vmadm. */
#define SYSRQ_TIMEOUT_MS 10000

int hvm_sysrq_parse(const char *s)
{
	if (s && !strcmp(s, "nmi"))
		return HVM_SYSRQ_NMI;
	if (s && !strcmp(s, "screenshot"))
		return HVM_SYSRQ_SCREENSHOT;
	return -EINVAL;
}

/* Copies the regular file src (not followed if a link) to dst through
 * dst.tmp and a rename. */
static int copy_out(const char *src, const char *dst, struct hull_err *err)
{
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (in < 0)
		return hull_err_sys(err, errno, "screenshot %s", src);
	struct stat st;
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)HVM_SYSRQ_PPM_MAX) {
		close(in);
		return hull_err_set(err, EINVAL,
				    "screenshot %s: not a regular file of at "
				    "most %u bytes",
				    src, HVM_SYSRQ_PPM_MAX);
	}
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", dst);
	unlink(tmp);
	int out = open(
	    tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		int e = errno;
		close(in);
		return hull_err_sys(err, e, "create %s", tmp);
	}
	int r = 0;
	char buf[65536];
	size_t total = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = hull_err_sys(err, errno, "read %s", src);
			break;
		}
		if (n == 0)
			break;
		/* The file may grow under us: the bound holds regardless. */
		total += (size_t)n;
		if (total > HVM_SYSRQ_PPM_MAX) {
			r = hull_err_set(err, EFBIG,
					 "screenshot %s: over %u "
					 "bytes",
					 src, HVM_SYSRQ_PPM_MAX);
			break;
		}
		for (ssize_t off = 0; off < n && r == 0;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				r = hull_err_sys(err, errno, "write %s", tmp);
			else
				off += w;
		}
		if (r < 0)
			break;
	}
	close(in);
	if (r == 0 && fsync(out) < 0)
		r = hull_err_sys(err, errno, "fsync %s", tmp);
	if (close(out) < 0 && r == 0)
		r = hull_err_sys(err, errno, "close %s", tmp);
	if (r == 0 && rename(tmp, dst) < 0)
		r = hull_err_sys(err, errno, "rename %s", dst);
	if (r < 0)
		unlink(tmp);
	return r;
}

static int qemu_sysrq(const char *run_dir, enum hvm_sysrq_req req,
		      const char *out_path, struct hull_err *err)
{
	_cleanup_free_ char *sock =
	    xasprintf("%s/%s", run_dir, HVM_QEMU_QMPC_SOCK);
	struct hvm_qmp *q = hvm_qmp_open(sock, SYSRQ_TIMEOUT_MS, err);
	if (!q)
		return -err->code;
	int r;
	if (req == HVM_SYSRQ_NMI) {
		r = hvm_qmp_execute(q, "inject-nmi", NULL, SYSRQ_TIMEOUT_MS,
				    err);
		hvm_qmp_close(q);
		return r;
	}
	/* A key press first, as SmartOS does: a guest that blanked its
	 * screen shows it again. Failing that is not fatal. */
	json_t *key = json_pack("{s:[{s:s, s:s}]}", "keys", "type", "qcode",
				"data", "shift");
	r = hvm_qmp_execute_args(q, "send-key", key, NULL, SYSRQ_TIMEOUT_MS,
				 err);
	json_decref(key);
	if (r == -EPIPE || r == -ETIMEDOUT) {
		hvm_qmp_close(q);
		return r;
	}
	hull_err_clear(err);
	/* QEMU writes inside its hull, where only the run directory is
	 * writable (and is bound at the same path). One name per caller: two
	 * screenshots at once do not take each other's file. */
	_cleanup_free_ char *dump =
	    xasprintf("%s/screendump-%d.ppm", run_dir, (int)getpid());
	unlink(dump);
	json_t *args = json_pack("{s:s}", "filename", dump);
	r = hvm_qmp_execute_args(q, "screendump", args, NULL, SYSRQ_TIMEOUT_MS,
				 err);
	json_decref(args);
	hvm_qmp_close(q);
	if (r == 0)
		r = copy_out(dump, out_path, err);
	unlink(dump);
	return r;
}

/* One request on hull-vmm's control socket, one answer line. */
static int vmm_nmi(const char *run_dir, struct hull_err *err)
{
	_cleanup_free_ char *sock =
	    xasprintf("%s/%s", run_dir, HVM_VMM_CONTROL_SOCK);
	int fd = hvm_com2_connect(sock, 1000, err);
	if (fd < 0)
		return fd;
	static const char req[] = "{\"command\": \"nmi\"}\n";
	int r = 0;
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(req) - 1) {
		r = hull_err_sys(err, errno, "send to %s", sock);
		close(fd);
		return r;
	}
	char buf[512];
	size_t len = 0;
	while (!memchr(buf, '\n', len)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, SYSRQ_TIMEOUT_MS);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			r = hull_err_set(err, ETIMEDOUT,
					 "hull-vmm did not answer");
			break;
		}
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0 || (len += (size_t)n) == sizeof(buf)) {
			r = hull_err_set(err, EPROTO,
					 "hull-vmm: no answer line");
			break;
		}
	}
	close(fd);
	if (r < 0)
		return r;
	json_t *a = json_loadb(
	    buf, (size_t)((char *)memchr(buf, '\n', len) - buf), 0, NULL);
	if (!json_is_true(json_object_get(a, "ok"))) {
		const char *m = json_string_value(json_object_get(a, "error"));
		r = hull_err_set(err, EIO, "hull-vmm: %s",
				 m ? m : "request refused");
	}
	json_decref(a);
	return r;
}

int hvm_sysrq_send(const char *run_dir, bool kvm, enum hvm_sysrq_req req,
		   const char *out_path, struct hull_err *err)
{
	if (kvm) {
		if (req == HVM_SYSRQ_SCREENSHOT && !out_path)
			return hull_err_set(err, EINVAL,
					    "screenshot: no output path");
		return qemu_sysrq(run_dir, req, out_path, err);
	}
	if (req != HVM_SYSRQ_NMI)
		return hull_err_set(err, ENOTSUP,
				    "hull-vmm has no display to take a "
				    "screenshot of");
	return vmm_nmi(run_dir, err);
}
