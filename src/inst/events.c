/*
 * events.c - the stream of instance changes (create, modify, delete), as
 * SmartOS's vminfod reports them (include/hull/events.h; vmadm events,
 * spec/smartos.md §1.9).
 *
 * hull has no daemon that sees every change, so the stream is computed:
 * inotify on the pool root (instances appear and go), the pending folder
 * (creates in progress) and each instance's config/, run/ and own folder
 * (record rewrites, the supervisor's pid file closing when it dies,
 * lastexited) wakes a rescan, and a periodic rescan catches what inotify
 * cannot see. Each rescan diffs the derived instance objects against the
 * previous ones.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "hull/events.h"
#include "inst/record.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "vm/record.h"

struct hull_events {
	char *only; /* a uuid, or NULL */
	int ino;
	json_t *seen;	 /* uuid -> instance object */
	json_t *watched; /* path -> true */
};

static void watch(struct hull_events *ev, const char *path, uint32_t mask)
{
	if (json_object_get(ev->watched, path))
		return;
	if (inotify_add_watch(ev->ino, path, mask | IN_ONLYDIR) >= 0)
		json_object_set_new(ev->watched, path, json_true());
}

static void watch_instance(struct hull_events *ev, const char *uuid)
{
	const uint32_t m = IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_CREATE;
	const char *sub[] = {"", "/config", "/run"};
	for (size_t i = 0; i < 3; i++) {
		char *p = hull_root_path("%s%s", uuid, sub[i]);
		watch(ev, p, m);
		free(p);
	}
}

static void add_change(json_t *changes, const char *path0, const char *path1,
		       json_t *oldv, json_t *newv)
{
	json_t *c = json_object();
	json_t *path = json_array();
	json_array_append_new(path, json_string(path0));
	if (path1)
		json_array_append_new(path, json_string(path1));
	char *pretty =
	    path1 ? xasprintf("%s.%s", path0, path1) : xstrdup(path0);
	json_object_set_new(c, "path", path);
	json_object_set_new(c, "prettyPath", json_string(pretty));
	json_object_set_new(c, "action",
			    json_string(!oldv	? "added"
					: !newv ? "removed"
						: "changed"));
	if (oldv)
		json_object_set(c, "oldValue", oldv);
	if (newv)
		json_object_set(c, "newValue", newv);
	json_array_append_new(changes, c);
	free(pretty);
}

static void diff_objects(json_t *changes, const char *prefix, json_t *a,
			 json_t *b)
{
	const char *k;
	json_t *v;
	json_object_foreach(b, k, v)
	{
		json_t *o = json_object_get(a, k);
		if (o && json_equal(o, v))
			continue;
		if (!prefix && o && json_is_object(o) && json_is_object(v)) {
			diff_objects(changes, k, o, v);
			continue;
		}
		add_change(changes, prefix ? prefix : k, prefix ? k : NULL, o,
			   v);
	}
	json_object_foreach(a, k, v) if (!json_object_get(b, k)) add_change(
	    changes, prefix ? prefix : k, prefix ? k : NULL, v, NULL);
}

static json_t *scan(struct hull_events *ev)
{
	json_t *all = vm_record_list(NULL);
	json_t *now = json_object();
	size_t i;
	json_t *vm;
	json_array_foreach(all, i, vm)
	{
		const char *uuid = hull_json_str(vm, "uuid", NULL);
		if (!uuid || (ev->only && strcmp(ev->only, uuid)))
			continue;
		/* last_modified changes with every save; the change that
		 * caused it is what matters. */
		json_object_del(vm, "last_modified");
		json_object_set(now, uuid, vm);
		watch_instance(ev, uuid);
	}
	json_decref(all);
	return now;
}

static int rescan(struct hull_events *ev, hull_event_fn fn, void *arg)
{
	json_t *now = scan(ev);
	int n = 0;
	const char *uuid;
	json_t *vm;
	json_object_foreach(now, uuid, vm)
	{
		json_t *old = json_object_get(ev->seen, uuid);
		if (!old) {
			fn("create", vm, NULL, arg);
			n++;
			continue;
		}
		json_t *changes = json_array();
		diff_objects(changes, NULL, old, vm);
		if (json_array_size(changes)) {
			fn("modify", vm, changes, arg);
			n++;
		}
		json_decref(changes);
	}
	json_object_foreach(ev->seen, uuid, vm) if (!json_object_get(now, uuid))
	{
		fn("delete", vm, NULL, arg);
		n++;
		char *p = hull_root_path("%s", uuid);
		char *c = inst_config_dir(uuid);
		char *r = hull_root_path("%s/run", uuid);
		json_object_del(ev->watched, p);
		json_object_del(ev->watched, c);
		json_object_del(ev->watched, r);
		free(p);
		free(c);
		free(r);
	}
	json_decref(ev->seen);
	ev->seen = now;
	return n;
}

int hull_events_open(const char *uuid, struct hull_events **out,
		     struct hull_err *err)
{
	*out = NULL;
	struct hull_events *ev = xcalloc(1, sizeof(*ev));
	ev->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ev->ino < 0) {
		int r = hull_err_sys(err, errno, "events: inotify");
		free(ev);
		return r;
	}
	ev->only = uuid ? xstrdup(uuid) : NULL;
	ev->watched = json_object();
	char *pd = vm_pending_dir();
	hull_mkdir_p(pd, 0700, NULL);
	const uint32_t dirmask = IN_CREATE | IN_DELETE | IN_MOVED_TO |
				 IN_MOVED_FROM | IN_CLOSE_WRITE;
	watch(ev, hull_root(), dirmask);
	watch(ev, pd, dirmask);
	free(pd);
	ev->seen = scan(ev);
	*out = ev;
	return 0;
}

int hull_events_fd(const struct hull_events *ev)
{
	return ev->ino;
}

int hull_events_wait(struct hull_events *ev, int timeout_ms, hull_event_fn fn,
		     void *arg, struct hull_err *err)
{
	struct pollfd p = {.fd = ev->ino, .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);
	if (r < 0 && errno != EINTR)
		return hull_err_sys(err, errno, "events: poll");
	if (r > 0) {
		/* Let a burst of changes (a create writes several files)
		 * settle into one rescan. */
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
		char buf[16384] __attribute__((aligned(8)));
		while (read(ev->ino, buf, sizeof(buf)) > 0)
			;
	}
	return rescan(ev, fn, arg);
}

void hull_events_close(struct hull_events *ev)
{
	if (!ev)
		return;
	json_decref(ev->seen);
	json_decref(ev->watched);
	if (ev->ino >= 0)
		close(ev->ino);
	free(ev->only);
	free(ev);
}
