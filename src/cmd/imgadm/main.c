/*
 * imgadm - manage images in the hull pool, as SmartOS's imgadm does.
 */
#include <stdio.h>
#include <string.h>

#include "imgadm.h"

struct subcommand {
	const char *name;
	const char *alias;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
    {"install", NULL, imgadm_install,
     "install an image from a manifest and file"},
    {"list", NULL, imgadm_list, "list installed images"},
    {"get", "info", imgadm_get, "print an installed image's info (alias info)"},
    {"delete", "destroy", imgadm_delete,
     "delete an installed image (alias destroy)"},
    {"vacuum", NULL, imgadm_vacuum, "delete images nothing uses"},
    {"ancestry", NULL, imgadm_ancestry, "show an image's origin chain"},
    {"sources", NULL, imgadm_sources, "list, add, delete image sources"},
    {"avail", "available", imgadm_avail,
     "list images the sources offer (alias available)"},
    {"show", NULL, imgadm_show, "print a manifest from the sources"},
    {"import", NULL, imgadm_import,
     "install an image from the sources, or a docker/OCI archive"},
    {"create", NULL, imgadm_create, "make an image from a stopped instance"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: imgadm [--help] [--version] [-v] [-E] COMMAND "
		   "[ARGS...]\n"
		   "\n"
		   "Manages the images of the hull pool ($HULL_ROOT, default "
		   "/zones), as SmartOS's imgadm does.\n"
		   "\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name,
			subcommands[i].summary);
	fprintf(f,
		"\n-E adds the error as a JSON object {code, message} on the "
		"last line of stderr.\n`imgadm COMMAND --help` or `imgadm help "
		"COMMAND` tells "
		"more. Exit status: 0 ok, 1 error, 2 usage, 3 image not "
		"installed.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return IMGADM_USAGE;
	}
	/* -v (verbose) is accepted for compatibility; errors are always
	 * one line. -E adds a JSON copy of the error. */
	while (argc > 2 &&
	       (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--verbose") ||
		!strcmp(argv[1], "-E"))) {
		if (!strcmp(argv[1], "-E"))
			imgadm_json_errors = true;
		argv++;
		argc--;
	}
	if (!strcmp(argv[1], "help") && argc > 2) {
		/* `imgadm help CMD` is `imgadm CMD --help`. */
		char *hargv[] = {argv[2], "--help", NULL};
		for (size_t i = 0;
		     i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
			const struct subcommand *c = &subcommands[i];
			if (!strcmp(argv[2], c->name) ||
			    (c->alias && !strcmp(argv[2], c->alias)))
				return c->run(2, hargv);
		}
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return IMGADM_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("imgadm (hull) %s\n", HULL_VERSION);
		return IMGADM_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++) {
		const struct subcommand *c = &subcommands[i];
		if (!strcmp(argv[1], c->name) ||
		    (c->alias && !strcmp(argv[1], c->alias)))
			return c->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "imgadm: unknown command '%s' (see imgadm --help)\n",
		argv[1]);
	return IMGADM_USAGE;
}
