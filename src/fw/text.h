/*
 * text.h - the few text primitives the rule language needs: UTF-8 decoding
 * and encoding (U+0000 as C0 80, lone surrogates as their 3-byte form, so
 * any JavaScript string survives), comparison in UTF-16 code unit order (the
 * order of JavaScript's default sort, which fixes Triton's canonical target
 * order), and the whitespace and address syntax of the reference parser.
 */
#ifndef HULL_FW_TEXT_H
#define HULL_FW_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Decodes one code point at s[*i] (advancing *i). strict: refuse C0 80 and
 * surrogates, as in input text; otherwise accept the internal forms.
 * Returns false on a malformed sequence. */
bool fw_utf8_next(const char *s, size_t len, size_t *i, uint32_t *cp,
		  bool strict);

/* Writes cp in the internal form. */
void fw_utf8_put(FILE *f, uint32_t cp);

/* strcmp in UTF-16 code unit order. */
int fw_str_cmp16(const char *a, const char *b);

/* JavaScript's \s at s[i]: returns its length in bytes, 0 when not. */
size_t fw_js_space(const char *s, size_t len, size_t i);

/* Node's net.isIPv4 / net.isIPv6 for the characters our lexer lets into an
 * address token. */
bool fw_is_ipv4_node(const char *s);
bool fw_is_ipv6_node(const char *s);

/* The ip6addr library's parse + createCIDR, as Triton validates subnets:
 * "A.B.C.D/N" or "X:...:X/N". Fills the 16-byte address (IPv4 in the low 4
 * bytes when *v4) and the prefix length (IPv4: 0..32). */
bool fw_subnet_parse(const char *s, uint8_t addr[16], bool *v4, int *plen);

#endif
