/*
 * peer.h - who is at the other end of a metadata socket, and whether that
 * is the instance itself.
 *
 * A zone's metadata socket must be reachable by every user inside the
 * zone (mdata-get runs as anyone there), so its file mode cannot be what
 * keeps the host's other users out: the server asks the kernel who
 * connected (SO_PEERCRED: the process that called connect(), its uid in
 * the server's user namespace) and serves only
 *   - processes of the instance: the peer's cgroup (/proc/<pid>/cgroup)
 *     lies at or below the instance's cgroup "<parent>/<uuid>", which the
 *     zone's processes cannot leave and no unprivileged host process can
 *     join; with SO_PEERPIDFD the peer is checked to be still alive
 *     after its cgroup was read, so a pid that was reused in between
 *     cannot stand in for it;
 *   - host root (uid 0 in the server's user namespace): operators' tools.
 * The same check tells whether the socket an emulator listens on for a
 * VM's COM2 really is the emulator's (the listener's credentials are
 * what SO_PEERCRED gives on a connected client socket).
 */
#ifndef HULL_METADATA_PEER_H
#define HULL_METADATA_PEER_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Pure: does the text of a /proc/<pid>/cgroup file place the process at
 * or below rel ("<parent>/<uuid>", no leading slash)? The memory
 * controller's line decides where a v1 hierarchy has one (memory is what
 * the instance is charged for), else the v2 line ("0::"). */
bool metadata_peer_cgroup_within(const char *text, size_t len, const char *rel);

/* The policy above for the peer of the connected unix socket fd; rel as
 * for metadata_peer_cgroup_within, NULL for "host root only". *uid and
 * *pid (either may be NULL) get the peer's, for a log line. */
bool metadata_peer_allowed(int fd, const char *rel, uid_t *uid, pid_t *pid);

#endif
