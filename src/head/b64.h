/*
 * b64.h - strict base64 (RFC 4648 4, padded) through OpenSSL's block
 * decoder, which alone does not say how much padding it decoded.
 */
#ifndef HULL_HEAD_B64_H
#define HULL_HEAD_B64_H
#include <stddef.h>
/* Decodes s[0..n) into a new buffer (*out, caller frees). -EINVAL for
 * anything but canonical padded base64. Pure. */
int hull_b64_decode(const char *s, size_t n, unsigned char **out,
		    size_t *out_len);
/* A new NUL-terminated base64 text of buf. */
char *hull_b64_encode(const unsigned char *buf, size_t n);
#endif
