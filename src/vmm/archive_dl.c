/*
 * archive_dl.c - see archive_dl.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

#include "vmm/archive_dl.h"

static void *handle;
static struct archive_dl fns;

static const struct {
	const char *name;
	size_t off;
} syms[] = {
    {"archive_read_new", offsetof(struct archive_dl, read_new)},
    {"archive_read_support_filter_all",
     offsetof(struct archive_dl, support_filter_all)},
    {"archive_read_support_format_cpio",
     offsetof(struct archive_dl, support_format_cpio)},
    {"archive_read_support_format_raw",
     offsetof(struct archive_dl, support_format_raw)},
    {"archive_read_open_memory", offsetof(struct archive_dl, open_memory)},
    {"archive_read_next_header", offsetof(struct archive_dl, next_header)},
    {"archive_read_data_skip", offsetof(struct archive_dl, data_skip)},
    {"archive_read_data", offsetof(struct archive_dl, read_data)},
    {"archive_error_string", offsetof(struct archive_dl, error_string)},
    {"archive_filter_bytes", offsetof(struct archive_dl, filter_bytes)},
    {"archive_filter_code", offsetof(struct archive_dl, filter_code)},
    {"archive_read_free", offsetof(struct archive_dl, read_free)},
};

const struct archive_dl *archive_dl_get(struct hull_err *err)
{
	if (handle)
		return &fns;
	handle = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		hull_err_set(err, ENOENT, "cannot load libarchive: %s",
			     dlerror());
		return NULL;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(handle, syms[i].name);
		if (!f) {
			hull_err_set(err, ENOENT, "libarchive lacks %s",
				     syms[i].name);
			archive_dl_put();
			return NULL;
		}
		*(void **)((char *)&fns + syms[i].off) = f;
	}
	return &fns;
}

void archive_dl_put(void)
{
	if (handle)
		dlclose(handle);
	handle = NULL;
}
