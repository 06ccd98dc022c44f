/*
 * lex.h - the tokenizer of the rule language (internal to src/fw).
 *
 * It follows the reference lexer rule by rule: at each position the first
 * rule that matches wins (not the longest), keywords are all-upper or
 * all-lower case and end at a word boundary, numbers are plain words.
 */
#ifndef HULL_FW_LEX_H
#define HULL_FW_LEX_H

#include <stddef.h>

enum fw_tok {
	TK_EOF,
	TK_FROM,
	TK_TO,
	TK_IP,
	TK_SUBNET,
	TK_ANY,
	TK_ALL,
	TK_TAG,
	TK_VM,
	TK_VMS,
	TK_DASH,
	TK_COMMA,
	TK_EQ,
	TK_LPAREN,
	TK_RPAREN,
	TK_OR,
	TK_AND,
	TK_BLOCK,
	TK_ALLOW,
	TK_PORT,
	TK_PORTS,
	TK_TCP,
	TK_UDP,
	TK_ICMP,
	TK_ICMP6,
	TK_AH,
	TK_ESP,
	TK_TYPE,
	TK_CODE,
	TK_PRIORITY,
	TK_STRING,
	TK_IPV4,
	TK_IPV6,
	TK_CIDR,
	TK_WORD,
	TK_BAD, /* no rule matches here */
};

struct fw_token {
	enum fw_tok kind;
	size_t pos; /* byte offset of the token in the text */
	size_t len; /* bytes of source text */
	char *val;  /* TK_STRING: unescaped (owned); else NULL */
};

struct fw_lexer {
	const char *s;
	size_t len;
	size_t pos;
};

/* Reads the next token; for TK_BAD, pos is where lexing stopped. */
void fw_lex_next(struct fw_lexer *lx, struct fw_token *tok);

/* A short human name of a token kind ("'PORT'", "word", "end of rule"). */
const char *fw_tok_name(enum fw_tok kind);

#endif
