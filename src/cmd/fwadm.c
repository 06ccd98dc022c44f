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
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fw/inst.h"
#include "fw/nft.h"
#include "fw/rule.h"
#include "fw/store.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/uuid.h"
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

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
							     ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fwadm: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see fwadm --help)\n");
	return EXIT_USAGE;
}

/* --- state: the rules and instances, under the store lock ---------------- */

struct state {
	int lock;
	struct fw_rec *recs;
	size_t n;
	struct fw_inst *insts;
	size_t ninsts;
};

static int state_load(struct state *st, struct hull_err *err)
{
	memset(st, 0, sizeof(*st));
	st->lock = -1;
	if (!hull_is_dir(hull_root()))
		return hull_err_set(err, ENOENT, "no hull pool at %s",
				    hull_root());
	st->lock = fw_store_lock(err);
	if (st->lock < 0)
		return st->lock;
	if (fw_store_load_all(&st->recs, &st->n, err) < 0)
		return -EINVAL;
	return fw_inst_load_all(&st->insts, &st->ninsts, err);
}

static void state_free(struct state *st)
{
	fw_rec_free_all(st->recs, st->n);
	fw_inst_free_all(st->insts, st->ninsts);
	hull_lock_release(st->lock);
}

static struct fw_rec *state_find(struct state *st, const char *uuid)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->recs[i].uuid, uuid))
			return &st->recs[i];
	return NULL;
}

static const struct fw_inst *state_inst(struct state *st, const char *uuid)
{
	for (size_t i = 0; i < st->ninsts; i++)
		if (!strcmp(st->insts[i].uuid, uuid))
			return &st->insts[i];
	return NULL;
}

/* The ruleset for the given rules (enabled ones only) and st's instances. */
static char *compile(const struct fw_rec *recs, size_t n, struct state *st)
{
	struct fw_crule *cr = xcalloc(n ? n : 1, sizeof(*cr));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!recs[i].enabled)
			continue;
		cr[k].uuid = recs[i].uuid;
		cr[k].owner_uuid = recs[i].owner_uuid;
		cr[k].rule = &recs[i].rule;
		k++;
	}
	char *text =
	    fw_nft_compile_flags(fw_nft_table(), cr, k, st->insts, st->ninsts,
				 fw_nft_bridge_supported() ? FW_NFT_BRIDGE : 0);
	free(cr);
	return text;
}

/* A change to the store: records to write and uuids to remove. */
struct change {
	struct fw_rec *put; /* owned */
	size_t nput;
	char (*del)[37];
	size_t ndel;
	bool full; /* replace the whole tables (fwadm reload) */
};

static void change_free(struct change *c)
{
	fw_rec_free_all(c->put, c->nput);
	free(c->del);
}

/* The rule list after c: st's records with c applied (borrowed copies). */
static struct fw_rec *change_result(struct state *st, const struct change *c,
				    size_t *n)
{
	struct fw_rec *out = xcalloc(st->n + c->nput + 1, sizeof(*out));
	size_t k = 0;
	for (size_t i = 0; i < st->n; i++) {
		bool gone = false;
		for (size_t d = 0; d < c->ndel; d++)
			gone |= !strcmp(c->del[d], st->recs[i].uuid);
		for (size_t p = 0; p < c->nput; p++)
			gone |= !strcmp(c->put[p].uuid, st->recs[i].uuid);
		if (!gone)
			out[k++] = st->recs[i];
	}
	for (size_t p = 0; p < c->nput; p++)
		out[k++] = c->put[p];
	*n = k;
	return out;
}

/* Writes c and loads the filter; on a failure puts the old records back. */
static int change_commit(struct state *st, const struct change *c, bool dry_run,
			 bool print_ruleset, struct hull_err *err)
{
	size_t n;
	struct fw_rec *all = change_result(st, c, &n);
	char *ruleset = compile(all, n, st);
	free(all);
	if (print_ruleset)
		fputs(ruleset, stdout);
	int rc;
	if (dry_run) {
		rc = fw_nft_apply(fw_nft_table(), ruleset, false, true, err);
		free(ruleset);
		return rc;
	}
	size_t done_put = 0, done_del = 0;
	rc = 0;
	for (; rc == 0 && done_put < c->nput; done_put++)
		rc = fw_store_save(&c->put[done_put], err);
	for (; rc == 0 && done_del < c->ndel; done_del++)
		rc = fw_store_delete(c->del[done_del], err);
	if (rc == 0)
		rc = fw_nft_apply_flags(
		    fw_nft_table(), ruleset,
		    (fw_nft_legacy_ours(st->insts, st->ninsts)
			 ? FW_APPLY_DROP_LEGACY
			 : 0) |
			(c->full ? FW_APPLY_FULL : 0),
		    err);
	free(ruleset);
	if (rc == 0)
		return 0;
	/* Put the store back as it was. */
	struct hull_err ignore;
	for (size_t p = 0; p < c->nput && p <= done_put; p++) {
		const struct fw_rec *old = state_find(st, c->put[p].uuid);
		if (old)
			fw_store_save(old, &ignore);
		else
			fw_store_delete(c->put[p].uuid, &ignore);
	}
	for (size_t d = 0; d < c->ndel && d <= done_del; d++) {
		const struct fw_rec *old = state_find(st, c->del[d]);
		if (old)
			fw_store_save(old, &ignore);
	}
	return rc;
}

/* --- output ----------------------------------------------------------------
 */

static void print_rule_lines(const struct fw_rec *r, size_t n, const char *head)
{
	if (head)
		printf("%s\n", head);
	for (size_t i = 0; i < n; i++)
		printf("%s %s\n", r[i].uuid, r[i].text);
}

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

static void print_changed(const struct change *c, const struct rule_opts *o,
			  const char *head)
{
	if (o->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < c->nput; i++)
			json_array_append_new(a, fw_rec_to_json(&c->put[i]));
		json_t *j = json_pack("{s:o}", "rules", a);
		hull_json_print(j);
		json_decref(j);
	} else if (!o->to_stdout) {
		print_rule_lines(c->put, c->nput, head);
	}
}

static void change_put(struct change *c, struct fw_rec *rec)
{
	c->put = xrealloc(c->put, (c->nput + 1) * sizeof(*c->put));
	c->put[c->nput++] = *rec;
}

static int cmd_add_update(int argc, char **argv, bool update)
{
	struct rule_opts o;
	int first = parse_rule_opts(argc, argv, &o);
	if (first < 0)
		return EXIT_USAGE;
	struct hull_err err = {0};
	struct state st;
	struct change c = {0};
	json_t *rules = NULL;
	int rc = 1;
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
	if (json_array_size(rules) == 0) {
		hull_err_set(&err, EINVAL, "payload has no rules");
		json_decref(rules);
		return fail(&err);
	}
	if (state_load(&st, &err) < 0)
		goto out;
	size_t i;
	json_t *rj;
	json_array_foreach(rules, i, rj)
	{
		const struct fw_rec *base = NULL;
		const char *uuid =
		    json_is_object(rj) ? hull_json_str(rj, "uuid", NULL) : NULL;
		if (update) {
			if (!uuid) {
				hull_err_set(&err, EINVAL,
					     "rule %zu: update needs a uuid",
					     i);
				goto out;
			}
			base = state_find(&st, uuid);
			if (!base) {
				hull_err_set(&err, ENOENT, "unknown rule: %s",
					     uuid);
				goto out;
			}
		} else if (uuid && state_find(&st, uuid)) {
			hull_err_set(&err, EEXIST, "rule already exists: %s",
				     uuid);
			goto out;
		}
		for (size_t p = 0; uuid && p < c.nput; p++)
			if (!strcmp(c.put[p].uuid, uuid)) {
				hull_err_set(&err, EINVAL,
					     "rule %s given twice", uuid);
				goto out;
			}
		struct fw_rec rec;
		if (fw_rec_from_json(rj, base, &rec, &err) < 0) {
			fw_rec_free(&rec);
			if (json_array_size(rules) > 1)
				hull_err_prefix(&err, "rule %zu", i);
			goto out;
		}
		change_put(&c, &rec);
	}
	if (change_commit(&st, &c, o.dryrun, o.to_stdout, &err) < 0)
		goto out;
	print_changed(&c, &o, update ? "Updated rules:" : "Added rules:");
	rc = 0;
out:
	if (rc)
		fail(&err);
	change_free(&c);
	json_decref(rules);
	state_free(&st);
	return rc;
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
	struct state st;
	struct change c = {0};
	int rc = 1;
	if (state_load(&st, &err) < 0)
		goto out;
	for (int i = first; i < argc; i++) {
		const struct fw_rec *r = state_find(&st, argv[i]);
		if (!r) {
			hull_err_set(&err, ENOENT, "unknown rule: %s", argv[i]);
			goto out;
		}
		if (what == 0) {
			c.del = xrealloc(c.del, (c.ndel + 1) * sizeof(*c.del));
			snprintf(c.del[c.ndel++], 37, "%s", r->uuid);
			continue;
		}
		json_t *j = json_pack("{s:b}", "enabled", what == 1);
		struct fw_rec rec;
		int prc = fw_rec_from_json(j, r, &rec, &err);
		json_decref(j);
		if (prc < 0) {
			fw_rec_free(&rec);
			goto out;
		}
		change_put(&c, &rec);
	}
	if (change_commit(&st, &c, o.dryrun, o.to_stdout, &err) < 0)
		goto out;
	if (what == 0) {
		if (!o.to_stdout) {
			printf("Deleted rules:\n");
			for (size_t i = 0; i < c.ndel; i++)
				printf("%s\n", c.del[i]);
		}
	} else {
		print_changed(&c, &o,
			      what == 1 ? "Enabled rules:" : "Disabled rules:");
	}
	rc = 0;
out:
	if (rc)
		fail(&err);
	change_free(&c);
	state_free(&st);
	return rc;
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
	struct state st;
	int rc = 1;
	if (state_load(&st, &err) == 0) {
		const struct fw_rec *r = state_find(&st, argv[1]);
		if (r) {
			json_t *j = fw_rec_to_json(r);
			hull_json_print(j);
			json_decref(j);
			rc = 0;
		} else {
			hull_err_set(&err, ENOENT, "unknown rule: %s", argv[1]);
		}
	}
	if (rc)
		fail(&err);
	state_free(&st);
	return rc;
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
	struct state st;
	int rc = 1;
	if (state_load(&st, &err) == 0 &&
	    print_list(st.recs, st.n, &o, &err) == 0)
		rc = 0;
	if (rc)
		fail(&err);
	state_free(&st);
	return rc;
}

static bool rule_touches(const struct fw_rec *r, const struct fw_inst *in)
{
	struct fw_crule cr = {r->uuid, r->owner_uuid, &r->rule};
	return fw_side_names_inst(&cr, &r->rule.from, in) ||
	       fw_side_names_inst(&cr, &r->rule.to, in);
}

static int cmd_vms(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("%s", "vms needs one rule UUID");
	struct hull_err err = {0};
	struct state st;
	int rc = 1;
	if (state_load(&st, &err) == 0) {
		const struct fw_rec *r = state_find(&st, argv[1]);
		if (!r) {
			hull_err_set(&err, ENOENT, "unknown rule: %s", argv[1]);
		} else {
			for (size_t i = 0; i < st.ninsts; i++)
				if (rule_touches(r, &st.insts[i]))
					printf("%s\n", st.insts[i].uuid);
			rc = 0;
		}
	}
	if (rc)
		fail(&err);
	state_free(&st);
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
	struct state st;
	int rc = 1;
	if (state_load(&st, &err) == 0) {
		const struct fw_inst *in = state_inst(&st, argv[first]);
		if (!in) {
			hull_err_set(&err, ENOENT, "unknown VM: %s",
				     argv[first]);
		} else {
			struct fw_rec *sel = xcalloc(st.n + 1, sizeof(*sel));
			size_t k = 0;
			for (size_t i = 0; i < st.n; i++)
				if (rule_touches(&st.recs[i], in))
					sel[k++] = st.recs[i];
			rc = print_list(sel, k, &o, &err) == 0 ? 0 : 1;
			free(sel);
		}
	}
	if (rc)
		fail(&err);
	state_free(&st);
	return rc;
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
	struct state st;
	struct change none = {0};
	int rc = 1;
	if (state_load(&st, &err) < 0)
		goto out;
	if (what == 3) {
		/* reload: the whole tables, whatever the last load left */
		struct change full = {.full = true};
		if (change_commit(&st, &full, o.dryrun, o.to_stdout, &err) == 0)
			rc = 0;
		goto out;
	}
	const char *uuid = argv[first];
	const struct fw_inst *in = state_inst(&st, uuid);
	if (!in) {
		hull_err_set(&err, ENOENT, "unknown VM: %s", uuid);
		goto out;
	}
	char *mark = hull_root_path("var/fw/stopped/%s", uuid);
	if (what == 2) {
		printf("%s\n", in->firewall_enabled ? "running" : "stopped");
		if (verbose) {
			size_t k = 0;
			for (size_t i = 0; i < st.n; i++)
				k += st.recs[i].enabled &&
				     rule_touches(&st.recs[i], in);
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
		free(mark);
		rc = 0;
		goto out;
	}
	/* start/stop: flip the marker, reload, and flip back on failure. */
	char *vmjson = hull_root_path("%s/config/vm.json", uuid);
	json_t *vm = hull_json_load_file(vmjson, &err);
	free(vmjson);
	if (!vm) {
		free(mark);
		goto out;
	}
	bool enabled = hull_json_bool(vm, "firewall_enabled", false);
	json_decref(vm);
	if (what == 0 && !enabled) {
		hull_err_set(&err, EINVAL,
			     "VM %s does not have firewall_enabled set", uuid);
		free(mark);
		goto out;
	}
	bool was_stopped = hull_path_exists(mark);
	if (!o.dryrun) {
		if (what == 1) {
			char *dir = hull_root_path("var/fw/stopped");
			int mrc = hull_mkdir_p(dir, 0755, &err);
			free(dir);
			if (mrc < 0 || hull_file_write_atomic(mark, "", 0, 0644,
							      &err) < 0) {
				free(mark);
				goto out;
			}
		} else if (unlink(mark) < 0 && errno != ENOENT) {
			hull_err_sys(&err, errno, "start %s", uuid);
			free(mark);
			goto out;
		}
		/* The instance list carries the marker: rebuild this entry. */
		for (size_t i = 0; i < st.ninsts; i++)
			if (!strcmp(st.insts[i].uuid, uuid))
				st.insts[i].firewall_enabled = what == 0;
	}
	if (change_commit(&st, &none, o.dryrun, o.to_stdout, &err) < 0) {
		struct hull_err ignore;
		if (!o.dryrun) {
			if (was_stopped)
				hull_file_write_atomic(mark, "", 0, 0644,
						       &ignore);
			else
				unlink(mark);
		}
		free(mark);
		goto out;
	}
	free(mark);
	rc = 0;
out:
	if (rc)
		fail(&err);
	state_free(&st);
	return rc;
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

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct subcommand subcommands[] = {
    {"add", cmd_add, "add [-e] [-g] [-O OWNER] [--desc D] RULE | -f FILE"},
    {"update", cmd_update, "update UUID [-e] [--desc D] [RULE] | -f FILE"},
    {"delete", cmd_delete, "delete UUID..."},
    {"enable", cmd_enable, "enable UUID..."},
    {"disable", cmd_disable, "disable UUID..."},
    {"get", cmd_get, "get UUID"},
    {"list", cmd_list, "list [-j] [-p] [-d DELIM] [-o FIELDS]"},
    {"vms", cmd_vms, "vms RULE-UUID"},
    {"rules", cmd_rules, "rules [-j] [-p] VM-UUID"},
    {"start", cmd_start, "start VM-UUID"},
    {"stop", cmd_stop, "stop VM-UUID"},
    {"status", cmd_status, "status [-v] VM-UUID"},
    {"reload", cmd_reload, "reload (recompile and load for all instances)"},
    {"parse", cmd_parse, "parse (rule texts on stdin, JSON results out)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: fwadm [-j] [--help] [--version] COMMAND [ARGS...]\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		fprintf(f, "  %s\n", subcommands[i].help);
	fprintf(f,
		"add, update, delete, enable, disable, start, stop and reload "
		"also take --dryrun and --stdout.\nSee the fwadm manual "
		"(docs/fwadm.md).\n");
}

int main(int argc, char **argv)
{
	int a = 1;
	while (a < argc && argv[a][0] == '-') {
		if (!strcmp(argv[a], "-j")) {
			opt_json = true;
		} else if (!strcmp(argv[a], "-v")) {
			/* accepted for SmartOS compatibility */
		} else if (!strcmp(argv[a], "--help") ||
			   !strcmp(argv[a], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[a], "--version")) {
			printf("fwadm (hull) %s\n", HULL_VERSION);
			return 0;
		} else {
			return usage_error("unknown option '%s'", argv[a]);
		}
		a++;
	}
	if (a >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[a], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		if (!strcmp(argv[a], subcommands[i].name))
			return subcommands[i].run(argc - a, argv + a);
	return usage_error("unknown command '%s'", argv[a]);
}
