/*
 * table.h - `list`-style output shared by imgadm and vmadm: rows are
 * jansson objects, shown as a padded table (columns chosen by -o, header
 * unless -H), colon-separated (-p) or JSON (-j), sorted by one or more keys
 * (-s, "-key" descending, "+key" ascending), and filtered by key=value
 * arguments.
 *
 * Keys are dotted paths into a row ("tags.role", "nics.0.ip"); a program
 * with computed fields supplies a lookup function. Filters: "key=value"
 * matches the value's text exactly ("true"/"false" match booleans, numbers
 * match their decimal form), "key=~text" matches a substring (or a POSIX
 * extended regular expression with TABLE_FILTER_REGEX, as vmadm does), and
 * a "*" path segment in a filter key matches any array element or member.
 *
 * Everything here is pure: strings in, strings out; nothing is printed.
 */
#ifndef HULL_TABLE_H
#define HULL_TABLE_H

#include <jansson.h>
#include <stdbool.h>

#include "lib/err.h"

/* Returns a NEW reference to the value of key in row, or NULL when absent. */
typedef json_t *(*table_lookup_fn)(json_t *row, const char *key, void *ctx);

struct table_view {
	table_lookup_fn lookup; /* NULL: table_path_get */
	void *ctx;
	/* Header text for a column, or NULL for the key upper-cased. */
	const char *(*header)(const char *key, void *ctx);
};

enum table_flags {
	TABLE_NO_HEADER = 1 << 0, /* -H */
	TABLE_PARSABLE = 1 << 1,  /* -p: "a:b:c", no header, ':' escaped */
};

enum table_filter_flags {
	TABLE_FILTER_REGEX = 1 << 0, /* "~" is a regex, not a substring */
};

struct table_filter; /* opaque: a parsed list of key=value */

/* Parses args ("key=value" each). Fails naming the bad argument. */
int table_filters_parse(char *const *args, int n, unsigned flags,
			struct table_filter **out, struct hull_err *err);
void table_filters_free(struct table_filter *f);

/* True when row satisfies every filter (NULL filters: always). */
bool table_row_matches(const struct table_filter *f, json_t *row,
		       const struct table_view *v);

/* A new array holding the rows of `rows` that match. */
json_t *table_select(json_t *rows, const struct table_filter *f,
		     const struct table_view *v);

/* Checks a comma-separated key list ("uuid,name"): non-empty keys; for
 * sorting, an optional leading '-' or '+'. */
int table_keys_check(const char *keys, bool sort, struct hull_err *err);

/* Sorts the array in place by keys ("published_at,-name"): numbers by
 * value, booleans false first, other values by text; a row missing a key
 * sorts after those that have it. Stable. */
int table_sort(json_t *rows, const char *keys, const struct table_view *v,
	       struct hull_err *err);

/* Renders rows as a table of the given columns ("uuid,name"). Returns a new
 * string (possibly empty) the caller frees. */
char *table_render(json_t *rows, const char *columns, unsigned flags,
		   const struct table_view *v);

/* Text of a scalar as a table shows it: strings as they are, numbers in
 * decimal, true/false; arrays as comma-joined texts; objects as compact
 * JSON; NULL (absent) as NULL. New string the caller frees. */
char *table_value_text(json_t *value);

/* The default lookup: a dotted path. New reference or NULL. */
json_t *table_path_get(json_t *row, const char *key, void *ctx);

#endif
