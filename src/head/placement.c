/*
 * placement.c - filters and the spread scorer: see placement.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "head/placement.h"
#include "head/servers.h"
#include "lib/json.h"
#include "lib/xalloc.h"

struct cand {
	const char *uuid;
	long ram;
};

static int by_score(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->ram != y->ram)
		return x->ram > y->ram ? -1 : 1;
	return strcmp(x->uuid, y->uuid);
}

/* The hard filters for one server; *ram gets its unreserved RAM. */
static bool fits(struct store *s, json_t *srv, long ram_mib, long disk_mib,
		 int64_t now, long *ram)
{
	if (strcmp(server_status(srv, now), "running") ||
	    hull_json_bool(srv, "reserved", false))
		return false;
	json_t *ms = NULL;
	if (store_find(s, "machines", "server", hull_json_str(srv, "uuid", ""),
		       &ms, NULL) < 0)
		return false;
	long disk;
	server_unreserved(srv, ms, ram, &disk);
	json_decref(ms);
	return *ram >= ram_mib && disk >= disk_mib;
}

int placement_candidates(struct store *s, long ram_mib, long disk_mib,
			 json_t **uuids, struct hull_err *err)
{
	json_t *all = NULL;
	int r = store_find(s, "servers", NULL, NULL, &all, err);
	if (r < 0)
		return r;
	size_t n = json_array_size(all), k = 0;
	struct cand *c = xcalloc(n ? n : 1, sizeof(*c));
	int64_t now = head_now_ms();
	size_t i;
	json_t *srv;
	json_array_foreach(all, i, srv)
	{
		long ram;
		if (!fits(s, srv, ram_mib, disk_mib, now, &ram))
			continue;
		c[k].uuid = hull_json_str(srv, "uuid", "");
		c[k].ram = ram;
		k++;
	}
	qsort(c, k, sizeof(*c), by_score);
	json_t *out = json_array();
	for (i = 0; i < k; i++)
		json_array_append_new(out, json_string(c[i].uuid));
	free(c);
	json_decref(all);
	*uuids = out;
	return 0;
}

int placement_book(struct store *s, const char *server, long ram_mib,
		   long disk_mib, struct hull_err *err)
{
	json_t *srv = NULL;
	char *etag = NULL;
	int r = store_get(s, "servers", server, &srv, &etag, err);
	if (r < 0)
		return r == -ENOENT ? -ENOSPC : r;
	long ram;
	if (!fits(s, srv, ram_mib, disk_mib, head_now_ms(), &ram)) {
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
