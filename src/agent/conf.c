/*
 * conf.c - the agent's credential (R/var/agent/agent.json), the join
 * (over http.c's client), and its log lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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
