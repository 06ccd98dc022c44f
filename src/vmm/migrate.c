/*
 * migrate.c - live migration, both ends (migrate.h).
 *
 * The source's pre-copy is a state machine on the I/O thread: each
 * writable event on the socket sends what is buffered and then builds at
 * most one more megabyte of records, so a pass over guest RAM never holds
 * the thread that serves the devices for long. A pass ends by fetching
 * and clearing KVM's dirty log (and the device-written pages, which KVM
 * cannot see); the pages it names are the next pass. Once they would go
 * over within the downtime limit at the rate the last pass achieved, the
 * vCPUs pause and the rest is sent in one go. QEMU decides the same way
 * (ram_save_pending against bandwidth * downtime_limit).
 *
 * Auto-converge throttles the guest as QEMU's cpu-throttle does: the
 * vCPUs are paused for a share of every 10 ms period, 20% at first and
 * 10% more each pass that does not converge, up to 99%.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/xalloc.h"
#include "vmm/devices.h"
#include "vmm/iothread.h"
#include "vmm/migfmt.h"
#include "vmm/migrate.h"
#include "vmm/snapfmt.h"
#include "vmm/snapshot.h"

#define CHUNK (1u << 20)
#define SCAN_MAX 4096u /* pages one produce() looks at (16 MiB) */
#define OUT_CAP (CHUNK + MIG_PAGES_MAX * MIG_PAGE + 4 * MIG_RECORD_SIZE)
#define THROTTLE_PERIOD_NS 10000000LL
#define RATE_WINDOW_NS 10000000LL
/* the final phase: what the target may take to load and confine itself */
#define HANDOVER_NS 30000000000LL

struct migration {
	struct vm *vm;
	int rate_tfd, thr_tfd;
	bool active;
	int sock, reply_fd;
	struct migrate_opts o;
	uint64_t npages, words;
	uint64_t *send_map; /* this pass's pages */
	uint64_t cursor;
	bool first_pass;
	uint8_t *out;
	size_t out_len, out_off;
	unsigned iter;
	uint64_t bytes, pages, zero_pages;
	long long t_start, iter_start;
	uint64_t iter_bytes, last_dirty;
	unsigned throttle; /* percent */
	bool thr_paused, rate_blocked;
	bool was_paused; /* by the operator, before the migration began */
	long long win_start;
	uint64_t win_bytes;
};

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(long long ns)
{
	struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void timer_arm(int fd, long long ns)
{
	struct itimerspec it = {
	    .it_value = {ns / 1000000000LL, ns % 1000000000LL}};
	if (ns > 0 && !it.it_value.tv_sec && !it.it_value.tv_nsec)
		it.it_value.tv_nsec = 1;
	timerfd_settime(fd, 0, &it, NULL);
}

static void timer_drain(int fd)
{
	uint64_t n;
	if (read(fd, &n, sizeof(n)) < 0) {
		/* not expired: nothing to take */
	}
}

static bool page_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	uint64_t acc = 0;
	for (unsigned i = 0; i < MIG_PAGE / 8; i++)
		acc |= w[i];
	return acc == 0;
}

static bool bit(const uint64_t *map, uint64_t i)
{
	return map[i / 64] >> (i % 64) & 1;
}

static void rec_add(struct migration *m, uint32_t type, uint32_t count,
		    uint64_t arg)
{
	uint8_t *p = m->out + m->out_len;
	memcpy(p, &type, 4);
	memcpy(p + 4, &count, 4);
	memcpy(p + 8, &arg, 8);
	m->out_len += MIG_RECORD_SIZE;
}

/* Builds records for the pages of this pass from the cursor on, until
 * about a chunk is buffered or the pass ends. */
static void produce(struct migration *m)
{
	uint8_t *mem = m->vm->mem;
	uint64_t scanned = 0;
	/* bounded in pages looked at too, not only in bytes to send: a
	 * first pass over a large guest's untouched RAM sends nothing for
	 * hundreds of megabytes, and the devices wait while it looks */
	while (m->cursor < m->npages && m->out_len < CHUNK &&
	       scanned < SCAN_MAX) {
		uint64_t i = m->cursor;
		if (!(i % 64) && !m->send_map[i / 64]) {
			m->cursor = i + 64;
			continue;
		}
		if (!bit(m->send_map, i)) {
			m->cursor++;
			continue;
		}
		if (page_zero(mem + i * MIG_PAGE)) {
			/* a fresh target's RAM is zero already */
			uint64_t j = i + 1;
			while (j < m->npages && j - i < SCAN_MAX &&
			       bit(m->send_map, j) &&
			       page_zero(mem + j * MIG_PAGE))
				j++;
			scanned += j - i;
			if (!m->first_pass)
				rec_add(m, MIG_ZERO, (uint32_t)(j - i),
					i * MIG_PAGE);
			m->zero_pages += j - i;
			m->cursor = j;
			continue;
		}
		uint64_t j = i + 1;
		while (j < m->npages && j - i < MIG_PAGES_MAX &&
		       bit(m->send_map, j) && !page_zero(mem + j * MIG_PAGE))
			j++;
		scanned += j - i;
		rec_add(m, MIG_PAGES, (uint32_t)(j - i), i * MIG_PAGE);
		memcpy(m->out + m->out_len, mem + i * MIG_PAGE,
		       (j - i) * MIG_PAGE);
		m->out_len += (j - i) * MIG_PAGE;
		m->pages += j - i;
		m->cursor = j;
	}
}

/* Sends what is buffered without blocking: 1 all sent, 0 not yet, <0
 * the connection is gone. */
static int flush_some(struct migration *m)
{
	while (m->out_off < m->out_len) {
		ssize_t n =
		    send(m->sock, m->out + m->out_off, m->out_len - m->out_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		m->out_off += (size_t)n;
		m->bytes += (uint64_t)n;
		m->iter_bytes += (uint64_t)n;
		m->win_bytes += (uint64_t)n;
	}
	m->out_off = m->out_len = 0;
	return 1;
}

/* The same, waiting (the final phase, with the guest paused). */
static int flush_all(struct migration *m, long long deadline)
{
	for (;;) {
		int r = flush_some(m);
		if (r != 0)
			return r < 0 ? r : 0;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		sleep_ns(50000);
	}
}

/* Fetches and clears the dirty pages, KVM's and the devices', into the
 * next pass's map; returns how many. keep: the map still holds pages not
 * sent yet (fetched by the pass that decided to stop), add to them. */
static int harvest(struct migration *m, bool keep, uint64_t *count,
		   struct hull_err *err)
{
	if (!keep)
		memset(m->send_map, 0, m->words * 8);
	if (vm_dirty_log_get(m->vm, m->send_map, err) < 0)
		return -err->code;
	uint64_t n = 0;
	for (uint64_t w = 0; w < m->words; w++) {
		m->send_map[w] |= __atomic_exchange_n(&m->vm->dev_dirty[w], 0,
						      __ATOMIC_ACQ_REL);
		n += (uint64_t)__builtin_popcountll(m->send_map[w]);
	}
	*count = n;
	m->cursor = 0;
	m->first_pass = false;
	return 0;
}

static void reply(struct migration *m, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s && m->reply_fd >= 0) {
		size_t l = strlen(s);
		s = xrealloc(s, l + 2);
		s[l] = '\n';
		if (send(m->reply_fd, s, l + 1, MSG_NOSIGNAL | MSG_DONTWAIT) <
		    0) {
			/* the client left; the outcome stands */
		}
	}
	free(s);
	if (m->reply_fd >= 0)
		close(m->reply_fd);
	m->reply_fd = -1;
}

static void throttle_stop(struct migration *m)
{
	timer_arm(m->thr_tfd, 0);
	if (m->thr_paused)
		vm_resume(m->vm);
	m->thr_paused = false;
	m->throttle = 0;
}

/* Ends the migration: resources back, the guest running here unless it
 * was handed over. */
static void finish(struct migration *m)
{
	struct hull_err e = {0};
	io_del(m->sock);
	close(m->sock);
	m->sock = -1;
	timer_arm(m->rate_tfd, 0);
	m->rate_blocked = false;
	vm_dirty_log_set(m->vm, false, &e);
	__atomic_store_n(&m->vm->dev_dirty, NULL, __ATOMIC_RELEASE);
	free(m->send_map);
	m->send_map = NULL;
	free(m->out);
	m->out = NULL;
	m->out_len = m->out_off = 0;
	m->active = false;
}

static void fail(struct migration *m, const char *msg)
{
	/* at a record boundary the target learns why; mid-record it only
	 * sees the stream end, which it refuses the same way */
	if (m->out_off == 0) {
		m->out_len = 0;
		rec_add(m, MIG_ABORT, 0, 0);
		send(m->sock, m->out, m->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	throttle_stop(m);
	uint64_t *dev = m->vm->dev_dirty;
	finish(m);
	free(dev);
	if (!m->was_paused)
		vm_resume(m->vm);
	reply(m, json_pack("{s:b, s:s, s:s}", "ok", 0, "state", "running",
			   "error", msg));
}

static int recv_byte(int sock, long long deadline, char *c)
{
	for (;;) {
		ssize_t n = recv(sock, c, 1, MSG_DONTWAIT);
		if (n == 1)
			return 0;
		if (n == 0)
			return -EPIPE;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		sleep_ns(100000);
	}
}

/* Takes the disks back after a hand-over that did not happen (nobody
 * else can have them: the target locks only after "go"). */
static void relock(struct vm *vm)
{
	struct hull_err e = {0};
	for (unsigned i = 0; i < vm->n_disks; i++)
		disk_lock(&vm->disks[i], vm->cfg->disks[i].path, &e);
}

/* The guest paused: the last dirty pages, every state, then the
 * hand-over. */
static void complete(struct migration *m)
{
	struct vm *vm = m->vm;
	char msg[1200];
	struct hull_err err = {0};
	long long t0 = now_ns(), deadline = t0 + HANDOVER_NS;
	timer_arm(m->thr_tfd, 0);
	m->thr_paused = false;
	vm_pause(vm);
	/* what the guest printed before the pause reaches this console */
	serial_flush(vm->com1);
	serial_flush(vm->com2);
	uint64_t left = 0;
	int r = flush_all(m, deadline);
	if (r == 0 && harvest(m, true, &left, &err) < 0) {
		snprintf(msg, sizeof(msg), "migration: %s", err.msg);
		goto failed;
	}
	while (r == 0 && m->cursor < m->npages) {
		produce(m);
		r = flush_all(m, deadline);
	}
	uint8_t *state = NULL;
	size_t slen = 0;
	if (r == 0 && vmm_snapshot_state(vm, &state, &slen, &err) < 0) {
		snprintf(msg, sizeof(msg), "migration: %s", err.msg);
		goto failed;
	}
	if (r == 0) {
		free(m->out);
		m->out = xmalloc(slen + 2 * MIG_RECORD_SIZE);
		m->out_len = m->out_off = 0;
		rec_add(m, MIG_STATE, 0, slen);
		memcpy(m->out + m->out_len, state, slen);
		m->out_len += slen;
		rec_add(m, MIG_END, 0, 0);
		r = flush_all(m, deadline);
	}
	free(state);
	char c = 0;
	if (r == 0 && (r = recv_byte(m->sock, deadline, &c)) == 0 && c != 'R')
		r = -EPROTO;
	/* the disks are the target's from here: nothing writes them while
	 * the vCPUs are paused and this thread is here */
	for (unsigned i = 0; r == 0 && i < vm->n_disks; i++)
		disk_unlock(&vm->disks[i]);
	if (r == 0 && send(m->sock, "G", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
		r = -errno;
		relock(vm);
	}
	if (r < 0) {
		snprintf(msg, sizeof(msg),
			 "migration: the target did not take the VM over (%s); "
			 "it runs on here",
			 strerror(-r));
		goto failed;
	}
	long long t1 = now_ns();
	uint64_t *dev = vm->dev_dirty;
	finish(m);
	free(dev);
	reply(m, json_pack("{s:b, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:i}",
			   "ok", 1, "state", "migrated", "iterations",
			   (int)m->iter + 1, "bytes", (json_int_t)m->bytes,
			   "memory_bytes", (json_int_t)(m->pages * MIG_PAGE),
			   "zero_pages", (json_int_t)m->zero_pages,
			   "downtime_ns", (json_int_t)(t1 - t0), "total_ns",
			   (json_int_t)(t1 - m->t_start), "throttle",
			   (int)m->throttle));
	vm_request_exit(vm, VM_EXIT_MIGRATED);
	return;
failed:
	m->out_off = 1; /* mid-record: no abort record, the stream just ends */
	fail(m, msg);
}

static void on_writable(void *arg, uint32_t events);

static void pass_end(struct migration *m)
{
	struct hull_err err = {0};
	long long t = now_ns();
	long long dt = t - m->iter_start;
	uint64_t dirty = 0;
	if (harvest(m, false, &dirty, &err) < 0) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "migration: %s", err.msg);
		fail(m, msg);
		return;
	}
	/* the rate this pass achieved (the first pass ran long enough to
	 * measure; a tiny pass says little, so keep the larger figure) */
	double rate = dt > 0 ? (double)m->iter_bytes * 1e9 / (double)dt : 0;
	if (m->o.bandwidth && (rate == 0 || rate > (double)m->o.bandwidth))
		rate = (double)m->o.bandwidth;
	double need_ns =
	    rate > 0 ? (double)dirty * (MIG_PAGE + 16) * 1e9 / rate : 0;
	m->last_dirty = dirty;
	if (dirty == 0 || need_ns <= (double)m->o.downtime_ns) {
		complete(m);
		return;
	}
	m->iter++;
	/* auto-converge gets the passes that take the throttle to 99% */
	unsigned limit = m->o.max_iterations + (m->o.auto_converge ? 12 : 0);
	if (m->iter >= limit) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "migration: did not converge within the downtime "
			 "limit of %llu ms after %u passes (%llu pages dirty, "
			 "%.0f MiB/s); the VM runs on here",
			 (unsigned long long)(m->o.downtime_ns / 1000000),
			 m->iter, (unsigned long long)dirty, rate / (1 << 20));
		fail(m, msg);
		return;
	}
	if (m->o.auto_converge && m->iter >= 2) {
		m->throttle = m->throttle ? m->throttle + 10 : 20;
		if (m->throttle > 99)
			m->throttle = 99;
		if (!m->thr_paused)
			timer_arm(m->thr_tfd, THROTTLE_PERIOD_NS *
						  (100 - m->throttle) / 100);
	}
	m->iter_start = t;
	m->iter_bytes = 0;
}

static void on_writable(void *arg, uint32_t events)
{
	struct migration *m = arg;
	if (!m->active)
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		fail(m, "migration: the connection to the target broke; the "
			"VM runs on here");
		return;
	}
	int r = flush_some(m);
	if (r < 0) {
		fail(m, "migration: the connection to the target broke; the "
			"VM runs on here");
		return;
	}
	if (r == 0)
		return;
	if (m->o.bandwidth) {
		/* A chunk is up to 1 MiB and goes whole, beyond a window's
		 * budget under a cap below 100 MiB/s: what went over is
		 * carried into the windows that follow, so the cap holds on
		 * average whatever the chunk size. */
		long long t = now_ns();
		uint64_t budget =
		    m->o.bandwidth / 100 ? m->o.bandwidth / 100 : 1;
		if (t - m->win_start >= RATE_WINDOW_NS) {
			uint64_t w =
			    (uint64_t)((t - m->win_start) / RATE_WINDOW_NS);
			m->win_start += (long long)w * RATE_WINDOW_NS;
			m->win_bytes = m->win_bytes > w * budget
					   ? m->win_bytes - w * budget
					   : 0;
		}
		if (m->win_bytes >= budget) {
			io_mod(m->sock, 0, on_writable, m);
			m->rate_blocked = true;
			timer_arm(m->rate_tfd,
				  m->win_start + RATE_WINDOW_NS - t);
			return;
		}
	}
	if (m->cursor >= m->npages) {
		pass_end(m);
		if (!m->active)
			return;
	}
	produce(m);
}

static void on_rate(void *arg, uint32_t events)
{
	struct migration *m = arg;
	timer_drain(m->rate_tfd);
	if (!m->active || !m->rate_blocked)
		return;
	m->rate_blocked = false;
	io_mod(m->sock, EPOLLOUT, on_writable, m);
}

static void on_throttle(void *arg, uint32_t events)
{
	struct migration *m = arg;
	timer_drain(m->thr_tfd);
	if (!m->active || !m->throttle)
		return;
	if (m->thr_paused) {
		vm_resume(m->vm);
		m->thr_paused = false;
		timer_arm(m->thr_tfd,
			  THROTTLE_PERIOD_NS * (100 - m->throttle) / 100);
	} else {
		vm_pause(m->vm);
		m->thr_paused = true;
		timer_arm(m->thr_tfd, THROTTLE_PERIOD_NS * m->throttle / 100);
	}
}

int migrate_init(struct vm *vm, struct hull_err *err)
{
	struct migration *m = xcalloc(1, sizeof(*m));
	m->vm = vm;
	m->sock = m->reply_fd = -1;
	vm->mig = m;
	m->rate_tfd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	m->thr_tfd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (m->rate_tfd < 0 || m->thr_tfd < 0)
		return hull_err_sys(err, errno, "migration: timerfd_create");
	if (io_add(m->rate_tfd, EPOLLIN, on_rate, m, err) < 0 ||
	    io_add(m->thr_tfd, EPOLLIN, on_throttle, m, err) < 0)
		return -err->code;
	return 0;
}

unsigned migrate_fds(struct vm *vm, int *out, unsigned max)
{
	struct migration *m = vm->mig;
	if (!m || max < 2)
		return 0;
	out[0] = m->rate_tfd;
	out[1] = m->thr_tfd;
	return 2;
}

void migrate_fini(struct vm *vm)
{
	struct migration *m = vm->mig;
	if (!m)
		return;
	if (m->active)
		reply(m, json_pack("{s:b, s:s, s:s}", "ok", 0, "state",
				   "stopped", "error",
				   "migration: the VM ended before it moved"));
	if (m->rate_tfd >= 0)
		close(m->rate_tfd);
	if (m->thr_tfd >= 0)
		close(m->thr_tfd);
	if (m->sock >= 0)
		close(m->sock);
	if (m->reply_fd >= 0)
		close(m->reply_fd);
	free(m->send_map);
	free(m->out);
	free(vm->dev_dirty);
	vm->dev_dirty = NULL;
	free(m);
	vm->mig = NULL;
}

int migrate_start(struct vm *vm, int sock, int reply_fd,
		  const struct migrate_opts *o, struct hull_err *err)
{
	struct migration *m = vm->mig;
	if (!m || m->active) {
		close(sock);
		return hull_err_set(err, EBUSY,
				    m ? "migration: one is running already"
				      : "migration: not prepared");
	}
	m->sock = sock;
	m->reply_fd = reply_fd;
	m->o = *o;
	m->npages = vm->mem_size / MIG_PAGE;
	m->words = (m->npages + 63) / 64;
	m->send_map = xmalloc(m->words * 8);
	memset(m->send_map, 0xff, m->words * 8);
	m->out = xmalloc(OUT_CAP);
	m->out_len = m->out_off = 0;
	m->cursor = 0;
	m->first_pass = true;
	m->iter = 0;
	m->bytes = m->pages = m->zero_pages = m->iter_bytes = 0;
	m->throttle = 0;
	m->thr_paused = m->rate_blocked = false;
	m->t_start = m->iter_start = m->win_start = now_ns();
	m->win_bytes = 0;
	pthread_mutex_lock(&vm->lock);
	m->was_paused = vm->paused;
	pthread_mutex_unlock(&vm->lock);
	m->active = true;

	struct mig_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, MIG_MAGIC, 8);
	h.version = MIG_VERSION;
	h.header_size = MIG_HEADER_SIZE;
	h.mem_size = vm->mem_size;
	h.ncpus = vm->ncpus;
	h.n_virtio = vm->n_virtio;
	snprintf(h.vmm_version, sizeof(h.vmm_version), "%s", HULL_VERSION);
	h.header_crc = snap_crc(&h, offsetof(struct mig_header, header_crc));
	memcpy(m->out, &h, sizeof(h));
	m->out_len = sizeof(h);
	/* the disks' sizes, which the target's must match when it takes
	 * them at the hand-over */
	rec_add(m, MIG_DISKS, vm->n_disks, 0);
	for (unsigned i = 0; i < vm->n_disks; i++) {
		memcpy(m->out + m->out_len, &vm->disks[i].size, 8);
		m->out_len += 8;
	}

	/* logging first: every write from here on is in the next pass */
	__atomic_store_n(&vm->dev_dirty, xcalloc(m->words, 8),
			 __ATOMIC_RELEASE);
	if (vm_dirty_log_set(vm, true, err) < 0 ||
	    io_add(sock, EPOLLOUT, on_writable, m, err) < 0) {
		uint64_t *dev = vm->dev_dirty;
		m->sock = sock;
		finish(m);
		free(dev);
		m->reply_fd = -1;
		return hull_err_prefix(err, "migration");
	}
	return 0;
}

/* ---- target ---- */

static int read_full(int fd, void *p, size_t len, struct hull_err *err)
{
	uint8_t *b = p;
	while (len) {
		ssize_t n = read(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hull_err_sys(err, errno, "migration: read");
		if (n == 0)
			return hull_err_set(err, EPIPE,
					    "migration: the stream ended "
					    "before the VM was complete");
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int migrate_receive(struct vm *vm, int sock, struct hull_err *err)
{
	uint8_t hb[MIG_HEADER_SIZE];
	struct mig_header h;
	if (read_full(sock, hb, sizeof(hb), err) < 0 ||
	    mig_header_parse(hb, sizeof(hb), &h, err) < 0)
		return -err->code;
	if (h.mem_size != vm->mem_size || h.ncpus != vm->ncpus ||
	    h.n_virtio != vm->n_virtio)
		return hull_err_set(
		    err, EINVAL,
		    "migration: the source VM has %llu MiB, %u vCPUs and %u "
		    "virtio devices; this one %llu MiB, %u and %u",
		    (unsigned long long)(h.mem_size >> 20), h.ncpus, h.n_virtio,
		    (unsigned long long)(vm->mem_size >> 20), vm->ncpus,
		    vm->n_virtio);
	uint8_t *state = NULL;
	struct snap_file *f = NULL;
	int r = 0;
	vm->mig_n_disks = -1;
	for (;;) {
		uint8_t rb[MIG_RECORD_SIZE];
		struct mig_record rec;
		if ((r = read_full(sock, rb, sizeof(rb), err)) < 0 ||
		    (r = mig_record_parse(rb, sizeof(rb), h.version,
					  vm->mem_size, &rec, err)) < 0)
			break;
		if (rec.type == MIG_DISKS) {
			uint8_t db[MIG_DISKS_MAX * 8];
			if (vm->mig_n_disks >= 0 || state) {
				r = hull_err_set(err, EINVAL,
						 "migration: a disk record "
						 "out of place");
				break;
			}
			if ((r = read_full(sock, db, rec.payload, err)) < 0 ||
			    (r = mig_disks_parse(db, rec.payload, &rec,
						 vm->mig_disk_size, err)) < 0)
				break;
			if (rec.count != vm->n_disks) {
				r = hull_err_set(err, EINVAL,
						 "migration: the source VM "
						 "has %u disks, this one %u",
						 rec.count, vm->n_disks);
				break;
			}
			vm->mig_n_disks = (int)rec.count;
		} else if (rec.type == MIG_PAGES) {
			r = read_full(sock, vm->mem + rec.arg, rec.payload,
				      err);
		} else if (rec.type == MIG_ZERO) {
			/* an anonymous private mapping reads zero again */
			if (madvise(vm->mem + rec.arg,
				    (size_t)rec.count * MIG_PAGE,
				    MADV_DONTNEED) < 0)
				memset(vm->mem + rec.arg, 0,
				       (size_t)rec.count * MIG_PAGE);
		} else if (rec.type == MIG_STATE) {
			if (state) {
				r = hull_err_set(err, EINVAL,
						 "migration: the VM's state "
						 "came twice");
				break;
			}
			state = xmalloc(rec.payload);
			f = xcalloc(1, sizeof(*f));
			if ((r = read_full(sock, state, rec.payload, err)) < 0)
				break;
			if ((r = snap_parse(state, rec.payload, f, err)) < 0) {
				hull_err_prefix(err, "migration");
				break;
			}
		} else if (rec.type == MIG_ABORT) {
			r = hull_err_set(err, ECANCELED,
					 "migration: the source gave up");
			break;
		} else { /* MIG_END */
			if (!state)
				r = hull_err_set(err, EINVAL,
						 "migration: the stream ended "
						 "without the VM's state");
			else if (h.version >= 2 && vm->mig_n_disks < 0)
				r = hull_err_set(err, EINVAL,
						 "migration: the stream ended "
						 "without the disks' sizes");
			break;
		}
		if (r < 0)
			break;
	}
	if (r == 0 && vmm_snapshot_load(vm, f, err) < 0)
		r = hull_err_prefix(err, "migration");
	free(state);
	free(f);
	return r;
}

int migrate_receive_commit(struct vm *vm, int sock, struct hull_err *err)
{
	char c = 0;
	if (write(sock, "R", 1) != 1)
		return hull_err_sys(err, errno,
				    "migration: the source is gone");
	ssize_t n;
	while ((n = read(sock, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1 || c != 'G')
		return hull_err_set(err, EPIPE,
				    "migration: the source did not hand the "
				    "VM over");
	for (unsigned i = 0; i < vm->n_disks; i++)
		if (disk_lock(&vm->disks[i], vm->cfg->disks[i].path, err) < 0)
			return hull_err_prefix(err, "migration");
	return 0;
}

/* Waits on the disks socket for one message (a byte and 0 or n_disks
 * descriptors), while watching the stream: the source giving up ends
 * the wait. Returns the number of descriptors taken into fds. */
static int gate_wait(int gate, int sock, unsigned n, int *fds,
		     struct hull_err *err)
{
	if (send(gate, "W", 1, MSG_NOSIGNAL) != 1)
		return hull_err_sys(err, errno, "migration: the disks socket");
	for (;;) {
		struct pollfd p[2] = {{gate, POLLIN, 0}, {sock, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return hull_err_sys(err, errno, "migration: poll");
		}
		if (p[1].revents)
			return hull_err_set(err, EPIPE,
					    "migration: the source went away "
					    "while this VM waited for its "
					    "disks");
		if (p[0].revents)
			break;
	}
	char c = 0;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * (VMM_MAX_DISKS + 1))];
	} u;
	struct iovec iov = {&c, 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	ssize_t got;
	while ((got = recvmsg(gate, &msg, MSG_CMSG_CLOEXEC)) < 0 &&
	       errno == EINTR)
		;
	int nfd = 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h;
	     h = CMSG_NXTHDR(&msg, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k =
		    (unsigned)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int),
			       sizeof(int));
			if (nfd < VMM_MAX_DISKS)
				fds[nfd++] = fd;
			else
				close(fd);
		}
	}
	int r = 0;
	if (got < 0)
		r = hull_err_sys(err, errno, "migration: the disks socket");
	else if (got == 0)
		r = hull_err_set(err, EPIPE,
				 "migration: the disks socket closed before "
				 "the disks came");
	else if (msg.msg_flags & MSG_CTRUNC)
		r = hull_err_set(err, EINVAL,
				 "migration: more descriptors than disks came");
	else if (nfd && (unsigned)nfd != n)
		r = hull_err_set(err, EINVAL,
				 "migration: %d descriptors came for %u disks",
				 nfd, n);
	if (r < 0) {
		for (int i = 0; i < nfd; i++)
			close(fds[i]);
		return r;
	}
	return nfd;
}

int migrate_receive_disks(struct vm *vm, int sock, int gate,
			  struct hull_err *err)
{
	const struct vmm_config *cfg = vm->cfg;
	int fds[VMM_MAX_DISKS];
	int nfd = 0;
	if (gate >= 0 &&
	    (nfd = gate_wait(gate, sock, vm->n_disks, fds, err)) < 0)
		return -err->code;
	int r = 0;
	for (unsigned i = 0; i < vm->n_disks; i++) {
		struct disk *d = &vm->disks[i];
		if (r < 0) {
			if (nfd)
				close(fds[i]);
			continue;
		}
		if (nfd)
			r = disk_adopt(d, fds[i], cfg->disks[i].path, err);
		else
			r = disk_open(d, &cfg->disks[i], false, err);
		if (r == 0 && vm->mig_n_disks >= 0 &&
		    d->size != vm->mig_disk_size[i])
			r = hull_err_set(
			    err, EINVAL,
			    "disk %s is %llu bytes, the source's %llu",
			    cfg->disks[i].path, (unsigned long long)d->size,
			    (unsigned long long)vm->mig_disk_size[i]);
		if (r < 0)
			hull_err_prefix(err, "migration");
	}
	if (r < 0) {
		for (unsigned i = 0; i < vm->n_disks; i++)
			disk_close(&vm->disks[i]);
		return r;
	}
	return 0;
}
