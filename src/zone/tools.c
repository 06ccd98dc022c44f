/*
 * tools.c - the pool's copy of the guest tools (see tools.h).
 *
 * The tools are copied rather than bound from where they were built: the
 * build folder holds object files and other programs a zone has no
 * business seeing. A copy is replaced only when its source changed (size
 * or modification time), by a rename, so concurrent zone starts never see
 * a half-written tool.
 */
#include "zone/tools.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/prog.h"
#include "lib/root.h"
#include "lib/xalloc.h"

static const char *const tools[] = {"mdata-get", "mdata-put", "mdata-list",
				    "mdata-delete"};

static char *tools_source_dir(void)
{
	const char *env = getenv("HULL_MDATA_DIR");
	if (env && *env)
		return xstrdup(env);
	/* The build tree's src/cmd/mdata/ or the install's libexecdir. */
	char *tool = hull_helper_find("mdata/mdata-get");
	if (!tool)
		return NULL;
	*strrchr(tool, '/') = '\0';
	return tool;
}

/* copy_file_range where the kernel can (same filesystem type), else plain
 * reads and writes: the tools usually live on another filesystem than the
 * pool. */
static int copy_all(int in, int out, off_t size)
{
	bool plain = false;
	char buf[65536];
	for (off_t left = size; left > 0;) {
		ssize_t n;
		if (!plain) {
			n = copy_file_range(in, NULL, out, NULL, (size_t)left,
					    0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
				      errno == ENOSYS || errno == EOPNOTSUPP)) {
				plain = true;
				continue;
			}
		} else {
			n = read(in, buf, sizeof(buf));
			if (n > 0 && write(out, buf, (size_t)n) != n)
				return errno ? -errno : -EIO;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the source shrank */
		left -= n;
	}
	return 0;
}

static int copy_tool(const char *from, const struct stat *st, const char *to,
		     struct hull_err *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", to, getpid());
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return hull_err_sys(err, errno, "open %s", from);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0) {
		int e = errno;
		close(in);
		return hull_err_sys(err, e, "create %s", tmp);
	}
	int r = copy_all(in, out, st->st_size);
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	if (r == 0 && futimens(out, times) < 0)
		r = -errno;
	close(in);
	if (close(out) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, to) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return hull_err_sys(err, -r, "copy %s", from);
	}
	return 0;
}

char *zone_tools_prepare(struct hull_err *err)
{
	_cleanup_free_ char *src = tools_source_dir();
	if (!src)
		return NULL;
	char *dst = hull_root_path("var/guest-tools");
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		_cleanup_free_ char *from = xasprintf("%s/%s", src, tools[i]);
		_cleanup_free_ char *to = xasprintf("%s/%s", dst, tools[i]);
		struct stat s, d;
		if (stat(from, &s) < 0 || !S_ISREG(s.st_mode)) {
			free(dst);
			return NULL; /* no tools built: zones go without */
		}
		if (stat(to, &d) == 0 && d.st_size == s.st_size &&
		    d.st_mtim.tv_sec == s.st_mtim.tv_sec &&
		    d.st_mtim.tv_nsec == s.st_mtim.tv_nsec)
			continue;
		if (hull_mkdir_p(dst, 0755, err) < 0 ||
		    copy_tool(from, &s, to, err) < 0) {
			hull_err_prefix(err, "guest tools");
			free(dst);
			return NULL;
		}
	}
	return dst;
}
