/*
 * root.h - the pool root: /zones, or $HULL_ROOT when set. Every program
 * honours HULL_ROOT, so tests and users can run independent pools side by
 * side on one host.
 */
#ifndef HULL_ROOT_H
#define HULL_ROOT_H

#include "lib/err.h"

#define HULL_DEFAULT_ROOT "/zones"

/* The pool root, without a trailing slash. Borrowed, valid until exit. */
const char *hull_root(void);

/* root + "/" + the formatted relative path; caller frees. */
char *hull_root_path(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* A short name for this pool among the pools of the host: 12 hex digits
 * of the SHA-256 of the root's canonical path (the path as given when it
 * does not resolve). Host-wide objects one pool owns (its nftables tables)
 * carry it, so two pools never touch each other's. Borrowed, valid until
 * exit. */
const char *hull_root_tag(void);

/* Fails with a message naming `hull init` unless the pool is initialised. */
int hull_root_check(struct hull_err *err);

/*
 * Who can reach a pool: root alone. The root, var/ (firewall rules, image
 * sources and their credentials), images/ and .snapshots/ are 0700; each
 * instance's folder and its config/, run/ and logs/ are 0700, its records
 * and logs 0600. So no other host user reads an instance's record (its
 * internal_metadata passwords, its user-script), its console log or an
 * image, nor runs a set-user-ID program a zone's root made in its root
 * filesystem. What an instance's own processes need is bound into their
 * mount namespace (the zone's root and /.zonecontrol, the emulator's disks
 * and run/vm), never reached through these paths.
 *
 * Both put an existing folder right (what an older hull made 0755 is
 * closed), never through a symbolic link, and run on every open of the
 * pool and every start, not only at creation.
 */
/* The root and its own folders (missing ones are skipped). */
int hull_root_secure(struct hull_err *err);
/* R/<uuid> (which must exist), its config/, run/ and logs/ (made when
 * missing) and the records and logs in them. */
int hull_instance_secure(const char *uuid, struct hull_err *err);

#endif
