/*
 * parse.c - recursive-descent parser of the rule language (see rule.h).
 *
 * The grammar is the reference one (Triton's fwrule, language version 4):
 *
 *   rule     := FROM tlist TO tlist action proto [PRIORITY word] EOF
 *   tlist    := any | all | target | '(' target {OR target} ')'
 *   any      := ANY | '(' ANY ')'        all := ALL VMS | '(' ALL VMS ')'
 *   target   := IP (ipv4|ipv6) | SUBNET (ipv4|ipv6) cidr | VM word
 *             | TAG tstr ['=' tstr]      tstr := string | word
 *   action   := ALLOW | BLOCK
 *   proto    := (TCP|UDP) (plist | PORTS prange {',' prange})
 *             | (ICMP|ICMP6) ilist | AH | ESP
 *   plist    := PORT (word|ALL) | '(' PORT ALL ')'
 *             | '(' PORT word {AND PORT word} ')'
 *   prange   := word | word '-' word     (a word may itself be "a-b")
 *   ilist    := TYPE ALL | type | '(' TYPE ALL ')' | '(' type {AND type} ')'
 *   type     := TYPE word [CODE word]
 *
 * followed by the checks Triton makes on the parsed rule (limits, ICMP
 * address families, "rule does not affect VMs") and its canonical ordering.
 * Every error names the character position and the token it is about.
 */
#include "fw/rule.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw/lex.h"
#include "fw/text.h"
#include "lib/xalloc.h"

/* A target as written, before deduplication. */
struct raw_target {
	enum { RT_ANY, RT_ALLVMS, RT_IP, RT_SUBNET, RT_TAG, RT_VM } kind;
	char *a; /* ip / subnet / vm / tag name */
	char *b; /* tag value or NULL */
};

struct raw_side {
	struct raw_target *t;
	size_t n, cap;
};

struct parser {
	const char *text;
	struct fw_lexer lx;
	struct fw_token tok;
	struct hull_err *err;
};

static void tok_drop(struct fw_token *t)
{
	free(t->val);
	t->val = NULL;
}

static void advance(struct parser *p)
{
	tok_drop(&p->tok);
	fw_lex_next(&p->lx, &p->tok);
}

/* 1-based character (code point) column of a byte offset. */
static size_t column(const char *s, size_t off)
{
	size_t col = 1;
	for (size_t i = 0; i < off; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			col++;
	return col;
}

/* The token's text for messages: at most 40 bytes, cut on a character. */
static int tok_text_len(const struct parser *p, const struct fw_token *t)
{
	size_t n = t->len;
	if (t->kind == TK_BAD) {
		n = 0;
		while (n < 20 && t->pos + n < p->lx.len)
			n++;
	}
	if (n > 40)
		n = 40;
	while (n > 0 && t->pos + n < p->lx.len &&
	       ((unsigned char)p->text[t->pos + n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

static int syntax_error(struct parser *p, const char *expected)
{
	const struct fw_token *t = &p->tok;
	if (t->kind == TK_EOF)
		return hull_err_set(p->err, EINVAL,
				    "at character %zu: unexpected end of rule, "
				    "expected %s",
				    column(p->text, t->pos), expected);
	if (t->kind == TK_BAD)
		return hull_err_set(p->err, EINVAL,
				    "at character %zu: unexpected text '%.*s'",
				    column(p->text, t->pos), tok_text_len(p, t),
				    p->text + t->pos);
	return hull_err_set(
	    p->err, EINVAL,
	    "at character %zu: unexpected %s '%.*s', expected %s",
	    column(p->text, t->pos), fw_tok_name(t->kind), tok_text_len(p, t),
	    p->text + t->pos, expected);
}

/* A semantic error about token t (already consumed). */
static int value_error(struct parser *p, const struct fw_token *t,
		       const char *what)
{
	return hull_err_set(p->err, EINVAL, "at character %zu: %s '%.*s'",
			    column(p->text, t->pos), what, tok_text_len(p, t),
			    p->text + t->pos);
}

static char *tok_strdup(const struct parser *p, const struct fw_token *t)
{
	return xstrndup(p->text + t->pos, t->len);
}

/* A word of decimal digits (leading zeros allowed, as Number() does) in
 * [min, max]. */
static bool digits_in_range(const char *s, size_t n, long min, long max,
			    long *out)
{
	if (n == 0)
		return false;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
		if (v > 1000000)
			v = 1000000;
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool uuid_lower_valid(const char *s, size_t n)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	if (n != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (shape[i] == '-'
			? c != '-'
			: !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static void side_push(struct raw_side *s, int kind, char *a, char *b)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4;
		s->t = xrealloc(s->t, s->cap * sizeof(*s->t));
	}
	s->t[s->n].kind = kind;
	s->t[s->n].a = a;
	s->t[s->n].b = b;
	s->n++;
}

static void raw_side_free(struct raw_side *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->t[i].a);
		free(s->t[i].b);
	}
	free(s->t);
}

static int parse_tstr(struct parser *p, char **out)
{
	if (p->tok.kind == TK_STRING) {
		*out = p->tok.val;
		p->tok.val = NULL;
	} else if (p->tok.kind == TK_WORD) {
		*out = tok_strdup(p, &p->tok);
	} else {
		return syntax_error(
		    p, "a tag name or value (word or quoted string)");
	}
	advance(p);
	return 0;
}

static int parse_target(struct parser *p, struct raw_side *side)
{
	enum fw_tok k = p->tok.kind;
	struct fw_token t;
	switch (k) {
	case TK_IP:
		advance(p);
		t = p->tok;
		if (t.kind == TK_IPV4) {
			char *ip = tok_strdup(p, &t);
			if (!fw_is_ipv4_node(ip) || !strcmp(ip, "0.0.0.0") ||
			    !strcmp(ip, "255.255.255.255")) {
				free(ip);
				return value_error(p, &t,
						   "invalid IPv4 address");
			}
			side_push(side, RT_IP, ip, NULL);
		} else if (t.kind == TK_IPV6) {
			char *ip = tok_strdup(p, &t);
			if (!fw_is_ipv6_node(ip)) {
				free(ip);
				return value_error(p, &t,
						   "invalid IPv6 address");
			}
			side_push(side, RT_IP, ip, NULL);
		} else {
			return syntax_error(p, "an IP address");
		}
		advance(p);
		return 0;
	case TK_SUBNET: {
		advance(p);
		t = p->tok;
		if (t.kind != TK_IPV4 && t.kind != TK_IPV6)
			return syntax_error(p, "a subnet address");
		advance(p);
		if (p->tok.kind != TK_CIDR)
			return syntax_error(p, "a prefix length ('/N')");
		char *net = xasprintf("%.*s%.*s", (int)t.len, p->text + t.pos,
				      (int)p->tok.len, p->text + p->tok.pos);
		uint8_t addr[16];
		bool v4;
		int plen;
		if (!fw_subnet_parse(net, addr, &v4, &plen)) {
			t.len = p->tok.pos + p->tok.len - t.pos;
			free(net);
			return value_error(p, &t, "invalid subnet");
		}
		side_push(side, RT_SUBNET, net, NULL);
		advance(p);
		return 0;
	}
	case TK_VM:
		advance(p);
		if (p->tok.kind != TK_WORD)
			return syntax_error(p, "a VM UUID");
		if (!uuid_lower_valid(p->text + p->tok.pos, p->tok.len))
			return value_error(p, &p->tok, "invalid UUID");
		side_push(side, RT_VM, tok_strdup(p, &p->tok), NULL);
		advance(p);
		return 0;
	case TK_TAG: {
		advance(p);
		char *name = NULL, *value = NULL;
		if (parse_tstr(p, &name) < 0)
			return -EINVAL;
		if (p->tok.kind == TK_EQ) {
			advance(p);
			if (parse_tstr(p, &value) < 0) {
				free(name);
				return -EINVAL;
			}
		}
		side_push(side, RT_TAG, name, value);
		return 0;
	}
	default:
		return syntax_error(p, "ip, subnet, vm or tag");
	}
}

static int expect(struct parser *p, enum fw_tok kind, const char *what)
{
	if (p->tok.kind != kind)
		return syntax_error(p, what);
	advance(p);
	return 0;
}

static int parse_tlist(struct parser *p, struct raw_side *side)
{
	switch (p->tok.kind) {
	case TK_ANY:
		side_push(side, RT_ANY, NULL, NULL);
		advance(p);
		return 0;
	case TK_ALL:
		advance(p);
		side_push(side, RT_ALLVMS, NULL, NULL);
		return expect(p, TK_VMS, "vms");
	case TK_LPAREN:
		advance(p);
		if (p->tok.kind == TK_ANY) {
			side_push(side, RT_ANY, NULL, NULL);
			advance(p);
			return expect(p, TK_RPAREN, "')'");
		}
		if (p->tok.kind == TK_ALL) {
			advance(p);
			side_push(side, RT_ALLVMS, NULL, NULL);
			if (expect(p, TK_VMS, "vms") < 0)
				return -EINVAL;
			return expect(p, TK_RPAREN, "')'");
		}
		for (;;) {
			if (parse_target(p, side) < 0)
				return -EINVAL;
			if (p->tok.kind == TK_RPAREN)
				break;
			if (p->tok.kind != TK_OR)
				return syntax_error(p, "OR or ')'");
			advance(p);
		}
		advance(p);
		return 0;
	default:
		if (p->tok.kind != TK_IP && p->tok.kind != TK_SUBNET &&
		    p->tok.kind != TK_VM && p->tok.kind != TK_TAG)
			return syntax_error(
			    p, "any, all vms, ip, subnet, vm, tag or '('");
		return parse_target(p, side);
	}
}

static void push_port(struct fw_rule *r, long start, long end, bool range)
{
	r->ports = xrealloc(r->ports, (r->nports + 1) * sizeof(*r->ports));
	r->ports[r->nports].start = (uint16_t)start;
	r->ports[r->nports].end = (uint16_t)end;
	r->ports[r->nports].range = range;
	r->nports++;
}

static int port_word(struct parser *p, const struct fw_token *t, long *out)
{
	if (!digits_in_range(p->text + t->pos, t->len, 1, 65535, out))
		return value_error(p, t, "invalid port number");
	return 0;
}

/* PORTS a, b-c, d - e: a word may be "N" or "N-M" itself. */
static int parse_ports(struct parser *p, struct fw_rule *r)
{
	for (;;) {
		if (p->tok.kind != TK_WORD)
			return syntax_error(p, "a port number or range");
		struct fw_token a = p->tok;
		advance(p);
		long s = 0, e = 0;
		if (p->tok.kind == TK_DASH) {
			advance(p);
			if (p->tok.kind != TK_WORD)
				return syntax_error(
				    p, "the end of the port range");
			struct fw_token b = p->tok;
			if (port_word(p, &a, &s) < 0 ||
			    port_word(p, &b, &e) < 0)
				return -EINVAL;
			if (e < s)
				return value_error(
				    p, &b, "port range ends before it starts");
			push_port(r, s, e, true);
			advance(p);
		} else {
			const char *w = p->text + a.pos;
			const char *dash = memchr(w, '-', a.len);
			if (!dash) {
				if (port_word(p, &a, &s) < 0)
					return -EINVAL;
				push_port(r, s, s, false);
			} else {
				size_t n1 = (size_t)(dash - w),
				       n2 = a.len - n1 - 1;
				if (memchr(dash + 1, '-', n2))
					return value_error(
					    p, &a,
					    "invalid port number or range");
				if (!digits_in_range(w, n1, 1, 65535, &s) ||
				    !digits_in_range(dash + 1, n2, 1, 65535,
						     &e))
					return value_error(
					    p, &a, "invalid port number");
				if (e < s)
					return value_error(
					    p, &a,
					    "port range ends before it starts");
				push_port(r, s, e, true);
			}
		}
		if (p->tok.kind != TK_COMMA)
			return 0;
		advance(p);
	}
}

/* PORT n | PORT ALL, after PORT has been seen. */
static int parse_port(struct parser *p, struct fw_rule *r, bool allow_all)
{
	if (expect(p, TK_PORT, "PORT") < 0)
		return -EINVAL;
	if (allow_all && p->tok.kind == TK_ALL) {
		r->all = true;
		advance(p);
		return 0;
	}
	if (p->tok.kind != TK_WORD)
		return syntax_error(p, allow_all ? "a port number or ALL"
						 : "a port number");
	long v = 0;
	if (port_word(p, &p->tok, &v) < 0)
		return -EINVAL;
	push_port(r, v, v, false);
	advance(p);
	return 0;
}

static int parse_plist(struct parser *p, struct fw_rule *r)
{
	if (p->tok.kind == TK_PORTS) {
		advance(p);
		return parse_ports(p, r);
	}
	if (p->tok.kind == TK_PORT)
		return parse_port(p, r, true);
	if (p->tok.kind != TK_LPAREN)
		return syntax_error(p, "PORT, PORTS or '('");
	advance(p);
	if (parse_port(p, r, true) < 0)
		return -EINVAL;
	if (!r->all) {
		while (p->tok.kind == TK_AND) {
			advance(p);
			if (parse_port(p, r, false) < 0)
				return -EINVAL;
		}
	}
	return expect(p, TK_RPAREN, r->all ? "')'" : "AND or ')'");
}

static int parse_type(struct parser *p, struct fw_rule *r, bool allow_all)
{
	if (expect(p, TK_TYPE, "TYPE") < 0)
		return -EINVAL;
	if (allow_all && p->tok.kind == TK_ALL) {
		r->all = true;
		advance(p);
		return 0;
	}
	if (p->tok.kind != TK_WORD)
		return syntax_error(p, allow_all ? "an ICMP type or ALL"
						 : "an ICMP type");
	long type = 0, code = -1;
	if (!digits_in_range(p->text + p->tok.pos, p->tok.len, 0, 255, &type))
		return value_error(p, &p->tok, "invalid ICMP type");
	advance(p);
	if (p->tok.kind == TK_CODE) {
		advance(p);
		if (p->tok.kind != TK_WORD)
			return syntax_error(p, "an ICMP code");
		if (!digits_in_range(p->text + p->tok.pos, p->tok.len, 0, 255,
				     &code))
			return value_error(p, &p->tok, "invalid ICMP code");
		advance(p);
	}
	r->types = xrealloc(r->types, (r->ntypes + 1) * sizeof(*r->types));
	r->types[r->ntypes].type = (int)type;
	r->types[r->ntypes].code = (int)code;
	r->ntypes++;
	return 0;
}

static int parse_ilist(struct parser *p, struct fw_rule *r)
{
	if (p->tok.kind == TK_TYPE)
		return parse_type(p, r, true);
	if (p->tok.kind != TK_LPAREN)
		return syntax_error(p, "TYPE or '('");
	advance(p);
	if (parse_type(p, r, true) < 0)
		return -EINVAL;
	if (!r->all) {
		while (p->tok.kind == TK_AND) {
			advance(p);
			if (parse_type(p, r, false) < 0)
				return -EINVAL;
		}
	}
	return expect(p, TK_RPAREN, r->all ? "')'" : "AND or ')'");
}

static int parse_proto(struct parser *p, struct fw_rule *r)
{
	switch (p->tok.kind) {
	case TK_TCP:
	case TK_UDP:
		r->proto = p->tok.kind == TK_TCP ? FW_TCP : FW_UDP;
		advance(p);
		return parse_plist(p, r);
	case TK_ICMP:
	case TK_ICMP6:
		r->proto = p->tok.kind == TK_ICMP ? FW_ICMP : FW_ICMP6;
		advance(p);
		return parse_ilist(p, r);
	case TK_AH:
	case TK_ESP:
		r->proto = p->tok.kind == TK_AH ? FW_AH : FW_ESP;
		r->all = true;
		advance(p);
		return 0;
	default:
		return syntax_error(p, "tcp, udp, icmp, icmp6, ah or esp");
	}
}

/* --- Triton's sort --------------------------------------------------------
 * Array.prototype.sort in V8 is TimSort; below 64 elements that is one run
 * found by CountAndMakeRun followed by a binary insertion sort. Triton's
 * ICMP comparator is not consistent when types with and without a code are
 * mixed, so the exact algorithm decides the canonical order: we run the
 * same steps. A NaN comparison counts as 0, as the language requires. */

typedef double (*js_cmp)(const void *a, const void *b);

static double js_cmp_clean(js_cmp cmp, const void *a, const void *b)
{
	double v = cmp(a, b);
	return v != v ? 0 : v;
}

static void js_sort(void *base, size_t n, size_t sz, js_cmp cmp)
{
	char *a = base;
	char tmp[32];
	if (n < 2 || sz > sizeof(tmp))
		return;
	size_t run = 2;
	bool desc = js_cmp_clean(cmp, a + sz, a) < 0;
	for (size_t i = 2; i < n; i++) {
		double o = js_cmp_clean(cmp, a + i * sz, a + (i - 1) * sz);
		if (desc ? o >= 0 : o < 0)
			break;
		run++;
	}
	if (desc) {
		for (size_t i = 0, j = run - 1; i < j; i++, j--) {
			memcpy(tmp, a + i * sz, sz);
			memcpy(a + i * sz, a + j * sz, sz);
			memcpy(a + j * sz, tmp, sz);
		}
	}
	for (size_t start = run; start < n; start++) {
		memcpy(tmp, a + start * sz, sz);
		size_t left = 0, right = start;
		while (left < right) {
			size_t mid = left + ((right - left) >> 1);
			if (js_cmp_clean(cmp, tmp, a + mid * sz) < 0)
				right = mid;
			else
				left = mid + 1;
		}
		memmove(a + (left + 1) * sz, a + left * sz,
			(start - left) * sz);
		memcpy(a + left * sz, tmp, sz);
	}
}

static double port_cmp(const void *x, const void *y)
{
	const struct fw_port *a = x, *b = y;
	return (double)a->start - (double)b->start;
}

/* Triton's ICMP comparator, including its use of a's arity for b. */
static double icmp_cmp(const void *x, const void *y)
{
	const struct fw_icmp *a = x, *b = y;
	double at = (double)(a->type << 8) + (a->code < 0 ? 0 : a->code);
	double bt = (double)(b->type << 8);
	if (a->code >= 0)
		bt += b->code < 0 ? (double)NAN : b->code;
	return at - bt;
}

/* --- canonical sides ------------------------------------------------------ */

static int str16_cmp(const void *a, const void *b)
{
	return fw_str_cmp16(*(char *const *)a, *(char *const *)b);
}

static void sort_unique(char ***list, size_t *n)
{
	if (*n < 2)
		return;
	qsort(*list, *n, sizeof(char *), str16_cmp);
	size_t w = 1;
	for (size_t i = 1; i < *n; i++) {
		if (fw_str_cmp16((*list)[i], (*list)[w - 1]) == 0)
			free((*list)[i]);
		else
			(*list)[w++] = (*list)[i];
	}
	*n = w;
}

static void strv_push(char ***list, size_t *n, char *s)
{
	*list = xrealloc(*list, (*n + 1) * sizeof(char *));
	(*list)[(*n)++] = s;
}

static int tag_cmp(const void *a, const void *b)
{
	return fw_str_cmp16(((const struct fw_tag *)a)->name,
			    ((const struct fw_tag *)b)->name);
}

/* Triton keeps tags in plain JavaScript objects, where the key
 * "__proto__" is not a key: such a tag name, or value, simply vanishes. */
static const char proto_key[] = "__proto__";

static void side_build(struct fw_side *out, struct raw_side *in)
{
	for (size_t i = 0; i < in->n; i++) {
		struct raw_target *t = &in->t[i];
		switch (t->kind) {
		case RT_ANY:
			out->any = true;
			break;
		case RT_ALLVMS:
			out->allvms = true;
			break;
		case RT_IP:
			strv_push(&out->ips, &out->nips, t->a);
			t->a = NULL;
			break;
		case RT_SUBNET:
			strv_push(&out->subnets, &out->nsubnets, t->a);
			t->a = NULL;
			break;
		case RT_VM:
			strv_push(&out->vms, &out->nvms, t->a);
			t->a = NULL;
			break;
		case RT_TAG: {
			if (!strcmp(t->a, proto_key))
				break;
			struct fw_tag *tag = NULL;
			for (size_t k = 0; k < out->ntags; k++)
				if (!strcmp(out->tags[k].name, t->a))
					tag = &out->tags[k];
			if (!tag) {
				out->tags =
				    xrealloc(out->tags, (out->ntags + 1) *
							    sizeof(*out->tags));
				tag = &out->tags[out->ntags++];
				memset(tag, 0, sizeof(*tag));
				tag->name = t->a;
				t->a = NULL;
			}
			if (!t->b)
				tag->all = true;
			else if (strcmp(t->b, proto_key)) {
				strv_push(&tag->values, &tag->nvalues, t->b);
				t->b = NULL;
			}
			break;
		}
		}
	}
	sort_unique(&out->ips, &out->nips);
	sort_unique(&out->subnets, &out->nsubnets);
	sort_unique(&out->vms, &out->nvms);
	if (out->ntags > 1)
		qsort(out->tags, out->ntags, sizeof(*out->tags), tag_cmp);
	for (size_t k = 0; k < out->ntags; k++)
		sort_unique(&out->tags[k].values, &out->tags[k].nvalues);
}

/* A tag that still names something once printed: bare, or with values. */
static bool side_has_tags(const struct fw_side *s)
{
	for (size_t k = 0; k < s->ntags; k++)
		if (s->tags[k].all || s->tags[k].nvalues)
			return true;
	return false;
}

bool fw_side_has_vms(const struct fw_side *s)
{
	return s->allvms || s->nvms || side_has_tags(s);
}

static int check_icmp_family(const struct fw_side *s, bool v4,
			     struct hull_err *err)
{
	for (size_t i = 0; i < s->nips; i++)
		if (v4 ? !fw_is_ipv4_node(s->ips[i])
		       : !fw_is_ipv6_node(s->ips[i]))
			return hull_err_set(
			    err, EINVAL,
			    "rule affects ICMPv%c but contains a "
			    "non-IPv%c address (%s)",
			    v4 ? '4' : '6', v4 ? '4' : '6', s->ips[i]);
	for (size_t i = 0; i < s->nsubnets; i++) {
		char *a = xstrdup(s->subnets[i]);
		*strchr(a, '/') = '\0';
		bool ok = v4 ? fw_is_ipv4_node(a) : fw_is_ipv6_node(a);
		free(a);
		if (!ok)
			return hull_err_set(
			    err, EINVAL,
			    "rule affects ICMPv%c but contains a "
			    "non-IPv%c subnet (%s)",
			    v4 ? '4' : '6', v4 ? '4' : '6', s->subnets[i]);
	}
	return 0;
}

int fw_rule_parse(const char *text, struct fw_rule *r, struct hull_err *err)
{
	memset(r, 0, sizeof(*r));
	size_t len = strlen(text);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t at = i;
		if (!fw_utf8_next(text, len, &i, &cp, true))
			return hull_err_set(err, EINVAL,
					    "at character %zu: not valid UTF-8",
					    column(text, at));
	}
	struct parser p = {.text = text, .lx = {text, len, 0}, .err = err};
	struct raw_side from = {0}, to = {0};
	int rc = -EINVAL;
	fw_lex_next(&p.lx, &p.tok);
	if (expect(&p, TK_FROM, "FROM") < 0 || parse_tlist(&p, &from) < 0 ||
	    expect(&p, TK_TO, "TO") < 0 || parse_tlist(&p, &to) < 0)
		goto out;
	if (p.tok.kind == TK_ALLOW || p.tok.kind == TK_BLOCK) {
		r->action = p.tok.kind == TK_ALLOW ? FW_ALLOW : FW_BLOCK;
		advance(&p);
	} else {
		syntax_error(&p, "ALLOW or BLOCK");
		goto out;
	}
	if (parse_proto(&p, r) < 0)
		goto out;
	if (p.tok.kind == TK_PRIORITY) {
		advance(&p);
		long prio;
		if (p.tok.kind != TK_WORD) {
			syntax_error(&p, "a priority level");
			goto out;
		}
		if (!digits_in_range(text + p.tok.pos, p.tok.len, 0,
				     FW_PRIORITY_MAX, &prio)) {
			value_error(&p, &p.tok,
				    "invalid priority level (0-100)");
			goto out;
		}
		r->priority = (int)prio;
		advance(&p);
	}
	if (p.tok.kind != TK_EOF) {
		syntax_error(&p, p.tok.kind == TK_BAD ? ""
				 : r->priority	      ? "end of rule"
					       : "PRIORITY or end of rule");
		goto out;
	}

	/* The checks Triton makes on the parsed rule, in its order. */
	size_t ntargets = r->proto == FW_ICMP || r->proto == FW_ICMP6
			      ? (r->all ? 1 : r->ntypes)
			      : (r->all ? 1 : r->nports);
	if (ntargets > FW_MAX_PROTO_TARGETS) {
		rc = hull_err_set(err, EINVAL, "maximum of %d %s allowed",
				  FW_MAX_PROTO_TARGETS,
				  r->proto == FW_ICMP || r->proto == FW_ICMP6
				      ? "types"
				      : "ports");
		goto out;
	}
	if (to.n > FW_MAX_TARGETS_PER_SIDE ||
	    from.n > FW_MAX_TARGETS_PER_SIDE) {
		rc = hull_err_set(err, EINVAL,
				  "maximum of %d targets allowed per side",
				  FW_MAX_TARGETS_PER_SIDE);
		goto out;
	}
	js_sort(r->ports, r->nports, sizeof(*r->ports), port_cmp);
	js_sort(r->types, r->ntypes, sizeof(*r->types), icmp_cmp);
	side_build(&r->from, &from);
	side_build(&r->to, &to);
	if (r->proto == FW_ICMP || r->proto == FW_ICMP6) {
		bool v4 = r->proto == FW_ICMP;
		if (check_icmp_family(&r->from, v4, err) < 0 ||
		    check_icmp_family(&r->to, v4, err) < 0)
			goto out;
	}
	if (!fw_side_has_vms(&r->from) && !fw_side_has_vms(&r->to)) {
		rc = hull_err_set(err, EINVAL, "rule does not affect VMs");
		goto out;
	}
	rc = 0;
out:
	tok_drop(&p.tok);
	raw_side_free(&from);
	raw_side_free(&to);
	return rc;
}

static void side_free(struct fw_side *s)
{
	for (size_t i = 0; i < s->nips; i++)
		free(s->ips[i]);
	free(s->ips);
	for (size_t i = 0; i < s->nsubnets; i++)
		free(s->subnets[i]);
	free(s->subnets);
	for (size_t i = 0; i < s->nvms; i++)
		free(s->vms[i]);
	free(s->vms);
	for (size_t i = 0; i < s->ntags; i++) {
		free(s->tags[i].name);
		for (size_t k = 0; k < s->tags[i].nvalues; k++)
			free(s->tags[i].values[k]);
		free(s->tags[i].values);
	}
	free(s->tags);
	memset(s, 0, sizeof(*s));
}

void fw_rule_free(struct fw_rule *r)
{
	if (!r)
		return;
	side_free(&r->from);
	side_free(&r->to);
	free(r->ports);
	free(r->types);
	r->ports = NULL;
	r->types = NULL;
	r->nports = r->ntypes = 0;
}

char *fw_rule_canonical(const char *text, struct hull_err *err)
{
	struct fw_rule r;
	char *out = NULL;
	if (fw_rule_parse(text, &r, err) == 0)
		out = fw_rule_print(&r);
	fw_rule_free(&r);
	return out;
}
