/*
 * root.c - locating the pool root (see root.h).
 */
#include "inst/record.h"
#include "lib/root.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/digest.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"

/* Both read once per process; pthread_once because a long-running
 * caller of the instance library reaches them from several threads. */
static char *root;
static char tag[13];

static void root_once(void)
{
	const char *env = getenv("HULL_ROOT");
	root = xstrdup(env && *env ? env : HULL_DEFAULT_ROOT);
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		root[--n] = '\0';
}

const char *hull_root(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, root_once);
	return root;
}

char *hull_root_path(const char *fmt, ...)
{
	char *rel = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		abort();
	va_end(ap);
	char *p = xasprintf("%s/%s", hull_root(), rel);
	free(rel);
	return p;
}

static void tag_once(void)
{
	char canon[PATH_MAX];
	const char *p = realpath(hull_root(), canon) ? canon : hull_root();
	char hex[HULL_DIGEST_HEX_MAX];
	/* 48 bits: a collision among the few pools of one host is out of
	 * reach, and the name stays short in `nft list ruleset`. */
	hull_sha256_hex(p, strlen(p), hex);
	snprintf(tag, 13, "%.12s", hex);
}

const char *hull_root_tag(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, tag_once);
	return tag;
}

int hull_root_check(struct hull_err *err)
{
	_cleanup_free_ char *cfg = hull_root_path("var/pool.json");
	struct stat st;
	if (stat(cfg, &st) < 0 && errno == EACCES)
		return hull_err_set(err, EACCES,
				    "the hull pool at %s is root's alone: run "
				    "this as root",
				    hull_root());
	if (!hull_path_exists(cfg))
		return hull_err_set(err, ENOENT,
				    "no hull pool at %s: run 'hull init' first",
				    hull_root());
	/* Every command as root passes here: a pool an older hull left
	 * open is closed by the next one. */
	if (geteuid() == 0)
		return hull_root_secure(err);
	return 0;
}

int hull_root_secure(struct hull_err *err)
{
	static const char *const dirs[] = {"", "/var", "/images",
					   "/.snapshots"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		_cleanup_free_ char *d =
		    xasprintf("%s%s", hull_root(), dirs[i]);
		int r = hull_chmod_exact(d, 0700, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Every file directly in dir gets 0600 (the logs: the guest's console
 * output, rotated copies included). */
static int files_private(const char *dir, struct hull_err *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0
				       : hull_err_sys(err, errno, "%s", dir);
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d)))
		if (e->d_type == DT_REG) {
			_cleanup_free_ char *f =
			    xasprintf("%s/%s", dir, e->d_name);
			r = hull_chmod_exact(f, 0600, err);
		}
	closedir(d);
	return r;
}

int hull_instance_secure(const char *uuid, struct hull_err *err)
{
	_cleanup_free_ char *inst = hull_root_path("%s", uuid);
	if (!hull_is_dir(inst))
		return hull_err_set(err, ENOENT, "no such instance %s", uuid);
	int r = hull_chmod_exact(inst, 0700, err);
	static const char *const dirs[] = {"config", "run", "logs"};
	for (size_t i = 0; r == 0 && i < sizeof(dirs) / sizeof(*dirs); i++) {
		_cleanup_free_ char *d = xasprintf("%s/%s", inst, dirs[i]);
		r = hull_mkdir_mode(d, 0700, err);
	}
	static const char *const files[] = {INST_RECORD_REL, "lastexited",
					    "run/supervisor.pid"};
	for (size_t i = 0; r == 0 && i < sizeof(files) / sizeof(*files); i++) {
		_cleanup_free_ char *f = xasprintf("%s/%s", inst, files[i]);
		r = hull_chmod_exact(f, 0600, err);
	}
	if (r == 0) {
		_cleanup_free_ char *logs = xasprintf("%s/logs", inst);
		r = files_private(logs, err);
	}
	return r;
}
