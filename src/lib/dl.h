/*
 * dl.h - large libraries loaded on first use instead of at exec.
 *
 * libcurl (with OpenSSL, GnuTLS, Kerberos, LDAP behind it), libarchive
 * (libxml2, ICU, libstdc++) and libnftables (libxtables, libgmp) make up
 * about 40 of the 50 shared objects a program linking them maps at exec;
 * relocating them cost `vmadm start` several milliseconds and every daemon
 * megabytes of resident pages, though most commands never call them. So no
 * program links them: src/lib/dl_curl.c, dl_archive.c and dl_nft.c define
 * the functions hull calls, each a forwarder that loads its library with
 * dlopen() the first time any of them runs (docs/internals.md).
 *
 * A library's constructor-like functions (curl_easy_init, archive_*_new,
 * nft_ctx_new) return their failure value when the library cannot be
 * loaded; every other function can only be reached with an object one of
 * those made, so for them a missing symbol is a broken install and aborts.
 */
#ifndef HULL_LIB_DL_H
#define HULL_LIB_DL_H

#include <pthread.h>
#include <stdbool.h>

#include "lib/err.h"

struct hull_dl {
	const char *soname; /* "libcurl.so.4" */
	bool lazy; /* bind its calls on first use, as at exec (RTLD_LAZY) */
	pthread_mutex_t lock;
	void *handle; /* set once, never closed */
};

#define HULL_DL_INIT(so)                                                       \
	{                                                                      \
		.soname = (so), .lock = PTHREAD_MUTEX_INITIALIZER              \
	}
#define HULL_DL_INIT_LAZY(so)                                                  \
	{                                                                      \
		.soname = (so), .lazy = true,                                  \
		.lock = PTHREAD_MUTEX_INITIALIZER                              \
	}

/* Loads the library (once); 0, or -ENOENT with err set. */
int hull_dl_open(struct hull_dl *lib, struct hull_err *err);

/* Whether this process has loaded it (for tests and benchmarks). */
bool hull_dl_loaded(struct hull_dl *lib);

/* The address of symbol name, cached in *slot: NULL when the library or the
 * symbol is missing (try), or an abort (need). */
void *hull_dl_try(struct hull_dl *lib, const char *name, void **slot);
void *hull_dl_need(struct hull_dl *lib, const char *name, void **slot);

/* HULL_DL_NEED(lib, fn): fn's address in lib, typed as fn. */
#define HULL_DL_NEED(lib, fn)                                                  \
	({                                                                     \
		static void *slot_;                                            \
		(__typeof__(&fn))hull_dl_need(&(lib), #fn, &slot_);            \
	})
#define HULL_DL_TRY(lib, fn)                                                   \
	({                                                                     \
		static void *slot_;                                            \
		(__typeof__(&fn))hull_dl_try(&(lib), #fn, &slot_);             \
	})

/* Forwarders with 0 to 6 arguments: FWDn(return type, name, types...).
 * The definition must match the library header's declaration, so a wrong
 * type does not compile. */
#define HULL_DL_FWD0(L, R, f)                                                  \
	R f(void)                                                              \
	{                                                                      \
		return HULL_DL_NEED(L, f)();                                   \
	}
#define HULL_DL_FWD1(L, R, f, A)                                               \
	R f(A a)                                                               \
	{                                                                      \
		return HULL_DL_NEED(L, f)(a);                                  \
	}
#define HULL_DL_FWD2(L, R, f, A, B)                                            \
	R f(A a, B b)                                                          \
	{                                                                      \
		return HULL_DL_NEED(L, f)(a, b);                               \
	}
#define HULL_DL_FWD3(L, R, f, A, B, C)                                         \
	R f(A a, B b, C c)                                                     \
	{                                                                      \
		return HULL_DL_NEED(L, f)(a, b, c);                            \
	}
#define HULL_DL_FWD4(L, R, f, A, B, C, D)                                      \
	R f(A a, B b, C c, D d)                                                \
	{                                                                      \
		return HULL_DL_NEED(L, f)(a, b, c, d);                         \
	}
#define HULL_DL_FWD5(L, R, f, A, B, C, D, E)                                   \
	R f(A a, B b, C c, D d, E e)                                           \
	{                                                                      \
		return HULL_DL_NEED(L, f)(a, b, c, d, e);                      \
	}

/* The same for functions that return nothing. */
#define HULL_DL_VOID1(L, f, A)                                                 \
	void f(A a)                                                            \
	{                                                                      \
		HULL_DL_NEED(L, f)(a);                                         \
	}
#define HULL_DL_VOID2(L, f, A, B)                                              \
	void f(A a, B b)                                                       \
	{                                                                      \
		HULL_DL_NEED(L, f)(a, b);                                      \
	}
#define HULL_DL_VOID3(L, f, A, B, C)                                           \
	void f(A a, B b, C c)                                                  \
	{                                                                      \
		HULL_DL_NEED(L, f)(a, b, c);                                   \
	}

/* The libraries (dl_curl.c, dl_archive.c, dl_nft.c, dl_nl.c,
 * dl_ext2fs.c). */
extern struct hull_dl hull_dl_curl;
extern struct hull_dl hull_dl_archive;
extern struct hull_dl hull_dl_nft;
extern struct hull_dl hull_dl_nl;
extern struct hull_dl hull_dl_nl_route;
extern struct hull_dl hull_dl_ext2fs;

/* libext2fs's unixfd_io_manager (ext2fs_open2's reader of a descriptor),
 * or NULL when the library cannot be loaded. */
struct struct_io_manager;
struct struct_io_manager *hull_ext2fs_unixfd_io_manager(void);

#endif
