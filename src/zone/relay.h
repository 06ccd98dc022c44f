/*
 * relay.h - zlogin's host side: copying between the host's stdio and a
 * command that runs in a zone.
 *
 * The command never holds a descriptor of the host's stdio: a host
 * terminal there would let it push input into the operator's shell with
 * TIOCSTI, or keep reading the operator's keystrokes after zlogin has
 * returned (lxc-attach's CVE-2016-10124). It gets a pty of the zone's
 * devpts, or three pipes; this loop stays on the host and copies.
 */
#ifndef HULL_ZONE_RELAY_H
#define HULL_ZONE_RELAY_H
#include <stdbool.h>
#include <sys/types.h>

struct zone_relay {
	/* The host's side, borrowed. in_fd may be -1 (no input). */
	int in_fd, out_fd, err_fd;
	/* The command's side, owned and closed by zone_relay_run: with a
	 * pty, to_cmd and from_out are its master and from_err is -1; else
	 * the write end of its stdin pipe and the read ends of its stdout
	 * and stderr pipes. */
	int to_cmd, from_out, from_err;
	bool pty;
};

/* Relays until child (the command) exits, then copies what it wrote last.
 * sfd is a signalfd for SIGCHLD, SIGWINCH, SIGPIPE and the signals to
 * forward to the command (SIGINT, SIGQUIT, SIGHUP: to its process group
 * without a pty, as a terminal would; others: to it). Returns child's wait
 * status. End of input closes its stdin (a pty: sends its EOF
 * character); a host reader that went away closes its stdout or stderr
 * pipe, so the command sees EPIPE in turn. */
int zone_relay_run(struct zone_relay *r, pid_t child, int sfd);
#endif
