/*
 * server.h - the metadata server core: serves the protocol on any number
 * of channels of one instance (a listening unix socket for a zone, a
 * serial stream for a VM's COM2) from one store, inside someone else's
 * event loop.
 *
 * Embedding: the server owns an epoll descriptor (metadata_server_fd());
 * add it to the caller's epoll or poll set for reading, and call
 * metadata_server_run(srv, 0) when it is readable. The server never
 * blocks: every descriptor is non-blocking, each wake-up reads at most one
 * chunk per ready connection, answers only complete lines, and keeps
 * per-connection input and output within fixed bounds, so one slow or
 * hostile client cannot stall the others or grow the process.
 *
 * Bounds (see metadata_server_limits): at most max_conns accepted
 * connections (a new one beyond that closes the connection that has been
 * quiet longest, so sitting on many idle connections cannot lock anyone
 * out); a line longer than line_max is
 * discarded up to its newline and answered "invalid command"; when a
 * client does not read its answers and out_max bytes are pending, the
 * server stops reading from it until it does.
 */
#ifndef HULL_METADATA_SERVER_H
#define HULL_METADATA_SERVER_H
#include <stddef.h>

#include "lib/err.h"
#include "metadata/store.h"

struct metadata_server_limits {
	unsigned max_conns; /* accepted connections at once */
	size_t line_max;    /* longest request line */
	size_t out_max;	    /* pending output before reading pauses */
};

/* The defaults: 64 connections, METADATA_LINE_MAX, 4 MiB. */
void metadata_server_limits_default(struct metadata_server_limits *lim);

struct metadata_server;

/* store is borrowed and must outlive the server; lim may be NULL. */
struct metadata_server *
metadata_server_new(const struct metadata_store *store,
		    const struct metadata_server_limits *lim,
		    struct hull_err *err);
/* Stops serving: closes every descriptor the server owns. NULL is fine. */
void metadata_server_free(struct metadata_server *srv);

/* Where problems that concern nobody's request go (a store that cannot be
 * read, a channel that failed). Default: nowhere. */
void metadata_server_set_log(struct metadata_server *srv,
			     void (*log)(void *ctx, const char *msg),
			     void *ctx);

/* Serves connections accepted on the listening socket fd. Takes ownership
 * of fd (made non-blocking here). */
int metadata_server_add_listener(struct metadata_server *srv, int fd,
				 struct hull_err *err);
/* Serves the protocol on a connected stream: a serial port, a pty master,
 * a socket to an emulator's COM2. Takes ownership of fd; it is closed when
 * the peer hangs up. Not counted against max_conns. */
int metadata_server_add_stream(struct metadata_server *srv, int fd,
			       struct hull_err *err);

/* The descriptor to wait on for readability. */
int metadata_server_fd(const struct metadata_server *srv);
/* Handles whatever is ready, waiting at most timeout_ms (0: not at all,
 * -1: until something happens). Returns 0 or a negative code when the
 * wait itself failed. */
int metadata_server_run(struct metadata_server *srv, int timeout_ms,
			struct hull_err *err);
/* Accepted connections and streams now open. */
unsigned metadata_server_connections(const struct metadata_server *srv);

#endif
