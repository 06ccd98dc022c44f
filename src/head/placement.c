/*
 * placement.c - filters, hints, scorers and the datacenter reserve: see
 * placement.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "head/placecfg.h"
#include "head/placement.h"
#include "head/replicate.h"
#include "head/servers.h"
#include "lib/json.h"
#include "lib/xalloc.h"

/* A server's room as placement sees it. */
struct room {
	const char *uuid;
	long ram, disk, cpu;		       /* unreserved */
	long ram_total, disk_total, cpu_total; /* after the reservation */
	long machines, owner_machines;
	double score;
};

static bool is_hvm(const char *brand)
{
	return brand && (!strcmp(brand, "bhyve") || !strcmp(brand, "kvm"));
}

static double ratio_of(json_t *srv, const char *k, double dc)
{
	json_t *v =
	    json_object_get(json_object_get(srv, "overprovision_ratios"), k);
	return json_is_number(v) && json_number_value(v) >= 1
		   ? json_number_value(v)
		   : dc;
}

/* DAPI's calculate-server-unreserved, in MiB and cpu_cap units: a
 * machine without a cpu_cap leaves no CPU to book. */
static void room_of(json_t *srv, json_t *machines,
		    const struct placement_cfg *c, const char *owner,
		    struct room *out)
{
	double rram = ratio_of(srv, "ram", c->ratio_ram);
	double rdisk = ratio_of(srv, "disk", c->ratio_disk);
	double rcpu = ratio_of(srv, "cpu", c->ratio_cpu);
	long unused_ram, unused_disk;
	json_t *none = json_array();
	server_unreserved(srv, none, &unused_ram, &unused_disk);
	json_decref(none);
	*out = (struct room){.uuid = hull_json_str(srv, "uuid", "")};
	out->ram_total = unused_ram;
	out->disk_total = unused_disk;
	out->cpu_total = (long)hull_json_int(srv, "cpus", 0) * 100;
	double ram = (double)out->ram_total, disk = (double)out->disk_total;
	double cpu = (double)out->cpu_total;
	bool uncapped = false;
	size_t i;
	json_t *m;
	json_array_foreach(machines, i, m)
	{
		if (!machine_books(m))
			continue;
		out->machines++;
		if (owner && !strcmp(hull_json_str(m, "owner", ""), owner))
			out->owner_machines++;
		double mem = (double)hull_json_int(m, "memory", 0);
		ram -=
		    is_hvm(hull_json_str(m, "brand", NULL)) ? mem : mem / rram;
		disk -= (double)hull_json_int(m, "disk", 0) / rdisk;
		json_int_t cap = hull_json_int(m, "cpu_cap", 0);
		if (cap > 0)
			cpu -= (double)cap / rcpu;
		else
			uncapped = true;
	}
	out->ram = (long)ram;
	out->disk = (long)disk;
	out->cpu = uncapped ? 0 : (long)cpu;
}

static bool in_set(json_t *set, const char *uuid)
{
	size_t i;
	json_t *v;
	json_array_foreach(set, i, v) if (!strcmp(json_string_value(v) ?: "",
						  uuid)) return true;
	return false;
}

static bool brand_runs(json_t *srv, const char *brand)
{
	if (!is_hvm(brand))
		return true;
	json_t *si = json_object_get(srv, "sysinfo");
	if (!hull_json_bool(si, "HVM API", false))
		return false;
	return strcmp(brand, "bhyve") ||
	       hull_json_bool(si, "Bhyve Capable", false);
}

/* The hard filters for one server; *out gets its room. */
static bool passes(struct store *s, json_t *srv, json_t *copies,
		   const struct placement_req *rq,
		   const struct placement_cfg *c, int64_t now, struct room *out)
{
	const char *uuid = hull_json_str(srv, "uuid", "");
	if (strcmp(server_status(srv, now), "running") ||
	    hull_json_bool(srv, "reserved", false) ||
	    (rq->exclude && !strcmp(rq->exclude, uuid)) ||
	    !brand_runs(srv, rq->brand))
		return false;
	json_t *hints = rq->hints;
	json_t *must_near = json_object_get(hints, "must_near");
	if ((must_near && !in_set(must_near, uuid)) ||
	    in_set(json_object_get(hints, "must_far"), uuid))
		return false;
	json_t *ms = NULL;
	if (store_find(s, "machines", "server", uuid, &ms, NULL) < 0)
		return false;
	room_of(srv, ms, c, rq->owner, out);
	json_decref(ms);
	/* Copies that are no machine's own record here: standbys and
	 * migrations' hidden copies, never overprovisioned. */
	long copy_ram, copy_disk;
	replica_copies_of(copies, uuid, &copy_ram, &copy_disk);
	out->ram -= copy_ram;
	out->disk -= copy_disk;
	double rram = ratio_of(srv, "ram", c->ratio_ram);
	double rcpu = ratio_of(srv, "cpu", c->ratio_cpu);
	double rdisk = ratio_of(srv, "disk", c->ratio_disk);
	double need_ram =
	    is_hvm(rq->brand) ? (double)rq->ram_mib : rq->ram_mib / rram;
	return out->machines < c->vm_limit && out->ram >= need_ram &&
	       out->disk >= rq->disk_mib / rdisk &&
	       (rq->cpu_cap <= 0 || out->cpu >= rq->cpu_cap / rcpu);
}

/* ---- the datacenter reserve ---- */

static int by_long_desc(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The reserve for one resource: a share of the total, or the sum of the
 * largest N servers' totals. */
static long reserve_of(const struct placement_cfg *c, long *totals, size_t n,
		       long total)
{
	if (c->reserve_share > 0)
		return (long)((double)total * c->reserve_share);
	qsort(totals, n, sizeof(*totals), by_long_desc);
	long sum = 0;
	for (size_t i = 0; i < n && (long)i < c->reserve_largest; i++)
		sum += totals[i];
	return sum;
}

struct dc {
	long total[3], used[3], reserve[3]; /* ram, cpu, disk */
};

static int dc_load(struct store *s, const struct placement_cfg *c, struct dc *d,
		   struct hull_err *err)
{
	*d = (struct dc){0};
	json_t *all = NULL;
	int r = store_find(s, "servers", NULL, NULL, &all, err);
	if (r < 0)
		return r;
	size_t n = json_array_size(all), k = 0;
	long *tot[3];
	for (int j = 0; j < 3; j++)
		tot[j] = xcalloc(n ? n : 1, sizeof(long));
	int64_t now = head_now_ms();
	size_t i;
	json_t *srv;
	json_array_foreach(all, i, srv)
	{
		if (strcmp(server_status(srv, now), "running") ||
		    hull_json_bool(srv, "reserved", false))
			continue;
		json_t *ms = NULL;
		if (store_find(s, "machines", "server",
			       hull_json_str(srv, "uuid", ""), &ms, NULL) < 0)
			continue;
		struct room rm;
		room_of(srv, ms, c, NULL, &rm);
		json_decref(ms);
		long t[3] = {rm.ram_total, rm.cpu_total, rm.disk_total};
		long f[3] = {rm.ram, rm.cpu, rm.disk};
		for (int j = 0; j < 3; j++) {
			tot[j][k] = t[j];
			d->total[j] += t[j];
			d->used[j] += t[j] - (f[j] > 0 ? f[j] : 0);
		}
		k++;
	}
	for (int j = 0; j < 3; j++) {
		d->reserve[j] = reserve_of(c, tot[j], k, d->total[j]);
		free(tot[j]);
	}
	json_decref(all);
	return 0;
}

static bool has_reserve(const struct placement_cfg *c)
{
	return c->reserve_share > 0 || c->reserve_largest > 0;
}

/* Whether rq still leaves the reserve whole. */
static bool outside_reserve(const struct dc *d, const struct placement_req *rq)
{
	long need[3] = {rq->ram_mib, rq->cpu_cap > 0 ? rq->cpu_cap : 0,
			rq->disk_mib};
	for (int j = 0; j < 3; j++)
		if (need[j] > 0 &&
		    d->total[j] - d->used[j] - need[j] < d->reserve[j])
			return false;
	return true;
}

int placement_capacity(struct store *s, json_t **out, struct hull_err *err)
{
	struct placement_cfg c;
	struct dc d;
	int r = placement_cfg_load(s, &c, err);
	if (r == 0)
		r = dc_load(s, &c, &d, err);
	if (r < 0)
		return r;
	static const char *const names[] = {"ram", "cpu", "disk"};
	json_t *o = json_object();
	for (int j = 0; j < 3; j++) {
		long fr = d.total[j] - d.used[j] - d.reserve[j];
		json_object_set_new(o, names[j],
				    json_pack("{s:I, s:I, s:I, s:I}", "total",
					      (json_int_t)d.total[j], "reserve",
					      (json_int_t)d.reserve[j], "used",
					      (json_int_t)d.used[j], "free",
					      (json_int_t)(fr > 0 ? fr : 0)));
	}
	*out = o;
	return 0;
}

/* ---- scoring ---- */

/* The measure a scorer ranks: more is better under a positive weight. */
typedef double (*measure_fn)(const struct room *r);

static double m_ram(const struct room *r)
{
	return (double)r->ram;
}

static double m_disk(const struct room *r)
{
	return (double)r->disk;
}

static double m_owner(const struct room *r)
{
	return -(double)r->owner_machines;
}

/* For qsort_r-free sorting: the measure of the scorer being applied. */
struct ranked {
	struct room *room;
	double v;
};

static int by_v_desc(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	return x->v < y->v ? 1 : x->v > y->v ? -1 : 0;
}

/* Adds one scorer's share: the server at rank i of n gets
 * (n-1-i)/(n-1) x |w|; equal measures share the better rank. */
static void score_by(struct room *c, size_t n, measure_fn f, double w)
{
	if (w == 0 || n == 0)
		return;
	struct ranked *rk = xcalloc(n, sizeof(*rk));
	for (size_t i = 0; i < n; i++)
		rk[i] = (struct ranked){&c[i], (w > 0 ? 1 : -1) * f(&c[i])};
	qsort(rk, n, sizeof(*rk), by_v_desc);
	double aw = w > 0 ? w : -w;
	size_t rank = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && rk[i].v != rk[i - 1].v)
			rank = i;
		rk[i].room->score +=
		    n == 1 ? aw : (double)(n - 1 - rank) / (double)(n - 1) * aw;
	}
	free(rk);
}

static void score_random(struct room *c, size_t n, double w)
{
	if (w == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned int x = 0;
		if (getrandom(&x, sizeof(x), 0) != sizeof(x))
			x = 0;
		c[i].score += (double)x / 4294967295.0 * (w > 0 ? w : -w);
	}
}

static int by_score(const void *a, const void *b)
{
	const struct room *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->uuid, y->uuid);
}

/* DAPI's soft locality: keep the servers not far from the named
 * instances when there are any, then the near ones among them. */
static size_t soft_hints(struct room *c, size_t n, json_t *hints)
{
	json_t *sets[2] = {json_object_get(hints, "far"),
			   json_object_get(hints, "near")};
	for (int k = 0; k < 2; k++) {
		if (!json_array_size(sets[k]))
			continue;
		size_t keep = 0;
		for (size_t i = 0; i < n; i++)
			keep += in_set(sets[k], c[i].uuid) == (k == 1);
		if (!keep)
			continue;
		size_t j = 0;
		for (size_t i = 0; i < n; i++)
			if (in_set(sets[k], c[i].uuid) == (k == 1))
				c[j++] = c[i];
		n = j;
	}
	return n;
}

int placement_choose(struct store *s, const struct placement_req *rq,
		     json_t **uuids, struct hull_err *err)
{
	struct placement_cfg c;
	struct dc d;
	int r = placement_cfg_load(s, &c, err);
	if (r < 0)
		return r;
	if (has_reserve(&c) && !rq->use_reserve) {
		if ((r = dc_load(s, &c, &d, err)) < 0)
			return r;
		if (!outside_reserve(&d, rq)) {
			*uuids = json_array();
			return 0;
		}
	}
	json_t *all = NULL;
	if ((r = store_find(s, "servers", NULL, NULL, &all, err)) < 0)
		return r;
	size_t n = json_array_size(all), k = 0;
	struct room *cand = xcalloc(n ? n : 1, sizeof(*cand));
	int64_t now = head_now_ms();
	size_t i;
	json_t *srv;
	json_t *copies = replica_copies(s);
	json_array_foreach(all, i, srv)
	{
		if (passes(s, srv, copies, rq, &c, now, &cand[k]))
			k++;
	}
	json_decref(copies);
	k = soft_hints(cand, k, rq->hints);
	score_by(cand, k, m_ram, c.w_ram);
	score_by(cand, k, m_disk, c.w_disk);
	score_by(cand, k, m_owner, c.w_owner);
	score_random(cand, k, c.w_random);
	qsort(cand, k, sizeof(*cand), by_score);
	json_t *out = json_array();
	for (i = 0; i < k; i++)
		json_array_append_new(out, json_string(cand[i].uuid));
	free(cand);
	json_decref(all);
	*uuids = out;
	return 0;
}

int placement_take(struct store *s, const char *server,
		   const struct placement_req *rq, struct hull_err *err)
{
	struct placement_cfg c;
	int r = placement_cfg_load(s, &c, err);
	if (r < 0)
		return r;
	/* The reserve first: its record's etag, read before the totals, is
	 * what a concurrent booking elsewhere would change. */
	if (has_reserve(&c) && !rq->use_reserve) {
		json_t *b = NULL;
		char *betag = NULL;
		r = store_get(s, "config", "booking", &b, &betag, err);
		if (r == -ENOENT) {
			b = json_object();
			betag = strdup("");
			r = 0;
		}
		struct dc d;
		if (r == 0 && (r = dc_load(s, &c, &d, err)) == 0 &&
		    !outside_reserve(&d, rq))
			r = -ENOSPC;
		if (r == 0) {
			json_object_set_new(b, "booked_ms",
					    json_integer(head_now_ms()));
			r = store_put(s, "config", "booking", b, betag, NULL,
				      err);
		}
		free(betag);
		json_decref(b);
		if (r < 0)
			return r;
	}
	json_t *srv = NULL;
	char *etag = NULL;
	r = store_get(s, "servers", server, &srv, &etag, err);
	if (r < 0)
		return r == -ENOENT ? -ENOSPC : r;
	struct room rm;
	json_t *copies = replica_copies(s);
	bool room = passes(s, srv, copies, rq, &c, head_now_ms(), &rm);
	json_decref(copies);
	if (!room) {
		r = -ENOSPC;
	} else {
		/* The write that makes a concurrent booking of this server
		 * conflict (etag), whatever else it changes. */
		json_object_set_new(srv, "booked_ms",
				    json_integer(head_now_ms()));
		r = store_put(s, "servers", server, srv, etag, NULL, err);
	}
	free(etag);
	json_decref(srv);
	return r;
}

int placement_candidates(struct store *s, long ram_mib, long disk_mib,
			 json_t **uuids, struct hull_err *err)
{
	struct placement_req rq = {.ram_mib = ram_mib, .disk_mib = disk_mib};
	return placement_choose(s, &rq, uuids, err);
}

int placement_book(struct store *s, const char *server, long ram_mib,
		   long disk_mib, struct hull_err *err)
{
	struct placement_req rq = {.ram_mib = ram_mib, .disk_mib = disk_mib};
	return placement_take(s, server, &rq, err);
}
