/*
 * sealed.h - running the current program from a sealed memfd copy
 * (the CVE-2019-5736 defence, as crun does it).
 *
 * A process that joins a zone runs, until its final execve, as the program
 * that joined. If that program's /proc/<pid>/exe were the host binary, the
 * zone could reopen it for writing once it stops being executed and so
 * replace a host program. Running from a copy in a memfd sealed against
 * writes, growing and shrinking gives the zone nothing to write to.
 */
#ifndef HULL_ZONE_SEALED_H
#define HULL_ZONE_SEALED_H
#include <stdbool.h>
#include "lib/err.h"
/* True when /proc/self/exe is a memfd sealed against writes. */
bool zone_exe_is_sealed(void);
/* Re-executes /proc/self/exe from a sealed memfd copy with argv and the
 * current environment. Returns only on failure. */
int zone_exe_reexec_sealed(char **argv, struct hull_err *err);
#endif
