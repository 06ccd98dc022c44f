/*
 * common.c - what the transactions of src/inst share: progress reports,
 * the instance lock (include/hull/instance.h) and random numbers for
 * generated properties.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "inst/record.h"
#include "inst/txn.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/xalloc.h"

void inst_progress(const struct hull_progress *pr, enum hull_step step,
		   const char *uuid, const char *msg)
{
	if (pr && pr->fn)
		pr->fn(step, uuid, msg, pr->arg);
}

void inst_warnings(const struct hull_progress *pr, const char *uuid,
		   json_t *warnings)
{
	size_t i;
	json_t *e;
	json_array_foreach(warnings, i, e)
	    inst_progress(pr, HULL_STEP_WARNING, uuid, json_string_value(e));
}

int hull_instance_lock(const char *uuid, bool wait, struct hull_err *err)
{
	return inst_lock(uuid, wait, err); /* inst/record.h */
}

void hull_instance_unlock(int lock)
{
	hull_lock_release(lock);
}

unsigned inst_rand32(void)
{
	unsigned v;
	while (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		;
	return v;
}
