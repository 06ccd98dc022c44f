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
};

static const struct subcommand subcommands[] = {
	{"install", NULL, imgadm_install},
	{"list", NULL, imgadm_list},
	{"get", "info", imgadm_get},
	{"delete", "destroy", imgadm_delete},
	{"vacuum", NULL, imgadm_vacuum},
	{"ancestry", NULL, imgadm_ancestry},
	{"sources", NULL, imgadm_sources},
	{"avail", "available", imgadm_avail},
	{"show", NULL, imgadm_show},
	{"import", NULL, imgadm_import},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: imgadm [--help] [--version] COMMAND [ARGS...]\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %s\n", subcommands[i].name);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return IMGADM_USAGE;
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
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		const struct subcommand *c = &subcommands[i];
		if (!strcmp(argv[1], c->name) ||
		    (c->alias && !strcmp(argv[1], c->alias)))
			return c->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "imgadm: unknown command '%s' (see imgadm --help)\n",
		argv[1]);
	return IMGADM_USAGE;
}
