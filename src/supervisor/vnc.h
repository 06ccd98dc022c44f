/*
 * vnc.h - the kvm brand's VNC console on the host. QEMU runs in a hull
 * without a network and serves VNC on a unix socket in its run directory
 * (R/<uuid>/run/vm/vnc.sock, qemu.h); the supervisor listens on a TCP
 * port of the host and relays each connection to that socket, byte for
 * byte, as SmartOS's vmadmd relays its zone's vm.vnc socket to the admin
 * network.
 *
 *   - the port: vnc_port N (1-65535) as given, 0 one the kernel picks;
 *     vnc_port -1 starts no relay;
 *   - the address: the one in R/var/vnc_listen (one IPv4 or IPv6
 *     literal), else 127.0.0.1. SmartOS binds the admin network's
 *     address; a host without one would otherwise show every VM's
 *     console to its whole network;
 *   - what `vmadm info UUID vnc` prints, SmartOS's fields, goes to
 *     R/<uuid>/run/vnc.json (mode 0600: it holds the password): host,
 *     port, display (port - 5900 when the port is 5900 or more), password
 *     (when one is set);
 *   - at most SV_VNC_CLIENTS_MAX connections at once (more are closed at
 *     once), each with a bounded buffer per direction: a client or a QEMU
 *     that stops reading only stalls its own connection.
 *
 * The relay ends when the VM stops (sv_vnc_stop closes the listener and
 * every connection and removes vnc.json).
 */
#ifndef HULL_SUPERVISOR_VNC_H
#define HULL_SUPERVISOR_VNC_H

#include <sys/socket.h>
#include <sys/types.h>

#include "lib/err.h"
#include "supervisor/loop.h"

#define SV_VNC_INFO "vnc.json"
#define SV_VNC_LISTEN_FILE "var/vnc_listen"
#define SV_VNC_CLIENTS_MAX 8

struct sv_vnc;

/* Listens on port (0: any) and relays to vnc_sock (in a child process,
 * hull-vnc, see vnc.c); writes vnc.json into R/<uuid>/run. password (NULL or
 * "": none) is set with QMP change-vnc-password on qmp_sock, without waiting
 * for the answer: QEMU (started with password=on) lets no client in until it is
 * set, and a failure is logged. A client that comes before QEMU listens on
 * vnc_sock waits for it (up to 10 s). */
struct sv_vnc *sv_vnc_start(struct sv_loop *loop, const char *uuid,
			    const char *vnc_sock, const char *qmp_sock,
			    int port, const char *password,
			    struct hull_err *err);

/* The relay process, or -1 (none now, or v NULL). */
pid_t sv_vnc_relay_pid(const struct sv_vnc *v);

/* Closes everything, ends the relay and removes vnc.json. NULL is
 * fine. */
void sv_vnc_stop(struct sv_vnc *v);

/* The listen address from R/var/vnc_listen's text (surrounding blanks
 * ignored); pure. */
int sv_vnc_listen_parse(const char *text, struct sockaddr_storage *ss,
			socklen_t *len, struct hull_err *err);

/* A new QEMU serves the same sockets (a live migration): the password
 * is set again over its command socket; the listener and vnc.json stay
 * (clients of the old QEMU lost their connection with it). */
int sv_vnc_qemu_changed(struct sv_vnc *v, const char *qmp_sock,
			const char *password, struct hull_err *err);

#endif
