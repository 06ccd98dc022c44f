/*
 * webui.h - the web console's side of hull-api: password login,
 * server-side sessions, the static pages, and the live event stream.
 *
 * Sessions are an alternative to HTTP Signature for every endpoint: a
 * request without an Authorization header but with the session cookie
 * is the session's account, exactly as a signed request of that account
 * would be (CloudAPI decides what it may see). A request that changes
 * anything (any method but GET and HEAD) must also carry the session's
 * CSRF token in X-CSRF-Token and, when the browser says where it comes
 * from (Origin, Sec-Fetch-Site), come from this server's own origin.
 *
 * Records (buckets of store.h):
 *   sessions  SHA-256(session id) -> {account, login, csrf, created,
 *                                     expires (epoch ms)}
 * The session id itself is only ever in the browser's cookie.
 */
#ifndef HULL_HEAD_WEBUI_H
#define HULL_HEAD_WEBUI_H
#include <stdbool.h>

#include "head/api.h"
#include "lib/err.h"

#define WEBUI_COOKIE "hull_session"
#define WEBUI_CSRF_HEADER "X-CSRF-Token"
/* The longest delay a failing login or address is made to wait. */
#define WEBUI_DELAY_MAX 300

struct webui;

/* The console's state in hull-api: the failed-login table, the open
 * event streams. dir: the static pages' folder (borrowed). */
int webui_new(const struct head_config *c, struct webui **out,
	      struct hull_err *err);
/* Resumes every stream (MHD_stop_daemon wants no suspended connection)
 * and marks them to end. */
void webui_stop(struct webui *c);
void webui_free(struct webui *c);

/* The session of the request's cookie: 1 authenticated (q->account set),
 * 0 refused (the answer is set), -ENOENT when the request has no session
 * cookie (the caller tries its other schemes). */
int webui_session_auth(struct api_req *q);

/* Whether /console/... path q needs no authentication (the static files,
 * login). */
bool webui_is_public(struct api_req *q);
/* /console/...; q->account is set unless webui_is_public. */
int webui_dispatch(struct api_req *q);

/* Something may have changed (a request that wrote): every event stream
 * looks again. Thread-safe. */
void webui_notify(struct webui *c);

/* The headers every console answer carries (CSP, framing, sniffing);
 * response is a struct MHD_Response. */
void webui_add_security_headers(void *response);
#endif
