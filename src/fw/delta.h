/*
 * delta.h - the nftables transaction that turns one compiled ruleset into
 * another, touching only what differs.
 *
 * Both rulesets are fw_nft_compile() output for the same table name (hull
 * writes them; the old one is the copy fw_nft_apply keeps of what it last
 * loaded). Objects are matched by family, table and name: a chain whose
 * rules are the same is not touched at all (its rules keep their handles),
 * a changed chain is flushed and refilled, a dispatch map loses and gains
 * only the elements that differ, named sets (named after their contents)
 * come and go, and base chains are refilled only when the maps they use
 * appear or go. Everything is ordered so that nothing is referenced before
 * it exists or deleted while referenced, and the caller loads the result
 * as one transaction.
 *
 * fw_delta() is pure (text in, text out). It returns NULL when it cannot
 * express the change (text it does not recognise, a set or map whose type
 * changed): the caller then replaces the whole table. An empty string
 * means there is nothing to change.
 */
#ifndef HULL_FW_DELTA_H
#define HULL_FW_DELTA_H

/* The commands that turn ruleset old into ruleset new (caller frees), or
 * NULL (see above). */
char *fw_delta(const char *old, const char *new);

#endif
