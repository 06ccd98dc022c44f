/*
 * metadata_hook.h - the metadata server as a supervisor hook (register it
 * with supervisor_hook_register before supervisor_run).
 */
#ifndef HULL_SUPERVISOR_METADATA_HOOK_H
#define HULL_SUPERVISOR_METADATA_HOOK_H
#include "supervisor/supervisor.h"
extern const struct sv_hook metadata_hook;
#endif
