/*
 * headconf.h - a head node's configuration and data directory.
 *
 * `hulladm setup` makes the head node of a pool in HULL_ROOT/head (mode
 * 0700): config.json, the SQLite state (state.db, 0600) unless the state
 * is in PostgreSQL, tls/cert.pem and tls/key.pem (0600), and images/ (the
 * files the head node's IMGAPI serves). hull-api reads the same config, or
 * another given with --config; relative paths in it are relative to the
 * config file's folder.
 */
#ifndef HULL_HEAD_HEADCONF_H
#define HULL_HEAD_HEADCONF_H
#include <stdbool.h>
#include "lib/err.h"

#define HEAD_DEFAULT_LISTEN "0.0.0.0:8443"

struct head_config {
	char *dir;    /* the folder of config.json, absolute */
	char *db;     /* "sqlite:/abs/state.db" or "postgresql://..." */
	char *listen; /* "ADDR:PORT", "[ADDR6]:PORT" */
	bool tls;
	char *cert, *key; /* absolute PEM paths (tls) */
	char *datacenter; /* the datacenter's name */
	char *admin;	  /* the operator's login */
	/* Per-account request limit (restify's token bucket, as CloudAPI's
	 * "throttles" keyed by login): rate requests a second with bursts
	 * up to burst; rate 0 turns it off. Each hull-api process keeps its
	 * own buckets. */
	double throttle_rate;
	int throttle_burst;
	/* The web console: how long a session lasts (seconds), and the
	 * folder of its pages (NULL: the installed or built copy). */
	int session_ttl;
	char *console_dir;
};

#define HEAD_SESSION_TTL 7200

#define HEAD_THROTTLE_RATE 20
#define HEAD_THROTTLE_BURST 60

/* HULL_ROOT/head/config.json; caller frees. */
char *head_config_default_path(void);
int head_config_load(const char *path, struct head_config *c,
		     struct hull_err *err);
void head_config_fini(struct head_config *c);
/* The folder for the head node's image files; caller frees. */
char *head_images_dir(const struct head_config *c);

/* Splits "ADDR:PORT" / "[ADDR6]:PORT" (port 0 to 65535). Pure. */
int head_listen_parse(const char *s, char *addr, size_t addr_len, int *port,
		      struct hull_err *err);

/* Writes a self-signed certificate and its private key (ECDSA P-256,
 * 0600) for the names given (DNS names and IP addresses). */
int head_tls_generate(const char *cert, const char *key,
		      const char *const *names, int n, struct hull_err *err);
#endif
