/*
 * ofmt.c - illumos-style field output (see ofmt.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/ofmt.h"
#include "lib/xalloc.h"

static int select_list(struct ofmt *o, const char *spec, struct hull_err *err)
{
	_cleanup_free_ char *copy = xstrdup(spec);
	char *save = NULL;

	o->nsel = 0;
	for (char *f = strtok_r(copy, ",", &save); f;
	     f = strtok_r(NULL, ",", &save)) {
		size_t i;
		if (!strcasecmp(f, "all")) {
			for (i = 0; i < o->nfields && o->nsel < OFMT_MAX_FIELDS;
			     i++)
				o->sel[o->nsel++] = i;
			continue;
		}
		for (i = 0; i < o->nfields; i++)
			if (!strcasecmp(f, o->fields[i].name))
				break;
		if (i == o->nfields)
			return hull_err_set(err, EINVAL,
					    "invalid output field '%s'", f);
		if (o->nsel == OFMT_MAX_FIELDS)
			return hull_err_set(err, EINVAL,
					    "too many output fields");
		o->sel[o->nsel++] = i;
	}
	if (!o->nsel)
		return hull_err_set(err, EINVAL, "no output fields given");
	return 0;
}

int ofmt_open(struct ofmt *o, const struct ofmt_field *fields, size_t n,
	      const char *spec, const char *defaults, bool parsable,
	      struct hull_err *err)
{
	memset(o, 0, sizeof(*o));
	o->fields = fields;
	o->nfields = n;
	o->parsable = parsable;
	if (parsable && (!spec || !strcasecmp(spec, "all")))
		return hull_err_set(err, EINVAL,
				    "parsable output (-p) requires an "
				    "explicit list of output fields (-o)");
	return select_list(o, spec ? spec : defaults ? defaults : "all", err);
}

static void put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = 0;
}

static char *render(const struct ofmt *o, const char *const *v, bool header)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	put(&buf, &len, &cap, "", 0);
	for (size_t k = 0; k < o->nsel; k++) {
		const struct ofmt_field *f = &o->fields[o->sel[k]];
		const char *s = header				  ? f->name
				: (v[o->sel[k]] && *v[o->sel[k]]) ? v[o->sel[k]]
								  : "--";
		if (o->parsable) {
			if (k)
				put(&buf, &len, &cap, ":", 1);
			for (; *s; s++) {
				if (o->nsel > 1 && (*s == ':' || *s == '\\'))
					put(&buf, &len, &cap, "\\", 1);
				put(&buf, &len, &cap, s, 1);
			}
			continue;
		}
		put(&buf, &len, &cap, s, strlen(s));
		if (k + 1 < o->nsel) {
			/* Pad to the field's width, and always one space. */
			size_t pad =
			    strlen(s) < f->width ? f->width - strlen(s) : 0;
			put(&buf, &len, &cap, " ", 1);
			while (pad--)
				put(&buf, &len, &cap, " ", 1);
		}
	}
	return buf;
}

char *ofmt_header(const struct ofmt *o)
{
	return o->parsable ? NULL : render(o, NULL, true);
}

char *ofmt_line(const struct ofmt *o, const char *const *values)
{
	return render(o, values, false);
}
