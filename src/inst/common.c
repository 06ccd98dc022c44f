/*
 * common.c - what the transactions of src/inst share: progress reports,
 * the instance lock (include/hull/instance.h) and random numbers for
 * generated properties.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

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
	/* Never creates the instance's folders: a lock on an instance whose
	 * provision did not complete (or that is gone) is an error. */
	_cleanup_free_ char *dir = hull_root_path("%s/config", uuid);
	if (!hull_is_dir(dir))
		return hull_err_set(err, ENOENT,
				    "VM %s has no complete record (its "
				    "provisioning failed, or it was deleted)",
				    uuid);
	_cleanup_free_ char *p = hull_root_path("%s/config/.lock", uuid);
	return wait ? hull_lock_take(p, true, err) : hull_lock_try(p, err);
}

void hull_instance_unlock(int lock)
{
	hull_lock_release(lock);
}

int inst_lock(const char *uuid, struct hull_err *err)
{
	return hull_instance_lock(uuid, true, err);
}

int inst_lock_try(const char *uuid, struct hull_err *err)
{
	return hull_instance_lock(uuid, false, err);
}

unsigned inst_rand32(void)
{
	unsigned v;
	while (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		;
	return v;
}
