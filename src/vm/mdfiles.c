/*
 * mdfiles.c - large metadata values in side files (see mdfiles.h).
 */
#include "vm/mdfiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/digest.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/xalloc.h"

#define SHA_HEX 64

static const char *const which_props[] = {"customer_metadata",
					  "internal_metadata"};
#define N_WHICH (sizeof(which_props) / sizeof(which_props[0]))

struct vm_mdfiles_cache {
	json_t *by_sha; /* "<sha256>" -> the value (a string) */
	json_t *by_ptr; /* "<address of a value>" -> [value, "<sha256>"];
			   holding the value keeps its address from being
			   reused by another one */
};

struct vm_mdfiles_cache *vm_mdfiles_cache_new(void)
{
	struct vm_mdfiles_cache *c = xcalloc(1, sizeof(*c));
	c->by_sha = json_object();
	c->by_ptr = json_object();
	return c;
}

void vm_mdfiles_cache_free(struct vm_mdfiles_cache *c)
{
	if (!c)
		return;
	json_decref(c->by_sha);
	json_decref(c->by_ptr);
	free(c);
}

static void ptr_key(json_t *v, char out[32])
{
	snprintf(out, 32, "%p", (void *)v);
}

static const char *cache_sha_of(struct vm_mdfiles_cache *c, json_t *v)
{
	char k[32];
	if (!c)
		return NULL;
	ptr_key(v, k);
	return json_string_value(
	    json_array_get(json_object_get(c->by_ptr, k), 1));
}

static void cache_add(struct vm_mdfiles_cache *c, json_t *v, const char *sha)
{
	char k[32];
	if (!c)
		return;
	ptr_key(v, k);
	json_object_set(c->by_sha, sha, v);
	json_object_set_new(c->by_ptr, k, json_pack("[O,s]", v, sha));
}

/* Replaces c's entries with fresh's (what the record now names). */
static void cache_swap(struct vm_mdfiles_cache *c,
		       struct vm_mdfiles_cache *fresh)
{
	if (!c)
		return;
	json_decref(c->by_sha);
	json_decref(c->by_ptr);
	*c = *fresh;
	fresh->by_sha = fresh->by_ptr = NULL;
}

static void sha256_hex(const void *data, size_t len, char out[SHA_HEX + 1])
{
	hull_sha256_hex(data, len, out);
}

static bool sha_valid(const char *s)
{
	if (!s || strlen(s) != SHA_HEX)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* Bytes v would take in the record. A string of VM_MDFILES_VALUE_MIN
 * bytes or more goes to a side file whatever its escapes, so its exact
 * size is not worth a pass over it. */
static size_t value_size(json_t *v)
{
	if (!json_is_string(v))
		return json_dumpb(v, NULL, 0, JSON_ENCODE_ANY);
	size_t n = json_string_length(v);
	if (n >= VM_MDFILES_VALUE_MIN)
		return n + 2;
	return hull_json_escaped_size(json_string_value(v), n);
}

/* The reference's hash and size, or false when it is not one. */
static bool ref_parse(json_t *ref, const char **sha, size_t *size)
{
	json_t *s = json_object_get(ref, "sha256");
	json_t *z = json_object_get(ref, "size");
	if (!json_is_object(ref) || !sha_valid(json_string_value(s)) ||
	    !json_is_integer(z) || json_integer_value(z) < 0 ||
	    json_integer_value(z) > (json_int_t)HULL_JSON_MAX_FILE)
		return false;
	*sha = json_string_value(s);
	*size = (size_t)json_integer_value(z);
	return true;
}

static json_t *side_read(const char *mdir, const char *sha, size_t size,
			 struct hull_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", mdir, sha);
	char *buf;
	size_t len;
	if (hull_file_read(p, HULL_JSON_MAX_FILE, &buf, &len, err) < 0)
		return NULL;
	char got[SHA_HEX + 1];
	json_t *v = NULL;
	if (len == size) {
		sha256_hex(buf, len, got);
		if (!strcmp(got, sha))
			v = json_stringn(buf, len);
	}
	free(buf);
	if (!v)
		hull_err_set(err, EIO,
			     "metadata side file %s: not the value its record "
			     "names",
			     p);
	return v;
}

int vm_mdfiles_inline(json_t *rec, const char *dir, struct vm_mdfiles_cache *c,
		      struct hull_err *err)
{
	struct hull_err local;
	json_t *refs = json_object_get(rec, VM_MDFILES_PROP);
	if (!err)
		err = &local;
	if (!refs)
		return 0;
	if (!json_is_object(refs))
		return hull_err_set(
		    err, EINVAL,
		    "%s/vm.json: " VM_MDFILES_PROP " is not an object", dir);
	_cleanup_free_ char *mdir = xasprintf("%s/" VM_MDFILES_DIR, dir);
	struct vm_mdfiles_cache fresh = {json_object(), json_object()};
	/* Everything is read first, so a failure leaves rec as it was. */
	json_t *vals[N_WHICH] = {0};
	int r = 0;
	for (size_t w = 0; w < N_WHICH && r == 0; w++) {
		json_t *m = json_object_get(refs, which_props[w]);
		json_t *inl = json_object_get(rec, which_props[w]);
		const char *k;
		json_t *ref;
		if (!m)
			continue;
		if (!json_is_object(m)) {
			r = hull_err_set(err, EINVAL,
					 "%s/vm.json: " VM_MDFILES_PROP
					 ".%s is not an object",
					 dir, which_props[w]);
			break;
		}
		vals[w] = json_object();
		json_object_foreach(m, k, ref)
		{
			const char *sha;
			size_t size;
			if (!ref_parse(ref, &sha, &size)) {
				r = hull_err_set(err, EINVAL,
						 "%s/vm.json: " VM_MDFILES_PROP
						 ".%s: bad reference for %s",
						 dir, which_props[w], k);
				break;
			}
			/* A key the record holds inline is the inline one
			 * (vm_mdfiles_save never writes both). */
			if (json_object_get(inl, k))
				continue;
			json_t *v = json_object_get(fresh.by_sha, sha);
			if (v)
				json_incref(v);
			else if (c && (v = json_object_get(c->by_sha, sha)) &&
				 json_string_length(v) == size)
				json_incref(v);
			else if (!(v = side_read(mdir, sha, size, err))) {
				r = -err->code;
				break;
			}
			cache_add(&fresh, v, sha);
			json_object_set_new(vals[w], k, v);
		}
	}
	if (r == 0) {
		for (size_t w = 0; w < N_WHICH; w++) {
			if (!vals[w])
				continue;
			json_t *inl = json_object_get(rec, which_props[w]);
			if (!json_is_object(inl)) {
				inl = json_object();
				json_object_set_new(rec, which_props[w], inl);
			}
			json_object_update(inl, vals[w]);
		}
		json_object_del(rec, VM_MDFILES_PROP);
		cache_swap(c, &fresh);
	}
	for (size_t w = 0; w < N_WHICH; w++)
		json_decref(vals[w]);
	json_decref(fresh.by_sha);
	json_decref(fresh.by_ptr);
	return r;
}

json_t *vm_mdfiles_load(const char *path, struct vm_mdfiles_cache *c,
			struct hull_err *err)
{
	struct hull_err local;
	_cleanup_free_ char *copy = xstrdup(path);
	const char *dir = dirname(copy);
	if (!err)
		err = &local;
	/* A side file that vanished between reading the record and reading
	 * it was removed by a writer that replaced the record meanwhile:
	 * read the new record. */
	for (int tries = 0;; tries++) {
		json_t *j = hull_json_load_file(path, err);
		if (!j || !json_is_object(j))
			return j;
		int r = vm_mdfiles_inline(j, dir, c, err);
		if (r == 0)
			return j;
		json_decref(j);
		if (r != -ENOENT)
			return NULL;
		if (tries == 4) {
			/* Not ENOENT: that would read as "no record". */
			char msg[sizeof(err->msg)];
			snprintf(msg, sizeof(msg), "%s", err->msg);
			hull_err_set(err, EIO, "%s", msg);
			return NULL;
		}
	}
}

struct cand {
	size_t which;
	const char *key;
	json_t *value;
	size_t size;
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	if (x->which != y->which)
		return x->which < y->which ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* The side file for a value, written unless it is there already (its
 * name is its content's hash, so one of the right size is the value). */
static int side_write(const char *dir, const char *mdir, const char *sha,
		      json_t *v, struct hull_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", mdir, sha);
	size_t len = json_string_length(v);
	struct stat st;
	if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size == len)
		return 0;
	if (mkdir(mdir, 0700) == 0) {
		int r = hull_fsync_dir(dir, err);
		if (r < 0)
			return r;
	} else if (errno != EEXIST) {
		return hull_err_sys(err, errno, "create %s", mdir);
	}
	return hull_file_write_atomic(p, json_string_value(v), len, 0600, err);
}

/* A name in the side folder that a writer of ours made: "<sha256>" or
 * its temp file "<sha256>.tmp.<pid>". */
static bool ours(const char *name)
{
	char sha[SHA_HEX + 1];
	if (strlen(name) < SHA_HEX)
		return false;
	memcpy(sha, name, SHA_HEX);
	sha[SHA_HEX] = '\0';
	if (!sha_valid(sha))
		return false;
	return name[SHA_HEX] == '\0' || !strncmp(name + SHA_HEX, ".tmp.", 5);
}

/* Removes what no reference names, and temp files of writers that died
 * (every writer holds the instance lock, as the caller does now). */
static void sweep(const char *mdir, json_t *named)
{
	DIR *d = opendir(mdir);
	if (!d)
		return;
	struct dirent *de;
	bool left = false;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!ours(de->d_name) || json_object_get(named, de->d_name) ||
		    unlinkat(dirfd(d), de->d_name, 0) < 0)
			left = true;
	}
	closedir(d);
	if (!left)
		rmdir(mdir);
}

static int save(const char *path, json_t *rec, struct vm_mdfiles_cache *c,
		bool first, struct hull_err *err)
{
	_cleanup_free_ char *copy = xstrdup(path);
	const char *dir = dirname(copy);
	_cleanup_free_ char *mdir = xasprintf("%s/" VM_MDFILES_DIR, dir);
	json_t *out = json_copy(rec), *objs[N_WHICH] = {0};
	json_t *refs = json_object(), *named = json_object();
	struct vm_mdfiles_cache fresh = {json_object(), json_object()};
	struct cand *cands = NULL;
	size_t n = 0, cap = 0, total = 0;
	int r = 0;

	json_object_del(out, VM_MDFILES_PROP);
	for (size_t w = 0; w < N_WHICH; w++) {
		json_t *obj = json_object_get(rec, which_props[w]);
		const char *k;
		json_t *v;
		if (!json_is_object(obj))
			continue;
		objs[w] = json_copy(obj);
		json_object_set_new(out, which_props[w], objs[w]);
		json_object_foreach(obj, k, v)
		{
			size_t vs = value_size(v);
			total += hull_json_escaped_size(k, strlen(k)) + vs;
			if (!json_is_string(v) || vs < VM_MDFILES_SPILL_MIN)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				cands = xrealloc(cands, cap * sizeof(*cands));
			}
			cands[n++] = (struct cand){w, k, v, vs};
		}
	}
	if (n)
		qsort(cands, n, sizeof(*cands), cand_cmp);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct cand *e = &cands[i];
		if (e->size < VM_MDFILES_VALUE_MIN &&
		    total <= VM_MDFILES_INLINE_MAX)
			break;
		char sha[SHA_HEX + 1];
		const char *known = cache_sha_of(c, e->value);
		if (known)
			snprintf(sha, sizeof(sha), "%s", known);
		else
			sha256_hex(json_string_value(e->value),
				   json_string_length(e->value), sha);
		r = side_write(dir, mdir, sha, e->value, err);
		if (r < 0)
			break;
		cache_add(&fresh, e->value, sha);
		json_object_set_new(named, sha, json_true());
		json_t *m = json_object_get(refs, which_props[e->which]);
		if (!m) {
			m = json_object();
			json_object_set_new(refs, which_props[e->which], m);
		}
		json_object_set_new(
		    m, e->key,
		    json_pack("{s:s,s:I}", "sha256", sha, "size",
			      (json_int_t)json_string_length(e->value)));
		json_object_del(objs[e->which], e->key);
		total -= e->size;
	}
	/* References of a record that was not inlined, for keys it does not
	 * hold: kept, files and all. */
	json_t *old = json_object_get(rec, VM_MDFILES_PROP);
	for (size_t w = 0; w < N_WHICH && r == 0; w++) {
		json_t *m = json_object_get(old, which_props[w]);
		const char *k;
		json_t *ref;
		json_object_foreach(m, k, ref)
		{
			const char *sha;
			size_t size;
			if (json_object_get(
				json_object_get(rec, which_props[w]), k) ||
			    !ref_parse(ref, &sha, &size))
				continue;
			json_t *dst = json_object_get(refs, which_props[w]);
			if (!dst) {
				dst = json_object();
				json_object_set_new(refs, which_props[w], dst);
			}
			json_object_set_new(dst, k, json_deep_copy(ref));
			json_object_set_new(named, sha, json_true());
		}
	}
	if (r == 0) {
		if (json_object_size(refs))
			json_object_set(out, VM_MDFILES_PROP, refs);
		r = first ? hull_json_save_file_ordered(path, out, err)
			  : hull_json_save_file(path, out, err);
	}
	/* A first record replaced none: no file of an older one to remove
	 * (and its rename is not durable yet, so none may go). */
	if (r == 0 && !first)
		sweep(mdir, named);
	if (r == 0)
		cache_swap(c, &fresh);
	free(cands);
	json_decref(fresh.by_sha);
	json_decref(fresh.by_ptr);
	json_decref(named);
	json_decref(refs);
	json_decref(out);
	return r;
}

int vm_mdfiles_save(const char *path, json_t *rec, struct vm_mdfiles_cache *c,
		    struct hull_err *err)
{
	return save(path, rec, c, false, err);
}

int vm_mdfiles_save_first(const char *path, json_t *rec, struct hull_err *err)
{
	return save(path, rec, NULL, true, err);
}
