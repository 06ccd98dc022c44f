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
 * server stops reading from it until it does. Over all connections
 * together the buffers (input and output, as allocated) stay within
 * buf_max: those are the instance's bytes whoever holds them, so the
 * bound is per instance, not per connection. A connection whose input
 * or answers would take the total past it is closed (its pending
 * answers dropped), and answering stops early while the total is at it.
 *
 * Who may talk: a listener's peer check (metadata_server_set_peer_check)
 * runs on every accepted connection before a byte of it is read; a
 * refused connection is closed at once, unanswered.
 */
#ifndef HULL_METADATA_SERVER_H
#define HULL_METADATA_SERVER_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "metadata/store.h"

struct metadata_server_limits {
	unsigned max_conns; /* accepted connections at once */
	size_t line_max;    /* longest request line */
	size_t out_max;	    /* pending output before reading pauses */
	size_t buf_max;	    /* all connections' buffers together */
};

/* The defaults: 64 connections, METADATA_LINE_MAX, 4 MiB, 16 MiB. */
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

/* Decides, for each connection accepted on a listener, whether its peer
 * may use the channel: ok(ctx, fd) returns true to serve it. Refusals
 * are logged (one line each, at most one a second). Default: everyone. */
void metadata_server_set_peer_check(struct metadata_server *srv,
				    bool (*ok)(void *ctx, int fd), void *ctx);

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
/* Bytes all connections' buffers hold now (as allocated). */
size_t metadata_server_buffered(const struct metadata_server *srv);

#endif
