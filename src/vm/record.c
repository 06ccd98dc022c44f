/*
 * record.c - instance records and derived state (see record.h).
 *
 * Listing must stay fast with thousands of instances (bench/vmadm-list):
 * it reads one small JSON file and does one non-blocking flock per
 * instance, nothing else, and never talks to a supervisor.
 */
#include "vm/record.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inst/record.h"
#include "lib/fileio.h"
#include "lib/host.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "supervisor/client.h"
#include "vm/mdfiles.h"
#include "vm/nics.h"

static const char *const derived[] = {
    "state",
    "zone_state",
    "pid",
    "boot_timestamp",
    "exit_status",
    "exit_timestamp",
    "type",
    "hvm",
    "zoneid",
    "server_uuid",
    "platform_buildstamp",
};

bool vm_field_derived(const char *key)
{
	for (size_t i = 0; i < sizeof(derived) / sizeof(derived[0]); i++)
		if (!strcmp(key, derived[i]))
			return true;
	return false;
}

char *vm_record_path(const char *uuid)
{
	return inst_record_path(uuid);
}

char *vm_record_lock_path(const char *uuid)
{
	return inst_lock_path(uuid);
}

char *vm_pending_dir(void)
{
	return hull_root_path("var/vmadm/pending");
}

char *vm_pending_path(const char *uuid)
{
	return hull_root_path("var/vmadm/pending/%s.json", uuid);
}

char *vm_pending_lock_path(const char *uuid)
{
	return hull_root_path("var/vmadm/pending/%s.lock", uuid);
}

void vm_time_iso(char out[32])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

bool vm_record_exists(const char *uuid)
{
	char *a = hull_root_path("%s", uuid);
	char *b = vm_pending_path(uuid);
	bool e = hull_path_exists(a) || hull_path_exists(b);
	free(a);
	free(b);
	return e;
}

/* A lock file held by a live process: a non-blocking shared lock fails. */
static bool lock_held(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

bool vm_supervisor_alive(const char *uuid)
{
	return supervisor_alive(uuid);
}

json_t *vm_record_load_raw(const char *uuid, bool *pending,
			   struct hull_err *err)
{
	if (!hull_uuid_valid(uuid)) {
		hull_err_set(err, ENOENT,
			     "zoneadm: %s: No such zone configured", uuid);
		return NULL;
	}
	*pending = false;
	/* No stat first: listing thousands of instances, every syscall
	 * counts; a missing vm.json shows as ENOENT from the read. */
	struct hull_err e2;
	json_t *vm = inst_record_load(uuid, &e2);
	if (!vm && e2.code != ENOENT) {
		if (err)
			*err = e2;
		return NULL;
	}
	if (!vm) {
		char *pp = vm_pending_path(uuid);
		vm = hull_json_load_file(pp, &e2);
		free(pp);
		if (vm) {
			*pending = true;
		} else if (e2.code == ENOENT) {
			char *ds = hull_root_path("%s", uuid);
			bool orphan = hull_is_dir(ds);
			free(ds);
			if (orphan) {
				vm = json_pack("{s:s}", "uuid", uuid);
				*pending = true;
			} else {
				hull_err_set(err, ENOENT,
					     "zoneadm: %s: No such zone "
					     "configured",
					     uuid);
			}
		} else if (err) {
			*err = e2;
		}
	}
	if (vm && !json_is_object(vm)) {
		json_decref(vm);
		hull_err_set(err, EINVAL, "%s: record is not an object", uuid);
		return NULL;
	}
	return vm;
}

/* exit_status/exit_timestamp from R/<uuid>/lastexited, which the
 * supervisor writes (docs/internals.md). As on SmartOS, only an instance
 * that is not running has them. */
static void derive_exit(json_t *vm, const char *uuid)
{
	int status;
	char ts[32];
	if (zone_lastexited_read(uuid, &status, ts, NULL) < 0)
		return;
	json_object_set_new(vm, "exit_status", json_integer(status));
	json_object_set_new(vm, "exit_timestamp", json_string(ts));
}

/* What SmartOS shows of a record hull wrote before it kept both nic
 * address forms (nics.h), and without the create-only nowait, which
 * SmartOS never stores. */
static void shown_as_smartos(json_t *vm)
{
	vm_nics_represent(json_object_get(vm, "nics"));
	json_object_del(vm, "nowait");
}

/* pid, boot_timestamp and zoneid of a running instance from
 * R/<uuid>/run/init.json, which its supervisor writes at each boot. */
static void derive_running(json_t *vm, const char *uuid)
{
	_cleanup_free_ char *p = hull_root_path("%s/run/init.json", uuid);
	json_t *j = hull_json_load_file(p, NULL);
	static const char *const keys[] = {"pid", "boot_timestamp", "zoneid"};
	for (size_t i = 0; json_is_object(j) && i < 3; i++) {
		json_t *v = json_object_get(j, keys[i]);
		if (json_is_integer(v) || json_is_string(v))
			json_object_set(vm, keys[i], v);
	}
	json_decref(j);
}

static char host_uuid[37];

static void host_uuid_once(void)
{
	if (host_uuid_get(host_uuid, NULL) < 0)
		host_uuid[0] = '\0';
}

/* What SmartOS takes from sysinfo for every instance: server_uuid (its
 * UUID) and platform_buildstamp (its Live Image); looked up once per
 * process (pthread_once: the instance library is called from threads).
 * snapshots is always there, [] when there are none. */
static void derive_host(json_t *vm)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, host_uuid_once);
	if (host_uuid[0])
		json_object_set_new(vm, "server_uuid", json_string(host_uuid));
	json_object_set_new(vm, "platform_buildstamp",
			    json_string(HULL_VERSION));
	if (!json_is_array(json_object_get(vm, "snapshots")))
		json_object_set_new(vm, "snapshots", json_array());
}

/* Everything derived for a provisioned instance, alive saying whether its
 * supervisor is. */
static void derive_state(json_t *vm, const char *uuid, bool alive)
{
	const char *state;
	if (alive)
		/* A supervisor with nothing in the zone yet (an HVM boot
		 * loader reads the disk) is illumos's "ready" zone: its
		 * platform is set up, no process of the guest runs. */
		state = zone_is_running(uuid) ? "running" : "ready";
	else
		/* what a killed supervisor left: never "stopped" while a
		 * process of the instance (an emulator with its disks open)
		 * lives */
		state = zone_cgroup_busy(uuid) ? "down" : "stopped";
	json_object_set_new(vm, "state", json_string(state));
	json_object_set_new(
	    vm, "zone_state",
	    json_string(strcmp(state, "stopped") ? state : "installed"));
	if (!strcmp(state, "running"))
		derive_running(vm, uuid);
	else
		derive_exit(vm, uuid);
	derive_host(vm);
	shown_as_smartos(vm);
}

void vm_record_derive(json_t *vm, bool pending)
{
	const char *uuid = hull_json_str(vm, "uuid", "");
	if (!pending) {
		derive_state(vm, uuid, supervisor_alive(uuid));
		return;
	}
	char *lp = vm_pending_lock_path(uuid);
	bool busy = lock_held(lp);
	free(lp);
	/* vmadm receive marks its pending record (receive.c). */
	bool receiving = json_is_true(json_object_get(vm, "hull_receiving"));
	json_object_del(vm, "hull_receiving");
	json_object_set_new(vm, "state",
			    json_string(!busy	    ? "failed"
					: receiving ? "receiving"
						    : "provisioning"));
	json_object_set_new(vm, "zone_state",
			    json_string(busy ? "configured" : "incomplete"));
	derive_exit(vm, uuid);
	derive_host(vm);
	shown_as_smartos(vm);
}

json_t *vm_record_load(const char *uuid, struct hull_err *err)
{
	bool pending;
	json_t *vm = vm_record_load_raw(uuid, &pending, err);
	if (vm)
		vm_record_derive(vm, pending);
	return vm;
}

int vm_pending_write(json_t *vm, struct hull_err *err)
{
	/* No fsync: the pending record guards against a vmadm that dies, and
	 * the page cache outlives a process. A host crash may lose it, but
	 * then an instance dataset without a record still shows as failed
	 * (vm_record_load_raw). Two fsyncs here were most of a create's
	 * time on btrfs. */
	const char *uuid = hull_json_str(vm, "uuid", "");
	char *path = vm_pending_path(uuid);
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	char *text = json_dumps(vm, JSON_COMPACT);
	size_t len = strlen(text), done = 0;
	int r = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		r = hull_err_sys(err, errno, "create %s", tmp);
	while (r == 0 && done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = hull_err_sys(err, errno, "write %s", tmp);
		else
			done += (size_t)n;
	}
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = hull_err_sys(err, errno, "write %s", tmp);
	if (r == 0 && rename(tmp, path) < 0)
		r = hull_err_sys(err, errno, "rename %s", tmp);
	free(text);
	if (r < 0)
		unlink(tmp);
	free(tmp);
	free(path);
	return r;
}

static int record_save(json_t *vm, bool first, struct hull_err *err)
{
	const char *uuid = hull_json_str(vm, "uuid", NULL);
	if (!uuid || !hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "record without a valid uuid");
	json_t *copy = json_copy(vm);
	for (size_t i = 0; i < sizeof(derived) / sizeof(derived[0]); i++)
		json_object_del(copy, derived[i]);
	char now[32];
	vm_time_iso(now);
	json_object_set_new(copy, "last_modified", json_string(now));
	json_object_set_new(vm, "last_modified", json_string(now));
	int r = first ? inst_record_save_first(copy, err)
		      : inst_record_save(copy, err);
	json_decref(copy);
	return r;
}

int vm_record_save(json_t *vm, struct hull_err *err)
{
	return record_save(vm, false, err);
}

int vm_record_save_first(json_t *vm, struct hull_err *err)
{
	return record_save(vm, true, err);
}

static int cmp_uuid(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_names(const char *dir, const char *suffix, char ***names,
		      size_t *n, size_t *cap)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	size_t sl = suffix ? strlen(suffix) : 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l != HULL_UUID_LEN + sl)
			continue;
		if (sl && strcmp(de->d_name + HULL_UUID_LEN, suffix))
			continue;
		char *u = xstrndup(de->d_name, HULL_UUID_LEN);
		if (!hull_uuid_valid(u)) {
			free(u);
			continue;
		}
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*names = xrealloc(*names, *cap * sizeof(char *));
		}
		(*names)[(*n)++] = u;
	}
	closedir(d);
}

/*
 * The listing fast path: paths relative to a descriptor of the pool root,
 * so the kernel walks the root's own components once per listing rather
 * than three times per instance (path lookup was a third of a listing's
 * CPU time). Pending and unusual records go the general way.
 */
static json_t *load_fast(int rootfd, const char *uuid)
{
	char rel[HULL_UUID_LEN + 32];
	snprintf(rel, sizeof(rel), "%s/" INST_RECORD_REL, uuid);
	int fd = openat(rootfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vm_record_load(uuid, NULL);
	struct stat st;
	json_t *vm = NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < (1 << 20)) {
		char *buf = xmalloc((size_t)st.st_size);
		if (read(fd, buf, (size_t)st.st_size) == st.st_size)
			vm = json_loadb(buf, (size_t)st.st_size, 0, NULL);
		free(buf);
	}
	close(fd);
	if (!json_is_object(vm) || json_object_get(vm, VM_MDFILES_PROP)) {
		/* Large metadata values in side files: the general way. */
		json_decref(vm);
		return vm_record_load(uuid, NULL);
	}
	snprintf(rel, sizeof(rel), "%s/run/supervisor.pid", uuid);
	fd = openat(rootfd, rel, O_RDONLY | O_CLOEXEC);
	bool alive =
	    fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	if (fd >= 0)
		close(fd);
	derive_state(vm, uuid, alive);
	return vm;
}

json_t *vm_record_list(struct hull_err *err)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	/* an unreadable pool root lists as an empty pool */
	inst_uuids(&names, &n, NULL);
	cap = n;
	char *pd = vm_pending_dir();
	add_names(pd, ".json", &names, &n, &cap);
	free(pd);
	if (n)
		qsort(names, n, sizeof(char *), cmp_uuid);
	json_t *arr = json_array();
	int rootfd = open(hull_root(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && !strcmp(names[i], names[i - 1]))
			continue;
		json_t *vm = rootfd >= 0 ? load_fast(rootfd, names[i])
					 : vm_record_load(names[i], NULL);
		if (vm)
			json_array_append_new(arr, vm);
	}
	if (rootfd >= 0)
		close(rootfd);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return arr;
}
