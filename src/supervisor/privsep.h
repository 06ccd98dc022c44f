/*
 * privsep.h - the supervisor's unprivileged children: the metadata server
 * and the VNC relay, the code that reads a guest's or a network client's
 * bytes, run as their own processes with their own uid and gid, no
 * capabilities, no_new_privs and a seccomp allow-list (kill on anything
 * else). The supervisor (root) keeps their lifecycle and hands them only
 * the descriptors they serve.
 *
 * Their ids (docs/hull-supervisor.md, "Privilege separation"):
 *   - an HVM instance (which always has a "hull_userns" range U, G of
 *     65536 ids, vm/idmap.h) runs its emulator as U:G and nothing else of
 *     the range: the metadata server is U+1:G+1, the VNC relay U+2:G+2.
 *     The range is the instance's alone in the ledger, so no other
 *     instance ever holds these ids;
 *   - a zone maps the whole of its range (a userns zone) or runs with the
 *     host's own ids (no range), so its helper ids come from a region no
 *     allocator hands out and no zone maps: SV_PRIVSEP_ID_BASE + 2 * slot
 *     + role, slot a hash of the UUID (2^27 slots). Two zones may share a
 *     slot; that costs nothing but the uniqueness, since the allow-lists
 *     hold no call that reaches another process (no kill, ptrace, open of
 *     another's files: the ids own no file).
 */
#ifndef HULL_SUPERVISOR_PRIVSEP_H
#define HULL_SUPERVISOR_PRIVSEP_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/err.h"

/* 0xF0000000: above the default id pool (zone/idrange.h, 2^31 .. 3*2^30)
 * and below (uid_t)-1. */
#define SV_PRIVSEP_ID_BASE 0xF0000000u
#define SV_PRIVSEP_ID_SLOTS (1u << 27)

enum sv_privsep_role { SV_PRIVSEP_METADATA = 1, SV_PRIVSEP_VNC = 2 };

/* The ids of role for instance uuid (reads its record). */
int sv_privsep_ids(const char *uuid, enum sv_privsep_role role, uid_t *uid,
		   gid_t *gid, struct hull_err *err);

/* The ids of role for a record, pure: hvm and its hull_userns range
 * (range_uid 0: none). */
void sv_privsep_ids_for(const char *uuid, bool hvm, uid_t range_uid,
			gid_t range_gid, enum sv_privsep_role role, uid_t *uid,
			gid_t *gid);

/* The children's seccomp budgets, each on top of sv_privsep_base (kill on
 * any other call):
 *   MD_SERVER: its socket's and streams' I/O, epoll, and the peer check
 *     (metadata/peer.h: SO_PEERCRED, SO_PEERPIDFD, an openat read-only of
 *     /proc/PID/cgroup, pidfd_send_signal with signal 0 only);
 *   MD_KEEPER: the instance's record and its side files (metadata/store.h:
 *     read, lock, atomic rewrite, a deleted value's folder) and its socket
 *     to the server;
 *   VNC_RELAY: its listener, its clients, its timer and the socket to the
 *     supervisor (connections to QEMU come back over it). */
enum sv_privsep_policy {
	SV_PRIVSEP_MD_SERVER,
	SV_PRIVSEP_MD_KEEPER,
	SV_PRIVSEP_VNC_RELAY,
};

/*
 * In the child, after its descriptors are closed: empties the bounding
 * and ambient sets, becomes uid:gid with no supplementary groups (uid 0:
 * stays root, without capabilities), empties the other sets, sets
 * no_new_privs and the parent-death signal (SIGKILL) again, and loads
 * policy's seccomp filter.
 */
int sv_privsep_enter(uid_t uid, gid_t gid, enum sv_privsep_policy policy,
		     struct hull_err *err);

/* Closes every descriptor above 2 but keep[0..n) (-1 entries ignored;
 * keep is sorted in place). For a child right after its fork. */
void sv_privsep_close_all_but(int *keep, size_t n);

/* The calls every child needs: memory, its descriptors, time, leaving,
 * and what the sanitizers' runtimes call in a running process. */
extern const char *const sv_privsep_base[];

#endif
