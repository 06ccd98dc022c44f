/* util.c - what imgadm's subcommands share: errors, the list view. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgadm.h"
#include "lib/json.h"
#include "lib/xalloc.h"

bool imgadm_json_errors;

/* -E: the error again as one JSON object, the last line on stderr. */
static void json_error(const char *code, const char *msg)
{
	if (!imgadm_json_errors)
		return;
	json_t *j = json_pack("{s:s, s:s}", "code", code, "message", msg);
	char *s = json_dumps(j, JSON_COMPACT);
	fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(j);
}

void imgadm_warn_nodes(uint64_t n)
{
	if (n)
		fprintf(stderr,
			"imgadm: warning: left out %llu device node%s of the "
			"image (every instance gets a /dev of its own)\n",
			(unsigned long long)n, n == 1 ? "" : "s");
}

int imgadm_fail(const struct hull_err *err)
{
	fprintf(stderr, "imgadm: %s\n", err->msg);
	if (err->code == ENOENT && strstr(err->msg, "is not installed")) {
		json_error("ImageNotInstalled", err->msg);
		return IMGADM_NOT_INSTALLED;
	}
	json_error(err->code == EBUSY		   ? "ImageHasDependentClones"
		   : err->code == EEXIST	   ? "ImageAlreadyInstalled"
		   : strstr(err->msg, "manifest:") ? "InvalidManifest"
						   : "Error",
		   err->msg);
	return IMGADM_ERROR;
}

int imgadm_usage(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "imgadm %s: %s (see imgadm %s --help)\n", cmd, msg,
		cmd);
	return IMGADM_USAGE;
}

int imgadm_help(const char *text)
{
	fputs(text, stdout);
	return IMGADM_OK;
}

static json_t *docker_tags(json_t *tags)
{
	json_t *out = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(tags, k, v)
	{
		if (!strncmp(k, "docker:tag:", 11) && json_is_true(v))
			json_array_append_new(out, json_string(k + 11));
	}
	return out;
}

static json_t *image_lookup(json_t *info, const char *key, void *ctx)
{
	(void)ctx;
	json_t *m = json_object_get(info, "manifest");
	const char *pub = hull_json_str(m, "published_at", NULL);
	if (!strcmp(key, "pub") || !strcmp(key, "published_date"))
		return pub && strlen(pub) >= 10 ? json_stringn(pub, 10) : NULL;
	if (!strcmp(key, "published")) {
		if (!pub)
			return NULL;
		/* Without the milliseconds: 2012-05-02T15:14:45Z. */
		char buf[32];
		size_t n = strcspn(pub, ".Z");
		if (n > 19)
			n = 19;
		snprintf(buf, sizeof(buf), "%.*sZ", (int)n, pub);
		return json_string(buf);
	}
	if (!strcmp(key, "source") || !strcmp(key, "clones") ||
	    !strcmp(key, "zpool"))
		return json_incref(json_object_get(info, key));
	if (!strcmp(key, "size"))
		return json_incref(json_object_get(
		    json_array_get(json_object_get(m, "files"), 0), "size"));
	json_t *tags = json_object_get(m, "tags");
	if (!strcmp(key, "docker_id"))
		return json_incref(json_object_get(tags, "docker:id"));
	if (!strcmp(key, "docker_short_id")) {
		const char *id = hull_json_str(tags, "docker:id", NULL);
		if (!id)
			return NULL;
		const char *colon = strchr(id, ':');
		return json_stringn(colon ? colon + 1 : id, 12);
	}
	if (!strcmp(key, "docker_repo"))
		return json_incref(json_object_get(tags, "docker:repo"));
	if (!strcmp(key, "docker_tags"))
		return docker_tags(tags);
	if (!strncmp(key, "manifest.", 9))
		return table_path_get(info, key, NULL);
	return table_path_get(m, key, NULL);
}

const struct table_view imgadm_view = {.lookup = image_lookup};

bool imgadm_list_option(struct imgadm_list_opts *o, int c, char *arg)
{
	switch (c) {
	case 'j':
		o->json = true;
		return true;
	case 'H':
		o->flags |= TABLE_NO_HEADER;
		return true;
	case 'p':
		o->flags |= TABLE_PARSABLE;
		return true;
	case 'o':
		o->columns = arg;
		return true;
	case 's':
		o->sort = arg;
		return true;
	default:
		return false;
	}
}

int imgadm_list_check(const char *cmd, const struct imgadm_list_opts *o,
		      char **filters, int nfilters)
{
	struct hull_err err = {0};
	if (table_keys_check(o->columns, false, &err) < 0)
		return imgadm_usage(cmd, "-o: %s", err.msg);
	if (o->sort && table_keys_check(o->sort, true, &err) < 0)
		return imgadm_usage(cmd, "-s: %s", err.msg);
	for (int i = 0; i < nfilters; i++)
		if (!strchr(filters[i], '=') || filters[i][0] == '=')
			return imgadm_usage(cmd,
					    "invalid filter '%s' (want "
					    "FIELD=VALUE)",
					    filters[i]);
	return 0;
}

int imgadm_print_list(json_t *infos, char **filters, int nfilters,
		      const struct imgadm_list_opts *o)
{
	struct hull_err err = {0};
	struct table_filter *f = NULL;
	if (table_filters_parse(filters, nfilters, 0, &f, &err) < 0)
		return imgadm_fail(&err);
	json_t *rows = table_select(infos, f, &imgadm_view);
	table_filters_free(f);
	if (o->sort && table_sort(rows, o->sort, &imgadm_view, &err) < 0) {
		json_decref(rows);
		return imgadm_fail(&err);
	}
	if (o->json) {
		hull_json_print(rows);
	} else {
		char *t =
		    table_render(rows, o->columns, o->flags, &imgadm_view);
		fputs(t, stdout);
		free(t);
	}
	json_decref(rows);
	return IMGADM_OK;
}

const struct option imgadm_help_only[] = {{"help", no_argument, NULL, 'h'},
					  {NULL, 0, NULL, 0}};

int imgadm_bad_option(const char *cmd, int opt, char **argv)
{
	/* getopt's own complaint would be a second line; we print one. */
	if (opt == '?' && optopt)
		return imgadm_usage(cmd, "unknown option '-%c'", optopt);
	if (opt == '?')
		return imgadm_usage(cmd, "unknown option '%s'",
				    argv[optind - 1]);
	return imgadm_usage(cmd, "option '-%c' needs a value", optopt);
}
