/*
 * b64.c - see b64.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "head/b64.h"
#include "lib/xalloc.h"

int hull_b64_decode(const char *s, size_t n, unsigned char **out,
		    size_t *out_len)
{
	if (n == 0 || n % 4 || n > (1u << 24))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool pad_ok =
		    c == '=' && i >= n - 2 && (i == n - 1 || s[n - 1] == '=');
		if (!(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') &&
		    !(c >= '0' && c <= '9') && c != '+' && c != '/' && !pad_ok)
			return -EINVAL;
	}
	unsigned char *buf = xmalloc(n / 4 * 3 + 1);
	int got = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n);
	if (got < 0) {
		free(buf);
		return -EINVAL;
	}
	size_t len = (size_t)got;
	if (s[n - 1] == '=')
		len--;
	if (s[n - 2] == '=')
		len--;
	*out = buf;
	*out_len = len;
	return 0;
}

char *hull_b64_encode(const unsigned char *buf, size_t n)
{
	char *out = xmalloc((n + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)out, buf, (int)n);
	return out;
}
