/*
 * conframe.c - the head node to agent console records: see conframe.h.
 */
#include "lib/conframe.h"

#include <errno.h>

void conframe_header(uint8_t hdr[CONFRAME_HEADER], enum conframe_type type,
		     size_t len)
{
	hdr[0] = (uint8_t)type;
	hdr[1] = (uint8_t)(len >> 24);
	hdr[2] = (uint8_t)(len >> 16);
	hdr[3] = (uint8_t)(len >> 8);
	hdr[4] = (uint8_t)len;
}

void conframe_resize(uint8_t out[CONFRAME_HEADER + 4], unsigned rows,
		     unsigned cols)
{
	conframe_header(out, CONFRAME_RESIZE, 4);
	out[5] = (uint8_t)(rows >> 8);
	out[6] = (uint8_t)rows;
	out[7] = (uint8_t)(cols >> 8);
	out[8] = (uint8_t)cols;
}

int conframe_next(const uint8_t *buf, size_t len, struct conframe *f,
		  size_t *used)
{
	*used = 0;
	if (len < CONFRAME_HEADER)
		return 0;
	uint32_t n = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 |
		     (uint32_t)buf[3] << 8 | buf[4];
	switch (buf[0]) {
	case CONFRAME_DATA:
		if (n == 0 || n > CONFRAME_DATA_MAX)
			return -EPROTO;
		break;
	case CONFRAME_RESIZE:
		if (n != 4)
			return -EPROTO;
		break;
	default:
		return -EPROTO;
	}
	if (len - CONFRAME_HEADER < n)
		return 0;
	const uint8_t *p = buf + CONFRAME_HEADER;
	f->type = (enum conframe_type)buf[0];
	f->data = p;
	f->len = n;
	f->rows = f->cols = 0;
	if (f->type == CONFRAME_RESIZE) {
		f->rows = (unsigned)p[0] << 8 | p[1];
		f->cols = (unsigned)p[2] << 8 | p[3];
		if (!f->rows || !f->cols)
			return -EPROTO;
	}
	*used = CONFRAME_HEADER + n;
	return 1;
}
