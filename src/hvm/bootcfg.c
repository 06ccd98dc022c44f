/*
 * bootcfg.c - grub.cfg, BLS entries and the newest-kernel rule (see
 * bootcfg.h). Pure functions over untrusted text; fuzzed by
 * tests/fuzz/fuzz_bootcfg.c.
 *
 * grub.cfg is read in two steps: a tokenizer that applies grub's quoting
 * (single quotes literal, double quotes with backslash escapes, backslash
 * outside quotes, `#` comments, newline and `;` ending a command) and
 * yields one command (a list of words) at a time, then a walk over the
 * commands that keeps a stack of open blocks (menuentry, submenu, and any
 * other `... {` such as `function`, whose body is skipped).
 */
#include "hvm/bootcfg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

#define MAX_WORDS 512 /* words in one command */
#define MAX_DEPTH 16  /* nested blocks */

void hvm_bootent_fini(struct hvm_bootent *e)
{
	if (!e)
		return;
	free(e->title);
	free(e->kernel);
	for (size_t i = 0; i < e->ninitrd; i++)
		free(e->initrd[i]);
	free(e->cmdline);
	memset(e, 0, sizeof(*e));
}

const char *hvm_boot_source_name(enum hvm_boot_source s)
{
	switch (s) {
	case HVM_BOOT_GRUB:
		return "grub.cfg";
	case HVM_BOOT_BLS:
		return "BLS entry";
	case HVM_BOOT_NEWEST:
		return "newest kernel";
	}
	return "?";
}

/* ---- tokenizer ---- */

struct word {
	const char *s; /* in the scratch buffer, NUL-terminated */
	bool bare;     /* no quoting at all (so `{` is a brace) */
};

struct lexer {
	const char *p, *end;
	char *out; /* scratch, as long as the text plus one per word */
};

/* Reads the next command into w[]; *n words. Returns 1 when a command was
 * read (possibly empty), 0 at the end of the text, -1 when it has too
 * many words. A `{` ends the command it closes; a `}` is a command of its
 * own. */
static int lex_command(struct lexer *lx, struct word *w, size_t *n)
{
	*n = 0;
	if (lx->p >= lx->end)
		return 0;
	for (;;) {
		/* Skip blanks and line continuations. */
		while (lx->p < lx->end) {
			char c = *lx->p;
			if (c == ' ' || c == '\t' || c == '\r')
				lx->p++;
			else if (c == '\\' && lx->p + 1 < lx->end &&
				 lx->p[1] == '\n')
				lx->p += 2;
			else
				break;
		}
		if (lx->p >= lx->end)
			return 1;
		char c = *lx->p;
		if (c == '\n' || c == ';') {
			lx->p++;
			return 1;
		}
		if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		}
		if (*n >= MAX_WORDS)
			return -1;
		char *start = lx->out;
		bool bare = true;
		while (lx->p < lx->end) {
			c = *lx->p;
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
			    c == ';')
				break;
			if (c == '\'') {
				bare = false;
				lx->p++;
				while (lx->p < lx->end && *lx->p != '\'')
					*lx->out++ = *lx->p++;
				if (lx->p < lx->end)
					lx->p++;
			} else if (c == '"') {
				bare = false;
				lx->p++;
				while (lx->p < lx->end && *lx->p != '"') {
					if (*lx->p == '\\' &&
					    lx->p + 1 < lx->end &&
					    strchr("\"\\$\n", lx->p[1])) {
						lx->p++;
						if (*lx->p == '\n') {
							lx->p++;
							continue;
						}
					}
					*lx->out++ = *lx->p++;
				}
				if (lx->p < lx->end)
					lx->p++;
			} else if (c == '\\' && lx->p + 1 < lx->end) {
				bare = false;
				lx->p++;
				if (*lx->p == '\n')
					lx->p++;
				else
					*lx->out++ = *lx->p++;
			} else {
				*lx->out++ = *lx->p++;
			}
		}
		*lx->out++ = '\0';
		w[*n].s = start;
		w[*n].bare = bare;
		(*n)++;
		if (bare && !strcmp(start, "{"))
			return 1;
		if (bare && !strcmp(start, "}")) {
			if (*n > 1) {
				/* "foo }" on one line: hand back "foo" now,
				 * the brace on the next call. */
				(*n)--;
				lx->out = (char *)start;
				lx->p--;
				return 1;
			}
			return 1;
		}
	}
}

/* ---- grub.cfg ---- */

enum node_kind { NODE_ENTRY, NODE_SUBMENU };

struct node {
	enum node_kind kind;
	int parent;   /* node index, -1 at top level */
	int position; /* among the parent's children */
	const char *title, *id;
	const char *kernel;
	const char *initrd[HVM_BOOTCFG_INITRD_MAX];
	size_t ninitrd;
	bool too_many_initrd;
	const char *args; /* nargs NUL-separated words, one after another */
	size_t nargs;
};

struct grub {
	struct node *nodes;
	int nnodes;
	int children_top; /* children counted at top level */
	const char *deflt;
};

/* "(hd0,gpt2)/boot/x" -> "/boot/x"; "($root)/x" -> "/x". */
static const char *strip_device(const char *p)
{
	if (*p == '(') {
		const char *close = strchr(p, ')');
		if (close)
			return close + 1;
	}
	return p;
}

static bool is_var(const char *s)
{
	return s[0] == '$';
}

/* Title and id from `menuentry|submenu WORDS... {`. */
static void entry_names(const struct word *w, size_t n, const char **title,
			const char **id)
{
	*title = *id = NULL;
	for (size_t i = 1; i + 1 < n; i++) {
		const char *s = w[i].s;
		if (!strcmp(s, "--id") || !strcmp(s, "$menuentry_id_option") ||
		    !strcmp(s, "${menuentry_id_option}")) {
			if (i + 2 < n)
				*id = w[++i].s;
		} else if (!strcmp(s, "--class") || !strcmp(s, "--users") ||
			   !strcmp(s, "--hotkey")) {
			i++;
		} else if (!strncmp(s, "--", 2) && w[i].bare) {
			continue;
		} else if (!*title) {
			*title = s;
		}
	}
}

/* Finds a child of parent named by comp (position, title or id). */
static int grub_find(const struct grub *g, int parent, const char *comp)
{
	char *endp;
	long pos = strtol(comp, &endp, 10);
	bool numeric = *comp && !*endp && pos >= 0;
	for (int i = 0; i < g->nnodes; i++) {
		const struct node *nd = &g->nodes[i];
		if (nd->parent != parent)
			continue;
		if (numeric && nd->position == pos)
			return i;
		if ((nd->title && !strcmp(nd->title, comp)) ||
		    (nd->id && !strcmp(nd->id, comp)))
			return i;
	}
	return -1;
}

/* The node `set default=` names, or -1. */
static int grub_default(const struct grub *g, char *deflt)
{
	int at = -1;
	char *save = NULL;
	for (char *comp = strtok_r(deflt, ">", &save); comp;
	     comp = strtok_r(NULL, ">", &save)) {
		at = grub_find(g, at, comp);
		if (at < 0)
			return -1;
	}
	return at;
}

static int grub_fill(const struct node *nd, struct hvm_bootent *out,
		     struct hull_err *err)
{
	size_t total = 1;
	const char *s = nd->args;
	for (size_t i = 0; i < nd->nargs; i++, s += strlen(s) + 1)
		if (!is_var(s))
			total += strlen(s) + 1;
	if (total > HVM_BOOTCFG_CMDLINE_MAX)
		return hull_err_set(err, EINVAL,
				    "grub.cfg: command line of '%s' over %u "
				    "bytes",
				    nd->title ? nd->title : "",
				    HVM_BOOTCFG_CMDLINE_MAX);
	if (nd->too_many_initrd)
		return hull_err_set(err, EINVAL,
				    "grub.cfg: more than %d initrd files",
				    HVM_BOOTCFG_INITRD_MAX);
	memset(out, 0, sizeof(*out));
	out->source = HVM_BOOT_GRUB;
	out->title = nd->title ? xstrdup(nd->title) : NULL;
	out->kernel = xstrdup(strip_device(nd->kernel));
	for (size_t i = 0; i < nd->ninitrd; i++)
		out->initrd[i] = xstrdup(strip_device(nd->initrd[i]));
	out->ninitrd = nd->ninitrd;
	char *cl = xmalloc(total);
	cl[0] = '\0';
	size_t at = 0;
	s = nd->args;
	for (size_t i = 0; i < nd->nargs; i++, s += strlen(s) + 1) {
		if (is_var(s))
			continue;
		size_t l = strlen(s);
		if (at)
			cl[at++] = ' ';
		memcpy(cl + at, s, l + 1);
		at += l;
	}
	out->cmdline = cl;
	return 0;
}

int hvm_grub_parse(const char *text, size_t len, struct hvm_bootent *out,
		   struct hull_err *err)
{
	if (len > HVM_BOOTCFG_TEXT_MAX)
		return hull_err_set(err, EINVAL, "grub.cfg: over %u bytes",
				    HVM_BOOTCFG_TEXT_MAX);
	/* Each word takes at most its own bytes plus a NUL. */
	_cleanup_free_ char *scratch = xmalloc(2 * len + 2);
	_cleanup_free_ struct word *w = xcalloc(MAX_WORDS, sizeof(*w));
	struct grub g = {.nodes = NULL};
	_cleanup_free_ struct node *nodes =
	    xcalloc(HVM_BOOTCFG_ENTRIES_MAX, sizeof(*nodes));
	g.nodes = nodes;
	struct lexer lx = {.p = text, .end = text + len, .out = scratch};
	/* Open blocks: node index, or -1 for a block whose body is skipped
	 * (function, or anything else that ends in `{`). */
	int stack[MAX_DEPTH];
	int depth = 0;
	int top_children = 0;
	int sub_children[MAX_DEPTH] = {0};
	size_t n;
	int r;

	while ((r = lex_command(&lx, w, &n)) > 0) {
		if (!n)
			continue;
		const char *cmd = w[0].s;
		bool opens = w[n - 1].bare && !strcmp(w[n - 1].s, "{");
		if (w[0].bare && !strcmp(cmd, "}")) {
			if (depth == 0)
				return hull_err_set(err, EINVAL,
						    "grub.cfg: unbalanced '}'");
			depth--;
			continue;
		}
		int cur = depth ? stack[depth - 1] : -2; /* -2: top level */
		bool skipping = false;
		for (int i = 0; i < depth; i++)
			skipping |= stack[i] == -1;
		if (opens) {
			if (depth >= MAX_DEPTH)
				return hull_err_set(err, EINVAL,
						    "grub.cfg: blocks nested "
						    "deeper than %d",
						    MAX_DEPTH);
			bool menu = !strcmp(cmd, "menuentry");
			bool sub = !strcmp(cmd, "submenu");
			int parent_node = cur >= 0 ? cur : -1;
			bool in_menu =
			    cur == -2 ||
			    (cur >= 0 && g.nodes[cur].kind == NODE_SUBMENU);
			if ((menu || sub) && !skipping && in_menu) {
				if (g.nnodes >= HVM_BOOTCFG_ENTRIES_MAX)
					return hull_err_set(
					    err, EINVAL,
					    "grub.cfg: more than %d entries",
					    HVM_BOOTCFG_ENTRIES_MAX);
				struct node *nd = &g.nodes[g.nnodes];
				nd->kind = menu ? NODE_ENTRY : NODE_SUBMENU;
				nd->parent = parent_node;
				nd->position = cur == -2
						   ? top_children++
						   : sub_children[depth - 1]++;
				entry_names(w, n, &nd->title, &nd->id);
				sub_children[depth] = 0;
				stack[depth++] = g.nnodes++;
			} else {
				stack[depth++] = -1;
			}
			continue;
		}
		if (skipping)
			continue;
		if (cur >= 0 && g.nodes[cur].kind == NODE_ENTRY) {
			struct node *nd = &g.nodes[cur];
			if ((!strcmp(cmd, "linux") ||
			     !strcmp(cmd, "linuxefi") ||
			     !strcmp(cmd, "linux16")) &&
			    n >= 2) {
				nd->kernel = w[1].s;
				/* Words of a command lie one after another
				 * in the scratch buffer. */
				nd->nargs = n - 2;
				nd->args = n > 2 ? w[2].s : "";
			} else if (!strcmp(cmd, "initrd") ||
				   !strcmp(cmd, "initrdefi") ||
				   !strcmp(cmd, "initrd16")) {
				nd->ninitrd = 0;
				nd->too_many_initrd = false;
				for (size_t i = 1; i < n; i++) {
					if (nd->ninitrd >=
					    HVM_BOOTCFG_INITRD_MAX) {
						nd->too_many_initrd = true;
						break;
					}
					nd->initrd[nd->ninitrd++] = w[i].s;
				}
			}
			continue;
		}
		/* Outside any entry: only `set default=` matters. */
		if (!strcmp(cmd, "set") && n >= 2 &&
		    !strncmp(w[1].s, "default=", 8)) {
			const char *v = w[1].s + 8;
			if (!strchr(v, '$'))
				g.deflt = v;
		}
	}
	if (r < 0)
		return hull_err_set(err, EINVAL,
				    "grub.cfg: a command of more than %d words",
				    MAX_WORDS);
	if (depth)
		return hull_err_set(err, EINVAL, "grub.cfg: unclosed block");

	int pick = -1;
	if (g.deflt && *g.deflt) {
		_cleanup_free_ char *d = xstrdup(g.deflt);
		pick = grub_default(&g, d);
		if (pick >= 0 && g.nodes[pick].kind != NODE_ENTRY)
			pick = -1;
	}
	if (pick < 0) {
		/* grub falls back to the first entry. */
		for (int i = 0; i < g.nnodes; i++)
			if (g.nodes[i].kind == NODE_ENTRY) {
				pick = i;
				break;
			}
	}
	if (pick < 0)
		return hull_err_set(err, ENOENT, "grub.cfg: no menuentry");
	if (!g.nodes[pick].kernel)
		return hull_err_set(err, ENOENT,
				    "grub.cfg: default entry '%s' has no linux "
				    "line",
				    g.nodes[pick].title ? g.nodes[pick].title
							: "");
	return grub_fill(&g.nodes[pick], out, err);
}

/* ---- BLS ---- */

int hvm_bls_parse(const char *text, size_t len, struct hvm_bootent *out,
		  char **version, struct hull_err *err)
{
	memset(out, 0, sizeof(*out));
	*version = NULL;
	if (len > HVM_BOOTCFG_TEXT_MAX)
		return hull_err_set(err, EINVAL, "BLS entry: over %u bytes",
				    HVM_BOOTCFG_TEXT_MAX);
	_cleanup_free_ char *opts = NULL, *cl = NULL;
	size_t optlen = 0;
	const char *p = text, *end = text + len;
	int r = 0;
	out->source = HVM_BOOT_BLS;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *k = p;
		p = nl ? nl + 1 : end;
		while (k < le && (*k == ' ' || *k == '\t'))
			k++;
		if (k == le || *k == '#')
			continue;
		const char *ke = k;
		while (ke < le && *ke != ' ' && *ke != '\t')
			ke++;
		const char *v = ke;
		while (v < le && (*v == ' ' || *v == '\t'))
			v++;
		const char *ve = le;
		while (ve > v &&
		       (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
			ve--;
		size_t kl = (size_t)(ke - k), vl = (size_t)(ve - v);
		if (memchr(v, '\0', vl)) {
			r = hull_err_set(err, EINVAL, "BLS entry: NUL byte");
			goto fail;
		}
#define KEY(s) (kl == sizeof(s) - 1 && !memcmp(k, s, kl))
		if (KEY("linux")) {
			free(out->kernel);
			out->kernel = xstrndup(v, vl);
		} else if (KEY("initrd")) {
			if (out->ninitrd >= HVM_BOOTCFG_INITRD_MAX) {
				r = hull_err_set(err, EINVAL,
						 "BLS entry: more than %d "
						 "initrd lines",
						 HVM_BOOTCFG_INITRD_MAX);
				goto fail;
			}
			out->initrd[out->ninitrd++] = xstrndup(v, vl);
		} else if (KEY("options")) {
			/* Several options lines are joined. */
			if (optlen + vl + 1 > HVM_BOOTCFG_CMDLINE_MAX) {
				r = hull_err_set(err, EINVAL,
						 "BLS entry: options over %u "
						 "bytes",
						 HVM_BOOTCFG_CMDLINE_MAX);
				goto fail;
			}
			opts = xrealloc(opts, optlen + vl + 2);
			if (optlen)
				opts[optlen++] = ' ';
			memcpy(opts + optlen, v, vl);
			optlen += vl;
			opts[optlen] = '\0';
		} else if (KEY("title")) {
			free(out->title);
			out->title = xstrndup(v, vl);
		} else if (KEY("version")) {
			free(*version);
			*version = xstrndup(v, vl);
		}
#undef KEY
	}
	if (!out->kernel || !*out->kernel) {
		r = hull_err_set(err, ENOENT, "BLS entry: no linux line");
		goto fail;
	}
	/* Variables ($kernelopts from grubenv) cannot be resolved here. */
	cl = xmalloc(optlen + 1);
	size_t at = 0;
	char *save = NULL;
	for (char *t = opts ? strtok_r(opts, " \t", &save) : NULL; t;
	     t = strtok_r(NULL, " \t", &save)) {
		if (is_var(t))
			continue;
		size_t l = strlen(t);
		if (at)
			cl[at++] = ' ';
		memcpy(cl + at, t, l);
		at += l;
	}
	cl[at] = '\0';
	out->cmdline = cl;
	cl = NULL;
	return 0;
fail:
	hvm_bootent_fini(out);
	free(*version);
	*version = NULL;
	return r;
}

size_t hvm_bls_pick(char *const *names, char *const *versions, size_t n)
{
	size_t best = 0;
	for (size_t i = 1; i < n; i++) {
		const char *a = versions[i], *b = versions[best];
		int c = 0;
		if (a && b)
			c = strverscmp(a, b);
		else if (a || b)
			c = a ? 1 : -1;
		if (c == 0)
			c = strverscmp(names[i], names[best]);
		if (c > 0)
			best = i;
	}
	return best;
}

/* ---- newest kernel ---- */

static bool has_name(char *const *names, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], want))
			return true;
	return false;
}

int hvm_boot_newest(char *const *names, size_t n, struct hvm_bootent *out,
		    struct hull_err *err)
{
	memset(out, 0, sizeof(*out));
	const char *best = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *v = names[i];
		if (strncmp(v, "vmlinuz-", 8) || !v[8])
			continue;
		if (!best || strverscmp(v + 8, best) > 0)
			best = v + 8;
	}
	if (!best)
		return hull_err_set(err, ENOENT, "no /boot/vmlinuz-*");
	if (strlen(best) > 255)
		return hull_err_set(err, EINVAL, "kernel name too long");
	out->source = HVM_BOOT_NEWEST;
	out->kernel = xasprintf("/boot/vmlinuz-%s", best);
	const char *forms[] = {"initrd.img-%s", "initrd-%s.img",
			       "initramfs-%s.img", "initrd-%s"};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		_cleanup_free_ char *nm = NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		nm = xasprintf(forms[i], best);
#pragma GCC diagnostic pop
		if (has_name(names, n, nm)) {
			out->initrd[0] = xasprintf("/boot/%s", nm);
			out->ninitrd = 1;
			break;
		}
	}
	out->cmdline = xstrdup(HVM_BOOT_DEFAULT_CMDLINE);
	return 0;
}
