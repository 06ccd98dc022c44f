/*
 * conf.c - the agent's credential (R/var/agent/agent.json), its HTTP
 * client (libcurl, one easy handle per thread), the join, and its log
 * lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent/agent.h"
#include "lib/fileio.h"
#include "lib/host.h"
#include "lib/json.h"
#include "lib/root.h"
#include "lib/xalloc.h"

void agent_log(const char *level, json_t *extra, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char now[40];
	size_t n = strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(now + n, sizeof(now) - n, ".%03dZ", (int)(tv.tv_usec / 1000));
	json_t *l = json_pack("{s:s, s:s, s:s, s:s}", "time", now, "name",
			      "hull-agent", "level", level, "msg", msg);
	if (extra)
		json_object_update(l, extra);
	char *s = json_dumps(l, JSON_COMPACT);
	fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(l);
}

void agent_conf_fini(struct agent_conf *c)
{
	free(c->head);
	free(c->key);
	c->head = c->key = NULL;
}

static char *conf_path(void)
{
	return hull_root_path("var/agent/agent.json");
}

int agent_conf_load(struct agent_conf *c, struct hull_err *err)
{
	_cleanup_free_ char *path = conf_path();
	if (!hull_path_exists(path))
		return hull_err_set(err, ENOENT,
				    "this node has not joined a head node: run "
				    "hull-agent join --head URL --token TOKEN");
	json_t *j = hull_json_load_file(path, err);
	if (!j)
		return -EINVAL;
	const char *head = hull_json_str(j, "head", NULL);
	const char *uuid = hull_json_str(j, "server_uuid", NULL);
	const char *key = hull_json_str(j, "key", NULL);
	if (!head || !uuid || strlen(uuid) != 36 || !key) {
		json_decref(j);
		return hull_err_set(err, EINVAL, "%s: incomplete", path);
	}
	memset(c, 0, sizeof(*c));
	c->head = xstrdup(head);
	memcpy(c->server_uuid, uuid, 37);
	c->key = xstrdup(key);
	c->insecure_tls = hull_json_bool(j, "insecure_tls", false);
	json_decref(j);
	return 0;
}

int agent_conf_save(const struct agent_conf *c, struct hull_err *err)
{
	_cleanup_free_ char *dir = hull_root_path("var/agent");
	_cleanup_free_ char *path = conf_path();
	int r = hull_mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	json_t *j = json_pack("{s:s, s:s, s:s, s:b}", "head", c->head,
			      "server_uuid", c->server_uuid, "key", c->key,
			      "insecure_tls", c->insecure_tls);
	r = hull_json_save_file(path, j, err); /* 0600 */
	json_decref(j);
	return r;
}

struct agent_http {
	CURL *curl;
	const struct agent_conf *c;
	char *buf;
	size_t len;
};

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
	struct agent_http *h = arg;
	size_t k = sz * n;
	/* Answers are small JSON; a head node that sends more is broken. */
	if (h->len + k > (8u << 20))
		return 0;
	h->buf = xrealloc(h->buf, h->len + k + 1);
	memcpy(h->buf + h->len, p, k);
	h->len += k;
	h->buf[h->len] = '\0';
	return k;
}

struct agent_http *agent_http_new(const struct agent_conf *c)
{
	struct agent_http *h = xcalloc(1, sizeof(*h));
	h->curl = curl_easy_init();
	if (!h->curl)
		abort();
	h->c = c;
	return h;
}

void agent_http_free(struct agent_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h->buf);
	free(h);
}

int agent_http_call(struct agent_http *h, const char *method, const char *path,
		    json_t *body, long *status, json_t **out,
		    struct hull_err *err)
{
	CURL *c = h->curl;
	curl_easy_reset(c);
	_cleanup_free_ char *url = xasprintf("%s%s", h->c->head, path);
	_cleanup_free_ char *auth =
	    h->c->key ? xasprintf("Authorization: HullAgent %s", h->c->key)
		      : NULL;
	_cleanup_free_ char *text =
	    body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct curl_slist *hdr = NULL;
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (text)
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
	if (auth)
		hdr = curl_slist_append(hdr, auth);
	free(h->buf);
	h->buf = NULL;
	h->len = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 3L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "hull-agent/" HULL_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	if (text) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	}
	if (h->c->insecure_tls) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	CURLcode cr = curl_easy_perform(c);
	curl_slist_free_all(hdr);
	if (cr != CURLE_OK)
		return hull_err_set(err, EIO, "%s %s: %s", method, url,
				    curl_easy_strerror(cr));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (out) {
		*out = NULL;
		if (h->len)
			*out = json_loadb(h->buf, h->len, 0, NULL);
	}
	return 0;
}

int agent_join(const char *head, const char *token, bool insecure,
	       struct agent_conf *out, struct hull_err *err)
{
	struct agent_conf c = {.insecure_tls = insecure};
	c.head = xstrdup(head);
	size_t n = strlen(c.head);
	while (n && c.head[n - 1] == '/')
		c.head[--n] = '\0';
	int r = host_uuid_get(c.server_uuid, err);
	if (r < 0) {
		agent_conf_fini(&c);
		return r;
	}
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	json_t *body =
	    json_pack("{s:s, s:s, s:s}", "token", token, "server_uuid",
		      c.server_uuid, "hostname", host);
	struct agent_http *h = agent_http_new(&c);
	long status = 0;
	json_t *ans = NULL;
	r = agent_http_call(h, "POST", "/agent/join", body, &status, &ans, err);
	agent_http_free(h);
	json_decref(body);
	if (r == 0 && status != 201) {
		r = hull_err_set(
		    err, EACCES, "join %s: %s", c.head,
		    hull_json_str(ans, "message", "the head node refused"));
	} else if (r == 0) {
		const char *key = hull_json_str(ans, "key", NULL);
		if (!key)
			r = hull_err_set(err, EPROTO,
					 "join %s: no key in the answer",
					 c.head);
		else
			c.key = xstrdup(key);
	}
	json_decref(ans);
	if (r == 0)
		r = agent_conf_save(&c, err);
	if (r < 0) {
		agent_conf_fini(&c);
		return r;
	}
	*out = c;
	return 0;
}
