/*
 * hull-api-test - drives a real zone through the instance library
 * (include/hull/instance.h, snapshot.h, events.h) alone, with no CLI in
 * the loop. tests/integration/test_instance_api.py runs it against a pool
 * of the test's own (HULL_ROOT, HULL_CGROUP_PARENT) holding a busybox
 * image, and checks from outside what it leaves.
 *
 *   hull-api-test lifecycle IMAGE_UUID
 *       create (progress steps in order), get, list with filters, start,
 *       snapshot, rollback (a file written after the snapshot is gone),
 *       stop, delete snapshot, delete; the events stream sees the create,
 *       the state changes and the delete.
 *   hull-api-test race IMAGE_UUID
 *       concurrent calls on one instance from threads and processes:
 *       updates are never lost, a held lock blocks a transaction until it
 *       is released, two creates of one snapshot name give one success
 *       and one -EEXIST, starts and stops never overlap.
 *
 * Each check that fails prints one line on stderr and exits 1; success
 * prints "ok <what>" lines on stdout.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hull/events.h"
#include "hull/instance.h"
#include "hull/snapshot.h"

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			fail(__VA_ARGS__);                                     \
	} while (0)

/* A call that must succeed: r >= 0, else its error line. */
#define MUST(call, err)                                                        \
	do {                                                                   \
		int r_ = (call);                                               \
		if (r_ < 0)                                                    \
			fail("%s: %d: %s", #call, r_, (err)->msg);             \
	} while (0)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Progress steps as a string of letters, one per step, in order. */
struct steps {
	char seen[256];
	size_t n;
	pthread_mutex_t mu;
};

static void record_step(enum hull_step step, const char *uuid, const char *msg,
			void *arg)
{
	static const char letters[] = "wPCQRDcBrsSn";
	struct steps *s = arg;
	pthread_mutex_lock(&s->mu);
	if (s->n + 1 < sizeof(s->seen))
		s->seen[s->n++] = letters[step];
	s->seen[s->n] = '\0';
	pthread_mutex_unlock(&s->mu);
}

static void steps_reset(struct steps *s)
{
	s->n = 0;
	s->seen[0] = '\0';
}

static const char *state_of(const char *uuid)
{
	static char buf[32];
	struct hull_err err;
	json_t *vm = hull_instance_get(uuid, &err);
	if (!vm)
		fail("get %s: %s", uuid, err.msg);
	snprintf(buf, sizeof(buf), "%s",
		 json_string_value(json_object_get(vm, "state")));
	json_decref(vm);
	return buf;
}

static json_t *payload_for(const char *image, const char *alias)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:s, s:b}", "brand", "lx",
			 "kernel_version", "4.3.0", "image_uuid", image,
			 "max_physical_memory", 128, "alias", alias, "autoboot",
			 0);
}

static void create_one(const char *image, const char *alias, char *uuid,
		       struct steps *st)
{
	struct hull_err err;
	json_t *p = payload_for(image, alias);
	struct hull_progress pr = {.fn = record_step, .arg = st};
	MUST(hull_instance_create(p, &pr, uuid, &err), &err);
	json_decref(p);
	CHECK(strlen(uuid) == HULL_INSTANCE_UUID_LEN, "create: no uuid");
}

/* The changes an events stream reported, as "type" or "type:path". */
struct seen_events {
	char log[4096];
};

static void on_event(const char *type, json_t *vm, json_t *changes, void *arg)
{
	struct seen_events *s = arg;
	size_t i;
	json_t *c;
	if (!changes) {
		strncat(s->log, type, sizeof(s->log) - strlen(s->log) - 2);
		strcat(s->log, " ");
		return;
	}
	json_array_foreach(changes, i, c)
	{
		char one[128];
		snprintf(one, sizeof(one), "%s:%s=%s ", type,
			 json_string_value(json_object_get(c, "prettyPath")),
			 json_is_string(json_object_get(c, "newValue"))
			     ? json_string_value(json_object_get(c, "newValue"))
			     : "?");
		strncat(s->log, one, sizeof(s->log) - strlen(s->log) - 1);
	}
}

/* Drains the stream until want appears in its log or 10 s pass. */
static void events_expect(struct hull_events *ev, struct seen_events *s,
			  const char *want)
{
	struct hull_err err;
	double end = now_s() + 10;
	while (!strstr(s->log, want) && now_s() < end)
		MUST(hull_events_wait(ev, 200, on_event, s, &err), &err);
	CHECK(strstr(s->log, want), "events: no \"%s\" in \"%s\"", want,
	      s->log);
}

static int lifecycle(const char *image)
{
	struct hull_err err;
	struct steps st = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct hull_progress pr = {.fn = record_step, .arg = &st};
	struct hull_events *ev;
	struct seen_events seen = {{0}};
	MUST(hull_events_open(NULL, &ev, &err), &err);

	char uuid[HULL_INSTANCE_UUID_LEN + 1];
	create_one(image, "api-one", uuid, &st);
	/* pending, clone, quota, record, done, created; no boot */
	CHECK(!strcmp(st.seen, "PCQRDc"), "create steps: %s", st.seen);
	CHECK(!strcmp(state_of(uuid), "stopped"), "after create: %s",
	      state_of(uuid));
	printf("ok create %s\n", uuid);
	events_expect(ev, &seen, "create");

	const char *f_alias[] = {"alias=api-one"};
	json_t *l = hull_instance_list(f_alias, 1, "-uuid", &err);
	CHECK(l && json_array_size(l) == 1, "list alias=api-one: %zu",
	      json_array_size(l));
	CHECK(!strcmp(json_string_value(
			  json_object_get(json_array_get(l, 0), "type")),
		      "LX"),
	      "list: type is not LX");
	json_decref(l);
	const char *f_none[] = {"alias=~^nothing-"};
	l = hull_instance_list(f_none, 1, NULL, &err);
	CHECK(l && json_array_size(l) == 0, "list alias=~^nothing-");
	json_decref(l);
	const char *f_bad[] = {"no such filter"};
	CHECK(!hull_instance_list(f_bad, 1, NULL, &err) && err.code == EINVAL,
	      "a bad filter is accepted");
	CHECK(!hull_instance_list(NULL, 0, "nosuchfield", &err) &&
		  err.code == EINVAL,
	      "a bad sort field is accepted");
	printf("ok list\n");

	steps_reset(&st);
	MUST(hull_instance_start(uuid, &pr, &err), &err);
	CHECK(!strcmp(st.seen, "Br"), "start steps: %s", st.seen);
	CHECK(!strcmp(state_of(uuid), "running"), "after start: %s",
	      state_of(uuid));
	CHECK(hull_instance_start(uuid, &pr, &err) == 1,
	      "a second start is not 'already running'");
	printf("ok start\n");
	events_expect(ev, &seen, "modify:state=running");

	MUST(hull_snapshot_create(uuid, "s1", &pr, &err), &err);
	CHECK(hull_snapshot_create(uuid, "s1", &pr, &err) == -EEXIST,
	      "a duplicate snapshot: %s", err.msg);
	CHECK(hull_snapshot_create(uuid, "bad name!", &pr, &err) == -EINVAL,
	      "a bad snapshot name is accepted");
	json_t *vm = hull_instance_get(uuid, &err);
	CHECK(vm, "get: %s", err.msg);
	const char *sname = json_string_value(json_object_get(
	    json_array_get(json_object_get(vm, "snapshots"), 0), "name"));
	CHECK(sname && !strcmp(sname, "s1"), "snapshots[0] is not s1");
	char marker[4200];
	snprintf(marker, sizeof(marker), "%s/root/after-s1",
		 json_string_value(json_object_get(vm, "zonepath")));
	json_decref(vm);
	FILE *f = fopen(marker, "w");
	CHECK(f, "cannot write %s", marker);
	fclose(f);
	printf("ok snapshot\n");

	steps_reset(&st);
	MUST(hull_snapshot_rollback(uuid, "s1", &pr, &err), &err);
	CHECK(!strcmp(st.seen, "sSnBr"), "rollback steps: %s", st.seen);
	CHECK(access(marker, F_OK) < 0, "rollback kept %s", marker);
	CHECK(!strcmp(state_of(uuid), "running"), "after rollback: %s",
	      state_of(uuid));
	printf("ok rollback\n");

	steps_reset(&st);
	MUST(hull_instance_stop(uuid, false, 30, &pr, &err), &err);
	CHECK(!strcmp(st.seen, "sS"), "stop steps: %s", st.seen);
	CHECK(!strcmp(state_of(uuid), "stopped"), "after stop: %s",
	      state_of(uuid));
	CHECK(hull_instance_stop(uuid, false, 30, &pr, &err) == 1,
	      "a second stop is not 'already not running'");
	printf("ok stop\n");
	events_expect(ev, &seen, "modify:state=stopped");

	MUST(hull_snapshot_delete(uuid, "s1", &pr, &err), &err);
	CHECK(hull_snapshot_delete(uuid, "s1", &pr, &err) == -ENOENT,
	      "a deleted snapshot is still found");
	printf("ok delete-snapshot\n");

	MUST(hull_instance_delete(uuid, &pr, &err), &err);
	CHECK(!hull_instance_get(uuid, &err) && err.code == ENOENT,
	      "get after delete");
	CHECK(hull_instance_start(uuid, &pr, &err) < 0, "start after delete");
	printf("ok delete\n");
	events_expect(ev, &seen, "delete");
	hull_events_close(ev);
	printf("ok events\n");

	/* autoboot: create boots it; a NULL err is allowed everywhere. */
	steps_reset(&st);
	json_t *p = payload_for(image, "api-boot");
	json_object_set_new(p, "autoboot", json_true());
	CHECK(hull_instance_create(p, &pr, uuid, NULL) == 0,
	      "create with autoboot failed");
	json_decref(p);
	CHECK(!strcmp(st.seen, "PCQRDcBr"), "autoboot create steps: %s",
	      st.seen);
	CHECK(!strcmp(state_of(uuid), "running"), "after autoboot create: %s",
	      state_of(uuid));
	CHECK(hull_instance_kill(uuid, "NOSUCHSIGNAL", NULL) == -EINVAL,
	      "an unknown signal is accepted");
	CHECK(hull_instance_delete(uuid, NULL, NULL) == 0,
	      "delete of a running instance failed");
	CHECK(!hull_instance_get(uuid, NULL), "get after delete");
	printf("ok autoboot\n");
	return 0;
}

/* --- race ------------------------------------------------------------ */

#define WORKERS 4
#define UPDATES 8

struct worker {
	pthread_t t;
	const char *uuid;
	int id;
	int result;
	double done_at;
};

static void *update_worker(void *arg)
{
	struct worker *w = arg;
	struct hull_err err;
	for (int i = 0; i < UPDATES; i++) {
		char key[32];
		snprintf(key, sizeof(key), "w%d-%d", w->id, i);
		json_t *p =
		    json_pack("{s:{s:s}}", "set_customer_metadata", key, "x");
		int r = hull_instance_update(w->uuid, p, NULL, &err);
		json_decref(p);
		if (r < 0)
			fail("update %s: %s", key, err.msg);
	}
	return NULL;
}

static void *snap_worker(void *arg)
{
	struct worker *w = arg;
	struct hull_err err;
	w->result = hull_snapshot_create(w->uuid, "dup", NULL, &err);
	if (w->result < 0 && w->result != -EEXIST)
		fail("snapshot dup: %s", err.msg);
	return NULL;
}

static void *blocked_worker(void *arg)
{
	struct worker *w = arg;
	struct hull_err err;
	json_t *p =
	    json_pack("{s:{s:s}}", "set_customer_metadata", "blocked", "x");
	w->result = hull_instance_update(w->uuid, p, NULL, &err);
	w->done_at = now_s();
	json_decref(p);
	return NULL;
}

/* Between a start's BOOT and RUNNING, or a stop's STOPPING and STOPPED,
 * no other transaction on the instance may be in such a step. */
static atomic_int in_step;
static atomic_int overlaps;

static void exclusive_step(enum hull_step step, const char *uuid,
			   const char *msg, void *arg)
{
	if (step == HULL_STEP_BOOT || step == HULL_STEP_STOPPING) {
		if (atomic_fetch_add(&in_step, 1) != 0)
			atomic_fetch_add(&overlaps, 1);
	} else if (step == HULL_STEP_RUNNING || step == HULL_STEP_STOPPED) {
		atomic_fetch_sub(&in_step, 1);
	}
}

static void *startstop_worker(void *arg)
{
	struct worker *w = arg;
	struct hull_err err;
	struct hull_progress pr = {.fn = exclusive_step};
	for (int i = 0; i < 3; i++) {
		int r = (i + w->id) % 2
			    ? hull_instance_stop(w->uuid, false, 30, &pr, &err)
			    : hull_instance_start(w->uuid, &pr, &err);
		if (r < 0)
			fail("start/stop %d: %s", i, err.msg);
	}
	return NULL;
}

static int race(const char *image)
{
	struct hull_err err;
	struct steps st = {.mu = PTHREAD_MUTEX_INITIALIZER};
	char uuid[HULL_INSTANCE_UUID_LEN + 1];
	create_one(image, "api-race", uuid, &st);

	/* Updates from threads and from two processes at once: none lost. */
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		CHECK(kids[k] >= 0, "fork");
		if (kids[k] == 0) {
			struct worker w = {.uuid = uuid, .id = 100 + k};
			update_worker(&w);
			_exit(0);
		}
	}
	struct worker ws[WORKERS];
	for (int i = 0; i < WORKERS; i++) {
		ws[i] = (struct worker){.uuid = uuid, .id = i};
		pthread_create(&ws[i].t, NULL, update_worker, &ws[i]);
	}
	for (int i = 0; i < WORKERS; i++)
		pthread_join(ws[i].t, NULL);
	for (int k = 0; k < 2; k++) {
		int status;
		CHECK(waitpid(kids[k], &status, 0) == kids[k] &&
			  WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "update process %d failed", k);
	}
	json_t *vm = hull_instance_get(uuid, &err);
	CHECK(vm, "get: %s", err.msg);
	json_t *md = json_object_get(vm, "customer_metadata");
	CHECK(json_object_size(md) == (WORKERS + 2) * UPDATES,
	      "updates lost: %zu of %d keys", json_object_size(md),
	      (WORKERS + 2) * UPDATES);
	json_decref(vm);
	printf("ok concurrent updates\n");

	/* A transaction waits while another holds the lock. */
	int lock = hull_instance_lock(uuid, true, &err);
	CHECK(lock >= 0, "lock: %s", err.msg);
	CHECK(hull_instance_lock(uuid, false, &err) == -EWOULDBLOCK,
	      "a held lock can be taken again");
	struct worker b = {.uuid = uuid};
	pthread_create(&b.t, NULL, blocked_worker, &b);
	struct timespec ts = {0, 300 * 1000000L};
	nanosleep(&ts, NULL);
	double released = now_s();
	hull_instance_unlock(lock);
	pthread_join(b.t, NULL);
	CHECK(b.result == 0, "blocked update failed");
	CHECK(b.done_at >= released, "an update ran while the lock was held");
	printf("ok lock blocks\n");

	/* One snapshot name, many creators: one wins. */
	for (int i = 0; i < WORKERS; i++) {
		ws[i] = (struct worker){.uuid = uuid, .id = i};
		pthread_create(&ws[i].t, NULL, snap_worker, &ws[i]);
	}
	int wins = 0;
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(ws[i].t, NULL);
		wins += ws[i].result == 0;
	}
	CHECK(wins == 1, "%d snapshot creates of one name succeeded", wins);
	vm = hull_instance_get(uuid, &err);
	CHECK(json_array_size(json_object_get(vm, "snapshots")) == 1,
	      "the record lists %zu snapshots",
	      json_array_size(json_object_get(vm, "snapshots")));
	json_decref(vm);
	printf("ok concurrent snapshots\n");

	/* Starts and stops from two threads: serialised, none fails. */
	for (int i = 0; i < 2; i++) {
		ws[i] = (struct worker){.uuid = uuid, .id = i};
		pthread_create(&ws[i].t, NULL, startstop_worker, &ws[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(ws[i].t, NULL);
	CHECK(overlaps == 0, "%d start/stop steps overlapped", (int)overlaps);
	MUST(hull_instance_stop(uuid, false, 30, NULL, &err), &err);
	CHECK(!strcmp(state_of(uuid), "stopped"), "after the race: %s",
	      state_of(uuid));
	printf("ok concurrent start/stop\n");

	MUST(hull_instance_delete(uuid, NULL, &err), &err);
	printf("ok delete\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "lifecycle"))
		return lifecycle(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "race"))
		return race(argv[2]);
	fprintf(stderr, "usage: hull-api-test lifecycle|race IMAGE_UUID\n");
	return 2;
}
