/*
 * name.h - checking and encoding pool names (pure, no I/O). See name.c for
 * the on-disk layout the names map to.
 */
#ifndef HULL_POOL_NAME_H
#define HULL_POOL_NAME_H

#include <stdbool.h>

#define POOL_NAME_MAX 1000
#define POOL_SEGMENT_MAX 200

/* "a", "images/<uuid>": segments of [A-Za-z0-9._-], none starting with '.',
 * the first not "var". */
bool pool_dataset_name_valid(const char *name);
/* One segment: a snapshot's short name, a folder of a dataset name. */
bool pool_segment_valid(const char *s);
/* "dataset@snap", snap a segment as above. */
bool pool_snapshot_name_valid(const char *name);

/* Splits a valid snapshot name into new strings; -1 when not valid. */
int pool_name_split(const char *snapshot, char **ds, char **snap);

/* The flat record name of a dataset ('/' as ':'), and back (NULL when the
 * entry is not a valid dataset name). Caller frees. */
char *pool_name_encode(const char *ds);
char *pool_name_decode(const char *enc);

/* True when name is a dataset nested below ancestor ("a/b" below "a"). */
bool pool_name_is_below(const char *name, const char *ancestor);

#endif
