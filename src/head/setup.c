/*
 * setup.c - `hulladm setup`: make or update a head node (admin.h).
 * Idempotent: what exists is kept (the state, the admin account, the
 * certificate), what the operator names is changed, and each run adds a
 * fresh one-time join token.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "head/admin.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/xalloc.h"

char *head_url(const struct head_config *c, int port)
{
	char addr[64];
	int p;
	if (head_listen_parse(c->listen, addr, sizeof(addr), &p, NULL) < 0)
		return xstrdup("");
	if (port >= 0)
		p = port;
	const char *host = addr;
	if (!strcmp(addr, "0.0.0.0"))
		host = "127.0.0.1";
	else if (!strcmp(addr, "::"))
		host = "::1";
	bool v6 = strchr(host, ':') != NULL;
	return xasprintf("%s://%s%s%s:%d", c->tls ? "https" : "http",
			 v6 ? "[" : "", host, v6 ? "]" : "", p);
}

static int write_config(const struct head_setup *o, struct hull_err *err)
{
	json_t *j = NULL;
	if (hull_path_exists(o->config)) {
		j = hull_json_load_file(o->config, err);
		if (!j)
			return -err->code;
	} else {
		j = json_pack("{s:s, s:s, s:b, s:s, s:s}", "db",
			      "sqlite:state.db", "listen", HEAD_DEFAULT_LISTEN,
			      "tls", 1, "datacenter", "hull-1", "admin",
			      "admin");
	}
	if (o->db)
		json_object_set_new(j, "db",
				    json_string(strcmp(o->db, "sqlite")
						    ? o->db
						    : "sqlite:state.db"));
	if (o->listen) {
		char addr[64];
		int port;
		int r = head_listen_parse(o->listen, addr, sizeof(addr), &port,
					  err);
		if (r < 0) {
			json_decref(j);
			return r;
		}
		json_object_set_new(j, "listen", json_string(o->listen));
	}
	if (o->tls >= 0)
		json_object_set_new(j, "tls", json_boolean(o->tls));
	if (o->cert)
		json_object_set_new(j, "cert", json_string(o->cert));
	if (o->key)
		json_object_set_new(j, "key", json_string(o->key));
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	size_t n = strlen(text);
	text = xrealloc(text, n + 2);
	text[n] = '\n';
	text[n + 1] = '\0';
	int r = hull_file_write_atomic(o->config, text, n + 1, 0600, err);
	free(text);
	return r;
}

int head_setup_run(const struct head_setup *o, json_t **out,
		   struct hull_err *err)
{
	if ((!o->cert) != (!o->key))
		return hull_err_set(err, EINVAL,
				    "--cert and --key go together");
	if (o->db && strcmp(o->db, "sqlite") &&
	    strncmp(o->db, "postgresql://", 13) &&
	    strncmp(o->db, "postgres://", 11))
		return hull_err_set(err, EINVAL,
				    "--db %.60s: sqlite or postgresql://...",
				    o->db);
	char *dir = xstrdup(o->config);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	int r = hull_mkdir_p(dir, 0700, err);
	if (r == 0)
		r = hull_chmod_exact(dir, 0700, err);
	if (r == 0 && (r = write_config(o, err)) == 0)
		r = hull_chmod_exact(o->config, 0600, err);
	if (r < 0) {
		free(dir);
		return r;
	}
	struct head_config c;
	if ((r = head_config_load(o->config, &c, err)) < 0) {
		free(dir);
		return r;
	}
	struct store *s = NULL;
	char *token = NULL;
	json_t *acct = NULL;
	if ((r = store_open(c.db, &s, err)) < 0)
		goto out;
	if (head_account_by_login(s, c.admin, &acct, NULL) < 0 &&
	    (r = head_user_add(s, c.admin, NULL, NULL, &acct, err)) < 0)
		goto out;
	if (c.tls && !hull_path_exists(c.cert)) {
		if (o->cert) {
			r = hull_err_set(err, ENOENT, "--cert %s: no such file",
					 c.cert);
			goto out;
		}
		char *tdir = xasprintf("%s/tls", c.dir);
		r = hull_mkdir_p(tdir, 0700, err);
		free(tdir);
		char addr[64];
		int port;
		head_listen_parse(c.listen, addr, sizeof(addr), &port, NULL);
		char host[256] = "localhost";
		gethostname(host, sizeof(host) - 1);
		const char *names[] = {host, "localhost", "127.0.0.1", addr};
		int n = strcmp(addr, "0.0.0.0") && strcmp(addr, "127.0.0.1")
			    ? 4
			    : 3;
		if (r == 0)
			r = head_tls_generate(c.cert, c.key, names, n, err);
		if (r < 0)
			goto out;
	}
	if (c.tls && hull_path_exists(c.key) &&
	    (r = hull_chmod_exact(c.key, 0600, err)) < 0)
		goto out;
	if ((r = head_join_token_new(s, &token, err)) < 0)
		goto out;
	char *url = head_url(&c, -1);
	char *cmd = xasprintf("hull-agent join --head %s --token %s%s", url,
			      token, c.tls ? " --insecure-tls" : "");
	*out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "url", url, "admin",
			 c.admin, "datacenter", c.datacenter, "db",
			 store_driver_name(s), "token", token, "command", cmd);
	free(url);
	free(cmd);
out:
	free(token);
	json_decref(acct);
	store_close(s);
	head_config_fini(&c);
	free(dir);
	return r;
}
