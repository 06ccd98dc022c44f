/*
 * admin.h - the operator's operations on a head node's state, as hulladm
 * runs them: setup, accounts and their keys, packages, networks, images,
 * join tokens; and the look-ups hull-api shares (an account by login, a
 * key of an account). Nothing here prints.
 *
 * Records (buckets of store.h):
 *   accounts  uuid -> {uuid, login, email, firstName, lastName,
 *                      companyName, password (yescrypt), created, updated}
 *   keys      ACCOUNT/FP -> {account, fingerprint, name, key, created}
 *   packages  uuid -> CloudAPI's package object
 *   networks  uuid -> CloudAPI's network object plus nic_tag, owner
 *   images    uuid -> the IMGAPI manifest (state active once its file is in)
 *   join_tokens  SHA-256(token) -> {created, used}
 */
#ifndef HULL_HEAD_ADMIN_H
#define HULL_HEAD_ADMIN_H
#include <jansson.h>
#include <stdbool.h>

#include "head/headconf.h"
#include "head/store.h"
#include "lib/err.h"

struct head_setup {
	const char *config;	/* config.json path to make or update */
	const char *db;		/* NULL: keep, or sqlite (state.db) */
	const char *listen;	/* NULL: keep, or HEAD_DEFAULT_LISTEN */
	int tls;		/* -1 keep (default on), 0 off, 1 on */
	const char *cert, *key; /* given TLS material, or NULL */
};

/* Makes or updates the head node (idempotent): the folder, config.json,
 * the state (migrated), the admin account, the TLS certificate unless
 * one exists or is given, and a fresh join token. *out: {url, admin,
 * datacenter, db, token, command} (new reference). */
int head_setup_run(const struct head_setup *o, json_t **out,
		   struct hull_err *err);

/* The URL clients use: http(s)://ADDR:PORT, 127.0.0.1 for a wildcard
 * listen address. Caller frees. */
char *head_url(const struct head_config *c, int port);

/* "2026-12-07T02:08:28.123Z" */
void head_now_iso(char out[32]);

/* CloudAPI's login rule: 3 to 32 of [A-Za-z0-9_.@-], starting with a
 * letter; not a reserved word. Pure. */
int head_login_check(const char *login, struct hull_err *err);

int head_account_by_login(struct store *s, const char *login, json_t **acct,
			  struct hull_err *err);
/* An account's key by fingerprint or name (-ENOENT). */
int head_key_find(struct store *s, const char *account, const char *key,
		  json_t **rec, struct hull_err *err);
/* Adds a key (one OpenSSH line) to an account; name defaults to the
 * fingerprint. *rec: the key record (new reference, may be NULL). */
int head_key_add(struct store *s, const char *account, const char *line,
		 size_t len, const char *name, json_t **rec,
		 struct hull_err *err);

int head_user_add(struct store *s, const char *login, const char *email,
		  const char *password, json_t **acct, struct hull_err *err);

/* Sets an account's password (yescrypt) and ends its console sessions. */
int head_user_passwd(struct store *s, const char *login, const char *password,
		     struct hull_err *err);

struct head_package {
	const char *name, *brand;
	long memory, disk, swap, vcpus, cpu_cap; /* swap, cpu_cap -1: none */
	long replication, replication_keep;	 /* seconds, count; 0: none */
};
int head_package_add(struct store *s, const struct head_package *p,
		     json_t **rec, struct hull_err *err);

/* Networks: head/networks.h. */

/* Imports an image (manifest and its one file, checked against the
 * manifest's size and sha1) into the head node's image store. */
int head_image_import(struct store *s, const struct head_config *c,
		      const char *manifest, const char *file, json_t **rec,
		      struct hull_err *err);

/* A new one-time join token (64 hex digits); caller frees. */
int head_join_token_new(struct store *s, char **token, struct hull_err *err);
#endif
