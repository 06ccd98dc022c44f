/*
 * hull-agent - a compute node's agent for one pool (HULL_ROOT): joins a
 * head node once, then runs in the foreground (heartbeats, tasks through
 * the instance library, instance state pushed) until SIGINT or SIGTERM.
 *
 *   hull-agent join --head URL --token TOKEN [--insecure-tls]
 *   hull-agent
 *
 * Logs one JSON object a line on stderr; `join` prints one line.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "lib/cgroupfs.h"
#include "lib/root.h"

static volatile int stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hull-agent join --head URL --token TOKEN "
		   "[--insecure-tls]\n"
		   "       hull-agent\n");
}

static int fail(const char *msg)
{
	fprintf(stderr, "hull-agent: %s\n", msg);
	return 1;
}

static int cmd_join(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"head", required_argument, NULL, 'H'},
	    {"token", required_argument, NULL, 't'},
	    {"insecure-tls", no_argument, NULL, 'k'},
	    {NULL, 0, NULL, 0},
	};
	const char *head = NULL, *token = NULL;
	bool insecure = false;
	int o;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'H':
			head = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'k':
			insecure = true;
			break;
		default:
			fprintf(stderr, "hull-agent: unknown option '%s'\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (!head || !token || optind != argc) {
		fprintf(stderr, "hull-agent: join needs --head URL and --token "
				"TOKEN\n");
		return 2;
	}
	if (strncmp(head, "http://", 7) && strncmp(head, "https://", 8)) {
		fprintf(stderr, "hull-agent: --head must be an http:// or "
				"https:// URL\n");
		return 2;
	}
	struct hull_err err = {0};
	if (hull_root_check(&err) < 0)
		return fail(err.msg);
	struct agent_conf c;
	if (agent_join(head, token, insecure, &c, &err) < 0)
		return fail(err.msg);
	printf("Joined %s as server %s\n", c.head, c.server_uuid);
	agent_conf_fini(&c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "join"))
		return cmd_join(argc - 1, argv + 1);
	if (argc > 1) {
		fprintf(stderr, "hull-agent: unknown command %s (see --help)\n",
			argv[1]);
		return 2;
	}
	struct hull_err err = {0};
	if (hull_root_check(&err) < 0)
		return fail(err.msg);
	struct agent_conf c;
	if (agent_conf_load(&c, &err) < 0)
		return fail(err.msg);
	/* The image library's downloads from a self-signed head node. */
	if (c.insecure_tls)
		setenv("IMGADM_INSECURE", "1", 1);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	hull_root(); /* read once, before the threads */
	/* Under `ip netns exec` the cgroup hierarchies must be mounted
	 * again, which only a single-threaded process can do: now, before
	 * the threads start, or no instance's state reads right. */
	if (hull_cgroupfs_ensure(&err) < 0)
		agent_log("warn", NULL, "cgroups: %s", err.msg);
	hull_err_clear(&err);
	int r = agent_run(&c, &stop, &err);
	agent_conf_fini(&c);
	return r < 0 ? fail(err.msg) : 0;
}
