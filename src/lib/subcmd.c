/*
 * subcmd.c - the dispatcher of hull's CLIs (see subcmd.h for the rules).
 *
 * The order of the checks is the one vmadm, imgadm and fwadm had before
 * they shared this file: global options and help words first, then the
 * command, then its own --help, then the before() hook. Their tests assert
 * the exact lines, so a change here is a change of three programs.
 */
#include <stdarg.h>
#include <string.h>

#include "lib/subcmd.h"

const struct subcmd *subcmd_find(const struct subcmd_prog *p, const char *name)
{
	for (size_t i = 0; i < p->ncmds; i++) {
		const struct subcmd *c = &p->cmds[i];
		if (!strcmp(name, c->name) ||
		    (c->alias && !strcmp(name, c->alias)))
			return c;
	}
	return NULL;
}

void subcmd_usage(const struct subcmd_prog *p, FILE *f)
{
	fputs(p->usage_head, f);
	for (size_t i = 0; i < p->ncmds; i++) {
		const struct subcmd *c = &p->cmds[i];
		if (c->flags & SUBCMD_HIDDEN)
			continue;
		if (p->flags & SUBCMD_LIST_NAMES)
			fprintf(f, "  %-10s %s\n", c->name, c->usage);
		else
			fprintf(f, "  %s%s\n",
				p->list_prefix ? p->list_prefix : "", c->usage);
	}
	if (p->usage_tail)
		fputs(p->usage_tail, f);
}

static bool is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

int subcmd_main(const struct subcmd_prog *p, int argc, char **argv)
{
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (is_help(a)) {
			subcmd_usage(p, stdout);
			return 0;
		}
		if (!strcmp(a, "--version")) {
			printf("%s (hull) %s\n", p->name, HULL_VERSION);
			return 0;
		}
		enum subcmd_opt r =
		    p->option ? p->option(a, argc - i - 1) : SUBCMD_OPT_STOP;
		if (r == SUBCMD_OPT_TAKEN)
			continue;
		if (r == SUBCMD_OPT_HELP) {
			subcmd_usage(p, stdout);
			return 0;
		}
		if ((p->flags & SUBCMD_STRICT_OPTS) && a[0] == '-') {
			fprintf(stderr,
				"%s: unknown option '%s' (see %s --help)\n",
				p->name, a, p->name);
			return p->usage_exit;
		}
		break;
	}
	if (i >= argc) {
		subcmd_usage(p, stderr);
		return p->usage_exit;
	}
	const char *name = argv[i];
	if (!strcmp(name, "help")) {
		const struct subcmd *h = NULL;
		if ((p->flags & SUBCMD_HELP_CMD) && i + 1 < argc)
			h = subcmd_find(p, argv[i + 1]);
		if (h) {
			char *hargv[] = {argv[i + 1], "--help", NULL};
			return h->run(2, hargv);
		}
		subcmd_usage(p, stdout);
		return 0;
	}
	const struct subcmd *c = subcmd_find(p, name);
	if (!c) {
		fprintf(stderr, "%s%s%s\n", p->unknown_prefix, name,
			p->unknown_suffix);
		return p->usage_exit;
	}
	if ((p->flags & SUBCMD_SCAN_HELP) && !(c->flags & SUBCMD_OWN_HELP))
		for (int k = i + 1; k < argc; k++)
			if (is_help(argv[k])) {
				printf("%s%s\n",
				       p->cmd_help_prefix ? p->cmd_help_prefix
							  : "",
				       c->usage);
				return 0;
			}
	if (p->before) {
		int rc = p->before(c);
		if (rc >= 0)
			return rc;
	}
	return c->run(argc - i, argv + i);
}

int subcmd_usage_error(const char *prog, const char *hint, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (hint)
		fprintf(stderr, " (see %s)", hint);
	fputc('\n', stderr);
	return 2;
}
