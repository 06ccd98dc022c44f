/* remote.c - imgadm commands that talk to image sources. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/source.h"
#include "imgadm.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

/* ---- sources ---- */

static const char sources_help[] =
    "usage: imgadm sources [-v] [-j]                 list sources\n"
    "       imgadm sources -a URL [-t TYPE] [-f]     add a source\n"
    "       imgadm sources -d URL                    delete a source\n"
    "       imgadm sources -e                        edit them in $EDITOR\n"
    "       imgadm sources -c                        check each answers\n"
    "\n"
    "Sources are tried in order by import and show. Types:\n"
    "  imgapi   an IMGAPI server (http:// or https:// URL)\n"
    "  dir      a local folder (path or file:// URL) holding NAME.json\n"
    "           manifests with their file beside them (NAME.tar.gz, ...),\n"
    "           or images/UUID/manifest.json + images/UUID/file\n"
    "The type defaults to dir for paths, imgapi otherwise. -a checks that\n"
    "the source answers unless -f is given. The list is kept in\n"
    "$HULL_ROOT/var/imgadm/sources.json.\n";

static int sources_print(json_t *list, bool verbose, bool json)
{
	if (json) {
		hull_json_print(list);
		return IMGADM_OK;
	}
	if (verbose) {
		char *t = table_render(list, "url,type", 0, NULL);
		fputs(t, stdout);
		free(t);
		return IMGADM_OK;
	}
	size_t i;
	json_t *s;
	json_array_foreach(list, i, s)
	    printf("%s\n", hull_json_str(s, "url", ""));
	return IMGADM_OK;
}

static int source_index(json_t *list, const char *url)
{
	size_t i;
	json_t *s;
	json_array_foreach(list, i, s)
	{
		if (!strcmp(hull_json_str(s, "url", ""), url))
			return (int)i;
	}
	return -1;
}

static int sources_edit(json_t *list)
{
	struct hull_err err = {0};
	char tmpl[] = "/tmp/imgadm-sources-XXXXXX";
	int fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0) {
		hull_err_sys(&err, errno, "mkstemp");
		return imgadm_fail(&err);
	}
	FILE *f = fdopen(fd, "w");
	fprintf(f, "# One source per line: URL [TYPE]. Lines starting with "
		   "'#' are ignored.\n");
	size_t i;
	json_t *s;
	json_array_foreach(list, i, s)
	    fprintf(f, "%s %s\n", hull_json_str(s, "url", ""),
		    hull_json_str(s, "type", ""));
	fclose(f);
	const char *editor = getenv("EDITOR");
	_cleanup_free_ char *cmd =
	    xasprintf("%s '%s'", editor ? editor : "vi", tmpl);
	if (system(cmd) != 0) {
		unlink(tmpl);
		fprintf(stderr, "imgadm: editor failed; sources unchanged\n");
		return IMGADM_ERROR;
	}
	f = fopen(tmpl, "re");
	unlink(tmpl);
	if (!f) {
		fprintf(stderr, "imgadm: edited file is gone\n");
		return IMGADM_ERROR;
	}
	json_t *out = json_array();
	char line[4096];
	int rc = IMGADM_OK;
	while (fgets(line, sizeof(line), f)) {
		char url[4096], type[64] = "";
		if (line[0] == '#' ||
		    sscanf(line, "%4095s %63s", url, type) < 1)
			continue;
		if (!type[0])
			strcpy(type, image_source_type_guess(url));
		if (image_source_type_check(type, &err) < 0) {
			rc = imgadm_fail(&err);
			break;
		}
		json_array_append_new(
		    out, json_pack("{s:s, s:s}", "url", url, "type", type));
	}
	fclose(f);
	if (rc == IMGADM_OK && image_sources_save(out, &err) < 0)
		rc = imgadm_fail(&err);
	json_decref(out);
	return rc;
}

int imgadm_sources(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'},
	    {"add", required_argument, NULL, 'a'},
	    {"del", required_argument, NULL, 'd'},
	    {"type", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0}};
	const char *add = NULL, *del = NULL, *type = NULL;
	bool verbose = false, json = false, edit = false, check = false,
	     force = false;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hvjla:d:t:kfec", lo, NULL)) !=
	       -1) {
		switch (c) {
		case 'h':
			return imgadm_help(sources_help);
		case 'v':
			verbose = true;
			break;
		case 'j':
			json = true;
			break;
		case 'l':
		case 'k':
			break;
		case 'a':
			add = optarg;
			break;
		case 'd':
			del = optarg;
			break;
		case 't':
			type = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'e':
			edit = true;
			break;
		case 'c':
			check = true;
			break;
		default:
			return imgadm_bad_option("sources", c, argv);
		}
	}
	if (optind < argc)
		return imgadm_usage("sources", "unexpected argument '%s'",
				    argv[optind]);
	if ((add != NULL) + (del != NULL) + edit + check > 1)
		return imgadm_usage("sources",
				    "use only one of -a, -d, -e and -c");
	if (type && !add)
		return imgadm_usage("sources", "-t goes with -a");
	struct hull_err err = {0};
	if (hull_root_check(&err) < 0)
		return imgadm_fail(&err);
	json_t *list = image_sources_load(&err);
	if (!list)
		return imgadm_fail(&err);
	int rc = IMGADM_OK;
	if (add) {
		if (!type)
			type = image_source_type_guess(add);
		if (image_source_type_check(type, &err) < 0) {
			rc = imgadm_fail(&err);
			goto out;
		}
		if (source_index(list, add) >= 0) {
			printf("Already have \"%s\" image source \"%s\", no "
			       "change\n",
			       type, add);
			goto out;
		}
		json_t *s = json_pack("{s:s, s:s}", "url", add, "type", type);
		if (!force && image_source_ping(s, &err) < 0) {
			json_decref(s);
			rc = imgadm_fail(&err);
			goto out;
		}
		json_array_append_new(list, s);
		if (image_sources_save(list, &err) < 0) {
			rc = imgadm_fail(&err);
			goto out;
		}
		printf("Added \"%s\" image source \"%s\"\n", type, add);
	} else if (del) {
		int i = source_index(list, del);
		if (i < 0) {
			fprintf(stderr, "imgadm: no image source \"%s\"\n",
				del);
			rc = IMGADM_ERROR;
			goto out;
		}
		const char *t =
		    hull_json_str(json_array_get(list, (size_t)i), "type", "");
		printf("Deleted \"%s\" image source \"%s\"\n", t, del);
		json_array_remove(list, (size_t)i);
		if (image_sources_save(list, &err) < 0)
			rc = imgadm_fail(&err);
	} else if (edit) {
		rc = sources_edit(list);
	} else if (check) {
		size_t i;
		json_t *s;
		json_array_foreach(list, i, s)
		{
			if (image_source_ping(s, &err) < 0) {
				printf("%s  error: %s\n",
				       hull_json_str(s, "url", ""), err.msg);
				rc = IMGADM_ERROR;
			} else {
				printf("%s  ok\n", hull_json_str(s, "url", ""));
			}
		}
	} else {
		rc = sources_print(list, verbose, json);
	}
out:
	json_decref(list);
	return rc;
}

/* ---- avail ---- */

static const char avail_help[] =
    "usage: imgadm avail [-j | -H] [-o FIELD,...] [-s FIELD,...]\n"
    "                    [FIELD=VALUE ...]\n"
    "       imgadm available ...\n"
    "\n"
    "Lists the images the configured sources offer (an image offered by\n"
    "two sources is shown once, from the first).\n"
    "\n"
    "  -j          JSON array of {manifest, source}\n"
    "  -H          no header line\n"
    "  -o FIELDS   columns (default uuid,name,version,os,type,pub)\n"
    "  -s FIELDS   sort keys (default published_at,name)\n";

int imgadm_avail(int argc, char **argv)
{
	static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
					   {"json", no_argument, NULL, 'j'},
					   {NULL, 0, NULL, 0}};
	struct imgadm_list_opts o = {.columns = "uuid,name,version,os,type,pub",
				     .sort = "published_at,name"};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hjHpo:s:", lo, NULL)) != -1) {
		if (imgadm_list_option(&o, c, optarg))
			continue;
		if (c == 'h')
			return imgadm_help(avail_help);
		return imgadm_bad_option(argv[0], c, argv);
	}
	int rc = imgadm_list_check(argv[0], &o, argv + optind, argc - optind);
	if (rc)
		return rc;
	struct hull_err err = {0};
	if (hull_root_check(&err) < 0)
		return imgadm_fail(&err);
	json_t *sources = image_sources_load(&err);
	if (!sources)
		return imgadm_fail(&err);
	json_t *rows = json_array();
	json_t *seen = json_object();
	size_t i;
	json_t *src;
	json_array_foreach(sources, i, src)
	{
		json_t *ms = image_source_list(src, &err);
		if (!ms) {
			rc = imgadm_fail(&err);
			goto out;
		}
		size_t k;
		json_t *m;
		json_array_foreach(ms, k, m)
		{
			const char *u = hull_json_str(m, "uuid", "");
			if (json_object_get(seen, u))
				continue;
			json_object_set_new(seen, u, json_true());
			json_array_append_new(
			    rows,
			    json_pack("{s:O, s:O}", "manifest", m, "source",
				      json_object_get(src, "url")));
		}
		json_decref(ms);
	}
	rc = imgadm_print_list(rows, argv + optind, argc - optind, &o);
out:
	json_decref(seen);
	json_decref(rows);
	json_decref(sources);
	return rc;
}

/* ---- show ---- */

static const char show_help[] =
    "usage: imgadm show UUID\n"
    "\n"
    "Prints the manifest of an image from the first source that has it.\n";

int imgadm_show(int argc, char **argv)
{
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", imgadm_help_only, NULL)) !=
	       -1) {
		if (c == 'h')
			return imgadm_help(show_help);
		return imgadm_bad_option("show", c, argv);
	}
	if (optind >= argc)
		return imgadm_usage("show", "missing UUID");
	if (optind + 1 < argc)
		return imgadm_usage("show", "unexpected argument '%s'",
				    argv[optind + 1]);
	if (!hull_uuid_valid(argv[optind]))
		return imgadm_usage("show",
				    "'%s' is not a UUID (docker repo:tag "
				    "lookups are not supported)",
				    argv[optind]);
	struct hull_err err = {0};
	json_t *m;
	if (hull_image_show(argv[optind], &m, NULL, &err) < 0)
		return imgadm_fail(&err);
	hull_json_print(m);
	json_decref(m);
	return IMGADM_OK;
}

/* ---- import ---- */

static const char import_help[] =
    "usage: imgadm import [-q] [-S URL] UUID\n"
    "       imgadm import [-q] PATH\n"
    "\n"
    "Installs an image from the configured sources (tried in order), or\n"
    "from a `docker save` archive or an OCI image layout (a directory or a\n"
    "tar of one) at PATH. An image whose origin is not installed brings\n"
    "its origin in first. Importing an image already installed is a\n"
    "no-op. Progress is shown when stderr is a terminal.\n"
    "\n"
    "  -S URL   use only this source (type guessed from the URL)\n"
    "  -P POOL  accepted for compatibility; the pool is HULL_ROOT\n"
    "  -q       print nothing on success\n";

int imgadm_import(int argc, char **argv)
{
	static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
					   {"quiet", no_argument, NULL, 'q'},
					   {NULL, 0, NULL, 0}};
	bool quiet = false;
	const char *source = NULL;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hqS:P:C:", lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			return imgadm_help(import_help);
		case 'q':
			quiet = true;
			break;
		case 'S':
			source = optarg;
			break;
		case 'P':
		case 'C':
			break;
		default:
			return imgadm_bad_option("import", c, argv);
		}
	}
	if (optind >= argc)
		return imgadm_usage("import", "missing UUID or PATH");
	if (optind + 1 < argc)
		return imgadm_usage("import", "unexpected argument '%s'",
				    argv[optind + 1]);
	const char *what = argv[optind];
	bool is_uuid = hull_uuid_valid(what);
	struct stat st;
	if (!is_uuid && stat(what, &st) != 0)
		return imgadm_usage("import",
				    "'%s' is neither a UUID nor an existing "
				    "archive or OCI layout (registry imports "
				    "are not supported)",
				    what);
	struct hull_err err = {0};
	struct imgadm_events e = {.cmd = IMGADM_EV_IMPORT,
				  .quiet = quiet,
				  .tty = !quiet && isatty(STDERR_FILENO)};
	int r = is_uuid
		    ? hull_image_import(what, source, imgadm_events(&e), &err)
		    : hull_image_import_archive(what, imgadm_events(&e), &err);
	return r < 0 ? imgadm_fail(&err) : IMGADM_OK;
}
