/*
 * fileio.h - whole-file reads, crash-safe writes and directory helpers.
 *
 * hull_file_write_atomic() is how every record on disk is written: a temp
 * file beside the target, fsync, rename over it, fsync the directory. A
 * crash at any moment leaves the old or the new content, never a mix.
 */
#ifndef HULL_FILEIO_H
#define HULL_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/err.h"

int hull_file_write_atomic(const char *path, const void *data, size_t len,
			   mode_t mode, struct hull_err *err);

/* The same without fsync: readers see the old or the new file, never a
 * torn one, but a power cut may lose it. For runtime state that does not
 * outlive a boot of the host (run/init.json), where two fsyncs cost more
 * than the rest of a zone's start. */
int hull_file_replace(const char *path, const void *data, size_t len,
		      mode_t mode, struct hull_err *err);

/* Between the two: the temp file is fsync'd before the rename, the folder
 * is not. A crash leaves the old or the new content, whole (never an
 * empty or torn file, on any filesystem), and the new one is there after
 * a crash once the filesystem has committed the rename (btrfs: its next
 * transaction, at most 30 s by default; ext4: 5 s). For a change whose
 * loss in a crash right after it is acceptable, as ZFS gives zonecfg's
 * rename on SmartOS: one fsync instead of two. */
int hull_file_write_ordered(const char *path, const void *data, size_t len,
			    mode_t mode, struct hull_err *err);

/* Reads at most max bytes (a larger file is an error) into a new
 * NUL-terminated buffer owned by the caller. */
int hull_file_read(const char *path, size_t max, char **out, size_t *len,
		   struct hull_err *err);

/* Writes all len bytes of data to fd, through short writes and EINTR.
 * Returns 0 or -errno. */
int hull_write_all(int fd, const void *data, size_t len);

/* Copies in (from its offset) to out until in's end with copy_file_range:
 * a clone of the extents where the filesystem shares them (btrfs), a copy
 * elsewhere. 0 or -errno. */
int hull_fd_copy(int in, int out);

/* mkdir -p; existing directories are fine and keep their modes. */
int hull_mkdir_p(const char *path, mode_t mode, struct hull_err *err);

/* mkdir -p, then path itself gets exactly mode even when it existed (an
 * older hull's 0755 folder is closed), never through a symbolic link;
 * its owner is kept. The parents it makes get mode too. */
int hull_mkdir_mode(const char *path, mode_t mode, struct hull_err *err);

/* An existing file or folder gets exactly mode, never through a symbolic
 * link; a missing one is fine. */
int hull_chmod_exact(const char *path, mode_t mode, struct hull_err *err);

/* rm -rf without crossing into other mounts; a missing path is fine. */
int hull_rm_rf(const char *path, struct hull_err *err);

/* fsync a directory, so a rename or create inside it is durable. */
int hull_fsync_dir(const char *dir, struct hull_err *err);

bool hull_path_exists(const char *path);
bool hull_is_dir(const char *path);

#endif
