/*
 * strv.c - string vectors (see strv.h).
 */
#include <stdlib.h>

#include "lib/strv.h"
#include "lib/xalloc.h"

void hull_strv_push(struct hull_strv *s, char *owned)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = owned;
	s->v[s->n] = NULL;
}

void hull_strv_add(struct hull_strv *s, const char *str)
{
	hull_strv_push(s, xstrdup(str));
}

char **hull_strv_steal(struct hull_strv *s)
{
	char **v = s->v ? s->v : xcalloc(1, sizeof(char *));
	s->v = NULL;
	s->n = s->cap = 0;
	return v;
}

void hull_strv_fini(struct hull_strv *s)
{
	hull_strv_free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

size_t hull_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void hull_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

void hull_strv_append(char ***v, const char *str)
{
	size_t n = hull_strv_len(*v);
	*v = xrealloc(*v, (n + 2) * sizeof(char *));
	(*v)[n] = xstrdup(str);
	(*v)[n + 1] = NULL;
}

char **hull_strv_dup(char *const *v)
{
	if (!v)
		return NULL;
	struct hull_strv s = {0};
	for (size_t i = 0; v[i]; i++)
		hull_strv_add(&s, v[i]);
	return hull_strv_steal(&s);
}
