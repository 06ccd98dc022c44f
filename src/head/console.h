/*
 * console.h - consoles in the browser: one-time console tickets and the
 * WebSocket that carries an instance's console (a zone's console pty, a
 * VM's COM1) or a kvm VM's screen (the supervisor's VNC relay).
 *
 *   POST /:login/machines/:id/console  {"type"?: "serial"|"vnc"}
 *        (CloudAPI's authentication; the owner or the operator)
 *        -> 201 {ticket, url, expires, type}
 *   GET  /:login/machines/:id/console?ticket=T  (Upgrade: websocket,
 *        Origin: the head node's own) -> 101, then the console
 *
 * A ticket is 256 random bits, kept only as its SHA-256, bound to the
 * account and the instance, good for one WebSocket within
 * CONSOLE_TICKET_TTL seconds. The tickets live in the memory of hull-api
 * (handled on its one request thread); each WebSocket is then bridged by
 * a thread of its own (console.c says why).
 */
#ifndef HULL_HEAD_CONSOLE_H
#define HULL_HEAD_CONSOLE_H
#include "head/api.h"

#define CONSOLE_TICKET_TTL 30
/* The largest message a browser may send (keystrokes, a paste, a
 * control message; noVNC's messages are small too). */
#define CONSOLE_MESSAGE_MAX (64 * 1024)
/* How much of logs/console.log a new console shows first. */
#define CONSOLE_SCROLLBACK (16 * 1024)

struct console_hub;

struct console_hub *console_hub_new(void);
/* Ends every bridge (their WebSockets close) and waits for their
 * threads; an upgrade that completes later is closed at once. Must run
 * before the HTTP daemon stops. NULL is fine. */
void console_hub_stop(struct console_hub *h);
/* Frees a stopped hub, after the HTTP daemon stopped (its callbacks
 * read the hub until then). NULL is fine. */
void console_hub_free(struct console_hub *h);

/* Is this request the console's WebSocket (authenticated by its ticket,
 * not by HTTP Signature)? */
bool console_ws_request(struct api_req *q);
/* POST /:login/machines/:id/console: a ticket. */
int console_ticket_post(struct api_req *q, const char *id);
/* GET .../console?ticket=T: checks and sets q->upgrade, or an error. */
int console_ws_open(struct api_req *q);
/* GET /agent/servers/:server/consoles/:pair (the agent authenticated,
 * Upgrade: hull-console): the compute node's end of a console its
 * agent was asked for; the raw console bytes follow the 101. */
int console_agent_open(struct api_req *q, const char *server, const char *pair);
#endif
