/*
 * tools.h - hull's guest tools (mdata-get, mdata-put, mdata-list,
 * mdata-delete) for zones: kept in one folder of the pool that every zone
 * sees read-only at ZONE_TOOLS_DIR, so images need not carry them.
 */
#ifndef HULL_ZONE_TOOLS_H
#define HULL_ZONE_TOOLS_H

#include "lib/err.h"

/*
 * Makes sure <root>/var/guest-tools holds the current static tools, copied
 * from $HULL_MDATA_DIR or else from the mdata/ folder hull_helper_find
 * finds (the build tree's src/cmd/mdata, the install's libexecdir/hull/mdata),
 * and returns that folder (caller frees). Returns NULL without an error when no
 * tools are found: zones then start without them.
 */
char *zone_tools_prepare(struct hull_err *err);

#endif
