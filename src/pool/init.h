/*
 * init.h - making and taking down the pool at hull_root(): `hull init` and
 * `hull fini`.
 */
#ifndef HULL_POOL_INIT_H
#define HULL_POOL_INIT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "pool/layout.h"
#include "pool/pool.h"

#define POOL_DEFAULT_FILE "/var/lib/hull/pool.img"
#define POOL_DEFAULT_SIZE (20ull << 30)
#define POOL_MIN_SIZE (256ull << 20)

/* How a btrfs pool accounts space (see docs/hull.md). */
enum pool_quota_mode {
	POOL_QUOTA_AUTO,   /* simple where the kernel has it, else full */
	POOL_QUOTA_SIMPLE, /* charged to the writer: fast snapshots */
	POOL_QUOTA_FULL,   /* exact referenced bytes: slow snapshots */
	POOL_QUOTA_NONE,
};

int pool_quota_mode_parse(const char *s, enum pool_quota_mode *out);
const char *pool_quota_mode_name(enum pool_quota_mode m);

struct pool_init_opts {
	enum pool_backend backend;
	bool backend_set;	    /* --backend given */
	uint64_t size;		    /* 0: POOL_DEFAULT_SIZE */
	const char *file;	    /* NULL: the default for the root */
	const char *const *devices; /* --device, in order */
	size_t ndevices;
	enum pool_layout layout;
	bool layout_set; /* --layout given */
	enum pool_quota_mode quota;
};

enum pool_init_result {
	POOL_INIT_CREATED, /* a new pool */
	POOL_INIT_MOUNTED, /* an existing pool file or device mounted again */
	POOL_INIT_ALREADY, /* it was initialised and mounted: nothing done */
};

/* The loop file used when none is given: POOL_DEFAULT_FILE for the
 * default root, else "<root>.img" beside the root. Caller frees. */
char *pool_default_file(const char *root);

/* Idempotent. Every failure leaves nothing behind that it made. */
int pool_init(const struct pool_init_opts *o, enum pool_init_result *res,
	      struct hull_err *err);

/* Unmounts the pool (its loop device detaches itself). The pool file or
 * device keeps the data; pool_init mounts it again. *done says whether
 * anything was unmounted. */
int pool_fini(bool *done, struct hull_err *err);

#endif
