/*
 * events.c - vmadm events: a stream of instance changes (create, modify,
 * delete), as SmartOS's vminfod prints them (spec/smartos.md §1.9).
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
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "cmd/vmadm/vmadm.h"
#include "inst/record.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "vm/record.h"

#define RESCAN_MS 1000

struct events {
	bool full, json;
	const char *only; /* a uuid, or NULL */
	int ino;
	json_t *seen;	 /* uuid -> instance object */
	json_t *watched; /* path -> true */
};

static void stamp(char *out, size_t n, bool full)
{
	char iso[32];
	vm_time_iso(iso);
	snprintf(out, n, "%s", full ? iso : iso + 11);
}

static void watch(struct events *ev, const char *path, uint32_t mask)
{
	if (json_object_get(ev->watched, path))
		return;
	if (inotify_add_watch(ev->ino, path, mask | IN_ONLYDIR) >= 0)
		json_object_set_new(ev->watched, path, json_true());
}

static void watch_instance(struct events *ev, const char *uuid)
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

static void emit(struct events *ev, const char *type, json_t *vm,
		 json_t *changes)
{
	const char *uuid = hull_json_str(vm, "uuid", "");
	char when[40];
	stamp(when, sizeof(when), true);
	if (ev->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:O}", "type", type,
				      "date", when, "zonename",
				      hull_json_str(vm, "zonename", uuid),
				      "uuid", uuid, "vm", vm);
		if (changes)
			json_object_set(o, "changes", changes);
		char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		printf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		stamp(when, sizeof(when), ev->full);
		char shortid[9];
		snprintf(shortid, sizeof(shortid), "%s", uuid);
		const char *id =
		    ev->full ? hull_json_str(vm, "zonename", uuid) : shortid;
		const char *alias = hull_json_str(vm, "alias", "-");
		if (!changes) {
			printf("[%s] %s %s %s\n", when, id, alias, type);
		} else {
			size_t i;
			json_t *c;
			json_array_foreach(changes, i, c)
			{
				char *o =
				    json_dumps(json_object_get(c, "oldValue"),
					       JSON_ENCODE_ANY | JSON_COMPACT);
				char *n =
				    json_dumps(json_object_get(c, "newValue"),
					       JSON_ENCODE_ANY | JSON_COMPACT);
				printf("[%s] %s %s %s: %s %s :: %s -> %s\n",
				       when, id, alias, type,
				       hull_json_str(c, "prettyPath", ""),
				       hull_json_str(c, "action", ""),
				       o ? o : "null", n ? n : "null");
				free(o);
				free(n);
			}
		}
	}
	fflush(stdout);
}

static json_t *scan(struct events *ev)
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

static void rescan(struct events *ev)
{
	json_t *now = scan(ev);
	const char *uuid;
	json_t *vm;
	json_object_foreach(now, uuid, vm)
	{
		json_t *old = json_object_get(ev->seen, uuid);
		if (!old) {
			emit(ev, "create", vm, NULL);
			continue;
		}
		json_t *changes = json_array();
		diff_objects(changes, NULL, old, vm);
		if (json_array_size(changes))
			emit(ev, "modify", vm, changes);
		json_decref(changes);
	}
	json_object_foreach(ev->seen, uuid, vm) if (!json_object_get(now, uuid))
	{
		emit(ev, "delete", vm, NULL);
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
}

int vmadm_events(int argc, char **argv)
{
	struct events ev = {0};
	bool ready = false;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+fjrdv")) != -1) {
		switch (c) {
		case 'f':
			ev.full = true;
			break;
		case 'j':
			ev.json = true;
			break;
		case 'r':
			ready = true;
			break;
		case 'd':
		case 'v':
			break;
		default:
			return vmadm_usage("events");
		}
	}
	if (optind < argc - 1)
		return vmadm_usage("events");
	ev.only = optind < argc ? argv[optind] : NULL;
	ev.ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ev.ino < 0)
		return vmadm_fail("events: inotify: %s", strerror(errno));
	ev.watched = json_object();
	char *pd = vm_pending_dir();
	hull_mkdir_p(pd, 0700, NULL);
	const uint32_t dirmask = IN_CREATE | IN_DELETE | IN_MOVED_TO |
				 IN_MOVED_FROM | IN_CLOSE_WRITE;
	watch(&ev, hull_root(), dirmask);
	watch(&ev, pd, dirmask);
	free(pd);
	ev.seen = scan(&ev);
	if (ready) {
		if (ev.json) {
			char when[40];
			stamp(when, sizeof(when), true);
			printf("{\"date\":\"%s\",\"type\":\"ready\"}\n", when);
		} else {
			char when[40];
			stamp(when, sizeof(when), ev.full);
			printf("[%s] ready\n", when);
		}
		fflush(stdout);
	}
	char buf[16384] __attribute__((aligned(8)));
	for (;;) {
		struct pollfd p = {.fd = ev.ino, .events = POLLIN};
		int r = poll(&p, 1, RESCAN_MS);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0) {
			/* Let a burst of changes (a create writes several
			 * files) settle into one rescan. */
			usleep(20000);
			while (read(ev.ino, buf, sizeof(buf)) > 0)
				;
		}
		rescan(&ev);
	}
	json_decref(ev.seen);
	json_decref(ev.watched);
	close(ev.ino);
	return VMADM_ERROR;
}
