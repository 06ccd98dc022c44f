/*
 * chan.h - what every part of the agents' migration channel (a TLS
 * session with a PSK, migrate.c) needs: whole reads and writes, and a
 * monotonic clock in milliseconds for its timings.
 */
#ifndef HULL_AGENT_CHAN_H
#define HULL_AGENT_CHAN_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

/* Writes or reads all n bytes: 0, or -EPIPE when the session fails or
 * closes first (OpenSSL's error queue says why). */
int chan_write_all(SSL *ssl, const void *p, size_t n);
int chan_read_all(SSL *ssl, void *p, size_t n);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t chan_now_ms(void);

#endif
