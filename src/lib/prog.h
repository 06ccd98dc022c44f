/*
 * prog.h - where hull's programs find each other: the programs only hull
 * runs (hull-supervisor, hull-vmm, the guest tools in mdata/) in the build
 * tree or in an install.
 */
#ifndef HULL_PROG_H
#define HULL_PROG_H

/*
 * The path of helper NAME ("hull-supervisor", "mdata/mdata-get"), or NULL
 * (caller frees). Looked for, in order:
 *   - beside the running program, one folder up, or as NAME/NAME beside it
 *     (the build tree: programs with folders of their own sit one level
 *     deeper, src/cmd/vmadm/vmadm);
 *   - in the configured libexecdir (HULL_LIBEXECDIR, e.g.
 *     /usr/local/libexec/hull); when the running program lies in
 *     <D>HULL_SBINDIR or <D>HULL_LIBEXECDIR, <D>HULL_LIBEXECDIR first, so
 *     an install under DESTDIR or a moved prefix finds its own helpers.
 */
char *hull_helper_find(const char *name);

/* Pure part, for tests: the same search from a program in folder selfdir
 * against the given sbindir and libexecdir. */
char *hull_helper_find_in(const char *selfdir, const char *name,
			  const char *sbindir, const char *libexecdir);

/*
 * The folder of hull's data NAME ("console": the web console's pages), or
 * NULL (caller frees). Looked for, in order: in the build tree (the
 * program in src/cmd, the data copied to data/NAME at the build root);
 * under an install's own prefix (<D>HULL_DATADIR/NAME when the program
 * lies in <D>HULL_SBINDIR); in the configured HULL_DATADIR/NAME.
 */
char *hull_data_find(const char *name);
/* Pure part, for tests. */
char *hull_data_find_in(const char *selfdir, const char *name,
			const char *sbindir, const char *datadir);

#endif
