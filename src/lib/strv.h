/*
 * strv.h - string vectors: NULL-terminated arrays of owned strings (an
 * argv, an envp, a list of names), the one helper for them in hull.
 *
 * Two forms. A plain `char **` ends with NULL; each string and the array
 * are owned by whoever holds it and freed with hull_strv_free(). A struct
 * hull_strv is the builder: push strings, then use .v directly (it is
 * NULL-terminated whenever it is non-NULL) or take it with
 * hull_strv_steal(). Allocation aborts on OOM (xalloc.h).
 */
#ifndef HULL_LIB_STRV_H
#define HULL_LIB_STRV_H

#include <stddef.h>

struct hull_strv {
	char **v; /* NULL or NULL-terminated; v[n] == NULL */
	size_t n, cap;
};

/* Appends owned (which the vector now owns). */
void hull_strv_push(struct hull_strv *s, char *owned);
/* Appends a copy of str. */
void hull_strv_add(struct hull_strv *s, const char *str);
/* Hands over the array (never NULL: an empty vector gives {NULL}) and
 * leaves s empty. Free it with hull_strv_free(). */
char **hull_strv_steal(struct hull_strv *s);
/* Frees the strings and the array; s is empty after. */
void hull_strv_fini(struct hull_strv *s);

/* The number of strings before the NULL; 0 for NULL. */
size_t hull_strv_len(char *const *v);
/* Frees each string and the array; accepts NULL. */
void hull_strv_free(char **v);
/* Appends a copy of str to the plain vector *v (NULL: a new one). */
void hull_strv_append(char ***v, const char *str);
/* A deep copy of v (NULL gives NULL). */
char **hull_strv_dup(char *const *v);

#endif
