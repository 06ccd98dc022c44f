/*
 * imgadm - manage images in the hull pool, as SmartOS's imgadm does.
 */
#include <string.h>

#include "imgadm.h"
#include "lib/subcmd.h"

static const struct subcmd subcommands[] = {
    {"install", NULL, imgadm_install,
     "install an image from a manifest and file", 0},
    {"list", NULL, imgadm_list, "list installed images", 0},
    {"get", "info", imgadm_get, "print an installed image's info (alias info)",
     0},
    {"delete", "destroy", imgadm_delete,
     "delete an installed image (alias destroy)", 0},
    {"vacuum", NULL, imgadm_vacuum, "delete images nothing uses", 0},
    {"ancestry", NULL, imgadm_ancestry, "show an image's origin chain", 0},
    {"sources", NULL, imgadm_sources, "list, add, delete image sources", 0},
    {"avail", "available", imgadm_avail,
     "list images the sources offer (alias available)", 0},
    {"show", NULL, imgadm_show, "print a manifest from the sources", 0},
    {"import", NULL, imgadm_import,
     "install an image from the sources, or a docker/OCI archive", 0},
    {"create", NULL, imgadm_create, "make an image from a stopped instance", 0},
};

/* -v (verbose) is accepted for compatibility; errors are always one line.
 * -E adds a JSON copy of the error. Both only before a command. */
static enum subcmd_opt option(const char *arg, int left)
{
	if (left == 0)
		return SUBCMD_OPT_STOP;
	if (!strcmp(arg, "-E")) {
		imgadm_json_errors = true;
		return SUBCMD_OPT_TAKEN;
	}
	if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose"))
		return SUBCMD_OPT_TAKEN;
	return SUBCMD_OPT_STOP;
}

static const struct subcmd_prog imgadm = {
    .name = "imgadm",
    .cmds = subcommands,
    .ncmds = sizeof(subcommands) / sizeof(subcommands[0]),
    .flags = SUBCMD_HELP_CMD | SUBCMD_LIST_NAMES,
    .usage_exit = IMGADM_USAGE,
    .usage_head = "usage: imgadm [--help] [--version] [-v] [-E] COMMAND "
		  "[ARGS...]\n"
		  "\n"
		  "Manages the images of the hull pool ($HULL_ROOT, default "
		  "/zones), as SmartOS's imgadm does.\n"
		  "\n"
		  "commands:\n",
    .usage_tail = "\n-E adds the error as a JSON object {code, message} on "
		  "the last line of stderr.\n`imgadm COMMAND --help` or "
		  "`imgadm help COMMAND` tells more. Exit status: 0 ok, 1 "
		  "error, 2 usage, 3 image not installed.\n",
    .unknown_prefix = "imgadm: unknown command '",
    .unknown_suffix = "' (see imgadm --help)",
    .option = option,
};

int main(int argc, char **argv)
{
	return subcmd_main(&imgadm, argc, argv);
}
