/*
 * dirstream.h - send and receive for the dir backend: a hull stream (a
 * header naming the snapshot, its base and the paths removed since the
 * base, then a tar of what changed), the dir backend's `zfs send`.
 */
#ifndef HULL_POOL_DIRSTREAM_H
#define HULL_POOL_DIRSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

struct pool;

/* The stream opens with this line: "hull-dir-stream 1 <header bytes>\n". */
#define POOL_DIRSTREAM_MAGIC "hull-dir-stream"
#define POOL_DIRSTREAM_VERSION 1
#define POOL_DIRSTREAM_INTRO_MAX 64
#define POOL_DIRSTREAM_HEADER_MAX (64u << 20)

struct pool_dirstream_header {
	char *snapshot; /* short name of the snapshot sent */
	char *base;	/* short name of its base, or NULL for a full stream */
	char **removed; /* relative paths gone since the base */
	size_t n_removed;
};

/* Pure parsers of a stream's untrusted opening (fuzzed): the intro line
 * (without its newline) gives the header's length; the header is checked
 * field by field, every path relative and without "..". */
int pool_dirstream_intro_parse(const char *line, size_t *header_len,
			       struct hull_err *err);
int pool_dirstream_header_parse(const char *buf, size_t len,
				struct pool_dirstream_header *h,
				struct hull_err *err);
void pool_dirstream_header_free(struct pool_dirstream_header *h);
/* A relative path of one or more segments, none empty, "." or "..". */
bool pool_dirstream_path_valid(const char *path);

int pool_dirstream_send(struct pool *p, const char *snap, const char *base,
			const char *snap_name, const char *base_name, int fd,
			struct hull_err *err);
int pool_dirstream_receive(struct pool *p, const char *stage,
			   const char *snapdir, int fd, char **snap_name,
			   bool *incremental, struct hull_err *err);

/* A copy of the tree src at dst (made aside and renamed into place);
 * read-only makes every entry immutable, the top too when seal_top. */
int pool_dir_copy(const char *src, const char *dst, bool readonly,
		  bool seal_top, struct hull_err *err);

/* Sets (on) or clears the immutable attribute on every folder and file of
 * a tree, its top too unless skip_top. */
int pool_dir_tree_flags(const char *path, bool on, bool skip_top,
			struct hull_err *err);

#endif
