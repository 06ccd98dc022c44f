/*
 * imgadm.h - the subcommands of imgadm, one function each. main.c parses the
 * global options and dispatches (lib/subcmd.h); local.c has the commands
 * that work on the pool alone, remote.c those that talk to image sources,
 * events.c the lines for the library's events, util.c what they share.
 * The transactions themselves (install, import, delete, vacuum, get, list,
 * show) are the image library's (include/hull/image.h): each command
 * parses, calls, prints.
 *
 * Each returns the process exit code: 0 ok, 1 error, 2 usage, 3 image not
 * installed (SmartOS's ImageNotInstalled), after printing one line to stderr.
 */
#ifndef HULL_CMD_IMGADM_H
#define HULL_CMD_IMGADM_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "hull/image.h"
#include "lib/err.h"
#include "lib/table.h"
#include "pool/pool.h"

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

/* create.c: `imgadm create` of a stopped instance. */
int imgadm_create(int argc, char **argv);

/* events.c: what the library tells (hull/image.h), printed as imgadm
 * prints it for the command cmd. */
enum imgadm_ev_cmd {
	IMGADM_EV_INSTALL,
	IMGADM_EV_IMPORT,
	IMGADM_EV_VACUUM,
};
struct imgadm_events {
	enum imgadm_ev_cmd cmd;
	bool quiet;   /* -q: no success lines */
	bool tty;     /* stderr is a terminal: download progress */
	int last_pct; /* of the download of uuid */
	char uuid[40];
	struct hull_image_events ev;
};
/* Fills and returns e->ev, for the library calls. */
const struct hull_image_events *imgadm_events(struct imgadm_events *e);

/* util.c */

/* -E: after an error line, print it again as {"code", "message"}. */
extern bool imgadm_json_errors;

/* Prints "imgadm: MSG" and returns the exit code for err (3 when an image
 * is not installed). */
int imgadm_fail(const struct hull_err *err);

/* The one warning line for device nodes an unpack left out (none: no
 * line). */
void imgadm_warn_nodes(uint64_t n);
/* Prints "imgadm CMD: MSG (see imgadm CMD --help)" and returns 2. */
int imgadm_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints a subcommand's help to stdout; returns 0. */
int imgadm_help(const char *text);
/* The long options of a subcommand that has only --help. */
extern const struct option imgadm_help_only[];
/* The usage line for what getopt_long returned as opt ('?' or ':'). */
int imgadm_bad_option(const char *cmd, int opt, char **argv);

/* The lookup that gives `list`/`avail` their computed fields (pub,
 * published, clones, size, source, docker_*) over info objects
 * {"manifest", "source", ...}. */
extern const struct table_view imgadm_view;

/* The options every listing command shares: -j, -H, -p, -o, -s. */
struct imgadm_list_opts {
	const char *columns, *sort; /* sort NULL: no sorting */
	unsigned flags;		    /* TABLE_NO_HEADER, TABLE_PARSABLE */
	bool json;
};

/* Takes getopt's c when it is one of the shared listing options; returns
 * false for any other option. */
bool imgadm_list_option(struct imgadm_list_opts *o, int c, char *arg);

/* Checks -o, -s and the FIELD=VALUE filters; prints a usage line for cmd
 * and returns 2 when one is wrong, else 0. */
int imgadm_list_check(const char *cmd, const struct imgadm_list_opts *o,
		      char **filters, int nfilters);

/* Filters, sorts and prints a list of info objects: as a table of columns
 * or, with -j, as a JSON array. Returns an exit code. */
int imgadm_print_list(json_t *infos, char **filters, int nfilters,
		      const struct imgadm_list_opts *o);

#endif
