/*
 * regex.h - compiling a user's extended regular expression safely.
 *
 * glibc's regcomp expands a repetition by copying the repeated subtree
 * ("a+" becomes "aa*", "(x){9}" nine copies of x), so chained or nested
 * repetitions grow the compiled tree exponentially: a 40-byte filter can
 * take gigabytes. hull_regcomp first bounds the size the pattern can
 * expand to and refuses what is over it, then compiles.
 */
#ifndef HULL_LIB_REGEX_H
#define HULL_LIB_REGEX_H

#include <regex.h>
#include <stddef.h>

#include "lib/err.h"

#define HULL_REGEX_MAX_LEN 256	  /* bytes of pattern */
#define HULL_REGEX_MAX_NODES 4096 /* atoms after expansion */

/* An upper bound of the atoms pattern expands to (saturating at
 * HULL_REGEX_MAX_NODES + 1), or HULL_REGEX_MAX_NODES + 1 when it is too
 * long, nests too deep or chains repetitions ("a+*"). Pure. */
size_t hull_regex_cost(const char *pattern);

/* regcomp(re, pattern, REG_EXTENDED | REG_NOSUB) of a pattern within the
 * bounds; on failure err says why and re needs no regfree. */
int hull_regcomp(regex_t *re, const char *pattern, struct hull_err *err);

#endif
