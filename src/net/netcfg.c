/*
 * netcfg.c - the platform's stored network configuration (see netcfg.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/xalloc.h"
#include "net/netcfg.h"

bool net_cfg_platform(void)
{
	_cleanup_free_ char *p = hull_root_path("usbkey/config");

	return hull_path_exists(p);
}

json_t *net_cfg_load(struct hull_err *err)
{
	_cleanup_free_ char *p = hull_root_path("usbkey/net.json");
	json_t *j;

	if (!hull_path_exists(p))
		return json_pack("{s[] s[]}", "links", "addrs");
	if (!(j = hull_json_load_file(p, err)))
		return NULL;
	if (!json_is_array(json_object_get(j, "links")))
		json_object_set_new(j, "links", json_array());
	if (!json_is_array(json_object_get(j, "addrs")))
		json_object_set_new(j, "addrs", json_array());
	return j;
}

int net_cfg_put(const char *section, const char *key, const char *value,
		json_t *obj, struct hull_err *err)
{
	_cleanup_free_ char *dir = hull_root_path("usbkey");
	_cleanup_free_ char *lp = hull_root_path("usbkey/net.lock");
	_cleanup_free_ char *p = hull_root_path("usbkey/net.json");
	json_t *j, *a, *e;
	size_t i;
	int lock, r;

	if ((r = hull_mkdir_p(dir, 0700, err)))
		return r;
	if ((lock = hull_lock_take(lp, true, err)) < 0)
		return lock;
	if (!(j = net_cfg_load(err))) {
		hull_lock_release(lock);
		return -err->code;
	}
	a = json_object_get(j, section);
	json_array_foreach(a, i, e)
	{
		if (!strcmp(hull_json_str(e, key, ""), value)) {
			json_array_remove(a, i);
			break;
		}
	}
	if (obj)
		json_array_append(a, obj);
	r = hull_json_save_file(p, j, err);
	json_decref(j);
	hull_lock_release(lock);
	return r;
}

json_t *net_cfg_parse_kv(const char *text)
{
	json_t *o = json_object();
	const char *s = text;

	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		char *line = xstrndup(s, n), *k = line, *v, *end;

		s += n + (nl ? 1 : 0);
		while (*k == ' ' || *k == '\t')
			k++;
		if (*k == '#' || !(v = strchr(k, '='))) {
			free(line);
			continue;
		}
		*v++ = 0;
		for (end = v + strlen(v);
		     end > v &&
		     (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r');)
			*--end = 0;
		if (end - v >= 2 && (v[0] == '"' || v[0] == '\'') &&
		    end[-1] == v[0]) {
			end[-1] = 0;
			v++;
		}
		for (end = k + strlen(k);
		     end > k && (end[-1] == ' ' || end[-1] == '\t');)
			*--end = 0;
		if (*k)
			json_object_set_new(o, k, json_string(v));
		free(line);
	}
	return o;
}

json_t *net_cfg_usbkey(struct hull_err *err)
{
	_cleanup_free_ char *p = hull_root_path("usbkey/config");
	char *buf = NULL;
	size_t n;
	json_t *o;

	if (!hull_path_exists(p))
		return json_object();
	if (hull_file_read(p, 1 << 20, &buf, &n, err))
		return NULL;
	o = net_cfg_parse_kv(buf);
	free(buf);
	return o;
}
