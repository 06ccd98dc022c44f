/*
 * b64.c - strict standard base64 (see b64.h).
 */
#include "metadata/b64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t metadata_b64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

size_t metadata_b64_encode(const void *in, size_t len, char *out)
{
	const unsigned char *p = in;
	size_t o = 0, i = 0;

	for (; i + 3 <= len; i += 3) {
		unsigned v =
		    (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = '=';
	}
	return o;
}

static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool metadata_b64_decode(const char *in, size_t len, unsigned char *out,
			 size_t *outlen)
{
	size_t o = 0;

	*outlen = 0;
	if (len % 4)
		return false;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int pad = 0;
		int s[4];

		for (int k = 0; k < 4; k++) {
			char c = in[i + k];
			if (c == '=' && last && k >= 2) {
				s[k] = 0;
				pad++;
				continue;
			}
			/* Data after a pad character ("ab=c") is malformed. */
			if (pad)
				return false;
			s[k] = sextet(c);
			if (s[k] < 0)
				return false;
		}
		unsigned v = (unsigned)s[0] << 18 | (unsigned)s[1] << 12 |
			     (unsigned)s[2] << 6 | (unsigned)s[3];
		/* Canonical form only: the bits a pad hides must be zero. */
		if ((pad == 1 && (v & 0xFF)) || (pad == 2 && (v & 0xFFFF)))
			return false;
		out[o++] = v >> 16 & 0xFF;
		if (pad < 2)
			out[o++] = v >> 8 & 0xFF;
		if (pad < 1)
			out[o++] = v & 0xFF;
	}
	*outlen = o;
	return true;
}
