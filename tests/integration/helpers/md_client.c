/*
 * md_client - a tiny static metadata client the metadata access tests run
 * on the host (as an unprivileged user) and copy into zones:
 *
 *   md_client send PATH LINE [UID]
 *       (as UID, when given) connects to the unix socket PATH, sends LINE
 *       and a newline, and prints "answer: <first line>" or "closed"
 *       when the server hangs up without an answer; "connect: <errno>"
 *       when it cannot connect.
 *   md_client flood PATH CONNS SECONDS LINE
 *       opens CONNS connections and, for SECONDS, pipelines LINE on each
 *       without ever reading an answer; prints "open=N closed=M" (closed:
 *       connections the server hung up on).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("connect: %s\n", strerror(errno));
		exit(0);
	}
	return fd;
}

static int do_send(const char *path, const char *line)
{
	int fd = dial(path);
	char buf[4096];
	size_t got = 0;
	if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0) {
		printf("closed\n");
		return 0;
	}
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 10000) <= 0) {
			printf("no answer\n");
			return 0;
		}
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0) {
			printf(got ? "answer: %.*s\n" : "closed\n", (int)got,
			       buf);
			return 0;
		}
		got += (size_t)n;
		char *nl = memchr(buf, '\n', got);
		if (nl || got == sizeof(buf) - 1) {
			printf("answer: %.*s\n", (int)(nl ? nl - buf : got),
			       buf);
			return 0;
		}
	}
}

static int do_flood(const char *path, int conns, int seconds, const char *line)
{
	int *fd = calloc((size_t)conns, sizeof(int));
	char *closed = calloc((size_t)conns, 1);
	size_t len = strlen(line);
	char *req = malloc(len + 1);
	memcpy(req, line, len);
	req[len++] = '\n';
	for (int i = 0; i < conns; i++) {
		fd[i] = dial(path);
		fcntl(fd[i], F_SETFL, O_NONBLOCK);
	}
	time_t end = time(NULL) + seconds;
	while (time(NULL) < end) {
		for (int i = 0; i < conns; i++) {
			for (int k = 0; k < 64 && !closed[i]; k++) {
				ssize_t n = send(fd[i], req, len, MSG_NOSIGNAL);
				if (n >= 0)
					continue;
				if (errno != EAGAIN)
					closed[i] = 1;
				break;
			}
		}
		usleep(1000);
	}
	int nclosed = 0;
	for (int i = 0; i < conns; i++)
		nclosed += closed[i];
	printf("open=%d closed=%d\n", conns - nclosed, nclosed);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 4 && !strcmp(argv[1], "send")) {
		if (argc == 5) {
			uid_t u = (uid_t)atoi(argv[4]);
			if (setgroups(0, NULL) < 0 || setgid(u) < 0 ||
			    setuid(u) < 0) {
				printf("setuid: %s\n", strerror(errno));
				return 1;
			}
		}
		return do_send(argv[2], argv[3]);
	}
	if (argc == 6 && !strcmp(argv[1], "flood"))
		return do_flood(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5]);
	fprintf(stderr, "usage: md_client send PATH LINE [UID] | flood PATH "
			"CONNS SECONDS LINE\n");
	return 2;
}
