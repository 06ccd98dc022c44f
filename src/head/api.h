/*
 * api.h - hull-api's HTTP(S) server (libmicrohttpd): request bodies
 * (bounded), HTTP Signature authentication, and the dispatch to CloudAPI
 * and IMGAPI handlers (cloudapi.c).
 *
 * The server runs libmicrohttpd's internal polling thread: it reads and
 * writes every connection without blocking, so a client that sends half a
 * request and stalls holds up no one, and runs each handler, one at a
 * time, once its request is whole; the store handle is used by that
 * thread alone. No handler waits on an agent (tasks are queued), so each
 * is short.
 */
#ifndef HULL_HEAD_API_H
#define HULL_HEAD_API_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "head/headconf.h"
#include "head/store.h"
#include "lib/err.h"

/* The largest request body: CloudAPI's bodies (a key, a machine payload
 * with metadata) are small; restify's default limit is larger, but a
 * small bound keeps a flood of big bodies from eating memory. */
#define API_BODY_MAX (64 * 1024)

struct api;

/* A request as the handlers see it. */
struct api_req {
	struct api *api;
	struct store *store;
	const struct head_config *cfg;
	const char *method;
	const char *path; /* decoded path, no query */
	char *seg[8];	  /* path segments */
	int nseg;
	json_t *body;	 /* parsed JSON body or NULL */
	json_t *account; /* the caller's account (CloudAPI) */
	void *conn;	 /* struct MHD_Connection */
	/* The web console (webui.h): its state, how the request was
	 * authenticated, and what its answers add. */
	struct webui *webui;
	bool by_session;	  /* authenticated by a console session */
	const char *content_type; /* of file_fd (default octet-stream) */
	void *response;		  /* a struct MHD_Response to send as is */
	char *set_cookie;	  /* a Set-Cookie value (owned) */
	/* The answer: */
	unsigned status;
	json_t *out;	     /* JSON body, or NULL for none */
	long resource_count; /* x-resource-count when >= 0 */
	int file_fd;	     /* a file to stream, or -1 */
	uint64_t file_size;
	int retry_after; /* Retry-After seconds when > 0 (429) */
	/* A streamed answer of unknown length (migrate.c's watch): read as
	 * libmicrohttpd's content reader (which may suspend the connection
	 * and return 0), stream_free called once it ends. */
	ssize_t (*stream_read)(void *cls, uint64_t pos, char *buf, size_t max);
	void (*stream_free)(void *cls);
	void *stream_cls;
	const char *stream_type;
	void *upgrade; /* a struct MHD_Response for 101 (console.c) */
	/* Called with upgrade_cls when the 101 never reached the client
	 * (its upgrade handler did not run): frees what it held. */
	void (*upgrade_abandon)(void *cls);
	void *upgrade_cls;
	/* Set by api_park: the answer set may wait (park.h). */
	char park_key[64];
	int park_ms;
};

/* The answer the handler set may wait up to ms: hull-api parks the
 * request and runs the handler again when something is queued under key
 * (or at the latest PARK_TICK_MS later), and sends the answer of the last
 * run once the handler stops asking or ms have passed. */
void api_park(struct api_req *q, const char *key, int ms);

/* A query parameter, or NULL. */
const char *api_query(struct api_req *q, const char *name);
/* Calls fn for each query parameter (key, value; value may be NULL). */
void api_query_foreach(struct api_req *q,
		       void (*fn)(void *cls, const char *key,
				  const char *value),
		       void *cls);
/* Sets a CloudAPI error answer {"code","message"}; returns 0. */
int api_error(struct api_req *q, unsigned status, const char *code,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Sets a JSON answer (steals body). */
int api_reply(struct api_req *q, unsigned status, json_t *body);

/* An upgrade handler took its connection: req_cls (libmicrohttpd's
 * request pointer, the handler's argument) no longer abandons it. */
void api_upgrade_taken(void *req_cls);

/* The console tickets and bridges (console.h) of this server. */
struct console_hub *api_console_hub(struct api *a);

/* Handlers (cloudapi.c, machines.c, agentapi.c). */
int cloudapi_dispatch(struct api_req *q);
/* /:login/fabrics/default/vlans[/:id[/networks[/:id]]] (fabrics.c). */
int fabrics_dispatch(struct api_req *q);
/* /:login/networks/:id/ips[/:ip] (fabrics.c). */
int network_ips_dispatch(struct api_req *q);
/* The agents' internal API, /agent/...: authenticated per server. */
int agentapi_dispatch(struct api_req *q);
int imgapi_dispatch(struct api_req *q);

/* Starts serving c with state s (borrowed until api_stop). *port gets the
 * bound port (the configured one, or the one the kernel chose for 0). */
int api_start(const struct head_config *c, struct store *s, struct api **out,
	      int *port, struct hull_err *err);
void api_stop(struct api *a);
#endif
