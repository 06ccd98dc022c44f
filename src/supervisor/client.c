/*
 * client.c - the CLI side of the supervisor: start it, talk to it, and
 * derive a zone's state from the kernel rather than from files.
 */
#include "supervisor/client.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/prog.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "net/stale.h"
#include "supervisor/control.h"
#include "supervisor/sock.h"
#include "zone/cgroup.h"
#include "zone/config.h"

/* $HULL_SUPERVISOR, else where hull_helper_find finds it (the build tree
 * or the install's libexecdir), else PATH. */
static char *supervisor_path(void)
{
	const char *env = getenv("HULL_SUPERVISOR");
	if (env && *env)
		return xstrdup(env);
	char *p = hull_helper_find("hull-supervisor");
	return p ? p : xstrdup("hull-supervisor");
}

int supervisor_start(const char *uuid, struct hull_err *err)
{
	struct supervisor_spawn sp;
	int r = supervisor_spawn(uuid, &sp, err);
	return r < 0 ? r : supervisor_spawn_wait(&sp, err);
}

int supervisor_spawn(const char *uuid, struct supervisor_spawn *sp,
		     struct hull_err *err)
{
	sp->pid = -1;
	sp->fd = -1;
	if (!hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "not a uuid: %s", uuid);
	_cleanup_free_ char *prog = supervisor_path();
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return hull_err_sys(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return hull_err_sys(err, errno, "fork");
	}
	if (pid == 0) {
		/* The supervisor reports on fd 3 (see hull-supervisor(8)). */
		if (p[1] == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(p[1], 3) < 0)
			_exit(127);
		char *argv[] = {prog, "--ready-fd", "3", (char *)uuid, NULL};
		execvp(prog, argv);
		dprintf(3, "cannot run %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	sp->pid = pid;
	sp->fd = p[0];
	return 0;
}

int supervisor_spawn_wait(struct supervisor_spawn *sp, struct hull_err *err)
{
	int fd = sp->fd;
	pid_t pid = sp->pid;
	sp->fd = -1;
	sp->pid = -1;
	char buf[HULL_ERR_MSG_MAX];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1)
			break;
	}
	close(fd);
	buf[len] = '\0';
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	if (strcmp(buf, "OK") == 0)
		return 0;
	if (!*buf)
		return hull_err_set(err, EIO,
				    "supervisor exited without a word");
	return hull_err_set(err, EIO, "%s", buf);
}

bool supervisor_alive(const char *uuid)
{
	_cleanup_free_ char *p = hull_root_path("%s/run/supervisor.pid", uuid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool alive = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return alive;
}

/* The census folder of the instances' cgroup parent
 * ("/sys/fs/cgroup/pids/hull"), found once: looking the hierarchies up
 * costs dozens of system calls, and vmadm list asks for every instance. */
static char *census_base;
static bool census_v2;

static void census_once(void)
{
	struct zone_cgroup cg;
	zone_cgroup_init(&cg, "census");
	const char *d = zone_cgroup_census_dir(&cg);
	census_base = xstrdup(d ? d : "");
	census_v2 = cg.v2;
	char *slash = strrchr(census_base, '/');
	if (slash)
		*slash = '\0';
	zone_cgroup_fini(&cg);
}

static const char *census_parent(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, census_once);
	return census_base;
}

/* An instance never started (or deleted) has no cgroup: one stat says
 * so. A stopped one keeps its empty tree. */
static bool has_cgroup(const char *uuid)
{
	const char *base = census_parent();
	_cleanup_free_ char *d = xasprintf("%s/%s", base, uuid);
	return *base && hull_is_dir(d);
}

bool zone_cgroup_busy(const char *uuid)
{
	if (!has_cgroup(uuid))
		return false;
	_cleanup_free_ char *d = xasprintf("%s/%s", census_parent(), uuid);
	return zone_cgroup_dir_populated(d, census_v2);
}

bool zone_is_running(const char *uuid)
{
	if (!supervisor_alive(uuid) || !has_cgroup(uuid))
		return false;
	struct zone_cgroup cg;
	zone_cgroup_init(&cg, uuid);
	bool r = zone_cgroup_payload_populated(&cg);
	zone_cgroup_fini(&cg);
	return r;
}

/* Waits (up to timeout_ms, < 0 forever) for the supervisor to exit. */
static int wait_gone(const char *uuid, int timeout_ms)
{
	for (int waited = 0; supervisor_alive(uuid); waited += 10) {
		if (timeout_ms >= 0 && waited >= timeout_ms)
			return -ETIMEDOUT;
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}

int supervisor_request(const char *uuid, json_t *req, json_t **resp,
		       int timeout_ms, struct hull_err *err)
{
	*resp = NULL;
	_cleanup_free_ char *path = hull_root_path("%s/run/control.sock", uuid);
	int fd = sv_sock_connect(path, err);
	if (fd < 0)
		return hull_err_prefix(err, "zone %s is not running", uuid);
	char *line = json_dumps(req, JSON_COMPACT);
	size_t len = strlen(line);
	line[len] = '\n';
	ssize_t w = send(fd, line, len + 1, MSG_NOSIGNAL);
	free(line);
	if (w != (ssize_t)len + 1) {
		close(fd);
		return hull_err_sys(err, errno, "send to supervisor");
	}
	char buf[CONTROL_LINE_MAX + 1];
	size_t got = 0;
	int r = 0;
	while (!memchr(buf, '\n', got)) {
		struct pollfd pfd = {fd, POLLIN, 0};
		int pr = poll(&pfd, 1, timeout_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			r = hull_err_set(err, ETIMEDOUT,
					 "supervisor did not answer");
			break;
		}
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0) {
			r = hull_err_set(err, EIO,
					 "supervisor closed the connection");
			break;
		}
		got += (size_t)n;
		if (got == sizeof(buf) - 1) {
			r = hull_err_set(err, E2BIG,
					 "supervisor answer too long");
			break;
		}
	}
	close(fd);
	if (r < 0)
		return r;
	json_error_t je;
	json_t *j = json_loadb(
	    buf, (size_t)((char *)memchr(buf, '\n', got) - buf), 0, &je);
	if (!j)
		return hull_err_set(err, EIO, "supervisor answer: %s", je.text);
	if (!json_is_true(json_object_get(j, "ok"))) {
		const char *m = json_string_value(json_object_get(j, "error"));
		r = hull_err_set(err, EIO, "%s", m ? m : "request failed");
		json_decref(j);
		return r;
	}
	*resp = j;
	return 0;
}

static int simple(const char *uuid, json_t *req, int timeout_ms,
		  struct hull_err *err)
{
	json_t *resp;
	int r = supervisor_request(uuid, req, &resp, timeout_ms, err);
	json_decref(req);
	json_decref(resp);
	return r;
}

/* SIGKILLs the process named in R/<uuid>/run/<file>, while the lock of
 * supervisor.pid is held (by it). */
static void kill_named(const char *uuid, const char *file)
{
	_cleanup_free_ char *p = hull_root_path("%s/run/%s", uuid, file);
	_cleanup_free_ char *s = NULL;
	size_t len;
	if (hull_file_read(p, 64, &s, &len, NULL) < 0)
		return;
	int pid = atoi(s);
	if (pid <= 1)
		return;
	/* The pid is checked to still be the lock's holder once we hold a
	 * descriptor of that process, so a reused pid is never hit. */
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		return;
	if (supervisor_alive(uuid))
		syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
	close(pfd);
}

/* SIGKILLs the holder of uuid first (else it would start another
 * supervisor), then its supervisor: their children (the boot loader, the
 * metadata server) die with them (PR_SET_PDEATHSIG), and zone_cleanup
 * takes what they leave (init or the emulator, in the cgroup). */
static void supervisor_kill_hard(const char *uuid)
{
	kill_named(uuid, "holder.pid");
	kill_named(uuid, "supervisor.pid");
}

int supervisor_stop(const char *uuid, int timeout_s, bool force,
		    struct hull_err *err)
{
	if (!supervisor_alive(uuid))
		return zone_cleanup(uuid, err);
	int r;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		r = simple(uuid,
			   json_pack("{s:s, s:i, s:b}", "cmd", "stop",
				     "timeout", timeout_s, "force", force),
			   force ? SUPERVISOR_FORCE_STOP_MS : -1, err);
		if (r == 0 || !supervisor_alive(uuid) || !force)
			break;
		/* A forced stop always works: a supervisor not listening
		 * yet is asked again; one that does not answer in time
		 * (wedged) is killed. */
		clock_gettime(CLOCK_MONOTONIC, &t);
		long ms = (t.tv_sec - t0.tv_sec) * 1000 +
			  (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= SUPERVISOR_FORCE_STOP_MS) {
			supervisor_kill_hard(uuid);
			if (wait_gone(uuid, 10000) < 0)
				break;
			return zone_cleanup(uuid, err);
		}
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (r < 0 && supervisor_alive(uuid))
		return r;
	/* The answer comes with the cgroup gone; the lock goes at exit. */
	if (wait_gone(uuid, 10000) < 0)
		return hull_err_set(err, ETIMEDOUT,
				    "supervisor of %s did not exit", uuid);
	return 0;
}

int supervisor_reboot(const char *uuid, int timeout_s, bool force,
		      struct hull_err *err)
{
	return simple(uuid,
		      json_pack("{s:s, s:i, s:b}", "cmd", "reboot", "timeout",
				timeout_s, "force", force),
		      -1, err);
}

int supervisor_kill(const char *uuid, const char *signal, struct hull_err *err)
{
	int sig = control_signal_parse(signal ? signal : "SIGTERM");
	if (sig < 0)
		return hull_err_set(err, EINVAL, "unknown signal %s", signal);
	return simple(uuid,
		      json_pack("{s:s, s:i}", "cmd", "kill", "signal", sig),
		      10000, err);
}

json_t *supervisor_status(const char *uuid, struct hull_err *err)
{
	json_t *resp = NULL, *req = json_pack("{s:s}", "cmd", "status");
	supervisor_request(uuid, req, &resp, 10000, err);
	json_decref(req);
	return resp;
}

pid_t zone_init_pid(const char *uuid, struct hull_err *err)
{
	json_t *st = supervisor_status(uuid, err);
	if (!st)
		return -1;
	json_t *p = json_object_get(st, "pid");
	pid_t pid = json_is_integer(p) ? (pid_t)json_integer_value(p) : -1;
	json_decref(st);
	if (pid <= 0)
		hull_err_set(err, ESRCH, "zone %s is not running", uuid);
	return pid;
}

int zone_limits_update(const char *uuid, struct hull_err *err)
{
	if (!supervisor_alive(uuid))
		return 0; /* applied at the next start */
	return simple(uuid, json_pack("{s:s}", "cmd", "update"), 10000, err);
}

static int cleanup(const char *uuid, bool keep_cgroup, bool net,
		   struct hull_err *err)
{
	struct zone_cgroup cg;
	zone_cgroup_init(&cg, uuid);
	int r = keep_cgroup ? zone_cgroup_kill(&cg, 5000, err)
			    : zone_cgroup_destroy(&cg, err);
	zone_cgroup_fini(&cg);
	if (r < 0)
		return r;
	/* Ports and antispoof chains a killed supervisor left. */
	if (net && (r = net_instance_cleanup(uuid, err)) < 0)
		return hull_err_prefix(err, "network");
	static const char *const files[] = {"control.sock", "console.sock",
					    "zonecontrol/metadata.sock",
					    "vnc.json", "init.json"};
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		_cleanup_free_ char *p =
		    hull_root_path("%s/run/%s", uuid, files[i]);
		unlink(p);
	}
	return 0;
}

int zone_cleanup_locked(const char *uuid, struct hull_err *err)
{
	return cleanup(uuid, false, true, err);
}

int zone_cleanup_keep_cgroup(const char *uuid, bool net, struct hull_err *err)
{
	return cleanup(uuid, true, net, err);
}

static void zone_holder_pid_remove(const char *uuid)
{
	_cleanup_free_ char *p = hull_root_path("%s/run/holder.pid", uuid);
	unlink(p);
}

int zone_cleanup(const char *uuid, struct hull_err *err)
{
	if (supervisor_alive(uuid))
		return hull_err_set(err, EBUSY, "zone %s has a live supervisor",
				    uuid);
	int r = zone_cleanup_locked(uuid, err);
	if (r == 0) {
		_cleanup_free_ char *p =
		    hull_root_path("%s/run/supervisor.pid", uuid);
		unlink(p);
		zone_holder_pid_remove(uuid);
	}
	return r;
}

int zone_lastexited_read(const char *uuid, int *exit_status, char ts[32],
			 struct hull_err *err)
{
	_cleanup_free_ char *p = hull_root_path("%s/lastexited", uuid);
	_cleanup_free_ char *s = NULL;
	size_t len;
	int r = hull_file_read(p, 256, &s, &len, err);
	if (r < 0)
		return r;
	long long ms;
	int status;
	if (sscanf(s, "%lld %d", &ms, &status) != 2)
		return hull_err_set(err, EINVAL, "%s: malformed", p);
	/* SmartOS: low byte 0 -> status >> 8, else -(status & 0xff)... of the
	 * signal number, which is the low 7 bits of a wait status. */
	*exit_status =
	    (status & 0xff) == 0 ? (status >> 8) & 0xff : -(status & 0x7f);
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(ts, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, 32 - n, ".%03dZ", (int)(ms % 1000));
	return 0;
}

int zone_console_connect(const char *uuid, struct hull_err *err)
{
	_cleanup_free_ char *path = hull_root_path("%s/run/console.sock", uuid);
	int fd = sv_sock_connect(path, err);
	if (fd < 0)
		return hull_err_prefix(err, "zone %s is not running", uuid);
	return fd;
}

int zone_console_winsize(const char *uuid, unsigned rows, unsigned cols,
			 struct hull_err *err)
{
	return simple(uuid,
		      json_pack("{s:s, s:I, s:I}", "cmd", "winsize", "rows",
				(json_int_t)rows, "cols", (json_int_t)cols),
		      5000, err);
}

int zone_console_tail(const char *uuid, size_t max, char **out, size_t *n,
		      struct hull_err *err)
{
	_cleanup_free_ char *path = hull_root_path("%s/logs/console.log", uuid);
	*out = NULL;
	*n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0
				       : hull_err_sys(err, errno, "%s", path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return hull_err_set(err, EINVAL, "%s: not a file", path);
	}
	off_t from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
	char *buf = xmalloc(max ? max : 1);
	ssize_t got = pread(fd, buf, max, from);
	close(fd);
	if (got < 0) {
		free(buf);
		return hull_err_sys(err, errno, "%s", path);
	}
	*out = buf;
	*n = (size_t)got;
	return 0;
}

int zone_vnc_connect(const char *uuid, struct hull_err *err)
{
	_cleanup_free_ char *path = hull_root_path("%s/run/vnc.json", uuid);
	json_t *v = hull_json_load_file(path, err);
	if (!json_is_object(v)) {
		json_decref(v);
		return hull_err_set(err, ENOENT, "instance %s has no VNC relay",
				    uuid);
	}
	char port[16];
	snprintf(port, sizeof(port), "%lld",
		 (long long)json_integer_value(json_object_get(v, "port")));
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int fd = -1;
	if (getaddrinfo(hull_json_str(v, "host", "127.0.0.1"), port, &hints,
			&ai) == 0) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
		freeaddrinfo(ai);
	}
	json_decref(v);
	if (fd < 0)
		return hull_err_set(err, ECONNREFUSED,
				    "the VNC relay of %s does not answer",
				    uuid);
	return fd;
}

int zone_console_attach(const char *uuid, int in_fd, int out_fd,
			struct hull_err *err)
{
	int fd = zone_console_connect(uuid, err);
	if (fd < 0)
		return fd;
	int r = 0;
	bool in_open = true;
	for (;;) {
		struct pollfd p[2] = {{fd, POLLIN, 0}, {in_fd, POLLIN, 0}};
		if (poll(p, in_open ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = hull_err_sys(err, errno, "poll");
			break;
		}
		char buf[4096];
		if (p[0].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break; /* the zone stopped */
			if (write(out_fd, buf, (size_t)n) < 0) {
				r = hull_err_sys(err, errno, "write");
				break;
			}
		}
		if (in_open && p[1].revents) {
			ssize_t n = read(in_fd, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false;
				continue;
			}
			char *esc = memchr(buf, 0x1d, (size_t)n);
			size_t len = esc ? (size_t)(esc - buf) : (size_t)n;
			if (len && send(fd, buf, len, MSG_NOSIGNAL) < 0) {
				r = hull_err_sys(err, errno, "console");
				break;
			}
			if (esc)
				break;
		}
	}
	close(fd);
	return r;
}
