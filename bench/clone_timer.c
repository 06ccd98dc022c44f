/*
 * clone_timer.c - helper of bench/clone, built by it against build/libhull.a:
 * times pool_clone() in-process (what vmadm calls to make an instance's
 * root) and, interleaved with it (alternating which goes first), the
 * bare libbtrfsutil snapshot of the same snapshot (the anchor). Prints "hull_ms
 * anchor_ms" per run.
 *
 * usage: clone_timer SNAPSHOT RUNS   (HULL_ROOT names the pool)
 */
#include <btrfsutil.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lib/err.h"
#include "lib/xalloc.h"
#include "pool/pool.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	struct hull_err err = {0};
	struct pool *p;
	if (pool_open(&p, &err) < 0) {
		fprintf(stderr, "clone_timer: %s\n", err.msg);
		return 1;
	}
	char *src = pool_dataset_path(p, argv[1]);
	int runs = atoi(argv[2]);
	for (int i = 0; i < runs; i++) {
		char *name = xasprintf("timed-%d", i);
		char *hand =
		    xasprintf("%s/timed-hand-%d", pool_root_path(p), i);
		/* Alternating which goes first (ABBA), so neither always
		 * pays for what the other left to commit. */
		double hull_ms = 0, anchor_ms = 0;
		for (int k = 0; k < 2; k++) {
			bool hull_turn = (k == 0) == (i % 2 == 0);
			double t0 = now_ms();
			int r = hull_turn ? pool_clone(p, argv[1], name, &err)
					  : (btrfs_util_create_snapshot(
						 src, hand, 0, NULL, NULL) ==
						     BTRFS_UTIL_OK
						 ? 0
						 : -1);
			double t = now_ms() - t0;
			if (r < 0) {
				fprintf(stderr, "clone_timer: %s\n",
					hull_turn ? err.msg
						  : "snapshot failed");
				return 1;
			}
			if (hull_turn)
				hull_ms = t;
			else
				anchor_ms = t;
		}
		printf("%.3f %.3f\n", hull_ms, anchor_ms);
		free(name);
		free(hand);
	}
	free(src);
	pool_close(p);
	return 0;
}
