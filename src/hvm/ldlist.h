/*
 * ldlist.h - the files a dynamically linked program needs to run: itself,
 * its ELF interpreter and every shared library in its DT_NEEDED closure,
 * as the dynamic loader itself resolves them (`ld.so --list PROGRAM`, what
 * ldd runs), so RUNPATH, the loader cache and the search order are the
 * loader's own. The double hull (vmmzone.h) bind-mounts exactly these.
 */
#ifndef HULL_HVM_LDLIST_H
#define HULL_HVM_LDLIST_H

#include <stddef.h>

#include "lib/err.h"

/* The x86-64 dynamic loader (the PT_INTERP of every program we hull). */
#define HVM_LDSO "/lib64/ld-linux-x86-64.so.2"
#define HVM_LDLIST_MAX 512

struct hvm_ldlist {
	char **paths; /* absolute, owned; the program first */
	size_t n;
};

void hvm_ldlist_fini(struct hvm_ldlist *l);

/* Parses the loader's --list output: one entry per line, "NAME => PATH
 * (0xADDR)", "PATH (0xADDR)" or the vDSO "NAME (0xADDR)" (skipped); "NAME
 * => not found" is an error naming the library. Appends each absolute path
 * once. Pure. */
int hvm_ldlist_parse(const char *text, struct hvm_ldlist *l,
		     struct hull_err *err);

/* The program (absolute path) and what it needs. A statically linked
 * program needs nothing more. */
int hvm_ldlist_resolve(const char *program, struct hvm_ldlist *l,
		       struct hull_err *err);

/* Adds a library the program loads itself with dlopen (hull-vmm's
 * libarchive: HVM_HULL_VMM_DLOPEN), found in the loader's default directories
 * (where the program's dlopen looks inside the hull, which has no loader
 * cache), and its own closure. An absolute path (a module the program
 * loads by path, as QEMU's accel-tcg-x86_64.so) is taken as it is. */
int hvm_ldlist_add_dlopen(struct hvm_ldlist *l, const char *soname,
			  struct hull_err *err);

#endif
