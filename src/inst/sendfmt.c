/*
 * sendfmt.c - the send stream's framing and header (sendfmt.h). Pure:
 * bytes in, struct out; the receiver's I/O goes through a reader callback.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "inst/sendfmt.h"
#include "lib/xalloc.h"

void sendfmt_put32(uint8_t *b, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

void sendfmt_put64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static uint64_t get64(const uint8_t *b)
{
	return (uint64_t)get32(b) << 32 | get32(b + 4);
}

void sendfmt_intro_make(uint8_t b[SENDFMT_INTRO_LEN], uint32_t hlen)
{
	memcpy(b, SENDFMT_MAGIC, 8);
	sendfmt_put32(b + 8, SENDFMT_VERSION);
	sendfmt_put32(b + 12, hlen);
}

int sendfmt_intro_parse(const uint8_t b[SENDFMT_INTRO_LEN], uint32_t *version,
			uint32_t *hlen, struct hull_err *err)
{
	if (memcmp(b, SENDFMT_MAGIC, 8) != 0)
		return hull_err_set(err, EINVAL,
				    "not a vmadm send stream (bad magic)");
	*version = get32(b + 8);
	*hlen = get32(b + 12);
	if (*version == 0)
		return hull_err_set(err, EINVAL,
				    "stream format version 0 is not valid");
	/* Newer versions may change anything after the intro. */
	if (*version > SENDFMT_VERSION)
		return hull_err_set(err, ENOTSUP,
				    "stream format version %" PRIu32
				    " is newer than this hull reads (up to %d)",
				    *version, SENDFMT_VERSION);
	if (*hlen == 0 || *hlen > SENDFMT_HEADER_MAX)
		return hull_err_set(
		    err, EINVAL,
		    "stream header length %" PRIu32 " is out of range", *hlen);
	return 0;
}

bool sendfmt_snapname_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64 || s[0] == '.')
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._:-", *p)))
			return false;
	return true;
}

/* The instance's own dataset, or one segment below it. */
static bool ds_name_valid(const char *name, const char *uuid)
{
	size_t ul = strlen(uuid);
	if (strncmp(name, uuid, ul) != 0)
		return false;
	if (name[ul] == '\0')
		return true;
	if (name[ul] != '/')
		return false;
	const char *seg = name + ul + 1;
	if (!*seg || !strcmp(seg, ".") || !strcmp(seg, "..") ||
	    strlen(seg) > 64)
		return false;
	for (const char *p = seg; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-", *p)))
			return false;
	return true;
}

/* "images/<uuid>@final": the only clone source send names. */
static bool parent_valid(const char *s)
{
	size_t n = strlen(s);
	if (n != 7 + HULL_UUID_LEN + 6 || strncmp(s, "images/", 7) != 0 ||
	    strcmp(s + 7 + HULL_UUID_LEN, "@final") != 0)
		return false;
	char u[HULL_UUID_LEN + 1];
	memcpy(u, s + 7, HULL_UUID_LEN);
	u[HULL_UUID_LEN] = '\0';
	return hull_uuid_valid(u);
}

static bool hex32_valid(const char *s)
{
	if (strlen(s) != 32)
		return false;
	for (const char *p = s; *p; p++)
		if (!strchr("0123456789abcdef", *p))
			return false;
	return true;
}

static const char *str_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int ds_parse(json_t *d, size_t i, const char *uuid,
		    struct sendfmt_dataset *out, struct hull_err *err)
{
	if (!json_is_object(d))
		return hull_err_set(err, EINVAL,
				    "stream header: datasets[%zu] is not an "
				    "object",
				    i);
	const char *name = str_of(d, "name"), *snap = str_of(d, "snapshot");
	json_t *base = json_object_get(d, "base");
	json_t *parent = json_object_get(d, "parent");
	if (!name || !ds_name_valid(name, uuid))
		return hull_err_set(err, EINVAL,
				    "stream header: dataset %s is not one of "
				    "instance %s's own",
				    name ? name : "(none)", uuid);
	if (i == 0 && strcmp(name, uuid) != 0)
		return hull_err_set(err, EINVAL,
				    "stream header: the first dataset must be "
				    "the instance's own");
	if (!snap || !sendfmt_snapname_valid(snap))
		return hull_err_set(err, EINVAL,
				    "stream header: dataset %s names an "
				    "invalid snapshot",
				    name);
	if (base && !json_is_null(base) &&
	    (!json_is_string(base) ||
	     !sendfmt_snapname_valid(json_string_value(base)) ||
	     !strcmp(json_string_value(base), snap)))
		return hull_err_set(err, EINVAL,
				    "stream header: dataset %s names an "
				    "invalid base snapshot",
				    name);
	const char *pid = str_of(d, "parent_id");
	json_t *pct = json_object_get(d, "parent_ctransid");
	if (parent && !json_is_null(parent) &&
	    (!json_is_string(parent) ||
	     !parent_valid(json_string_value(parent)) || !pid ||
	     !hex32_valid(pid) || !json_is_integer(pct) ||
	     json_integer_value(pct) < 0 || (base && !json_is_null(base))))
		return hull_err_set(err, EINVAL,
				    "stream header: dataset %s names an "
				    "invalid clone source",
				    name);
	out->name = xstrdup(name);
	out->snapshot = xstrdup(snap);
	out->base =
	    json_is_string(base) ? xstrdup(json_string_value(base)) : NULL;
	if (json_is_string(parent)) {
		out->parent = xstrdup(json_string_value(parent));
		out->parent_id = xstrdup(pid);
		out->parent_ctransid = (uint64_t)json_integer_value(pct);
	}
	return 0;
}

int sendfmt_header_parse(const char *buf, size_t len, uint32_t version,
			 struct sendfmt_header *h, struct hull_err *err)
{
	memset(h, 0, sizeof(*h));
	json_error_t je;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return hull_err_set(err, EINVAL,
				    "stream header is not valid JSON: %s",
				    je.text);
	int r = 0;
	const char *uuid = str_of(root, "uuid");
	json_t *rec = json_object_get(root, "record");
	json_t *ds = json_object_get(root, "datasets");
	const char *backend = str_of(root, "backend");
	const char *zp = str_of(root, "zonepath");
	json_t *live = json_object_get(root, "live");
	if (!json_is_object(root))
		r = hull_err_set(err, EINVAL,
				 "stream header is not a JSON object");
	else if (!uuid || !hull_uuid_valid(uuid))
		r = hull_err_set(err, EINVAL,
				 "stream header names no valid instance uuid");
	else if (!json_is_object(rec))
		r = hull_err_set(err, EINVAL,
				 "stream header holds no instance record");
	else if (!str_of(rec, "uuid") || strcmp(str_of(rec, "uuid"), uuid))
		r = hull_err_set(err, EINVAL,
				 "stream header: the record is for %s, not "
				 "for %s",
				 str_of(rec, "uuid") ? str_of(rec, "uuid")
						     : "no uuid",
				 uuid);
	else if (!str_of(rec, "brand"))
		r = hull_err_set(err, EINVAL,
				 "stream header: the record has no brand");
	else if (!backend ||
		 (strcmp(backend, "btrfs") != 0 && strcmp(backend, "dir") != 0))
		r = hull_err_set(err, EINVAL,
				 "stream header names no known pool backend");
	else if (!zp || zp[0] != '/' || strstr(zp, "/../"))
		r = hull_err_set(err, EINVAL,
				 "stream header names no absolute zonepath");
	else if (live && !json_is_boolean(live))
		r = hull_err_set(err, EINVAL,
				 "stream header: live is not a boolean");
	else if (!json_is_array(ds) || json_array_size(ds) == 0 ||
		 json_array_size(ds) > SENDFMT_DATASETS_MAX)
		r = hull_err_set(err, EINVAL,
				 "stream header: datasets must list 1 to %d "
				 "datasets",
				 SENDFMT_DATASETS_MAX);
	if (r < 0) {
		json_decref(root);
		return r;
	}
	h->version = version;
	memcpy(h->uuid, uuid, HULL_UUID_LEN + 1);
	h->record = json_incref(rec);
	h->backend = xstrdup(backend);
	h->zonepath = xstrdup(zp);
	h->live = json_is_true(live);
	h->ds = xcalloc(json_array_size(ds), sizeof(*h->ds));
	size_t i;
	json_t *d;
	json_array_foreach(ds, i, d)
	{
		if ((r = ds_parse(d, i, uuid, &h->ds[i], err)) < 0)
			break;
		h->nds++;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(h->ds[j].name, h->ds[i].name)) {
				r = hull_err_set(err, EINVAL,
						 "stream header: dataset %s "
						 "appears twice",
						 h->ds[i].name);
				break;
			}
		if (r < 0)
			break;
	}
	json_decref(root);
	if (r < 0)
		sendfmt_header_fini(h);
	return r;
}

char *sendfmt_header_dump(const struct sendfmt_header *h)
{
	json_t *ds = json_array();
	for (size_t i = 0; i < h->nds; i++) {
		const struct sendfmt_dataset *d = &h->ds[i];
		json_t *o = json_pack("{s:s, s:s, s:s?}", "name", d->name,
				      "snapshot", d->snapshot, "base", d->base);
		if (d->parent) {
			json_object_set_new(o, "parent",
					    json_string(d->parent));
			json_object_set_new(o, "parent_id",
					    json_string(d->parent_id));
			json_object_set_new(
			    o, "parent_ctransid",
			    json_integer((json_int_t)d->parent_ctransid));
		}
		json_array_append_new(ds, o);
	}
	json_t *root =
	    json_pack("{s:s, s:s, s:s, s:b, s:O, s:o}", "uuid", h->uuid,
		      "backend", h->backend, "zonepath", h->zonepath, "live",
		      h->live, "record", h->record, "datasets", ds);
	char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	if (!s)
		abort();
	return s;
}

void sendfmt_header_fini(struct sendfmt_header *h)
{
	if (!h)
		return;
	json_decref(h->record);
	free(h->backend);
	free(h->zonepath);
	for (size_t i = 0; i < h->nds; i++) {
		free(h->ds[i].name);
		free(h->ds[i].snapshot);
		free(h->ds[i].base);
		free(h->ds[i].parent);
		free(h->ds[i].parent_id);
	}
	free(h->ds);
	memset(h, 0, sizeof(*h));
}

static int rd_exact(const struct sendfmt_reader *rd, void *buf, size_t n,
		    struct hull_err *err)
{
	int r = rd->read(rd->arg, buf, n, err);
	if (r == -ENODATA)
		return hull_err_set(err, EPIPE, "the stream ends too early");
	return r;
}

int sendfmt_dataset_read(const struct sendfmt_reader *rd, uint8_t *buf,
			 int (*sink)(void *arg, const uint8_t *p, size_t n,
				     struct hull_err *err),
			 void *sink_arg, uint64_t *total, struct hull_err *err)
{
	uint64_t sum = 0;
	*total = 0;
	for (;;) {
		uint8_t lb[8];
		int r = rd_exact(rd, lb, 4, err);
		if (r < 0)
			return r;
		uint32_t n = get32(lb);
		if (n == 0)
			break;
		if (n > SENDFMT_CHUNK_MAX)
			return hull_err_set(
			    err, EINVAL,
			    "corrupt stream: a chunk of %" PRIu32 " bytes", n);
		if (rd->move) {
			r = rd->move(rd->arg, n, sink_arg, err);
			if (r == -ENODATA)
				r = hull_err_set(err, EPIPE,
						 "the stream ends too early");
			if (r < 0)
				return r;
		} else if ((r = rd_exact(rd, buf, n, err)) < 0 ||
			   (r = sink(sink_arg, buf, n, err)) < 0) {
			return r;
		}
		sum += n;
	}
	uint8_t tb[8];
	int r = rd_exact(rd, tb, 8, err);
	if (r < 0)
		return r;
	if (get64(tb) != sum)
		return hull_err_set(err, EINVAL,
				    "corrupt stream: a dataset of %" PRIu64
				    " bytes says it has %" PRIu64,
				    sum, get64(tb));
	*total = sum;
	return 0;
}

int sendfmt_end_read(const struct sendfmt_reader *rd, struct hull_err *err)
{
	uint8_t b[8];
	int r = rd_exact(rd, b, 8, err);
	if (r < 0)
		return r;
	if (memcmp(b, SENDFMT_END, 8) != 0)
		return hull_err_set(err, EINVAL,
				    "corrupt stream: no end mark after the "
				    "last dataset");
	return 0;
}
