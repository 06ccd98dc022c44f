/*
 * chan.c - whole reads and writes on the migration channel (chan.h).
 */
#include "agent/chan.h"

#include <errno.h>
#include <time.h>

int chan_write_all(SSL *ssl, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		size_t w = 0;
		if (SSL_write_ex(ssl, b, n, &w) <= 0)
			return -EPIPE;
		b += w;
		n -= w;
	}
	return 0;
}

int chan_read_all(SSL *ssl, void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		size_t got = 0;
		if (SSL_read_ex(ssl, b, n, &got) <= 0)
			return -EPIPE;
		b += got;
		n -= got;
	}
	return 0;
}

int64_t chan_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
