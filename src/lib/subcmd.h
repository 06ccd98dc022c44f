/*
 * subcmd.h - the one subcommand table and dispatcher of hull's CLIs (vmadm,
 * imgadm, fwadm).
 *
 * A program describes itself once, in a struct subcmd_prog: its commands
 * (name, alias, handler, usage line, flags), the head and tail of its usage
 * text, how it names an unknown command, and an optional hook for its own
 * global options (imgadm's -E, fwadm's -j). subcmd_main() then does what
 * every one of them did by hand:
 *
 *   prog [GLOBAL-OPTS] COMMAND [ARGS...]
 *
 *   - no COMMAND: the usage on stderr, exit usage_exit;
 *   - `help`, `-h`, `--help` (and the program's own help words): the usage
 *     on stdout, exit 0; `help COMMAND` with SUBCMD_HELP_CMD runs
 *     `COMMAND --help`;
 *   - `--version`: "NAME (hull) VERSION" on stdout, exit 0;
 *   - an unknown COMMAND: one line, unknown_prefix COMMAND unknown_suffix,
 *     on stderr, exit usage_exit;
 *   - with SUBCMD_SCAN_HELP, `COMMAND ... --help` (or -h) anywhere prints
 *     "cmd_help_prefix USAGE" on stdout (unless the command has
 *     SUBCMD_OWN_HELP);
 *   - the before() hook (a root check, say) runs right before the handler;
 *   - the handler gets argv from COMMAND on and returns the exit status.
 *
 * Nothing here allocates; the tables are static data of the program.
 */
#ifndef HULL_LIB_SUBCMD_H
#define HULL_LIB_SUBCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Flags of one command. */
enum {
	SUBCMD_ROOT = 1u << 0,	   /* the before() hook sees it: needs root */
	SUBCMD_OWN_HELP = 1u << 1, /* SUBCMD_SCAN_HELP leaves its -h alone */
	SUBCMD_HIDDEN = 1u << 2,   /* not listed in the usage */
};

struct subcmd {
	const char *name;
	const char *alias;		   /* another name for it, or NULL */
	int (*run)(int argc, char **argv); /* argv[0] is the command */
	const char *usage;		   /* its usage (or summary) line(s) */
	unsigned flags;
};

/* What a global-option hook answers. */
enum subcmd_opt {
	SUBCMD_OPT_STOP = 0,  /* not one of mine: the command starts here */
	SUBCMD_OPT_TAKEN = 1, /* taken, look at the next word */
	SUBCMD_OPT_HELP = 2,  /* a help word: print the usage on stdout */
};

/* Flags of a program. */
enum {
	/* `help COMMAND` runs `COMMAND --help` (imgadm). */
	SUBCMD_HELP_CMD = 1u << 0,
	/* `COMMAND ... --help|-h` prints cmd_help_prefix + the command's
	 * usage on stdout and exits 0 (vmadm). */
	SUBCMD_SCAN_HELP = 1u << 1,
	/* A leading word that starts with '-' and that option() does not
	 * take is a usage error "NAME: unknown option 'X' (see NAME
	 * --help)" (fwadm); without it, it is taken as the command. */
	SUBCMD_STRICT_OPTS = 1u << 2,
	/* Usage lines are "  %-10s %s" of name and usage (imgadm); without
	 * it "  " list_prefix usage. */
	SUBCMD_LIST_NAMES = 1u << 3,
};

struct subcmd_prog {
	const char *name; /* "imgadm": --version, unknown options */
	const struct subcmd *cmds;
	size_t ncmds;
	unsigned flags;
	int usage_exit; /* the exit status of a usage error (2) */
	/* The usage text: head, one line per command, tail. */
	const char *usage_head;
	const char *list_prefix; /* before each usage line, may be NULL */
	const char *usage_tail;	 /* may be NULL */
	/* An unknown command prints prefix COMMAND suffix "\n". */
	const char *unknown_prefix, *unknown_suffix;
	/* SUBCMD_SCAN_HELP: printed before a command's usage line. */
	const char *cmd_help_prefix;
	/* The program's own global options before the command, or NULL.
	 * left: how many words follow arg. */
	enum subcmd_opt (*option)(const char *arg, int left);
	/* Runs before the handler of c; returns -1 to go on or an exit
	 * status to stop with (it prints why). May be NULL. */
	int (*before)(const struct subcmd *c);
};

/* Dispatches argv as described above; returns the exit status. */
int subcmd_main(const struct subcmd_prog *p, int argc, char **argv);

/* The command named or aliased name, or NULL. */
const struct subcmd *subcmd_find(const struct subcmd_prog *p, const char *name);

/* Prints the program's whole usage to f. */
void subcmd_usage(const struct subcmd_prog *p, FILE *f);

/* A usage error as every CLI prints it: "PROG: MESSAGE (see HINT)" on
 * stderr (without the parenthesis when hint is NULL); returns 2, the
 * usage exit status. */
int subcmd_usage_error(const char *prog, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
