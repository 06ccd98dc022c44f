/*
 * hull-api - the head node daemon: CloudAPI for users (the real `triton`
 * CLI), IMGAPI for compute nodes, over HTTP or HTTPS (libmicrohttpd).
 *
 *   hull-api [--config FILE]
 *
 * Runs in the foreground until SIGINT or SIGTERM. Without --config it
 * serves the head node `hulladm setup` made for the pool (HULL_ROOT).
 * Logs one JSON object a line on stderr; the first says where it listens.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "head/admin.h"
#include "head/api.h"
#include "lib/xalloc.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: hull-api [--config FILE]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *config = NULL;
	int o;
	opterr = 0; /* one line of our own instead of getopt's */
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			free(config);
			config = xstrdup(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr,
				"hull-api: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "hull-api: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (!config)
		config = head_config_default_path();
	/* Block the signals before the server's thread starts, so that
	 * they reach sigwait here and nowhere else. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct hull_err err = {0};
	struct head_config c;
	struct store *s = NULL;
	struct api *a = NULL;
	int port = 0;
	if (head_config_load(config, &c, &err) < 0) {
		fprintf(stderr, "hull-api: %s\n", err.msg);
		free(config);
		return 1;
	}
	free(config);
	if (store_open(c.db, &s, &err) < 0 ||
	    api_start(&c, s, &a, &port, &err) < 0) {
		fprintf(stderr, "hull-api: %s\n", err.msg);
		store_close(s);
		head_config_fini(&c);
		return 1;
	}
	char *url = head_url(&c, port);
	char now[32];
	head_now_iso(now);
	fprintf(stderr,
		"{\"time\":\"%s\",\"level\":\"info\",\"msg\":\"listening\","
		"\"url\":\"%s\",\"port\":%d,\"db\":\"%s\"}\n",
		now, url, port, store_driver_name(s));
	free(url);
	int sig = 0;
	sigwait(&set, &sig);
	api_stop(a);
	store_close(s);
	head_config_fini(&c);
	return 0;
}
