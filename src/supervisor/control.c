/*
 * control.c - parsing control requests and signal names.
 */
#include "supervisor/control.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	int no;
} signals[] = {
    {"HUP", SIGHUP},	   {"INT", SIGINT},   {"QUIT", SIGQUIT},
    {"ILL", SIGILL},	   {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},
    {"BUS", SIGBUS},	   {"FPE", SIGFPE},   {"KILL", SIGKILL},
    {"USR1", SIGUSR1},	   {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},	   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"CHLD", SIGCHLD},	   {"CONT", SIGCONT}, {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},	   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
    {"URG", SIGURG},	   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},	   {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

static int parse_num(const char *s, int lo, int hi)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 3)
		return -EINVAL;
	int n = atoi(s);
	return n < lo || n > hi ? -EINVAL : n;
}

int control_signal_parse(const char *s)
{
	if (!s)
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '9')
		return parse_num(s, 1, SIGRTMAX);
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(*signals); i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].no;
	if (strncasecmp(s, "RTMIN", 5) == 0) {
		if (!s[5])
			return SIGRTMIN;
		int n = s[5] == '+' ? parse_num(s + 6, 0, SIGRTMAX - SIGRTMIN)
				    : -EINVAL;
		return n < 0 ? n : SIGRTMIN + n;
	}
	return -EINVAL;
}

/* An optional integer field lo..hi into *out. */
static int int_field(json_t *j, const char *k, long long lo, long long hi,
		     long long *out, struct hull_err *err)
{
	json_t *v = json_object_get(j, k);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return hull_err_set(err, EINVAL,
				    "%s: not an integer %lld..%lld", k, lo, hi);
	*out = json_integer_value(v);
	return 0;
}

static int parse_migrate(json_t *j, struct control_req *req,
			 struct hull_err *err)
{
	long long dt = 0, bw = 0, passes = 0;
	json_t *ac = json_object_get(j, "auto_converge");
	if (ac && !json_is_boolean(ac))
		return hull_err_set(err, EINVAL,
				    "auto_converge: not a boolean");
	if (!json_is_true(json_object_get(j, "live")))
		return hull_err_set(err, EINVAL,
				    "migrate: only a live migration (live: "
				    "true) is done here");
	int r;
	if ((r = int_field(j, "downtime_limit", 1, 60000, &dt, err)) < 0 ||
	    (r = int_field(j, "max_bandwidth", 0, 1LL << 40, &bw, err)) < 0 ||
	    (r = int_field(j, "max_passes", 0, 1000, &passes, err)) < 0)
		return r;
	req->downtime_ms = (int)dt;
	req->max_bandwidth = bw;
	req->max_passes = (int)passes;
	req->auto_converge = json_is_true(ac);
	return 0;
}

int control_request_parse(const char *line, size_t len, struct control_req *req,
			  struct hull_err *err)
{
	memset(req, 0, sizeof(*req));
	req->timeout_s = CONTROL_DEFAULT_TIMEOUT;
	if (len > CONTROL_LINE_MAX)
		return hull_err_set(err, E2BIG, "request longer than %d bytes",
				    CONTROL_LINE_MAX);
	json_error_t je;
	json_t *j = json_loadb(line, len, 0, &je);
	if (!j)
		return hull_err_set(err, EINVAL, "request is not JSON: %s",
				    je.text);
	int r = 0;
	const char *cmd = json_string_value(json_object_get(j, "cmd"));
	json_t *t = json_object_get(j, "timeout");
	json_t *f = json_object_get(j, "force");
	if (!json_is_object(j) || !cmd) {
		r = hull_err_set(err, EINVAL, "request has no cmd");
	} else if (strcmp(cmd, "status") == 0) {
		req->cmd = CONTROL_STATUS;
	} else if (strcmp(cmd, "stop") == 0 || strcmp(cmd, "reboot") == 0) {
		req->cmd = cmd[0] == 's' ? CONTROL_STOP : CONTROL_REBOOT;
		if (t && (!json_is_integer(t) || json_integer_value(t) < 0 ||
			  json_integer_value(t) > 86400))
			r = hull_err_set(err, EINVAL,
					 "timeout: not 0..86400 seconds");
		else if (t)
			req->timeout_s = (int)json_integer_value(t);
		if (f && !json_is_boolean(f))
			r = hull_err_set(err, EINVAL, "force: not a boolean");
		req->force = json_is_true(f);
	} else if (strcmp(cmd, "kill") == 0) {
		req->cmd = CONTROL_KILL;
		json_t *s = json_object_get(j, "signal");
		req->signo = json_is_integer(s)
				 ? (json_integer_value(s) > 0 &&
					    json_integer_value(s) <= SIGRTMAX
					? (int)json_integer_value(s)
					: -EINVAL)
			     : s ? control_signal_parse(json_string_value(s))
				 : SIGTERM;
		if (req->signo < 0)
			r = hull_err_set(err, EINVAL, "signal: unknown signal");
	} else if (strcmp(cmd, "update") == 0) {
		req->cmd = CONTROL_UPDATE;
	} else if (strcmp(cmd, "listener") == 0) {
		req->cmd = CONTROL_LISTENER;
	} else if (strcmp(cmd, "winsize") == 0) {
		req->cmd = CONTROL_WINSIZE;
		json_t *rw = json_object_get(j, "rows");
		json_t *cl = json_object_get(j, "cols");
		if (!json_is_integer(rw) || !json_is_integer(cl) ||
		    json_integer_value(rw) < 1 ||
		    json_integer_value(rw) > 1000 ||
		    json_integer_value(cl) < 1 || json_integer_value(cl) > 1000)
			r = hull_err_set(err, EINVAL,
					 "rows, cols: not integers 1..1000");
		else {
			req->rows = (unsigned short)json_integer_value(rw);
			req->cols = (unsigned short)json_integer_value(cl);
		}
	} else if (strcmp(cmd, "migrate") == 0) {
		req->cmd = CONTROL_MIGRATE;
		r = parse_migrate(j, req, err);
	} else if (strcmp(cmd, "move") == 0) {
		req->cmd = CONTROL_MOVE;
		json_t *dt = json_object_get(j, "downtime_ms");
		json_t *ac = json_object_get(j, "auto_converge");
		if (dt && (!json_is_integer(dt) || json_integer_value(dt) < 1 ||
			   json_integer_value(dt) > 60000))
			r = hull_err_set(err, EINVAL,
					 "downtime_ms: not 1..60000 ms");
		else if (dt)
			req->downtime_ms = (int)json_integer_value(dt);
		if (ac && !json_is_boolean(ac))
			r = hull_err_set(err, EINVAL,
					 "auto_converge: not a boolean");
		req->auto_converge = json_is_true(ac);
		json_t *bw = json_object_get(j, "bandwidth_mib");
		if (bw && (!json_is_integer(bw) || json_integer_value(bw) < 1 ||
			   json_integer_value(bw) > 1048576))
			r = hull_err_set(err, EINVAL,
					 "bandwidth_mib: not 1..1048576 MiB/s");
		else if (bw)
			req->bandwidth_mib = (int)json_integer_value(bw);
	} else {
		r = hull_err_set(err, EINVAL, "unknown cmd %.64s", cmd);
	}
	json_decref(j);
	return r;
}
