/*
 * dirstream.h - send and receive for the dir backend: a hull stream (a
 * header naming the snapshot, its base and the paths removed since the
 * base, then a tar of what changed), the dir backend's `zfs send`.
 */
#ifndef HULL_POOL_DIRSTREAM_H
#define HULL_POOL_DIRSTREAM_H

#include <stdbool.h>

#include "lib/err.h"

struct pool;

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

#endif
