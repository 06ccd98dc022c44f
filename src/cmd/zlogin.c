/*
 * zlogin - run a command inside a zone, or attach to its console
 * (docs/zlogin.md).
 *
 *   zlogin [-t|-T] UUID [COMMAND [ARG...]]
 *   zlogin -C UUID
 *
 * It first re-executes itself from a sealed memfd copy (zone/sealed.h), so
 * the program the zone could ever see is that copy, never the host file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "supervisor/client.h"
#include "zone/config.h"
#include "zone/exec.h"
#include "zone/sealed.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zlogin [-t | -T] UUID [COMMAND [ARG...]]\n"
		"       zlogin -C UUID\n"
		"Runs COMMAND (default: a login shell) inside the zone UUID.\n"
		"  -t  allocate a pty even when stdin is not a terminal\n"
		"  -T  never allocate a pty\n"
		"  -C  attach to the zone's console (detach with ^])\n");
}

static struct termios saved;
static bool raw_on;

static void tty_raw(int fd)
{
	struct termios t;
	if (tcgetattr(fd, &saved) < 0)
		return;
	t = saved;
	cfmakeraw(&t);
	if (tcsetattr(fd, TCSANOW, &t) == 0)
		raw_on = true;
}

static void tty_restore(int fd)
{
	if (raw_on)
		tcsetattr(fd, TCSANOW, &saved);
	raw_on = false;
}

static int console(const char *uuid)
{
	struct hull_err err = {0};
	if (!zone_is_running(uuid)) {
		fprintf(stderr, "zlogin: zone %s is not running\n", uuid);
		return 1;
	}
	fprintf(stderr, "[Connected to zone '%s' console]\n", uuid);
	bool tty = isatty(0);
	if (tty)
		tty_raw(0);
	int r = zone_console_attach(uuid, 0, 1, &err);
	if (tty)
		tty_restore(0);
	fprintf(stderr, "\n[Connection to zone '%s' console closed]\n", uuid);
	if (r < 0) {
		fprintf(stderr, "zlogin: %s\n", err.msg);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct hull_err err = {0};
	if (!zone_exe_is_sealed()) {
		zone_exe_reexec_sealed(argv, &err);
		fprintf(stderr, "zlogin: %s\n", err.msg);
		return 1;
	}
	/* Closed stdio would be reused by the descriptors we open and then
	 * relayed to: make each /dev/null. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 &&
		    open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			return 1;
	int force_tty = -1, c;
	bool cons = false;
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	opterr = 0; /* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, "+tTCh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			force_tty = 1;
			break;
		case 'T':
			force_tty = 0;
			break;
		case 'C':
			cons = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(
			    stderr,
			    "zlogin: unknown option '%s' (see zlogin --help)\n",
			    argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *uuid = argv[optind++];
	if (!hull_uuid_valid(uuid)) {
		fprintf(stderr, "zlogin: not a uuid: %s\n", uuid);
		return 2;
	}
	if (cons)
		return console(uuid);

	static char *shell[] = {"/bin/sh", "-l", NULL};
	char **cmd = optind < argc ? argv + optind : shell;
	bool tty = force_tty >= 0 ? force_tty : isatty(0);
	const char *term = getenv("TERM");
	char *envp[] = {
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/"
	    "bin:" ZONE_TOOLS_DIR,
	    "HOME=/root",
	    "USER=root",
	    "LOGNAME=root",
	    "container=hull",
	    xasprintf("TERM=%s", term && *term ? term : "vt100"),
	    NULL,
	};
	struct zone_exec_opts o = {.uuid = uuid,
				   .argv = cmd,
				   .envp = envp,
				   .tty = tty,
				   .in_fd = 0,
				   .out_fd = 1,
				   .err_fd = 2};
	bool raw = tty && isatty(0);
	if (raw)
		tty_raw(0);
	int r = zone_exec(&o, &err);
	if (raw)
		tty_restore(0);
	free(envp[5]);
	if (r < 0) {
		fprintf(stderr, "zlogin: %s\n", err.msg);
		return 1;
	}
	return r;
}
