/*
 * fuzz_zone_user.c - docker:user against a zone's /etc/passwd and
 * /etc/group (all three are image bytes): "spec\0passwd\0group".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zone/user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 3);
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	const char *spec = buf;
	const char *pw = spec + strlen(spec) + 1;
	const char *gr =
	    pw <= buf + size ? pw + strlen(pw) + 1 : buf + size + 2;
	if (pw > buf + size + 1)
		pw = buf + size + 1;
	if (gr > buf + size + 2)
		gr = buf + size + 2;
	uid_t u;
	gid_t g;
	zone_user_resolve(spec, pw, gr, &u, &g, NULL);
	free(buf);
	return 0;
}
