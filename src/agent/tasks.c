/*
 * tasks.c - the head node's tasks, run through the instance and image
 * libraries (cn-agent's machine_* and image_ensure_present), and the
 * done-log that keeps any of them from running twice (agent.h).
 *
 * Order for each task: the done-log says "started" (written and synced
 * before anything is touched), the task runs, the done-log says how it
 * ended, the head node is told. A task found "started" was cut off by a
 * crash of the agent: it is not run again; what it left is looked at
 * instead (a create whose instance exists is done, a delete whose
 * instance is gone is done), else it is reported failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent/agent.h"
#include "hull/image.h"
#include "hull/instance.h"
#include "hull/snapshot.h"
#include "lib/fileio.h"
#include "lib/host.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* vmadm stop's default grace period. */
#define STOP_TIMEOUT_S 60

json_t *agent_capacity(bool with_sysinfo, struct hull_err *err)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	json_t *o =
	    json_pack("{s:s, s:I, s:I}", "hostname", host, "ram",
		      (json_int_t)((long long)pages * psz / (1024 * 1024)),
		      "cpus", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN));
	struct statvfs vfs;
	if (statvfs(hull_root(), &vfs) == 0) {
		unsigned long long size =
		    (unsigned long long)vfs.f_blocks * vfs.f_frsize;
		unsigned long long avail =
		    (unsigned long long)vfs.f_bavail * vfs.f_frsize;
		json_object_set_new(o, "disk_pool_size_bytes",
				    json_integer((json_int_t)size));
		json_object_set_new(o, "disk_pool_alloc_bytes",
				    json_integer((json_int_t)(size - avail)));
	}
	if (with_sysinfo) {
		json_t *si = host_sysinfo_collect(NULL);
		if (si)
			json_object_set_new(o, "sysinfo", si);
	}
	json_t *vms = json_object();
	json_t *list = hull_instance_list(NULL, 0, NULL, err);
	size_t i;
	json_t *vm;
	json_array_foreach(list, i, vm) json_object_set(
	    vms, hull_json_str(vm, "uuid", ""), json_object_get(vm, "state"));
	json_decref(list);
	json_object_set_new(o, "vms", vms);
	return o;
}

static char *log_path(const char *id)
{
	return hull_root_path("var/agent/tasks/%s", id);
}

static int log_write(const char *id, json_t *rec, struct hull_err *err)
{
	_cleanup_free_ char *dir = hull_root_path("var/agent/tasks");
	int r = hull_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *p = log_path(id);
	return hull_json_save_file(p, rec, err);
}

static json_t *report_new(bool ok, const char *error, const char *uuid)
{
	json_t *r = json_pack("{s:s}", "state", ok ? "done" : "failed");
	if (error)
		json_object_set_new(r, "error", json_string(error));
	json_t *vm = uuid && *uuid ? hull_instance_get(uuid, NULL) : NULL;
	if (vm)
		json_object_set(r, "vm_state", json_object_get(vm, "state"));
	json_decref(vm);
	return r;
}

/* image_ensure_present: the image from the head node's IMGAPI unless it
 * is installed. */
int agent_image_ensure(const struct agent_conf *c, const char *img,
		       struct hull_err *err)
{
	json_t *info = NULL;
	struct hull_err scratch = {0}; /* hull_image_get needs one */
	if (hull_image_get(img, false, &info, &scratch) == 0) {
		json_decref(info);
		return 0;
	}
	_cleanup_free_ char *src = xasprintf("%s/imgapi", c->head);
	int r = hull_image_import(img, src, NULL, err);
	if (r < 0)
		hull_err_prefix(err, "import image %s", img);
	return r;
}

static int run(const struct agent_conf *c, const char *action, const char *uuid,
	       json_t *params, json_t **result, struct hull_err *err)
{
	if (!strncmp(action, "migrate_", 8))
		return agent_migrate_task(c, action, uuid, params, result, err);
	if (!strcmp(action, "create")) {
		const char *img = hull_json_str(params, "image_uuid", NULL);
		int r = img ? agent_image_ensure(c, img, err) : 0;
		if (r < 0)
			return r;
		if ((r = agent_fabric_prepare(c, params, err)) < 0)
			return hull_err_prefix(err, "fabric");
		char got[HULL_INSTANCE_UUID_LEN + 1] = "";
		return hull_instance_create(params, NULL, got, err);
	}
	if (!strcmp(action, "start")) {
		int r = hull_instance_start(uuid, NULL, err);
		return r < 0 ? r : 0;
	}
	if (!strcmp(action, "stop")) {
		int r =
		    hull_instance_stop(uuid, false, STOP_TIMEOUT_S, NULL, err);
		return r < 0 ? r : 0;
	}
	if (!strcmp(action, "reboot"))
		return hull_instance_reboot(uuid, false, NULL, err);
	/* discard: what a create taken from this server left (the head
	 * node's lostcreate.h), deleted as a delete would. */
	if (!strcmp(action, "delete") || !strcmp(action, "discard")) {
		int r = hull_instance_delete(uuid, NULL, err);
		return r == -ENOENT ? 0 : r;
	}
	if (!strcmp(action, "update"))
		return hull_instance_update(uuid, params, NULL, err);
	const char *snap = hull_json_str(params, "name", "");
	if (!strcmp(action, "snapshot_create"))
		return hull_snapshot_create(uuid, snap, NULL, err);
	if (!strcmp(action, "snapshot_delete"))
		return hull_snapshot_delete(uuid, snap, NULL, err);
	if (!strcmp(action, "snapshot_rollback"))
		return hull_snapshot_rollback(uuid, snap, NULL, err);
	if (!strcmp(action, "console"))
		return agent_console_start(c, uuid, params, err);
	if (!strcmp(action, "image_ensure_present"))
		return agent_image_ensure(
		    c, hull_json_str(params, "image_uuid", ""), err);
	return hull_err_set(err, ENOTSUP, "unknown task %s", action);
}

/* A task cut off by a crash: what did it leave? */
static json_t *after_crash(const char *action, const char *uuid)
{
	json_t *vm = hull_instance_get(uuid, NULL);
	bool exists = vm != NULL;
	json_decref(vm);
	if (!strcmp(action, "create") && exists)
		return report_new(true, NULL, uuid);
	if ((!strcmp(action, "delete") || !strcmp(action, "discard")) &&
	    !exists)
		return report_new(true, NULL, NULL);
	/* A switch cut off after it stopped the instance: the instance is
	 * still this server's (its autoboot is cleared only once the
	 * target has everything), so it runs here again. */
	if (!strcmp(action, "migrate_switch") && exists) {
		json_t *v = hull_instance_get(uuid, NULL);
		if (v && hull_json_bool(v, "autoboot", false) &&
		    strcmp(hull_json_str(v, "state", ""), "running"))
			hull_instance_start(uuid, NULL, NULL);
		json_decref(v);
	}
	return report_new(false, "the agent stopped while it ran this task",
			  uuid);
}

int agent_task_run(const struct agent_conf *c, json_t *task, json_t **report,
		   struct hull_err *err)
{
	const char *id = hull_json_str(task, "id", "");
	const char *action = hull_json_str(task, "action", "");
	const char *uuid = hull_json_str(task, "machine", "");
	if (!hull_uuid_valid(id))
		return hull_err_set(err, EINVAL, "task without a valid id");
	/* The server's own task: carries a whole state, needs no done-log. */
	if (!strcmp(action, "fw_rules")) {
		struct hull_err terr = {0};
		int r = agent_fw_rules(json_object_get(task, "params"), &terr);
		agent_log(r == 0 ? "info" : "error",
			  json_pack("{s:s, s:s}", "task", id, "action", action),
			  "task %s: %s", action, r == 0 ? "done" : terr.msg);
		*report = report_new(r == 0, r < 0 ? terr.msg : NULL, NULL);
		json_object_set_new(*report, "action", json_string(action));
		return 0;
	}
	if (!hull_uuid_valid(uuid))
		return hull_err_set(err, EINVAL, "task without a valid id");
	_cleanup_free_ char *p = log_path(id);
	json_t *done =
	    hull_path_exists(p) ? hull_json_load_file(p, NULL) : NULL;
	if (done) {
		const char *st = hull_json_str(done, "state", "");
		json_t *rep;
		if (!strcmp(st, "started")) {
			rep = after_crash(action, uuid);
			log_write(id, rep, NULL);
		} else {
			/* The outcome again, with the instance's state as it
			 * is now (the logged one is as old as the task). */
			json_t *now = report_new(true, NULL, uuid);
			rep = json_deep_copy(done);
			json_object_del(rep, "vm_state");
			if (json_object_get(now, "vm_state"))
				json_object_set(
				    rep, "vm_state",
				    json_object_get(now, "vm_state"));
			json_decref(now);
		}
		json_decref(done);
		*report = rep;
		return 0;
	}
	json_t *started = json_pack("{s:s, s:s, s:s}", "state", "started",
				    "action", action, "machine", uuid);
	int r = log_write(id, started, err);
	json_decref(started);
	if (r < 0)
		return hull_err_prefix(err, "task %s: done-log", id);
	agent_log("info",
		  json_pack("{s:s, s:s, s:s}", "task", id, "action", action,
			    "vm", uuid),
		  "task %s %s", action, uuid);
	struct hull_err terr = {0};
	json_t *result = NULL;
	r = run(c, action, uuid, json_object_get(task, "params"), &result,
		&terr);
	json_t *rep = report_new(r == 0, r < 0 ? terr.msg : NULL, uuid);
	if (result)
		json_object_set_new(rep, "result", result);
	json_object_set_new(rep, "action", json_string(action));
	log_write(id, rep, NULL);
	agent_log(r == 0 ? "info" : "error",
		  json_pack("{s:s, s:s, s:s}", "task", id, "action", action,
			    "vm", uuid),
		  "task %s %s: %s", action, uuid, r == 0 ? "done" : terr.msg);
	*report = rep;
	return 0;
}
