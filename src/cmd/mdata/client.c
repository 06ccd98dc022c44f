/*
 * client.c - the guest side of the metadata protocol (see client.h).
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "metadata/b64.h"

/* Timeouts of SmartOS's mdata-client: an answer before V2 is agreed must
 * come within 6 s, one after within 45 s. */
#define TIMEOUT_INIT_MS 6000
#define TIMEOUT_V2_MS 45000
/* Longest answer line accepted (a value is base64-encoded once). */
#define RESPONSE_MAX (16u << 20)

static const char *const zone_sockets[] = {
    "/native/.zonecontrol/metadata.sock",
    "/.zonecontrol/metadata.sock",
    "/var/run/smartdc/metadata.sock",
    NULL,
};
#define SERIAL_DEVICE "/dev/ttyS1"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one line (without LF) into a new buffer by deadline. Returns 0,
 * 1 on timeout, -1 on error or EOF. */
static int read_line(struct mdata_client *c, long long deadline, char **line,
		     size_t *len)
{
	for (;;) {
		char *nl = c->rbuf.len ? memchr(c->rbuf.data, '\n', c->rbuf.len)
				       : NULL;
		if (nl) {
			*len = (size_t)(nl - c->rbuf.data);
			*line = malloc(*len + 1);
			if (!*line)
				abort();
			memcpy(*line, c->rbuf.data, *len);
			(*line)[*len] = '\0';
			metadata_buf_consume(&c->rbuf, *len + 1);
			return 0;
		}
		if (c->rbuf.len > RESPONSE_MAX) {
			errno = EMSGSIZE;
			return -1;
		}
		long long left = deadline - now_ms();
		if (left <= 0)
			return 1;
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r <= 0)
			continue;
		char buf[65536];
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ECONNRESET;
			return -1;
		}
		metadata_buf_append(&c->rbuf, buf, (size_t)n);
	}
}

static int open_socket(struct mdata_client *c, const char *path, char *why,
		       size_t whylen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(why, whylen, "connect to %s: %s", path,
			 strerror(errno));
		return -1;
	}
	c->serial = false;
	return 0;
}

static int open_serial(struct mdata_client *c, const char *path, char *why,
		       size_t whylen)
{
	struct termios t;
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	c->serial = true;
	c->fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->fd < 0) {
		snprintf(why, whylen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	/* One client at a time on the port: the protocol has no way to tell
	 * two interleaved conversations apart (cloud-init locks it too). */
	while (fcntl(c->fd, F_SETLKW, &lk) < 0) {
		if (errno != EINTR) {
			snprintf(why, whylen, "lock %s: %s", path,
				 strerror(errno));
			return -1;
		}
	}
	if (tcgetattr(c->fd, &t) == 0) {
		cfmakeraw(&t);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 1;
		if (tcsetattr(c->fd, TCSAFLUSH, &t) < 0) {
			snprintf(why, whylen, "%s: raw mode: %s", path,
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Serial only: drop stale input, then send bare newlines until the host
 * answers "invalid command", so both ends agree where a line starts. */
static int serial_sync(struct mdata_client *c, char *why, size_t whylen)
{
	long long deadline = now_ms() + TIMEOUT_INIT_MS;
	char *line;
	size_t len;

	for (;;) {
		int r = read_line(c, now_ms() + 100, &line, &len);
		if (r == 1)
			break;
		if (r < 0)
			goto fail;
		free(line);
	}
	metadata_buf_fini(&c->rbuf);
	int sent = 0, answered = 0;
	while (!answered && now_ms() < deadline) {
		if (write_all(c->fd, "\n", 1) < 0)
			goto fail;
		sent++;
		long long step = now_ms() + 1000;
		int r = read_line(c, step < deadline ? step : deadline, &line,
				  &len);
		if (r < 0)
			goto fail;
		if (r == 0) {
			answered = !strcmp(line, "invalid command");
			free(line);
		}
	}
	if (!answered) {
		snprintf(why, whylen,
			 "no answer from the metadata service on %s", c->path);
		return -1;
	}
	/* Every newline sent gets its own answer. A host that was slow to
	 * answer the first has the others on their way, and one of those
	 * must not be taken for the answer to NEGOTIATE: collect them, or
	 * give up on them after a quiet half second. */
	while (answered < sent) {
		int r = read_line(c, now_ms() + 500, &line, &len);
		if (r == 1)
			break;
		if (r < 0)
			goto fail;
		answered += !strcmp(line, "invalid command");
		free(line);
	}
	return 0;
fail:
	snprintf(why, whylen, "%s: %s", c->path, strerror(errno));
	return -1;
}

static int negotiate(struct mdata_client *c, char *why, size_t whylen)
{
	char *line;
	size_t len;
	if (write_all(c->fd, "NEGOTIATE V2\n", 13) < 0) {
		snprintf(why, whylen, "%s: %s", c->path, strerror(errno));
		return -1;
	}
	int r = read_line(c, now_ms() + TIMEOUT_INIT_MS, &line, &len);
	if (r) {
		snprintf(why, whylen, "%s: %s", c->path,
			 r > 0 ? "timed out negotiating" : strerror(errno));
		return -1;
	}
	c->version = strcmp(line, "V2_OK") ? 1 : 2;
	free(line);
	return 0;
}

int mdata_client_open(struct mdata_client *c, char *why, size_t whylen)
{
	const char *sock = getenv("HULL_MDATA_SOCKET");
	const char *serial = getenv("HULL_MDATA_SERIAL");
	struct stat st;
	int r;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (!sock && !serial) {
		for (const char *const *p = zone_sockets; *p; p++)
			if (stat(*p, &st) == 0 && S_ISSOCK(st.st_mode)) {
				sock = *p;
				break;
			}
		if (!sock)
			serial = SERIAL_DEVICE;
	}
	snprintf(c->path, sizeof(c->path), "%s", sock ? sock : serial);
	if (sock)
		r = open_socket(c, c->path, why, whylen);
	else
		r = open_serial(c, c->path, why, whylen);
	if (r == 0 && c->serial)
		r = serial_sync(c, why, whylen);
	if (r == 0)
		r = negotiate(c, why, whylen);
	return r;
}

void mdata_client_close(struct mdata_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	metadata_buf_fini(&c->rbuf);
}

char *mdata_put_arg(const char *key, const char *value, size_t vlen,
		    size_t *len)
{
	size_t klen = strlen(key);
	size_t ke = metadata_b64_encoded_len(klen);
	size_t ve = metadata_b64_encoded_len(vlen);
	char *s = malloc(ke + 1 + ve + 1);
	if (!s)
		abort();
	metadata_b64_encode(key, klen, s);
	s[ke] = ' ';
	metadata_b64_encode(value, vlen, s + ke + 1);
	*len = ke + 1 + ve;
	s[*len] = '\0';
	return s;
}

/* V1: "SUCCESS" then dot-stuffed lines up to a lone ".". */
static int call_v1(struct mdata_client *c, const char *op, const char *arg,
		   size_t arglen, enum metadata_status *st, char **data,
		   size_t *len, char *why, size_t whylen)
{
	struct metadata_buf req = {0}, val = {0};
	long long deadline = now_ms() + TIMEOUT_V2_MS;
	char *line;
	size_t n;
	int r;

	if (memchr(arg, '\n', arglen)) {
		snprintf(why, whylen, "a key with a newline needs protocol V2");
		return -1;
	}
	metadata_buf_puts(&req, op);
	if (arglen) {
		metadata_buf_append(&req, " ", 1);
		metadata_buf_append(&req, arg, arglen);
	}
	metadata_buf_append(&req, "\n", 1);
	r = write_all(c->fd, req.data, req.len);
	metadata_buf_fini(&req);
	if (r < 0 || (r = read_line(c, deadline, &line, &n)) != 0)
		goto io;
	*st = METADATA_FAILURE;
	if (!strcmp(line, "NOTFOUND"))
		*st = METADATA_NOTFOUND;
	if (strcmp(line, "SUCCESS")) {
		if (!strcmp(line, "invalid command"))
			metadata_buf_puts(&val, "host does not support this");
		free(line);
		goto done;
	}
	free(line);
	*st = METADATA_SUCCESS;
	bool first = true;
	for (;;) {
		if ((r = read_line(c, deadline, &line, &n)) != 0)
			goto io;
		if (!strcmp(line, ".")) {
			free(line);
			break;
		}
		if (!first)
			metadata_buf_append(&val, "\n", 1);
		first = false;
		metadata_buf_append(&val, line + (line[0] == '.'),
				    n - (line[0] == '.'));
		free(line);
	}
done:
	if (!val.data)
		metadata_buf_append(&val, "", 0);
	*data = val.data;
	*len = val.len;
	return 0;
io:
	metadata_buf_fini(&val);
	snprintf(why, whylen, "%s: %s", c->path,
		 r > 0 ? "timed out waiting for an answer" : strerror(errno));
	return -1;
}

static int call_once(struct mdata_client *c, const char *op, const char *arg,
		     size_t arglen, enum metadata_status *st, char **data,
		     size_t *len, char *why, size_t whylen)
{
	struct metadata_buf req = {0};
	long long deadline = now_ms() + TIMEOUT_V2_MS;
	unsigned int rnd;
	char reqid[9];

	if (c->version < 2)
		return call_v1(c, op, arg, arglen, st, data, len, why, whylen);
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (unsigned)now_ms() ^ (unsigned)getpid();
	snprintf(reqid, sizeof(reqid), "%08x", rnd);
	metadata_frame_v2(&req, reqid, op, arg, arglen);
	int r = write_all(c->fd, req.data, req.len);
	metadata_buf_fini(&req);
	if (r < 0) {
		snprintf(why, whylen, "%s: %s", c->path, strerror(errno));
		return -1;
	}
	for (;;) {
		struct metadata_response resp;
		char *line;
		size_t n;
		r = read_line(c, deadline, &line, &n);
		if (r) {
			snprintf(why, whylen, "%s: %s", c->path,
				 r > 0 ? "timed out waiting for an answer"
				       : strerror(errno));
			return -1;
		}
		if (!strcmp(line, "invalid command")) {
			free(line);
			snprintf(why, whylen, "the host rejected the request");
			return -1;
		}
		/* A frame for another request id (a stale answer after a
		 * resync) or line noise is dropped, as mdata-client does. */
		r = metadata_response_parse(line, n, &resp);
		free(line);
		if (r < 0)
			continue;
		if (strcmp(resp.reqid, reqid)) {
			metadata_response_fini(&resp);
			continue;
		}
		*st = resp.status;
		*data = resp.payload;
		*len = resp.payload_len;
		return 0;
	}
}

int mdata_client_call(struct mdata_client *c, const char *op, const char *arg,
		      size_t arglen, enum metadata_status *st, char **data,
		      size_t *len, char *why, size_t whylen)
{
	/* As mdata-client does: when the exchange breaks (the host went away
	 * or restarted, the line lost sync), open the channel afresh, resync,
	 * renegotiate and ask once more. Every request is safe to repeat. */
	if (call_once(c, op, arg, arglen, st, data, len, why, whylen) == 0)
		return 0;
	mdata_client_close(c);
	if (mdata_client_open(c, why, whylen) < 0)
		return -1;
	return call_once(c, op, arg, arglen, st, data, len, why, whylen);
}
