/*
 * fuzz_httpsig.c - the Authorization header on arbitrary bytes (any
 * client sends it before it is authenticated): parse, and a parsed header
 * names a login, a key, a known algorithm and at least the date header,
 * and builds its signing string.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "head/httpsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *hdr(const char *name, void *ctx)
{
	(void)ctx;
	return strcmp(name, "date") ? NULL : "Mon, 07 Dec 2026 02:08:28 GMT";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct hull_err err;
	struct httpsig sig;
	if (httpsig_parse(s, &sig, &err) == 0) {
		if (!sig.login[0] || !sig.key[0] || !sig.nheaders)
			__builtin_trap();
		char *text = NULL;
		if (httpsig_signing_string(&sig, "GET", "/a/keys", hdr, NULL,
					   &text, &err) == 0)
			free(text);
		httpsig_fini(&sig);
	}
	httpsig_check_date(s, 1796609308, &err);
	free(s);
	return 0;
}
