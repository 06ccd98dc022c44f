/*
 * client.h - the guest side of the metadata protocol, shared by mdata-get,
 * mdata-put, mdata-list and mdata-delete.
 *
 * Finding the channel: $HULL_MDATA_SOCKET (a unix socket path) or
 * $HULL_MDATA_SERIAL (a serial device) when set; else the zone socket
 * /native/.zonecontrol/metadata.sock (lx zones), /.zonecontrol/metadata.sock
 * (native zones) or /var/run/smartdc/metadata.sock (legacy), the first that
 * exists; else the serial port /dev/ttyS1 (COM2 of a VM).
 *
 * On a serial port the client takes an exclusive lock, sets raw mode,
 * drains stale input and synchronises (a bare newline must be answered
 * "invalid command") before it negotiates; on a socket it negotiates at
 * once. V2 when the host agrees, else V1 (GET and KEYS only).
 */
#ifndef HULL_MDATA_CLIENT_H
#define HULL_MDATA_CLIENT_H
#include <stdbool.h>
#include <stddef.h>

#include "metadata/proto.h"

/* Exit codes of SmartOS's mdata tools. */
enum {
	MDEC_SUCCESS = 0,
	MDEC_NOTFOUND = 1,
	MDEC_ERROR = 2,
	MDEC_USAGE_ERROR = 3,
};

struct mdata_client {
	int fd;
	bool serial;
	int version; /* 1 or 2 after mdata_client_open */
	char path[256];
	struct metadata_buf rbuf; /* read, not yet consumed */
};

/* Finds and opens the channel and negotiates. Returns 0, or -1 with a
 * reason in why. */
int mdata_client_open(struct mdata_client *c, char *why, size_t whylen);
void mdata_client_close(struct mdata_client *c);

/* Sends one request: op is GET, KEYS, PUT or DELETE; arg is the raw
 * argument (for PUT already "b64(key) SP b64(value)"). On return 0, *st
 * is the host's answer and *data (owned, NUL-terminated, *len bytes) its
 * payload: the value, the key list or the failure reason. -1 means the
 * exchange itself failed (reason in why). */
int mdata_client_call(struct mdata_client *c, const char *op, const char *arg,
		      size_t arglen, enum metadata_status *st, char **data,
		      size_t *len, char *why, size_t whylen);

/* b64(key) SP b64(value), owned. */
char *mdata_put_arg(const char *key, const char *value, size_t vlen,
		    size_t *len);

#endif
