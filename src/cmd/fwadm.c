/*
 * fwadm - manage the Triton-style firewall, as SmartOS's fwadm does: rules
 * in Triton's rule language, stored under the pool root, compiled to
 * nftables for every instance with firewall_enabled and loaded atomically
 * in the network namespace fwadm runs in.
 *
 * Every command that changes rules or instance firewall state writes the
 * records, then replaces the live filter in one transaction; if loading
 * fails, the records are put back, so the store and the filter never
 * disagree. Exit status: 0 ok, 1 error, 2 usage.
 *
 * The transactions are the library's (include/hull/firewall.h,
 * src/fw/api.c); this file parses arguments, calls one of them and prints.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw/nft.h"
#include "fw/rule.h"
#include "fw/state.h"
#include "hull/firewall.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/subcmd.h"
#include "lib/xalloc.h"

#define EXIT_USAGE 2

static bool opt_json; /* -j before the command: JSON errors */

static int fail(struct hull_err *err)
{
	if (opt_json) {
		json_t *j = json_pack("{s:s}", "message", err->msg);
		char *s = json_dumps(j, JSON_COMPACT);
		fprintf(stderr, "%s\n", s);
		free(s);
		json_decref(j);
	} else {
		fprintf(stderr, "fwadm: %s\n", err->msg);
	}
	return 1;
}

#define usage_error(...)                                                       \
	subcmd_usage_error("fwadm", "fwadm --help", __VA_ARGS__)

/* --- output ----------------------------------------------------------------
 */

static const char *const list_fields[] = {
    "uuid",	   "enabled",	 "global", "owner_uuid", "rule",
    "description", "created_by", "log",	   "version",	 NULL};

static char *field_text(const struct fw_rec *r, const char *f)
{
	if (!strcmp(f, "uuid"))
		return xstrdup(r->uuid);
	if (!strcmp(f, "enabled"))
		return xstrdup(r->enabled ? "true" : "false");
	if (!strcmp(f, "global"))
		return xstrdup(r->owner_uuid ? "false" : "true");
	if (!strcmp(f, "owner_uuid"))
		return xstrdup(r->owner_uuid ? r->owner_uuid : "-");
	if (!strcmp(f, "rule"))
		return xstrdup(r->text);
	if (!strcmp(f, "description"))
		return xstrdup(r->description ? r->description : "-");
	if (!strcmp(f, "created_by"))
		return xstrdup(r->created_by ? r->created_by : "-");
	if (!strcmp(f, "log"))
		return xstrdup(r->log ? "true" : "false");
	return xstrdup(r->version);
}

struct list_opts {
	bool json, parsable;
	const char *delim;
	const char *fields;
};

static int print_list(const struct fw_rec *recs, size_t n,
		      const struct list_opts *o, struct hull_err *err)
{
	if (o->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, fw_rec_to_json(&recs[i]));
		hull_json_print(a);
		json_decref(a);
		return 0;
	}
	char *fl = xstrdup(o->fields ? o->fields : "uuid,enabled,rule");
	const char *cols[16];
	size_t ncols = 0;
	for (char *save = NULL, *t = strtok_r(fl, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		size_t k = 0;
		while (list_fields[k] && strcmp(list_fields[k], t))
			k++;
		if (!list_fields[k] || ncols == 16) {
			int rc = hull_err_set(err, EINVAL,
					      "unknown field \"%s\"", t);
			free(fl);
			return rc;
		}
		cols[ncols++] = list_fields[k];
	}
	size_t width[16];
	for (size_t c = 0; c < ncols; c++) {
		width[c] = strlen(cols[c]);
		for (size_t i = 0; i < n; i++) {
			char *s = field_text(&recs[i], cols[c]);
			if (strlen(s) > width[c])
				width[c] = strlen(s);
			free(s);
		}
	}
	if (!o->parsable) {
		for (size_t c = 0; c < ncols; c++) {
			for (const char *p = cols[c]; *p; p++)
				putchar(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
			if (c + 1 < ncols)
				printf("%*s",
				       (int)(width[c] - strlen(cols[c]) + 2),
				       "");
		}
		putchar('\n');
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t c = 0; c < ncols; c++) {
			char *s = field_text(&recs[i], cols[c]);
			fputs(s, stdout);
			if (c + 1 < ncols) {
				if (o->parsable)
					fputs(o->delim, stdout);
				else
					printf("%*s",
					       (int)(width[c] - strlen(s) + 2),
					       "");
			}
			free(s);
		}
		putchar('\n');
	}
	free(fl);
	return 0;
}

/* --- payloads ---------------------------------------------------------------
 */

static json_t *load_payload(const char *file, struct hull_err *err)
{
	if (!strcmp(file, "-")) {
		char *buf = NULL;
		size_t len = 0, cap = 0;
		for (;;) {
			if (len + 4096 > cap)
				buf = xrealloc(buf, cap = cap * 2 + 8192);
			size_t r = fread(buf + len, 1, cap - len, stdin);
			len += r;
			if (r == 0)
				break;
			if (len > HULL_JSON_MAX_FILE) {
				free(buf);
				hull_err_set(err, EFBIG,
					     "stdin: payload too large");
				return NULL;
			}
		}
		json_t *j = hull_json_load_buf("stdin", buf, len, err);
		free(buf);
		return j;
	}
	return hull_json_load_file(file, err);
}

/* The rules of a -f payload: {"rules": [...]}, an array, or one rule. */
static json_t *payload_rules(json_t *j, struct hull_err *err)
{
	if (json_is_array(j))
		return json_incref(j);
	if (!json_is_object(j)) {
		hull_err_set(err, EINVAL, "payload must be a JSON object");
		return NULL;
	}
	json_t *rvms = json_object_get(j, "remoteVMs");
	if (rvms && json_array_size(rvms) > 0) {
		hull_err_set(err, ENOTSUP, "remote VMs are not supported");
		return NULL;
	}
	json_t *rules = json_object_get(j, "rules");
	if (rules) {
		if (!json_is_array(rules)) {
			hull_err_set(err, EINVAL, "\"rules\" must be an array");
			return NULL;
		}
		return json_incref(rules);
	}
	if (json_object_get(j, "rule")) {
		json_t *a = json_array();
		json_array_append(a, j);
		return a;
	}
	hull_err_set(err, EINVAL, "payload has no rules");
	return NULL;
}

/* --- commands ---------------------------------------------------------------
 */

enum {
	OPT_DESC = 256,
	OPT_DRYRUN,
	OPT_STDOUT,
};

static const struct option rule_longopts[] = {
    {"file", required_argument, NULL, 'f'},
    {"enable", no_argument, NULL, 'e'},
    {"global", no_argument, NULL, 'g'},
    {"owner_uuid", required_argument, NULL, 'O'},
    {"desc", required_argument, NULL, OPT_DESC},
    {"description", required_argument, NULL, OPT_DESC},
    {"dryrun", no_argument, NULL, OPT_DRYRUN},
    {"stdout", no_argument, NULL, OPT_STDOUT},
    {"json", no_argument, NULL, 'j'},
    {NULL, 0, NULL, 0},
};

struct rule_opts {
	const char *file;
	bool enable, global, dryrun, to_stdout, json;
	const char *owner, *desc;
};

static int parse_rule_opts(int argc, char **argv, struct rule_opts *o)
{
	memset(o, 0, sizeof(*o));
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+f:egO:j", rule_longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'f':
			o->file = optarg;
			break;
		case 'e':
			o->enable = true;
			break;
		case 'g':
			o->global = true;
			break;
		case 'O':
			o->owner = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case OPT_DESC:
			o->desc = optarg;
			break;
		case OPT_DRYRUN:
			o->dryrun = true;
			break;
		case OPT_STDOUT:
			o->to_stdout = true;
			break;
		default:
			return -1;
		}
	}
	return optind;
}

static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *s = xcalloc(len, 1);
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

/* A payload for one rule from the command line. */
static json_t *cli_rule(const struct rule_opts *o, const char *text)
{
	json_t *j = json_object();
	if (text)
		json_object_set_new(j, "rule", json_string(text));
	if (o->enable)
		json_object_set_new(j, "enabled", json_true());
	if (o->global)
		json_object_set_new(j, "global", json_true());
	if (o->owner)
		json_object_set_new(j, "owner_uuid", json_string(o->owner));
	if (o->desc)
		json_object_set_new(j, "description", json_string(o->desc));
	return j;
}

static void print_changed(json_t *rules, const struct rule_opts *o,
			  const char *head)
{
	if (o->json) {
		json_t *j = json_pack("{s:O}", "rules", rules);
		hull_json_print(j);
		json_decref(j);
	} else if (!o->to_stdout) {
		printf("%s\n", head);
		size_t i;
		json_t *r;
		json_array_foreach(rules, i, r)
		    printf("%s %s\n", hull_json_str(r, "uuid", ""),
			   hull_json_str(r, "rule", ""));
	}
}

/* Prints the ruleset of --stdout (also when loading it failed). */
static void print_ruleset(char *ruleset)
{
	if (ruleset)
		fputs(ruleset, stdout);
	free(ruleset);
}

static int cmd_add_update(int argc, char **argv, bool update)
{
	struct rule_opts o;
	int first = parse_rule_opts(argc, argv, &o);
	if (first < 0)
		return EXIT_USAGE;
	struct hull_err err = {0};
	json_t *rules = NULL;
	if (o.file) {
		if (first < argc)
			return usage_error("-f takes no rule text: '%s'",
					   argv[first]);
		json_t *pl = load_payload(o.file, &err);
		if (!pl)
			return fail(&err);
		rules = payload_rules(pl, &err);
		json_decref(pl);
		if (!rules)
			return fail(&err);
	} else {
		const char *uuid = NULL;
		if (update) {
			if (first >= argc)
				return usage_error(
				    "%s",
				    "update needs a rule UUID or -f FILE");
			uuid = argv[first++];
		}
		if (first >= argc && !update)
			return usage_error("%s", "add needs a rule or -f FILE");
		char *text =
		    first < argc ? join_args(argc - first, argv + first) : NULL;
		json_t *one = cli_rule(&o, text);
		free(text);
		if (uuid)
			json_object_set_new(one, "uuid", json_string(uuid));
		rules = json_array();
		json_array_append_new(rules, one);
	}
	char *ruleset = NULL;
	struct hull_fw_opts fo = {o.dryrun, o.to_stdout ? &ruleset : NULL};
	json_t *done = NULL;
	int rc = update ? hull_fw_rules_update(rules, &fo, &done, &err)
			: hull_fw_rules_add(rules, &fo, &done, &err);
	json_decref(rules);
	print_ruleset(ruleset);
	if (rc < 0)
		return fail(&err);
	print_changed(done, &o, update ? "Updated rules:" : "Added rules:");
	json_decref(done);
	return 0;
}

static int cmd_add(int argc, char **argv)
{
	return cmd_add_update(argc, argv, false);
}

static int cmd_update(int argc, char **argv)
{
	return cmd_add_update(argc, argv, true);
}

/* delete / enable / disable UUID... */
static int cmd_modify(int argc, char **argv, int what)
{
	struct rule_opts o;
	int first = parse_rule_opts(argc, argv, &o);
	if (first < 0)
		return EXIT_USAGE;
	if (first >= argc)
		return usage_error("%s: needs at least one rule UUID", argv[0]);
	struct hull_err err = {0};
	char *ruleset = NULL;
	struct hull_fw_opts fo = {o.dryrun, o.to_stdout ? &ruleset : NULL};
	const char *const *uuids = (const char *const *)argv + first;
	size_t n = (size_t)(argc - first);
	json_t *done = NULL;
	int rc = what == 0 ? hull_fw_rules_delete(uuids, n, &fo, &err)
			   : hull_fw_rules_enable(uuids, n, what == 1, &fo,
						  &done, &err);
	print_ruleset(ruleset);
	if (rc < 0)
		return fail(&err);
	if (what == 0) {
		if (!o.to_stdout) {
			printf("Deleted rules:\n");
			for (size_t i = 0; i < n; i++)
				printf("%s\n", uuids[i]);
		}
	} else {
		print_changed(done, &o,
			      what == 1 ? "Enabled rules:" : "Disabled rules:");
	}
	json_decref(done);
	return 0;
}

static int cmd_delete(int argc, char **argv)
{
	return cmd_modify(argc, argv, 0);
}

static int cmd_enable(int argc, char **argv)
{
	return cmd_modify(argc, argv, 1);
}

static int cmd_disable(int argc, char **argv)
{
	return cmd_modify(argc, argv, 2);
}

static int cmd_get(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("%s", "get needs one rule UUID");
	struct hull_err err = {0};
	json_t *j;
	if (hull_fw_rule_get(argv[1], &j, &err) < 0)
		return fail(&err);
	hull_json_print(j);
	json_decref(j);
	return 0;
}

static int parse_list_opts(int argc, char **argv, struct list_opts *o)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"parsable", no_argument, NULL, 'p'},
	    {"delim", required_argument, NULL, 'd'},
	    {"fields", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->delim = ":";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+jpd:o:", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'p':
			o->parsable = true;
			break;
		case 'd':
			o->delim = optarg;
			break;
		case 'o':
			o->fields = optarg;
			break;
		default:
			return -1;
		}
	}
	return optind;
}

static int cmd_list(int argc, char **argv)
{
	struct list_opts o;
	int first = parse_list_opts(argc, argv, &o);
	if (first < 0)
		return EXIT_USAGE;
	if (first < argc)
		return usage_error("list: unexpected argument '%s'",
				   argv[first]);
	struct hull_err err = {0};
	struct fw_state st;
	int rc = 1;
	if (fw_state_load(&st, &err) == 0 &&
	    print_list(st.recs, st.n, &o, &err) == 0)
		rc = 0;
	if (rc)
		fail(&err);
	fw_state_free(&st);
	return rc;
}

static int cmd_vms(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("%s", "vms needs one rule UUID");
	struct hull_err err = {0};
	struct fw_state st;
	int rc = 1;
	if (fw_state_load(&st, &err) == 0) {
		const struct fw_rec *r = fw_state_rule(&st, argv[1]);
		if (!r) {
			hull_err_set(&err, ENOENT, "unknown rule: %s", argv[1]);
		} else {
			for (size_t i = 0; i < st.ninsts; i++)
				if (fw_rule_touches(r, &st.insts[i]))
					printf("%s\n", st.insts[i].uuid);
			rc = 0;
		}
	}
	if (rc)
		fail(&err);
	fw_state_free(&st);
	return rc;
}

static int cmd_rules(int argc, char **argv)
{
	struct list_opts o;
	int first = parse_list_opts(argc, argv, &o);
	if (first < 0)
		return EXIT_USAGE;
	if (argc - first != 1)
		return usage_error("%s", "rules needs one VM UUID");
	struct hull_err err = {0};
	struct fw_state st;
	int rc = 1;
	if (fw_state_load(&st, &err) == 0) {
		const struct fw_inst *in = fw_state_inst(&st, argv[first]);
		if (!in) {
			hull_err_set(&err, ENOENT, "unknown VM: %s",
				     argv[first]);
		} else {
			struct fw_rec *sel = xcalloc(st.n + 1, sizeof(*sel));
			size_t k = 0;
			for (size_t i = 0; i < st.n; i++)
				if (fw_rule_touches(&st.recs[i], in))
					sel[k++] = st.recs[i];
			rc = print_list(sel, k, &o, &err) == 0 ? 0 : 1;
			free(sel);
		}
	}
	if (rc)
		fail(&err);
	fw_state_free(&st);
	return rc;
}

/* status [-v] VM */
static int print_status(const char *uuid, bool verbose, struct hull_err *err)
{
	struct fw_state st;
	int rc = fw_state_load(&st, err);
	const struct fw_inst *in = rc == 0 ? fw_state_inst(&st, uuid) : NULL;
	if (rc == 0 && !in)
		rc = hull_err_set(err, ENOENT, "unknown VM: %s", uuid);
	if (rc < 0) {
		fw_state_free(&st);
		return rc;
	}
	printf("%s\n", in->firewall_enabled ? "running" : "stopped");
	if (verbose) {
		size_t k = 0;
		for (size_t i = 0; i < st.n; i++)
			k += st.recs[i].enabled &&
			     fw_rule_touches(&st.recs[i], in);
		printf("rules: %zu\n", k);
		bool br_ok = fw_nft_bridge_supported();
		for (size_t n = 0; n < in->nnics; n++) {
			const struct fw_nic *nic = &in->nics[n];
			printf("port %s: %s\n", nic->ifname,
			       !nic->bridged ? "routed"
			       : br_ok	     ? "bridged"
					     : "bridged, filtered by "
					       "address (no bridge "
					       "connection tracking in "
					       "this kernel)");
		}
	}
	fw_state_free(&st);
	return 0;
}

/* start / stop / status VM, and reload (all instances). */
static int cmd_vm_state(int argc, char **argv, int what)
{
	struct rule_opts o;
	bool verbose = false;
	if (what == 2 && argc > 1 && !strcmp(argv[1], "-v")) {
		verbose = true;
		argv++;
		argc--;
	}
	int first = parse_rule_opts(argc, argv, &o);
	if (first < 0)
		return EXIT_USAGE;
	if (what != 3 && argc - first != 1)
		return usage_error("%s: needs one VM UUID", argv[0]);
	if (what == 3 && argc != first)
		return usage_error("reload: unexpected argument '%s'",
				   argv[first]);
	struct hull_err err = {0};
	char *ruleset = NULL;
	struct hull_fw_opts fo = {o.dryrun, o.to_stdout ? &ruleset : NULL};
	int rc;
	if (what == 3)
		rc = hull_fw_reload(&fo, &err);
	else if (what == 2)
		rc = print_status(argv[first], verbose, &err);
	else
		rc = hull_fw_instance_set(argv[first], what == 0, &fo, &err);
	print_ruleset(ruleset);
	return rc < 0 ? fail(&err) : 0;
}

static int cmd_start(int argc, char **argv)
{
	return cmd_vm_state(argc, argv, 0);
}

static int cmd_stop(int argc, char **argv)
{
	return cmd_vm_state(argc, argv, 1);
}

static int cmd_status(int argc, char **argv)
{
	return cmd_vm_state(argc, argv, 2);
}

static int cmd_reload(int argc, char **argv)
{
	return cmd_vm_state(argc, argv, 3);
}

/* parse: rule texts in (one per line; a line starting with '"' is a JSON
 * string), one JSON result per line out. Touches nothing. */
static int cmd_parse(int argc, char **argv)
{
	if (argc > 1)
		return usage_error("parse: unexpected argument '%s'", argv[1]);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		json_t *in = NULL;
		const char *text = line;
		if (line[0] == '"') {
			json_error_t je;
			in = json_loads(line, JSON_DECODE_ANY, &je);
			if (!json_is_string(in)) {
				fprintf(stderr,
					"fwadm: parse: bad JSON string line\n");
				json_decref(in);
				rc = 1;
				break;
			}
			text = json_string_value(in);
		}
		struct hull_err err = {0};
		json_t *o;
		if (in && strlen(text) != json_string_length(in)) {
			hull_err_set(&err, EINVAL,
				     "rule contains a NUL character");
			o = json_pack("{s:b,s:s}", "ok", 0, "error", err.msg);
		} else {
			char *canon = fw_rule_canonical(text, &err);
			o = canon
				? json_pack("{s:b,s:s}", "ok", 1, "rule", canon)
				: json_pack("{s:b,s:s}", "ok", 0, "error",
					    err.msg);
			free(canon);
		}
		char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
		puts(s);
		free(s);
		json_decref(o);
		json_decref(in);
	}
	free(line);
	return rc;
}

static const struct subcmd subcommands[] = {
    {"add", NULL, cmd_add, "add [-e] [-g] [-O OWNER] [--desc D] RULE | -f FILE",
     0},
    {"update", NULL, cmd_update, "update UUID [-e] [--desc D] [RULE] | -f FILE",
     0},
    {"delete", NULL, cmd_delete, "delete UUID...", 0},
    {"enable", NULL, cmd_enable, "enable UUID...", 0},
    {"disable", NULL, cmd_disable, "disable UUID...", 0},
    {"get", NULL, cmd_get, "get UUID", 0},
    {"list", NULL, cmd_list, "list [-j] [-p] [-d DELIM] [-o FIELDS]", 0},
    {"vms", NULL, cmd_vms, "vms RULE-UUID", 0},
    {"rules", NULL, cmd_rules, "rules [-j] [-p] VM-UUID", 0},
    {"start", NULL, cmd_start, "start VM-UUID", 0},
    {"stop", NULL, cmd_stop, "stop VM-UUID", 0},
    {"status", NULL, cmd_status, "status [-v] VM-UUID", 0},
    {"reload", NULL, cmd_reload,
     "reload (recompile and load for all instances)", 0},
    {"parse", NULL, cmd_parse, "parse (rule texts on stdin, JSON results out)",
     0},
};

/* -j: JSON errors; -v is accepted for SmartOS compatibility. */
static enum subcmd_opt option(const char *arg, int left)
{
	if (!strcmp(arg, "-j")) {
		opt_json = true;
		return SUBCMD_OPT_TAKEN;
	}
	if (!strcmp(arg, "-v"))
		return SUBCMD_OPT_TAKEN;
	return SUBCMD_OPT_STOP;
}

static const struct subcmd_prog fwadm = {
    .name = "fwadm",
    .cmds = subcommands,
    .ncmds = sizeof(subcommands) / sizeof(subcommands[0]),
    .flags = SUBCMD_STRICT_OPTS,
    .usage_exit = EXIT_USAGE,
    .usage_head = "usage: fwadm [-j] [--help] [--version] COMMAND "
		  "[ARGS...]\ncommands:\n",
    .usage_tail = "add, update, delete, enable, disable, start, stop and "
		  "reload also take --dryrun and --stdout.\nSee the fwadm "
		  "manual (docs/fwadm.md).\n",
    .unknown_prefix = "fwadm: unknown command '",
    .unknown_suffix = "' (see fwadm --help)",
    .option = option,
};

int main(int argc, char **argv)
{
	return subcmd_main(&fwadm, argc, argv);
}
