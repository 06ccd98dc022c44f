/*
 * agent.h - hull-agent, the compute node's agent (Triton's cn-agent and
 * vm-agent in one): it joins a head node once, then reports the node's
 * sysinfo and capacity, heartbeats, runs the head node's tasks through the
 * instance library (include/hull/instance.h; never by running vmadm) and
 * pushes each instance's state changes.
 *
 * Files (pool root R, hull_root()):
 *   R/var/agent/agent.json  {head, server_uuid, key, insecure_tls}, 0600:
 *                           the credential `join` got for this server
 *   R/var/agent/tasks/ID    the done-log: one record per task taken,
 *                           {state: started|done|failed, error, vm_state},
 *                           written before the task runs and after it ends,
 *                           so that a task is never run twice, across
 *                           restarts of the agent or of the head node
 *
 * HTTP to the head node is libevent's evhttp (http.c), over OpenSSL for
 * an https:// head node.
 *
 * Threads: the main one polls for tasks and runs them one after another;
 * one heartbeats every AGENT_HEARTBEAT_S; one waits on the instance
 * events stream and pushes each state change at once. Each has its own
 * HTTP handle. Nothing here prints but agent_log (JSON lines on stderr).
 */
#ifndef HULL_AGENT_AGENT_H
#define HULL_AGENT_AGENT_H
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "lib/err.h"

/* cn-agent's heartbeat period (the head node gives up after 11 s). */
#define AGENT_HEARTBEAT_S 5
/* The task queue is long-polled: the head node holds the request up to
 * AGENT_TASK_WAIT_S while nothing is queued and answers as soon as a task
 * is (within PARK_TICK_MS when another hull-api queued it). A head node
 * that answers an empty queue at once is asked again AGENT_POLL_MS later. */
#define AGENT_TASK_WAIT_S 4
#define AGENT_POLL_MS 500

struct agent_conf {
	char *head; /* the head node's URL, no trailing slash */
	char server_uuid[37];
	char *key;
	bool insecure_tls;
};

void agent_conf_fini(struct agent_conf *c);
/* R/var/agent/agent.json; -ENOENT (with a line naming `hull-agent join`)
 * when the node has not joined. */
int agent_conf_load(struct agent_conf *c, struct hull_err *err);
int agent_conf_save(const struct agent_conf *c, struct hull_err *err);

/* One HTTP client (one thread's). */
struct agent_http;
struct agent_http *agent_http_new(const struct agent_conf *c);
void agent_http_free(struct agent_http *h);
/* method path (under the head URL) with an optional JSON body; *status
 * the HTTP status, *out the JSON answer (new reference; may be NULL).
 * Fails (-EIO, err) only when no answer came. */
int agent_http_call(struct agent_http *h, const char *method, const char *path,
		    json_t *body, long *status, json_t **out,
		    struct hull_err *err);

/* TLS to the head node (http.c), as libcurl verified it: the system's
 * CAs (SSL_CERT_DIR, SSL_CERT_FILE) and the URL's host name or address,
 * nothing checked when insecure (--insecure-tls). The context is the
 * process's, shared by every thread: borrowed, never changed or freed. */
SSL_CTX *agent_tls_ctx(bool insecure);
void agent_tls_expect(SSL *ssl, const char *host);

/* A raw byte stream to the head node (stream.c), for a console after its
 * HTTP upgrade: TCP, and TLS for an https:// head; its descriptor is
 * nonblocking (poll it, then read until -EAGAIN). */
struct agent_stream;
struct agent_stream *agent_stream_open(const char *head, bool insecure,
				       int timeout_s, struct hull_err *err);
int agent_stream_fd(const struct agent_stream *s);
/* > 0 bytes read, 0 at the end, -EAGAIN when nothing is there yet, -EIO */
ssize_t agent_stream_read(struct agent_stream *s, void *buf, size_t n);
/* Everything, waiting up to timeout_ms each time the peer is slow. */
int agent_stream_write_all(struct agent_stream *s, const void *buf, size_t n,
			   int timeout_ms);
void agent_stream_close(struct agent_stream *s);

/* Trades a one-time token for this server's credential and saves it. */
int agent_join(const char *head, const char *token, bool insecure,
	       struct agent_conf *out, struct hull_err *err);

/* The heartbeat body: hostname, sysinfo (when with_sysinfo), ram, cpus,
 * the pool's size and use, and {uuid: state} of every instance. */
json_t *agent_capacity(bool with_sysinfo, struct hull_err *err);

/* Runs one task (a record from the head node) unless the done-log has it:
 * *report gets what to tell the head node ({state, error, vm_state}). */
int agent_task_run(const struct agent_conf *c, json_t *task, json_t **report,
		   struct hull_err *err);

/* The image from the head node's IMGAPI unless it is installed. */
int agent_image_ensure(const struct agent_conf *c, const char *img,
		       struct hull_err *err);

/* Warm migration (migrate.c): the listener for streams from other
 * agents (a thread until stop; the port it took in agent_migration_port,
 * which the heartbeat announces), and the migrate_* tasks (*result: what
 * the head node learns, e.g. the snapshot both sides now share). */
extern int agent_migration_port;
int agent_migrate_listen(const struct agent_conf *c, volatile int *stop,
			 pthread_t *thr, struct hull_err *err);
int agent_migrate_task(const struct agent_conf *c, const char *action,
		       const char *uuid, json_t *params, json_t **result,
		       struct hull_err *err);
/* Fabrics (fabric.c): how often the head node's fabric map is read, so
 * that forwarding follows an instance within a second. */
#define AGENT_FABRIC_POLL_MS 200
/* The address this node reaches the head node from (its underlay
 * address, the local end of its VXLAN tunnels). */
int agent_fabric_local_ip(const struct agent_conf *c, char out[64],
			  struct hull_err *err);
/* Makes the VXLAN segments a create payload's fabric nics (those with a
 * vnet_id) need, before the instance is made. */
int agent_fabric_prepare(const struct agent_conf *c, json_t *payload,
			 struct hull_err *err);
/* Makes the node's segments, FDB and VXLAN filter what map says;
 * *applied remembers the filter last written (caller frees). */
int agent_fabric_sync(const struct agent_conf *c, json_t *map, char **applied,
		      struct hull_err *err);
/* The "fw_rules" task: this host's rules of params' owner become exactly
 * params' rules (fwsync.c). */
int agent_fw_rules(json_t *params, struct hull_err *err);

/* Runs the agent until stop becomes true (a signal handler sets it). */
/* A `console` task {pair, type}: connects to the instance's console (or
 * VNC relay) and bridges it, in a thread of its own, to the head node
 * (console.c). Returns once the thread runs. */
int agent_console_start(const struct agent_conf *c, const char *uuid,
			json_t *params, struct hull_err *err);
int agent_run(const struct agent_conf *c, volatile int *stop,
	      struct hull_err *err);

/* One JSON log line on stderr: {time, level, msg, ...extra}. */
void agent_log(const char *level, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#endif
