/*
 * lex.c - tokenizer of the rule language (see lex.h). The order of the
 * checks below is the order of the reference lexer's rules.
 */
#include "fw/lex.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw/text.h"
#include "lib/xalloc.h"

static const struct {
	const char *upper, *lower;
	enum fw_tok kind;
} keywords[] = {
    {"FROM", "from", TK_FROM},	  {"TO", "to", TK_TO},
    {"IP", "ip", TK_IP},	  {"SUBNET", "subnet", TK_SUBNET},
    {"ANY", "any", TK_ANY},	  {"ALL", "all", TK_ALL},
    {"TAG", "tag", TK_TAG},	  {"VM", "vm", TK_VM},
    {"VMS", "vms", TK_VMS},	  {"OR", "or", TK_OR},
    {"AND", "and", TK_AND},	  {"BLOCK", "block", TK_BLOCK},
    {"ALLOW", "allow", TK_ALLOW}, {"PORT", "port", TK_PORT},
    {"PORTS", "ports", TK_PORTS}, {"TCP", "tcp", TK_TCP},
    {"UDP", "udp", TK_UDP},	  {"ICMP", "icmp", TK_ICMP},
    {"ICMP6", "icmp6", TK_ICMP6}, {"AH", "ah", TK_AH},
    {"ESP", "esp", TK_ESP},	  {"TYPE", "type", TK_TYPE},
    {"CODE", "code", TK_CODE},	  {"PRIORITY", "priority", TK_PRIORITY},
};

static bool is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lhex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool is_xdigit_any(char c)
{
	return is_lhex(c) || (c >= 'A' && c <= 'F');
}

static unsigned hexval(char c)
{
	return (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
}

/* The quoted-string rule: '"' (escape | not '"' or '\')* '"'. Returns the
 * length matched (0: no match) and the unescaped value. */
static size_t lex_string(const char *s, size_t len, char **out)
{
	size_t i = 1;
	while (i < len && s[i] != '"') {
		if (s[i] != '\\') {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return 0;
		char e = s[i + 1];
		if (strchr("\"bfnrt/()\\", e) && e != '\0') {
			i += 2;
		} else if (e == 'u' && i + 5 < len && is_xdigit_any(s[i + 2]) &&
			   is_xdigit_any(s[i + 3]) && is_xdigit_any(s[i + 4]) &&
			   is_xdigit_any(s[i + 5])) {
			i += 6;
		} else {
			return 0;
		}
	}
	if (i >= len)
		return 0;
	/* Unescape the body s[1, i). A \u escape is one UTF-16 unit; two that
	 * form a surrogate pair become one code point. */
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);
	if (!f)
		abort();
	for (size_t k = 1; k < i;) {
		if (s[k] != '\\') {
			fputc(s[k], f);
			k++;
			continue;
		}
		char e = s[k + 1];
		uint32_t cp;
		switch (e) {
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			cp = hexval(s[k + 2]) << 12 | hexval(s[k + 3]) << 8 |
			     hexval(s[k + 4]) << 4 | hexval(s[k + 5]);
			k += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && k + 7 < i &&
			    s[k + 2] == '\\' && s[k + 3] == 'u') {
				uint32_t lo = hexval(s[k + 4]) << 12 |
					      hexval(s[k + 5]) << 8 |
					      hexval(s[k + 6]) << 4 |
					      hexval(s[k + 7]);
				if (lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					     (lo - 0xdc00);
					k += 6;
				}
			}
			break;
		default:
			cp = (uint32_t)e;
			break;
		}
		fw_utf8_put(f, cp);
		k += 2;
	}
	fclose(f);
	*out = buf;
	return i + 1;
}

/* {t}.{t}.{t}.{t} with t = 1..3 digits. */
static size_t lex_ipv4(const char *s, size_t len)
{
	size_t i = 0;
	for (int k = 0; k < 4; k++) {
		size_t n = 0;
		while (i + n < len && is_digit(s[i + n]))
			n++;
		if (n == 0)
			return 0;
		if (k < 3) {
			if (n > 3 || i + n >= len || s[i + n] != '.')
				return 0;
			i += n + 1;
		} else {
			i += n > 3 ? 3 : n;
		}
	}
	return i;
}

/* {hex}* ':' {hex}* ':' [:0-9a-f]* (hex: lower case only). */
static size_t lex_ipv6(const char *s, size_t len)
{
	size_t i = 0;
	for (int k = 0; k < 2; k++) {
		while (i < len && is_lhex(s[i]))
			i++;
		if (i >= len || s[i] != ':')
			return 0;
		i++;
	}
	while (i < len && (is_lhex(s[i]) || s[i] == ':'))
		i++;
	return i;
}

void fw_lex_next(struct fw_lexer *lx, struct fw_token *tok)
{
	const char *s = lx->s;
	size_t len = lx->len;
	size_t n;
	while (lx->pos < len && (n = fw_js_space(s, len, lx->pos)) > 0)
		lx->pos += n;
	tok->pos = lx->pos;
	tok->val = NULL;
	tok->len = 0;
	if (lx->pos >= len) {
		tok->kind = TK_EOF;
		return;
	}
	const char *p = s + lx->pos;
	size_t rest = len - lx->pos;

	/* Keywords: a whole run of word characters equal to one of them. */
	size_t run = 0;
	while (run < rest && is_word_char(p[run]))
		run++;
	for (size_t k = 0; run && k < sizeof(keywords) / sizeof(keywords[0]);
	     k++) {
		if ((strlen(keywords[k].upper) == run) &&
		    (!memcmp(p, keywords[k].upper, run) ||
		     !memcmp(p, keywords[k].lower, run))) {
			tok->kind = keywords[k].kind;
			tok->len = run;
			lx->pos += run;
			return;
		}
	}
	enum fw_tok single = TK_BAD;
	switch (*p) {
	case '-':
		single = TK_DASH;
		break;
	case ',':
		single = TK_COMMA;
		break;
	case '=':
		single = TK_EQ;
		break;
	case '(':
		single = TK_LPAREN;
		break;
	case ')':
		single = TK_RPAREN;
		break;
	default:
		break;
	}
	if (single != TK_BAD) {
		tok->kind = single;
		tok->len = 1;
		lx->pos++;
		return;
	}
	if (*p == '"' && (n = lex_string(p, rest, &tok->val)) > 0) {
		tok->kind = TK_STRING;
	} else if ((n = lex_ipv4(p, rest)) > 0) {
		tok->kind = TK_IPV4;
	} else if ((n = lex_ipv6(p, rest)) > 0) {
		tok->kind = TK_IPV6;
	} else if (*p == '/' && rest > 1 && is_digit(p[1])) {
		n = 1;
		while (n < rest && n < 4 && is_digit(p[n]))
			n++;
		tok->kind = TK_CIDR;
	} else {
		n = 0;
		while (n < rest && (is_word_char(p[n]) || p[n] == '-'))
			n++;
		tok->kind = n ? TK_WORD : TK_BAD;
	}
	tok->len = n;
	lx->pos += n;
}

const char *fw_tok_name(enum fw_tok kind)
{
	static const char *const names[] = {
	    [TK_EOF] = "end of rule",
	    [TK_FROM] = "FROM",
	    [TK_TO] = "TO",
	    [TK_IP] = "ip",
	    [TK_SUBNET] = "subnet",
	    [TK_ANY] = "any",
	    [TK_ALL] = "all",
	    [TK_TAG] = "tag",
	    [TK_VM] = "vm",
	    [TK_VMS] = "vms",
	    [TK_DASH] = "'-'",
	    [TK_COMMA] = "','",
	    [TK_EQ] = "'='",
	    [TK_LPAREN] = "'('",
	    [TK_RPAREN] = "')'",
	    [TK_OR] = "OR",
	    [TK_AND] = "AND",
	    [TK_BLOCK] = "BLOCK",
	    [TK_ALLOW] = "ALLOW",
	    [TK_PORT] = "PORT",
	    [TK_PORTS] = "PORTS",
	    [TK_TCP] = "tcp",
	    [TK_UDP] = "udp",
	    [TK_ICMP] = "icmp",
	    [TK_ICMP6] = "icmp6",
	    [TK_AH] = "ah",
	    [TK_ESP] = "esp",
	    [TK_TYPE] = "TYPE",
	    [TK_CODE] = "CODE",
	    [TK_PRIORITY] = "PRIORITY",
	    [TK_STRING] = "quoted string",
	    [TK_IPV4] = "IPv4 address",
	    [TK_IPV6] = "IPv6 address",
	    [TK_CIDR] = "prefix length",
	    [TK_WORD] = "word",
	    [TK_BAD] = "unexpected text",
	};
	return names[kind];
}
