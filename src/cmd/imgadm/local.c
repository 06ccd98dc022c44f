/* local.c - imgadm commands that work on the pool alone. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgadm.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

#define LIST_COLUMNS "uuid,name,version,os,type,pub"
#define LIST_SORT "published_at,name"

/* ---- install ---- */

static const char install_help[] =
    "usage: imgadm install [-q] -m MANIFEST -f FILE\n"
    "\n"
    "Installs an image from a local manifest and file. The file is checked\n"
    "against the manifest's files[0] (size and sha1) and unpacked into a\n"
    "temporary dataset that becomes images/UUID only once complete.\n"
    "\n"
    "  -m MANIFEST   the image manifest (JSON)\n"
    "  -f FILE       the image file (tarball, or raw disk for zvol)\n"
    "  -P POOL       accepted for compatibility; the pool is HULL_ROOT\n"
    "  -q            print nothing on success\n";

int imgadm_install(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"manifest", required_argument, NULL, 'm'},
	    {"file", required_argument, NULL, 'f'},
	    {"quiet", no_argument, NULL, 'q'},
	    {NULL, 0, NULL, 0}};
	const char *mpath = NULL, *fpath = NULL;
	bool quiet = false;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hm:f:P:q", lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			return imgadm_help(install_help);
		case 'm':
			mpath = optarg;
			break;
		case 'f':
			fpath = optarg;
			break;
		case 'P':
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return imgadm_bad_option("install", c, argv);
		}
	}
	if (optind < argc)
		return imgadm_usage("install", "unexpected argument '%s'",
				    argv[optind]);
	if (!mpath)
		return imgadm_usage("install", "-m MANIFEST is required");
	if (!fpath)
		return imgadm_usage("install", "-f FILE is required");

	struct hull_err err = {0};
	char *buf;
	size_t len;
	if (hull_file_read(mpath, 1 << 20, &buf, &len, &err) < 0)
		return imgadm_fail(&err);
	if (!hull_path_exists(fpath)) {
		free(buf);
		return imgadm_usage("install",
				    "file path does not exist: \"%s\"", fpath);
	}
	struct imgadm_events e = {.cmd = IMGADM_EV_INSTALL, .quiet = quiet};
	int r =
	    hull_image_install(buf, len, mpath, fpath, imgadm_events(&e), &err);
	free(buf);
	return r < 0 ? imgadm_fail(&err) : IMGADM_OK;
}

/* ---- list ---- */

static const char list_help[] =
    "usage: imgadm list [-j | -H | -p] [-o FIELD,...] [-s FIELD,...]\n"
    "                   [--docker] [FIELD=VALUE ...]\n"
    "\n"
    "Lists installed images.\n"
    "\n"
    "  -j            JSON: an array of {manifest, zpool, source, clones}\n"
    "  -H            no header line\n"
    "  -p            parsable: fields separated by ':' (escaped as '\\:')\n"
    "  -o FIELDS     columns (default " LIST_COLUMNS ")\n"
    "  -s FIELDS     sort keys, '-' prefix for descending\n"
    "                (default " LIST_SORT ")\n"
    "  --docker      docker images only, with docker columns\n"
    "\n"
    "Fields are manifest fields (dotted paths like tags.role work) and the\n"
    "computed pub, published_date, published, clones, size, source,\n"
    "docker_id, docker_short_id, docker_repo, docker_tags.\n"
    "Filters: FIELD=VALUE exact, FIELD=~TEXT substring, FIELD=true|false.\n";

int imgadm_list(int argc, char **argv)
{
	static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
					   {"json", no_argument, NULL, 'j'},
					   {"docker", no_argument, NULL, 'D'},
					   {NULL, 0, NULL, 0}};
	struct imgadm_list_opts o = {.sort = LIST_SORT};
	bool docker = false;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hjHpo:s:P:", lo, NULL)) != -1) {
		if (imgadm_list_option(&o, c, optarg))
			continue;
		switch (c) {
		case 'h':
			return imgadm_help(list_help);
		case 'D':
			docker = true;
			break;
		case 'P':
			break;
		default:
			return imgadm_bad_option("list", c, argv);
		}
	}
	if (!o.columns)
		o.columns =
		    docker ? "uuid,docker_repo,docker_tags,docker_short_id,"
			     "pub"
			   : LIST_COLUMNS;
	int nf = argc - optind;
	char **filters = argv + optind;
	int rc = imgadm_list_check("list", &o, filters, nf);
	if (rc)
		return rc;
	/* Clone counts cost a walk over the pool: only when shown or used. */
	bool need_clones =
	    o.json || strstr(o.columns, "clones") || strstr(o.sort, "clones");
	for (int i = 0; i < nf; i++)
		need_clones |= !strncmp(filters[i], "clones=", 7);
	struct hull_err err = {0};
	json_t *all;
	if (hull_image_list(need_clones, &all, &err) < 0)
		return imgadm_fail(&err);
	if (docker) {
		json_t *d = json_array();
		size_t i;
		json_t *info;
		json_array_foreach(all, i, info)
		{
			if (!strcmp(
				hull_json_str(json_object_get(info, "manifest"),
					      "type", ""),
				"docker"))
				json_array_append(d, info);
		}
		json_decref(all);
		all = d;
	}
	rc = imgadm_print_list(all, filters, nf, &o);
	json_decref(all);
	return rc;
}

/* ---- get ---- */

static const char get_help[] =
    "usage: imgadm get [-r] UUID\n"
    "       imgadm info [-r] UUID\n"
    "\n"
    "Prints an installed image's info as JSON: {manifest, zpool, source,\n"
    "clones}. With -r, also the datasets cloned from it (children).\n"
    "Exits 3 when the image is not installed.\n";

static int one_uuid(const char *cmd, int argc, char **argv, const char **out)
{
	if (optind >= argc)
		return imgadm_usage(cmd, "missing UUID");
	if (optind + 1 < argc)
		return imgadm_usage(cmd, "unexpected argument '%s'",
				    argv[optind + 1]);
	if (!hull_uuid_valid(argv[optind]))
		return imgadm_usage(cmd, "'%s' is not a UUID", argv[optind]);
	*out = argv[optind];
	return 0;
}

int imgadm_get(int argc, char **argv)
{
	bool children = false;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hrP:", imgadm_help_only, NULL)) !=
	       -1) {
		switch (c) {
		case 'h':
			return imgadm_help(get_help);
		case 'r':
			children = true;
			break;
		case 'P':
			break;
		default:
			return imgadm_bad_option(argv[0], c, argv);
		}
	}
	const char *uuid;
	int rc = one_uuid(argv[0], argc, argv, &uuid);
	if (rc)
		return rc;
	struct hull_err err = {0};
	json_t *info;
	if (hull_image_get(uuid, children, &info, &err) < 0)
		return imgadm_fail(&err);
	hull_json_print(info);
	json_decref(info);
	return IMGADM_OK;
}

/* ---- delete ---- */

static const char delete_help[] =
    "usage: imgadm delete UUID\n"
    "       imgadm destroy UUID\n"
    "\n"
    "Deletes an installed image. Refused while an instance or another\n"
    "image was cloned from it or names it as origin.\n";

int imgadm_delete(int argc, char **argv)
{
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hP:", imgadm_help_only, NULL)) !=
	       -1) {
		if (c == 'h')
			return imgadm_help(delete_help);
		if (c != 'P')
			return imgadm_bad_option(argv[0], c, argv);
	}
	const char *uuid;
	int rc = one_uuid(argv[0], argc, argv, &uuid);
	if (rc)
		return rc;
	struct hull_err err = {0};
	if (hull_image_delete(uuid, &err) < 0)
		return imgadm_fail(&err);
	printf("Deleted image %s\n", uuid);
	return IMGADM_OK;
}

/* ---- vacuum ---- */

static const char vacuum_help[] =
    "usage: imgadm vacuum [-n] [-f]\n"
    "\n"
    "Deletes every installed image that no instance and no other image\n"
    "uses (repeating until none is left, so an unused chain goes too).\n"
    "\n"
    "  -n   dry run: print what would be deleted\n"
    "  -f   do not ask for confirmation (needed when stdin is not a tty)\n";

int imgadm_vacuum(int argc, char **argv)
{
	bool dry = false, force = false;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hnf", imgadm_help_only, NULL)) !=
	       -1) {
		switch (c) {
		case 'h':
			return imgadm_help(vacuum_help);
		case 'n':
			dry = true;
			break;
		case 'f':
			force = true;
			break;
		default:
			return imgadm_bad_option("vacuum", c, argv);
		}
	}
	if (optind < argc)
		return imgadm_usage("vacuum", "unexpected argument '%s'",
				    argv[optind]);
	struct hull_err err = {0};
	struct imgadm_events e = {.cmd = IMGADM_EV_VACUUM};
	/* Installs killed midway leave images/UUID-partial. */
	if (!dry && hull_image_vacuum_partials(imgadm_events(&e), &err) < 0)
		return imgadm_fail(&err);
	json_t *order;
	if (hull_image_vacuum_plan(&order, &err) < 0)
		return imgadm_fail(&err);
	int rc = IMGADM_OK;
	if (json_array_size(order) == 0) {
		printf("Nothing to vacuum: every image is in use\n");
		goto out;
	}
	if (!dry && !force) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr,
				"imgadm: vacuum would delete %zu "
				"image(s); use -f to confirm when "
				"stdin is not a terminal\n",
				json_array_size(order));
			rc = IMGADM_ERROR;
			goto out;
		}
		printf("Delete %zu unused image(s)? [y/N] ",
		       json_array_size(order));
		fflush(stdout);
		char answer[16] = "";
		if (!fgets(answer, sizeof(answer), stdin) ||
		    (answer[0] != 'y' && answer[0] != 'Y')) {
			printf("Aborting\n");
			goto out;
		}
	}
	size_t i;
	json_t *info;
	json_array_foreach(order, i, info)
	{
		json_t *m = json_object_get(info, "manifest");
		const char *u = hull_json_str(m, "uuid", "");
		if (dry) {
			printf("Would delete image %s (%s@%s)\n", u,
			       hull_json_str(m, "name", "-"),
			       hull_json_str(m, "version", "-"));
			continue;
		}
		if (hull_image_delete(u, &err) < 0) {
			rc = imgadm_fail(&err);
			goto out;
		}
		printf("Deleted image %s (%s@%s)\n", u,
		       hull_json_str(m, "name", "-"),
		       hull_json_str(m, "version", "-"));
	}
out:
	json_decref(order);
	return rc;
}

/* ---- ancestry ---- */

static const char ancestry_help[] =
    "usage: imgadm ancestry [-j | -H] [-o FIELD,...] UUID\n"
    "\n"
    "Lists the image and its chain of origin images, the image first.\n"
    "\n"
    "  -j          JSON array of info objects\n"
    "  -H          no header line\n"
    "  -o FIELDS   columns (default uuid,name,version,published)\n";

int imgadm_ancestry(int argc, char **argv)
{
	static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
					   {"json", no_argument, NULL, 'j'},
					   {NULL, 0, NULL, 0}};
	struct imgadm_list_opts o = {.columns = "uuid,name,version,published"};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hjHo:P:", lo, NULL)) != -1) {
		if (imgadm_list_option(&o, c, optarg))
			continue;
		switch (c) {
		case 'h':
			return imgadm_help(ancestry_help);
		case 'P':
			break;
		default:
			return imgadm_bad_option("ancestry", c, argv);
		}
	}
	const char *uuid;
	int rc = one_uuid("ancestry", argc, argv, &uuid);
	if (rc)
		return rc;
	rc = imgadm_list_check("ancestry", &o, NULL, 0);
	if (rc)
		return rc;
	struct hull_err err = {0};
	json_t *chain = json_array();
	char *cur = xstrdup(uuid);
	/* Origins form a chain; a loop (a hand-edited record) must end. */
	for (int depth = 0; cur && depth < 64; depth++) {
		json_t *info;
		if (hull_image_get(cur, false, &info, &err) < 0) {
			if (depth == 0) {
				rc = imgadm_fail(&err);
				goto out;
			}
			break; /* an origin not installed ends the chain */
		}
		free(cur);
		const char *origin = hull_json_str(
		    json_object_get(info, "manifest"), "origin", NULL);
		cur = origin ? xstrdup(origin) : NULL;
		json_array_append_new(chain, info);
	}
	rc = imgadm_print_list(chain, NULL, 0, &o);
out:
	free(cur);
	json_decref(chain);
	return rc;
}
