/*
 * json.h - jansson helpers for hull's records: load a file with a clear
 * error, save one atomically in the layout SmartOS tools use (two-space
 * indent, sorted keys, trailing newline).
 */
#ifndef HULL_JSON_H
#define HULL_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"

/* Records are small; anything bigger than this is refused as hostile. */
#define HULL_JSON_MAX_FILE (64u << 20)

/* Returns a new reference or NULL with err set. */
json_t *hull_json_load_file(const char *path, struct hull_err *err);
json_t *hull_json_load_buf(const char *what, const char *buf, size_t len,
			   struct hull_err *err);

/* Written atomically, mode 0600: records are root's alone (lib/root.h). */
int hull_json_save_file(const char *path, json_t *j, struct hull_err *err);
/* The same in one fsync (hull_file_write_ordered, lib/fileio.h). */
int hull_json_save_file_ordered(const char *path, json_t *j,
				struct hull_err *err);

/* Bytes the string s (n bytes of UTF-8) takes in a file jansson writes,
 * quotes included: what json_dumpb() counts for it without
 * JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH, fifteen times faster (a
 * metadata PUT counts every value of its record). */
size_t hull_json_escaped_size(const char *s, size_t n);

/* Pretty text for stdout, caller frees. */
char *hull_json_pretty(json_t *j);

/* Prints j pretty to stdout with a trailing newline. */
void hull_json_print(json_t *j);

/* Field getters that return a default when the key is absent or mistyped. */
const char *hull_json_str(json_t *obj, const char *key, const char *dflt);
json_int_t hull_json_int(json_t *obj, const char *key, json_int_t dflt);
bool hull_json_bool(json_t *obj, const char *key, bool dflt);

#endif
