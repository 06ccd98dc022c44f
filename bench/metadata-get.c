/*
 * metadata-get.c - the two halves of bench/metadata-get that must not add
 * their own overhead: a one-client unix-socket line client that times
 * each round trip, and the anchor, a plain line echo server on the same
 * kind of socket.
 *
 *   metadata-get-helper echo PATH          serve echo on PATH until killed
 *   metadata-get-helper client PATH N LINE send LINE N times, one at a
 *                                          time; print median and p99 round
 *                                          trip in µs and round trips/s
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un addr(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return sa;
}

static int echo(const char *path)
{
	struct sockaddr_un sa = addr(path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	unlink(path);
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 8)) {
		perror("echo: listen");
		return 1;
	}
	for (;;) {
		int c = accept(l, NULL, NULL);
		char buf[65536];
		ssize_t n;
		if (c < 0)
			continue;
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (write(c, buf, (size_t)n) != n)
				break;
		close(c);
	}
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int client(const char *path, int n, const char *line)
{
	struct sockaddr_un sa = addr(path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("client: connect");
		return 1;
	}
	size_t len = strlen(line);
	double *t = malloc(sizeof(double) * (size_t)n);
	char buf[65536];
	double start = now_us();
	for (int i = 0; i < n; i++) {
		double t0 = now_us();
		if (write(fd, line, len) != (ssize_t)len) {
			perror("client: write");
			return 1;
		}
		/* One answer line per request. */
		for (;;) {
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r <= 0) {
				fprintf(stderr, "client: connection lost\n");
				return 1;
			}
			if (buf[r - 1] == '\n')
				break;
		}
		t[i] = now_us() - t0;
	}
	double total = now_us() - start;
	qsort(t, (size_t)n, sizeof(double), cmp);
	printf("%.1f %.1f %.0f\n", t[n / 2], t[n * 99 / 100],
	       n / (total / 1e6));
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "echo"))
		return echo(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), argv[4]);
	fprintf(stderr, "usage: metadata-get-helper echo PATH | client PATH N "
			"LINE\n");
	return 2;
}
