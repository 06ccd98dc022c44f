/*
 * regex.c - compiling a user's extended regular expression safely
 * (regex.h).
 *
 * The cost walk follows POSIX ERE's grammar: alternation of branches,
 * branches of pieces, a piece an atom with repetitions. An atom is one
 * node, a group the cost of its contents; a repetition multiplies the cost
 * of its atom by the copies glibc makes ('+' 2, '{n,m}' the larger bound,
 * '*' and '?' 1). Everything saturates just above the limit.
 */
#include "lib/regex.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define OVER (HULL_REGEX_MAX_NODES + 1)
#define MAX_DEPTH 16

struct walk {
	const char *p;
	int depth;
	bool bad;
};

static size_t sat_add(size_t a, size_t b)
{
	return a + b > OVER ? OVER : a + b;
}

static size_t sat_mul(size_t a, size_t b)
{
	return b && a > OVER / b ? OVER : (a * b > OVER ? OVER : a * b);
}

static size_t alternation(struct walk *w);

/* Past a bracket expression from its '[': a ']' first (or after '^') is
 * a member, as are [:class:], [.x.] and [=x=]. */
static void skip_bracket(struct walk *w)
{
	const char *p = w->p + 1;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	while (*p && *p != ']') {
		if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			const char *end = strchr(p + 2, p[1]);
			if (end && end[1] == ']') {
				p = end + 2;
				continue;
			}
		}
		p++;
	}
	/* unterminated: regcomp refuses it with its own words */
	w->p = *p ? p + 1 : p;
}

/* An interval "{n}", "{n,}" or "{n,m}" at w->p: the copies it makes, or
 * 0 when it is not an interval (then '{' is an ordinary character). */
static size_t interval(struct walk *w)
{
	const char *p = w->p + 1;
	size_t lo = 0, hi = 0;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		lo = sat_add(sat_mul(lo, 10), (size_t)(*p++ - '0'));
	hi = lo;
	if (*p == ',') {
		p++;
		hi = 0;
		while (*p >= '0' && *p <= '9')
			hi = sat_add(sat_mul(hi, 10), (size_t)(*p++ - '0'));
		if (hi < lo)
			hi = lo + 1; /* "{n,}": n copies and a star */
	}
	if (*p != '}')
		return 0;
	w->p = p + 1;
	return hi ? hi : 1;
}

static size_t piece(struct walk *w)
{
	size_t cost;
	switch (*w->p) {
	case '(':
		if (++w->depth > MAX_DEPTH) {
			w->bad = true;
			return OVER;
		}
		w->p++;
		cost = sat_add(alternation(w), 1);
		w->depth--;
		if (*w->p == ')')
			w->p++;
		break;
	case '[':
		skip_bracket(w);
		cost = 1;
		break;
	case '\\':
		w->p += w->p[1] ? 2 : 1;
		cost = 1;
		break;
	default:
		w->p++;
		cost = 1;
	}
	bool repeated = false;
	for (;;) {
		size_t copies;
		if (*w->p == '*' || *w->p == '?') {
			copies = 1;
			w->p++;
		} else if (*w->p == '+') {
			copies = 2;
			w->p++;
		} else if (*w->p == '{' && (copies = interval(w))) {
			/* interval() moved past it */
		} else {
			break;
		}
		/* a repetition of a repetition ("a+*") only multiplies work */
		if (repeated)
			w->bad = true;
		repeated = true;
		cost = sat_mul(cost, copies);
	}
	return cost;
}

static size_t alternation(struct walk *w)
{
	size_t cost = 0;
	while (*w->p && *w->p != ')' && !w->bad) {
		if (*w->p == '|') {
			w->p++;
			cost = sat_add(cost, 1);
			continue;
		}
		cost = sat_add(cost, piece(w));
	}
	return cost;
}

size_t hull_regex_cost(const char *pattern)
{
	if (strlen(pattern) > HULL_REGEX_MAX_LEN)
		return OVER;
	struct walk w = {.p = pattern};
	size_t cost = 0;
	while (*w.p && !w.bad) {
		cost = sat_add(cost, alternation(&w));
		if (*w.p == ')')
			w.p++; /* unbalanced: regcomp will say so */
	}
	return w.bad ? OVER : cost;
}

int hull_regcomp(regex_t *re, const char *pattern, struct hull_err *err)
{
	if (hull_regex_cost(pattern) > HULL_REGEX_MAX_NODES)
		return hull_err_set(err, EINVAL,
				    "regular expression too complex (at most "
				    "%d bytes, no repetition of a repetition, "
				    "at most %d atoms once repetitions are "
				    "expanded)",
				    HULL_REGEX_MAX_LEN, HULL_REGEX_MAX_NODES);
	int r = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
	if (r) {
		char buf[128];
		regerror(r, re, buf, sizeof(buf));
		return hull_err_set(err, EINVAL, "bad regular expression: %s",
				    buf);
	}
	return 0;
}
