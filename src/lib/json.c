/*
 * json.c - loading and saving JSON records (see json.h).
 */
#include "lib/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fileio.h"
#include "lib/xalloc.h"

#define PRETTY (JSON_INDENT(2) | JSON_SORT_KEYS)

json_t *hull_json_load_buf(const char *what, const char *buf, size_t len,
			   struct hull_err *err)
{
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		hull_err_set(err, EINVAL, "%s: invalid JSON at line %d: %s",
			     what, je.line, je.text);
	return j;
}

json_t *hull_json_load_file(const char *path, struct hull_err *err)
{
	char *buf;
	size_t len;
	if (hull_file_read(path, HULL_JSON_MAX_FILE, &buf, &len, err) < 0)
		return NULL;
	json_t *j = hull_json_load_buf(path, buf, len, err);
	free(buf);
	return j;
}

size_t hull_json_escaped_size(const char *s, size_t n)
{
	/* '"', '\\' and the control characters with a short escape take
	 * two bytes, other control characters six ("\u0001"), the rest
	 * (UTF-8 included) one each. */
	size_t out = 2;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\' || c == '\b' || c == '\f' ||
		    c == '\n' || c == '\r' || c == '\t')
			out += 2;
		else if (c < 0x20)
			out += 6;
		else
			out++;
	}
	return out;
}

char *hull_json_pretty(json_t *j)
{
	char *s = json_dumps(j, PRETTY | JSON_ENCODE_ANY);
	if (!s)
		abort();
	return s;
}

static int save_file(const char *path, json_t *j, bool durable,
		     struct hull_err *err)
{
	char *s = hull_json_pretty(j);
	size_t n = strlen(s);
	s = xrealloc(s, n + 2);
	s[n] = '\n';
	s[n + 1] = '\0';
	int r = durable ? hull_file_write_atomic(path, s, n + 1, 0600, err)
			: hull_file_write_ordered(path, s, n + 1, 0600, err);
	free(s);
	return r;
}

int hull_json_save_file(const char *path, json_t *j, struct hull_err *err)
{
	return save_file(path, j, true, err);
}

int hull_json_save_file_ordered(const char *path, json_t *j,
				struct hull_err *err)
{
	return save_file(path, j, false, err);
}

void hull_json_print(json_t *j)
{
	char *s = hull_json_pretty(j);
	printf("%s\n", s);
	free(s);
}

const char *hull_json_str(json_t *obj, const char *key, const char *dflt)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : dflt;
}

json_int_t hull_json_int(json_t *obj, const char *key, json_int_t dflt)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

bool hull_json_bool(json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}
