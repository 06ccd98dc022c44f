/*
 * hull-metadata - serve one instance's metadata channel standalone.
 *
 * The supervisor embeds the same server core (src/metadata/server.h) for
 * every running instance; this program exists so an operator can test a
 * channel by hand and so the tests can drive the server and the guest
 * tools without a running instance. It serves the record file it is given
 * on a unix socket, a serial device, or a new pty standing in for a VM's
 * COM2, until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvm/com2.h"
#include "lib/err.h"
#include "lib/xalloc.h"
#include "metadata/channel.h"
#include "metadata/peer.h"
#include "metadata/server.h"
#include "metadata/store.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: hull-metadata serve --record FILE [--socket PATH] "
	    "[--serial PATH]\n"
	    "                           [--max-connections N]\n"
	    "       hull-metadata --help | --version\n"
	    "Serves the SmartOS metadata protocol for the instance record "
	    "FILE\n"
	    "(an instance's config/vm.json) until SIGINT or SIGTERM.\n"
	    "  --socket PATH   listen on a unix socket at PATH (a zone's "
	    "channel)\n"
	    "  --serial PATH   serve a serial device at PATH; when PATH does "
	    "not exist,\n"
	    "                  create a pty and link PATH to its guest end "
	    "(a VM's COM2);\n"
	    "                  when PATH is a unix socket (QEMU's COM2), "
	    "connect to it\n"
	    "  --max-connections N  accepted socket connections at once "
	    "(default 64)\n");
}

static void log_line(void *ctx, const char *msg)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "level", "warn", "record",
			      (const char *)ctx, "msg", msg);
	char *s = json_dumps(j, JSON_COMPACT);
	if (s)
		fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(j);
}

struct serial {
	int fd;	   /* what the server reads and writes */
	int guest; /* our hold on a pty's guest end, or -1 */
	bool made_link;
};

static int open_serial(const char *path, struct serial *s, struct hull_err *err)
{
	char target[64];
	bool old_link = false;
	struct stat st;

	s->guest = -1;
	s->made_link = false;
	/* A link to a pty is a stand-in left by an earlier run: its pty is
	 * gone (or, worse, its number now belongs to someone else's), so it
	 * is replaced by a new one rather than opened. */
	ssize_t tl = readlink(path, target, sizeof(target) - 1);
	if (tl > 0) {
		target[tl] = '\0';
		old_link = !strncmp(target, "/dev/pts/", 9);
	}
	if (!old_link && stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		/* An emulator's COM2 that listens (QEMU's -chardev socket,
		 * server=on): connect and serve the stream. */
		s->fd = hvm_com2_connect(path, 0, err);
		return s->fd < 0 ? s->fd : 0;
	}
	if (!old_link && stat(path, &st) == 0) {
		s->fd = metadata_channel_open_tty(path, err);
		return s->fd < 0 ? s->fd : 0;
	}
	char *name;
	s->fd = metadata_channel_pty(&s->guest, &name, err);
	if (s->fd < 0)
		return s->fd;
	char *tmp = xasprintf("%s.tmp%d", path, (int)getpid());
	int r = 0;
	if (symlink(name, tmp) < 0 || rename(tmp, path) < 0) {
		r = hull_err_sys(err, errno, "link %s to %s", path, name);
		unlink(tmp);
		close(s->fd);
		close(s->guest);
		s->fd = s->guest = -1;
	}
	free(tmp);
	free(name);
	s->made_link = r == 0;
	return r;
}

/* Standalone there is no instance to belong to: the socket serves host
 * root and the user running hull-metadata, nobody else (peer.h). */
static bool peer_ok(void *ctx, int fd)
{
	uid_t uid;
	return metadata_peer_allowed(fd, NULL, &uid, NULL) || uid == geteuid();
}

static int serve(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"record", required_argument, NULL, 'r'},
	    {"socket", required_argument, NULL, 's'},
	    {"serial", required_argument, NULL, 'S'},
	    {"max-connections", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *record = NULL, *sock_path = NULL, *serial_path = NULL;
	struct metadata_server_limits lim;
	struct hull_err err = {0};
	int c;

	metadata_server_limits_default(&lim);
	opterr = 0; /* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			record = optarg;
			break;
		case 's':
			sock_path = optarg;
			break;
		case 'S':
			serial_path = optarg;
			break;
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v == 0 || v > 4096) {
				fprintf(stderr,
					"hull-metadata: "
					"--max-connections: not a "
					"number from 1 to 4096: %s\n",
					optarg);
				return EXIT_USAGE;
			}
			lim.max_conns = (unsigned)v;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr,
				"hull-metadata: option '%s' needs a value\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr,
				"hull-metadata: unknown option '%s' (see "
				"hull-metadata --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (!record || (!sock_path && !serial_path) || optind != argc) {
		fprintf(stderr, "hull-metadata: serve needs --record and "
				"--socket or --serial (see hull-metadata "
				"--help)\n");
		return EXIT_USAGE;
	}

	struct metadata_file_store *fs = metadata_file_store_new(record);
	struct metadata_store store;
	metadata_file_store_bind(fs, &store);
	json_t *probe = store.read(store.ctx, &err);
	if (!probe) {
		fprintf(stderr, "hull-metadata: %s\n", err.msg);
		metadata_file_store_free(fs);
		return 1;
	}
	json_decref(probe);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	int rc = 1, sfd = -1, ep = -1;
	struct serial ser = {.fd = -1, .guest = -1};
	bool made_sock = false;
	struct metadata_server *srv = metadata_server_new(&store, &lim, &err);
	if (!srv)
		goto out;
	metadata_server_set_log(srv, log_line, (void *)record);
	metadata_server_set_peer_check(srv, peer_ok, NULL);
	if (sock_path) {
		int fd = metadata_channel_listen(sock_path, &err);
		if (fd < 0)
			goto out;
		made_sock = true;
		if (metadata_server_add_listener(srv, fd, &err) < 0)
			goto out;
	}
	if (serial_path) {
		if (open_serial(serial_path, &ser, &err) < 0)
			goto out;
		int fd = ser.fd;
		ser.fd = -1; /* the server owns it now */
		if (metadata_server_add_stream(srv, fd, &err) < 0)
			goto out;
	}
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0) {
		hull_err_sys(&err, errno, "event loop");
		goto out;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = sfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = metadata_server_fd(srv);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	for (;;) {
		struct epoll_event got[2];
		int n = epoll_wait(ep, got, 2, -1);
		if (n < 0 && errno != EINTR) {
			hull_err_sys(&err, errno, "event loop");
			goto out;
		}
		bool stop = false;
		for (int i = 0; i < n; i++) {
			if (got[i].data.fd == sfd)
				stop = true;
			else if (metadata_server_run(srv, 0, &err) < 0)
				goto out;
		}
		if (stop)
			break;
	}
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "hull-metadata: %s\n", err.msg);
	metadata_server_free(srv);
	if (made_sock)
		unlink(sock_path);
	if (ser.made_link)
		unlink(serial_path);
	if (ser.fd >= 0)
		close(ser.fd);
	if (ser.guest >= 0)
		close(ser.guest);
	if (sfd >= 0)
		close(sfd);
	if (ep >= 0)
		close(ep);
	metadata_file_store_free(fs);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("hull-metadata (hull) %s\n", HULL_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "serve"))
		return serve(argc - 1, argv + 1);
	fprintf(stderr,
		"hull-metadata: unknown command '%s' (see hull-metadata "
		"--help)\n",
		argv[1]);
	return EXIT_USAGE;
}
