/*
 * ofmt.h - the output of illumos's dladm and ipadm show-* commands (their
 * libofmt): named fields with a default width, a header line, a chosen
 * field list (-o f1,f2 or -o all, case-insensitive), and parsable output
 * (-p: no header, fields joined by ':', a ':' or '\' inside a field
 * escaped with '\' when more than one field is shown).
 *
 * Pure: the caller prints the strings it gets.
 */
#ifndef HULL_LIB_OFMT_H
#define HULL_LIB_OFMT_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

#define OFMT_MAX_FIELDS 16

struct ofmt_field {
	const char *name; /* upper case: the header */
	unsigned width;
};

struct ofmt {
	const struct ofmt_field *fields; /* all of them */
	size_t nfields;
	size_t nsel;
	size_t sel[OFMT_MAX_FIELDS]; /* indexes into fields */
	bool parsable;
};

/* Chooses the fields: spec NULL means defaults (a comma list, or all when
 * NULL too). Parsable output requires a spec, as in illumos. */
int ofmt_open(struct ofmt *o, const struct ofmt_field *fields, size_t n,
	      const char *spec, const char *defaults, bool parsable,
	      struct hull_err *err);
/* The header line (NULL with -p); the caller frees. */
char *ofmt_header(const struct ofmt *o);
/* One line of values (values[i] for fields[i]; NULL or "" shows "--"),
 * without the newline; the caller frees. */
char *ofmt_line(const struct ofmt *o, const char *const *values);
#endif
