/*
 * dl_archive.c - libarchive, loaded on first use (dl.h).
 *
 * The archive_*_new and archive_entry_new forwarders return NULL when the
 * library cannot be loaded, as libarchive does when out of memory; every
 * other function takes an object they made.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdio.h>

#include "lib/dl.h"

struct hull_dl hull_dl_archive = HULL_DL_INIT("libarchive.so.13");
#define L hull_dl_archive
#define A struct archive *
#define E struct archive_entry *

#define NEW(fn, T)                                                             \
	T fn(void)                                                             \
	{                                                                      \
		__typeof__(&fn) f = HULL_DL_TRY(L, fn);                        \
		return f ? f() : NULL;                                         \
	}
NEW(archive_read_new, A)
NEW(archive_write_new, A)
NEW(archive_read_disk_new, A)
NEW(archive_write_disk_new, A)
NEW(archive_entry_new, E)

/* Reading. */
HULL_DL_FWD1(L, int, archive_read_support_filter_all, A)
HULL_DL_FWD1(L, int, archive_read_support_format_empty, A)
HULL_DL_FWD1(L, int, archive_read_support_format_gnutar, A)
HULL_DL_FWD1(L, int, archive_read_support_format_raw, A)
HULL_DL_FWD1(L, int, archive_read_support_format_tar, A)
HULL_DL_FWD5(L, int, archive_read_open, A, void *, archive_open_callback *,
	     archive_read_callback *, archive_close_callback *)
HULL_DL_FWD3(L, int, archive_read_open_fd, A, int, size_t)
HULL_DL_FWD3(L, int, archive_read_open_memory, A, const void *, size_t)
HULL_DL_FWD2(L, int, archive_read_next_header, A, struct archive_entry **)
HULL_DL_FWD2(L, int, archive_read_next_header2, A, E)
HULL_DL_FWD4(L, int, archive_read_data_block, A, const void **, size_t *,
	     la_int64_t *)
HULL_DL_FWD1(L, int, archive_read_free, A)

/* Reading from disk. */
HULL_DL_FWD1(L, int, archive_read_disk_descend, A)
HULL_DL_FWD4(L, int, archive_read_disk_entry_from_file, A, E, int,
	     const struct stat *)
HULL_DL_FWD2(L, int, archive_read_disk_open, A, const char *)
HULL_DL_FWD2(L, int, archive_read_disk_set_behavior, A, int)
HULL_DL_FWD1(L, int, archive_read_disk_set_standard_lookup, A)
HULL_DL_FWD1(L, int, archive_read_disk_set_symlink_physical, A)

/* Writing. */
HULL_DL_FWD1(L, int, archive_write_add_filter_bzip2, A)
HULL_DL_FWD1(L, int, archive_write_add_filter_gzip, A)
HULL_DL_FWD1(L, int, archive_write_add_filter_none, A)
HULL_DL_FWD1(L, int, archive_write_add_filter_xz, A)
HULL_DL_FWD1(L, int, archive_write_set_format_pax_restricted, A)
HULL_DL_FWD2(L, int, archive_write_set_bytes_in_last_block, A, int)
HULL_DL_FWD2(L, int, archive_write_open_fd, A, int)
HULL_DL_FWD2(L, int, archive_write_open_filename, A, const char *)
HULL_DL_FWD2(L, int, archive_write_header, A, E)
HULL_DL_FWD3(L, la_ssize_t, archive_write_data, A, const void *, size_t)
HULL_DL_FWD4(L, la_ssize_t, archive_write_data_block, A, const void *, size_t,
	     la_int64_t)
HULL_DL_FWD1(L, int, archive_write_finish_entry, A)
HULL_DL_FWD2(L, int, archive_write_disk_set_options, A, int)
HULL_DL_FWD1(L, int, archive_write_close, A)
HULL_DL_FWD1(L, int, archive_write_free, A)

/* The archive object. */
HULL_DL_FWD1(L, int, archive_errno, A)
HULL_DL_FWD1(L, const char *, archive_error_string, A)
HULL_DL_FWD1(L, int, archive_filter_count, A)
HULL_DL_FWD2(L, int, archive_filter_code, A, int)
HULL_DL_FWD2(L, const char *, archive_filter_name, A, int)

/* Variadic: formatted here, handed over as one string. */
void archive_set_error(struct archive *a, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	HULL_DL_NEED(L, archive_set_error)(a, code, "%s", msg);
}

/* Entries. */
HULL_DL_VOID1(L, archive_entry_free, E)
HULL_DL_VOID2(L, archive_entry_copy_pathname, E, const char *)
HULL_DL_VOID2(L, archive_entry_copy_sourcepath, E, const char *)
HULL_DL_VOID2(L, archive_entry_set_pathname, E, const char *)
HULL_DL_VOID3(L, archive_entry_set_fflags, E, unsigned long, unsigned long)
HULL_DL_FWD1(L, __LA_MODE_T, archive_entry_filetype, E)
HULL_DL_FWD1(L, __LA_MODE_T, archive_entry_perm, E)
HULL_DL_FWD1(L, la_int64_t, archive_entry_uid, E)
HULL_DL_FWD1(L, la_int64_t, archive_entry_gid, E)
HULL_DL_FWD1(L, la_int64_t, archive_entry_size, E)
HULL_DL_FWD1(L, int, archive_entry_size_is_set, E)
HULL_DL_FWD1(L, time_t, archive_entry_mtime, E)
HULL_DL_FWD1(L, int, archive_entry_mtime_is_set, E)
HULL_DL_FWD1(L, long, archive_entry_mtime_nsec, E)
HULL_DL_FWD1(L, const char *, archive_entry_pathname, E)
HULL_DL_FWD1(L, const char *, archive_entry_hardlink, E)
HULL_DL_FWD1(L, const char *, archive_entry_symlink, E)
HULL_DL_FWD1(L, int, archive_entry_xattr_reset, E)
HULL_DL_FWD4(L, int, archive_entry_xattr_next, E, const char **, const void **,
	     size_t *)

/* Making entries (the tests build their archives with these). */
HULL_DL_FWD1(L, E, archive_entry_clear, E)
HULL_DL_VOID2(L, archive_entry_set_filetype, E, unsigned int)
HULL_DL_VOID2(L, archive_entry_set_perm, E, __LA_MODE_T)
HULL_DL_VOID2(L, archive_entry_set_size, E, la_int64_t)
HULL_DL_VOID3(L, archive_entry_set_mtime, E, time_t, long)
HULL_DL_VOID2(L, archive_entry_set_rdev, E, dev_t)
HULL_DL_VOID2(L, archive_entry_set_hardlink, E, const char *)
HULL_DL_VOID2(L, archive_entry_set_symlink, E, const char *)
HULL_DL_FWD4(L, int, archive_write_open_memory, A, void *, size_t, size_t *)
