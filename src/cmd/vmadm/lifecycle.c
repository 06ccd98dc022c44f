/*
 * lifecycle.c - vmadm start, stop, reboot, kill, console and autoboot.
 *
 * A running instance is one whose supervisor (`hull-supervisor UUID`)
 * holds the lock on run/supervisor.pid; vmadm starts it and then talks to
 * it over run/control.sock, one JSON object per line each way
 * (docs/internals.md). vmadm holds the instance lock for the whole of a
 * start or stop; the supervisor never takes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmd/vmadm/vmadm.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"
#include "vm/record.h"

static int sock_connect(const char *uuid, const char *name,
			struct hull_err *err)
{
	char *path = hull_root_path("%s/run/%s", uuid, name);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		hull_err_set(err, ENAMETOOLONG, "%s: path too long", path);
		free(path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		hull_err_sys(err, e, "connect to %s", path);
		free(path);
		return -e;
	}
	free(path);
	return fd;
}

/* Sends one request and returns the answer object; timeout_s bounds the
 * wait for it (a stop answers only once the zone is down). */
static json_t *control_request(const char *uuid, json_t *req, int timeout_s,
			       struct hull_err *err)
{
	int fd = sock_connect(uuid, "control.sock", err);
	if (fd < 0)
		return NULL;
	char *line = json_dumps(req, JSON_COMPACT);
	size_t n = strlen(line);
	line = xrealloc(line, n + 2);
	line[n++] = '\n';
	json_t *ans = NULL;
	if (write(fd, line, n) != (ssize_t)n) {
		hull_err_sys(err, errno, "write to supervisor");
		goto out;
	}
	char buf[65536];
	size_t len = 0;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (len < sizeof(buf) - 1) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = (long)timeout_s * 1000 -
			    ((now.tv_sec - start.tv_sec) * 1000 +
			     (now.tv_nsec - start.tv_nsec) / 1000000);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			hull_err_set(err, ETIMEDOUT,
				     "supervisor did not answer within %d s",
				     timeout_s);
			goto out;
		}
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (memchr(buf, '\n', len))
			break;
	}
	buf[len] = '\0';
	char *nl = strchr(buf, '\n');
	if (!nl) {
		hull_err_set(err, EPROTO, "supervisor closed the connection");
		goto out;
	}
	ans = hull_json_load_buf("supervisor answer", buf, (size_t)(nl - buf),
				 err);
	if (ans && !json_is_true(json_object_get(ans, "ok"))) {
		hull_err_set(err, EIO, "%s",
			     hull_json_str(ans, "error", "supervisor refused"));
		json_decref(ans);
		ans = NULL;
	}
out:
	free(line);
	close(fd);
	return ans;
}

static char *supervisor_path(void)
{
	const char *env = getenv("HULL_SUPERVISOR");
	if (env && *env)
		return xstrdup(env);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			char *p = xasprintf("%s/hull-supervisor", self);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
			slash = strrchr(self, '/');
			if (slash) {
				*slash = '\0';
				p = xasprintf("%s/hull-supervisor", self);
				if (access(p, X_OK) == 0)
					return p;
				free(p);
			}
		}
	}
	return xstrdup("hull-supervisor");
}

/* Waits until the supervisor let go of its pid file lock. */
static bool wait_gone(const char *uuid, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 10) {
		if (!vm_supervisor_alive(uuid))
			return true;
		usleep(10000);
	}
	return !vm_supervisor_alive(uuid);
}

static int set_autoboot(const char *uuid, bool on, struct hull_err *err)
{
	bool pending;
	json_t *vm = vm_record_load_raw(uuid, &pending, err);
	if (!vm)
		return -ENOENT;
	int r = 0;
	if (!pending && hull_json_bool(vm, "autoboot", !on) != on) {
		json_object_set_new(vm, "autoboot", json_boolean(on));
		r = vm_record_save(vm, err);
	}
	json_decref(vm);
	return r;
}

int vmadm_start_locked(const char *uuid, json_t *vm, struct hull_err *err)
{
	if (vm_supervisor_alive(uuid))
		return -EALREADY;
	char *prog = supervisor_path();
	char *argv[] = {prog, (char *)uuid, NULL};
	int r = hull_run(argv, -1, -1, NULL, err);
	free(prog);
	if (r < 0)
		return r;
	return set_autoboot(uuid, true, err);
}

int vmadm_stop_locked(const char *uuid, bool force, int timeout,
		      struct hull_err *err)
{
	if (!vm_supervisor_alive(uuid))
		return 0;
	json_t *req = json_pack("{s:s,s:i,s:b}", "cmd", "stop", "timeout",
				timeout, "force", force);
	json_t *ans = control_request(uuid, req, timeout + 30, err);
	json_decref(req);
	if (!ans && vm_supervisor_alive(uuid))
		return -EIO;
	json_decref(ans);
	if (!wait_gone(uuid, 10000))
		return hull_err_set(err, ETIMEDOUT,
				    "supervisor did not exit after stop");
	return 0;
}

int vmadm_apply_live(const char *uuid, struct hull_err *err)
{
	json_t *req = json_pack("{s:s}", "cmd", "update");
	json_t *ans = control_request(uuid, req, 30, err);
	json_decref(req);
	if (!ans)
		return hull_err_prefix(err, "apply limits to running VM %s",
				       uuid);
	json_decref(ans);
	return 0;
}

/* Parses "<uuid>" after options common to start/stop/reboot. */
static const char *one_uuid(int argc, char **argv, const char *cmd)
{
	return optind == argc - 1 ? argv[optind] : NULL;
	(void)cmd;
}

int vmadm_start(int argc, char **argv)
{
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+dv")) != -1)
		if (c != 'd' && c != 'v')
			return vmadm_usage("start");
	const char *uuid = one_uuid(argc, argv, "start");
	if (!uuid)
		return vmadm_usage("start");
	struct hull_err err;
	json_t *vm = vm_record_load(uuid, &err);
	if (!vm)
		return vmadm_fail_err(&err);
	const char *state = hull_json_str(vm, "state", "");
	if (!strcmp(state, "failed") || !strcmp(state, "provisioning")) {
		vmadm_fail("Cannot start VM %s: state is %s", uuid, state);
		json_decref(vm);
		return VMADM_ERROR;
	}
	int lock = vmadm_lock(uuid, &err);
	int r = lock < 0 ? lock : vmadm_start_locked(uuid, vm, &err);
	hull_lock_release(lock);
	json_decref(vm);
	if (r == -EALREADY) {
		fprintf(stderr, "VM %s is already running\n", uuid);
		return VMADM_OK;
	}
	if (r < 0) {
		hull_err_prefix(&err, "start %s", uuid);
		return vmadm_fail_err(&err);
	}
	fprintf(stderr, "Successfully started VM %s\n", uuid);
	return VMADM_OK;
}

static int stop_or_reboot(int argc, char **argv, bool reboot)
{
	const char *cmd = reboot ? "reboot" : "stop";
	bool force = false;
	int timeout = 60, c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, reboot ? "Fdv" : "Ft:dv")) != -1) {
		if (c == 'F') {
			force = true;
		} else if (c == 't') {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (!*optarg || *end || t < 0 || t > 86400)
				return vmadm_fail("Invalid timeout \"%s\"",
						  optarg);
			timeout = (int)t;
		} else if (c != 'd' && c != 'v') {
			return vmadm_usage(cmd);
		}
	}
	const char *uuid = one_uuid(argc, argv, cmd);
	if (!uuid)
		return vmadm_usage(cmd);
	struct hull_err err;
	json_t *vm = vm_record_load(uuid, &err);
	if (!vm)
		return vmadm_fail_err(&err);
	json_decref(vm);
	int lock = vmadm_lock(uuid, &err);
	if (lock < 0)
		return vmadm_fail_err(&err);
	int r = 0;
	if (!vm_supervisor_alive(uuid)) {
		hull_lock_release(lock);
		if (reboot)
			return vmadm_fail("Cannot reboot VM %s: VM is not "
					  "running",
					  uuid);
		set_autoboot(uuid, false, NULL);
		fprintf(stderr, "VM %s is already not running\n", uuid);
		return VMADM_OK;
	}
	if (reboot) {
		json_t *req = json_pack("{s:s,s:i,s:b}", "cmd", "reboot",
					"timeout", timeout, "force", force);
		json_t *ans = control_request(uuid, req, timeout + 60, &err);
		json_decref(req);
		r = ans ? 0 : -EIO;
		json_decref(ans);
	} else {
		r = vmadm_stop_locked(uuid, force, force ? 0 : timeout, &err);
		if (r == 0)
			r = set_autoboot(uuid, false, &err);
	}
	hull_lock_release(lock);
	if (r < 0) {
		hull_err_prefix(&err, "%s %s", cmd, uuid);
		return vmadm_fail_err(&err);
	}
	fprintf(stderr, "Successfully completed %s for VM %s\n", cmd, uuid);
	return VMADM_OK;
}

int vmadm_stop(int argc, char **argv)
{
	return stop_or_reboot(argc, argv, false);
}

int vmadm_reboot(int argc, char **argv)
{
	return stop_or_reboot(argc, argv, true);
}

int vmadm_kill(int argc, char **argv)
{
	const char *sig = "SIGTERM";
	/* -SIG form: `vmadm kill -KILL uuid` / `-9` */
	if (argc >= 3 && argv[1][0] == '-' && argv[1][1] &&
	    strcmp(argv[1], "-s") && strcmp(argv[1], "-d") &&
	    strcmp(argv[1], "-v")) {
		sig = argv[1] + 1;
		argv++;
		argc--;
	}
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+s:dv")) != -1) {
		if (c == 's')
			sig = optarg;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("kill");
	}
	const char *uuid = one_uuid(argc, argv, "kill");
	if (!uuid)
		return vmadm_usage("kill");
	char *name = strncasecmp(sig, "SIG", 3) && !(*sig >= '0' && *sig <= '9')
			 ? xasprintf("SIG%s", sig)
			 : xstrdup(sig);
	for (char *p = name; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	struct hull_err err;
	json_t *vm = vm_record_load(uuid, &err);
	int rc = VMADM_ERROR;
	if (!vm) {
		vmadm_fail_err(&err);
		goto out;
	}
	if (strcmp(hull_json_str(vm, "state", ""), "running")) {
		vmadm_fail("Cannot send signal to VM %s: VM is not running",
			   uuid);
		goto out;
	}
	json_t *req = json_pack("{s:s,s:s}", "cmd", "kill", "signal", name);
	json_t *ans = control_request(uuid, req, 10, &err);
	json_decref(req);
	if (!ans) {
		hull_err_prefix(&err, "kill %s", uuid);
		vmadm_fail_err(&err);
		goto out;
	}
	json_decref(ans);
	fprintf(stderr, "Sent signal \"%s\" to init process for VM %s\n", sig,
		uuid);
	rc = VMADM_OK;
out:
	json_decref(vm);
	free(name);
	return rc;
}

int vmadm_console(int argc, char **argv)
{
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+dv")) != -1)
		if (c != 'd' && c != 'v')
			return vmadm_usage("console");
	const char *uuid = one_uuid(argc, argv, "console");
	if (!uuid)
		return vmadm_usage("console");
	struct hull_err err;
	json_t *vm = vm_record_load(uuid, &err);
	if (!vm)
		return vmadm_fail_err(&err);
	bool running = !strcmp(hull_json_str(vm, "state", ""), "running");
	json_decref(vm);
	if (!running)
		return vmadm_fail("Cannot connect to console of VM %s: VM is "
				  "not running",
				  uuid);
	int fd = sock_connect(uuid, "console.sock", &err);
	if (fd < 0)
		return vmadm_fail_err(&err);
	struct termios saved, raw;
	bool tty = tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		fprintf(stderr,
			"[Connected to VM %s console; ^] to detach]\r\n", uuid);
	}
	char buf[4096];
	bool done = false, in_open = true;
	while (!done) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = STDIN_FILENO, .events = POLLIN}};
		if (poll(p, in_open ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0 || write(STDOUT_FILENO, buf, (size_t)n) != n)
				break;
		}
		if (in_open && p[1].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false;
				shutdown(fd, SHUT_WR);
				continue;
			}
			char *esc = memchr(buf, 0x1d, (size_t)n);
			if (esc) {
				n = esc - buf;
				done = true;
			}
			if (n > 0 && write(fd, buf, (size_t)n) != n)
				break;
		}
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		fprintf(stderr, "\n[Detached from VM %s console]\n", uuid);
	}
	close(fd);
	return VMADM_OK;
}

int vmadm_autoboot(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct hull_err err;
	json_t *all = vm_record_list(&err);
	if (!all)
		return vmadm_fail_err(&err);
	int rc = VMADM_OK;
	size_t i;
	json_t *vm;
	json_array_foreach(all, i, vm)
	{
		const char *uuid = hull_json_str(vm, "uuid", "");
		if (!hull_json_bool(vm, "autoboot", false) ||
		    strcmp(hull_json_str(vm, "state", ""), "stopped"))
			continue;
		int lock = vmadm_lock(uuid, &err);
		int r = lock < 0 ? lock : vmadm_start_locked(uuid, vm, &err);
		hull_lock_release(lock);
		if (r < 0 && r != -EALREADY) {
			hull_err_prefix(&err, "start %s", uuid);
			vmadm_fail_err(&err);
			rc = VMADM_ERROR;
		} else {
			fprintf(stderr, "Successfully started VM %s\n", uuid);
		}
	}
	json_decref(all);
	return rc;
}
