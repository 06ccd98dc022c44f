/*
 * b64.h - standard base64 (RFC 4648 §4, with '=' padding) as the metadata
 * protocol uses it for payloads. The decoder is strict: length a multiple
 * of four, padding only at the end, no whitespace, no other alphabet, and
 * the unused bits of the last group zero. A frame with anything else is a
 * bad request, not something to guess at.
 *
 * Plain libc, no libhull (the static guest tools build it too).
 */
#ifndef HULL_METADATA_B64_H
#define HULL_METADATA_B64_H
#include <stdbool.h>
#include <stddef.h>

/* Characters metadata_b64_encode() writes for len input bytes (no NUL). */
size_t metadata_b64_encoded_len(size_t len);
/* Writes the encoding of in[0..len) to out (metadata_b64_encoded_len(len)
 * bytes, not NUL-terminated); returns that count. */
size_t metadata_b64_encode(const void *in, size_t len, char *out);
/* Decodes in[0..len) into out, which must hold len / 4 * 3 bytes. Returns
 * false on any malformed input; *outlen is the decoded length. */
bool metadata_b64_decode(const char *in, size_t len, unsigned char *out,
			 size_t *outlen);

#endif
