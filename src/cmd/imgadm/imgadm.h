/*
 * imgadm.h - the subcommands of imgadm, one function each. main.c parses the
 * global options and dispatches; local.c has the commands that work on the
 * pool alone, remote.c those that talk to image sources.
 *
 * Each returns the process exit code: 0 ok, 1 error, 2 usage, 3 image not
 * installed (SmartOS's ImageNotInstalled), after printing one line to stderr.
 */
#ifndef HULL_CMD_IMGADM_H
#define HULL_CMD_IMGADM_H

enum imgadm_exit {
	IMGADM_OK = 0,
	IMGADM_ERROR = 1,
	IMGADM_USAGE = 2,
	IMGADM_NOT_INSTALLED = 3,
};

/* local.c */
int imgadm_install(int argc, char **argv);
int imgadm_list(int argc, char **argv);
int imgadm_get(int argc, char **argv);
int imgadm_delete(int argc, char **argv);
int imgadm_vacuum(int argc, char **argv);
int imgadm_ancestry(int argc, char **argv);

/* remote.c */
int imgadm_sources(int argc, char **argv);
int imgadm_avail(int argc, char **argv);
int imgadm_show(int argc, char **argv);
int imgadm_import(int argc, char **argv);

#endif
