/*
 * dirstream.c - send and receive for the dir backend (see dirstream.h).
 */
#include "pool/dirstream.h"

#include <errno.h>

int pool_dirstream_send(struct pool *p, const char *snap, const char *base,
			const char *snap_name, const char *base_name, int fd,
			struct hull_err *err)
{
	return hull_err_set(err, ENOTSUP, "send is not yet supported by the dir backend");
}

int pool_dirstream_receive(struct pool *p, const char *stage,
			   const char *snapdir, int fd, char **snap_name,
			   bool *incremental, struct hull_err *err)
{
	return hull_err_set(err, ENOTSUP, "receive is not yet supported by the dir backend");
}
