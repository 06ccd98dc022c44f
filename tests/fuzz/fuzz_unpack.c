/*
 * fuzz_unpack.c - archive bytes unpacked into a scratch folder, whiteouts
 * on. Whatever the input, nothing may be written outside the scratch
 * folder: it lives inside a sentinel folder that must stay otherwise empty.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/unpack.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *outer;
static char *dest;

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static void remove_outer(void)
{
	char *cmd = xasprintf("chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'",
			      outer, outer);
	if (system(cmd) != 0) {
		/* Nothing more to do at exit. */
	}
	free(cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!outer) {
		outer = xstrdup("/tmp/hull-fuzz-unpack-XXXXXX");
		if (!mkdtemp(outer))
			abort();
		dest = xasprintf("%s/root", outer);
		atexit(remove_outer);
	}
	if (mkdir(dest, 0755) != 0)
		abort();
	struct hull_err err;
	image_unpack_mem(data, size, dest, UNPACK_WHITEOUTS, &err);
	/* Only "root" may exist beside nothing else. */
	if (entries(outer) != 1)
		__builtin_trap();
	if (hull_rm_rf(dest, &err) != 0) {
		/* A read-only tree from the archive: make it removable. */
		char *cmd = xasprintf("chmod -R u+rwx '%s'", dest);
		if (system(cmd) != 0 || hull_rm_rf(dest, &err) != 0)
			abort();
		free(cmd);
	}
	return 0;
}
