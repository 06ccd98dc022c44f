/*
 * conframe.h - the records a head node sends to a compute node's agent
 * on a text console's connection (head/console.c to agent/console.c):
 * the browser's keystrokes and its window size, kept apart. Each record
 * is a type byte, a 32-bit big-endian length and that many bytes:
 *   'D' keystrokes (1 to CONFRAME_DATA_MAX bytes);
 *   'R' a window size: rows and columns, 16-bit big-endian each.
 * The other way (agent to head node) stays raw console bytes. An agent
 * asks for records with the `Hull-Console-Frames: 1` header; a head node
 * sends raw keystrokes to one that did not.
 */
#ifndef HULL_LIB_CONFRAME_H
#define HULL_LIB_CONFRAME_H

#include <stddef.h>
#include <stdint.h>

#define CONFRAME_DATA_MAX 65536
#define CONFRAME_HEADER 5

enum conframe_type { CONFRAME_DATA = 'D', CONFRAME_RESIZE = 'R' };

struct conframe {
	enum conframe_type type;
	const uint8_t *data; /* CONFRAME_DATA: points into the buffer */
	size_t len;
	unsigned rows, cols; /* CONFRAME_RESIZE */
};

/* Writes a record's header for a payload of len bytes into hdr. */
void conframe_header(uint8_t hdr[CONFRAME_HEADER], enum conframe_type type,
		     size_t len);
/* A resize record, whole, into out. */
void conframe_resize(uint8_t out[CONFRAME_HEADER + 4], unsigned rows,
		     unsigned cols);
/* The first record in buf: 1 and *used its size when a whole record is
 * there, 0 when more bytes are needed, -EPROTO on an unknown type, a
 * bad length or a size of 0. Pure. */
int conframe_next(const uint8_t *buf, size_t len, struct conframe *f,
		  size_t *used);

#endif
