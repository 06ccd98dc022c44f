/*
 * archive_dl.h - libarchive, loaded only while the VMM sets up.
 *
 * libarchive reads initrds and bzImage payloads, and only before the guest
 * starts; linked normally it drags libxml2, ICU and libstdc++ into every
 * VMM (about 2 MiB resident, and a few ms of start-up relocations). So it
 * is dlopen()ed when an initrd or a bzImage needs it and dlclose()d before
 * the guest runs.
 */
#ifndef HULL_VMM_ARCHIVE_DL_H
#define HULL_VMM_ARCHIVE_DL_H

#include <archive.h>
#include <archive_entry.h>

#include "lib/err.h"

struct archive_dl {
	struct archive *(*read_new)(void);
	int (*support_filter_all)(struct archive *);
	int (*support_format_cpio)(struct archive *);
	int (*support_format_raw)(struct archive *);
	int (*open_memory)(struct archive *, const void *, size_t);
	int (*next_header)(struct archive *, struct archive_entry **);
	int (*data_skip)(struct archive *);
	la_ssize_t (*read_data)(struct archive *, void *, size_t);
	const char *(*error_string)(struct archive *);
	la_int64_t (*filter_bytes)(struct archive *, int);
	int (*filter_code)(struct archive *, int);
	int (*read_free)(struct archive *);
};

/* Loads libarchive (once); NULL with err set when it is missing. */
const struct archive_dl *archive_dl_get(struct hull_err *err);
/* Unloads it again (before confinement). */
void archive_dl_put(void);

#endif
