/*
 * dl.c - large libraries loaded on first use (dl.h).
 */
#include "lib/dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int hull_dl_open(struct hull_dl *lib, struct hull_err *err)
{
	if (__atomic_load_n(&lib->handle, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&lib->lock);
	if (!lib->handle) {
		/* RTLD_LOCAL: the library's symbols stay out of the global
		 * scope, so the forwarders are never found in its place. */
		void *h =
		    dlopen(lib->soname,
			   (lib->lazy ? RTLD_LAZY : RTLD_NOW) | RTLD_LOCAL);
		if (h)
			__atomic_store_n(&lib->handle, h, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lib->lock);
	if (!lib->handle)
		return hull_err_set(err, ENOENT, "cannot load %s: %s",
				    lib->soname, dlerror());
	return 0;
}

bool hull_dl_loaded(struct hull_dl *lib)
{
	return __atomic_load_n(&lib->handle, __ATOMIC_ACQUIRE) != NULL;
}

void *hull_dl_try(struct hull_dl *lib, const char *name, void **slot)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (f)
		return f;
	if (hull_dl_open(lib, NULL) < 0)
		return NULL;
	f = dlsym(lib->handle, name);
	if (f)
		__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	return f;
}

void *hull_dl_need(struct hull_dl *lib, const char *name, void **slot)
{
	void *f = hull_dl_try(lib, name, slot);
	if (!f) {
		/* Only reachable with an object the library made, so the
		 * library is there and lacks a function hull was built
		 * against: a broken install, as a failed exec-time link. */
		fprintf(stderr, "hull: %s: %s missing\n", lib->soname, name);
		abort();
	}
	return f;
}
