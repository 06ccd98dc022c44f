/*
 * smbios.c - SMBIOS 2.8: the 31-byte "_SM_" entry point (found by the
 * guest's scan of 0xf0000-0xfffff on 16-byte boundaries), then type 0
 * (BIOS), type 1 (system: manufacturer, product, version, serial, UUID)
 * and type 127 (end). The UUID's first three fields are little-endian in
 * the table (DSP0134 7.2.1), as every firmware writes them.
 */
#include <errno.h>
#include <string.h>

#include "vmm/smbios.h"

#define EP_LEN 31

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return (uint8_t)-s;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int smbios_parse_uuid(const char *s, uint8_t out[16])
{
	unsigned n = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '-')
			continue;
		int hi = hexval(p[0]), lo = p[1] ? hexval(p[1]) : -1;
		if (hi < 0 || lo < 0 || n == 16)
			return -EINVAL;
		out[n++] = (uint8_t)(hi << 4 | lo);
		p++;
	}
	return n == 16 ? 0 : -EINVAL;
}

struct writer {
	uint8_t *buf;
	size_t len, pos;
	int ok;
};

static void put(struct writer *w, const void *p, size_t n)
{
	if (w->pos + n > w->len) {
		w->ok = 0;
		return;
	}
	memcpy(w->buf + w->pos, p, n);
	w->pos += n;
}

static void put_strings(struct writer *w, const char *const *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		put(w, s[i], strlen(s[i]) + 1);
	put(w, "", 1);
	if (!n)
		put(w, "", 1);
}

size_t smbios_build(uint8_t *buf, size_t len, uint32_t base,
		    const struct smbios_info *info)
{
	struct writer w = {buf, len, EP_LEN + 1, 1}; /* table after the EP */
	size_t table = w.pos;
	uint16_t maxsize = 0;
	size_t start;

	if (len < EP_LEN + 1)
		return 0;
	/* type 0: BIOS information */
	start = w.pos;
	uint8_t t0[0x18] = {0, 0x18, 0x00, 0x00, 1, 2, 0x00, 0xe8, 3, 0};
	t0[10] = 0x08;	 /* characteristics not supported */
	t0[0x13] = 0x10; /* ext. byte 2: virtual machine */
	t0[0x14] = 0;
	t0[0x15] = 0;
	t0[0x16] = 0xff; /* no embedded controller */
	t0[0x17] = 0xff;
	put(&w, t0, sizeof(t0));
	const char *s0[] = {"hull", info->version, "01/01/2026"};
	put_strings(&w, s0, 3);
	if (w.pos - start > maxsize)
		maxsize = (uint16_t)(w.pos - start);

	/* type 1: system information */
	start = w.pos;
	uint8_t t1[0x1b] = {1, 0x1b, 0x01, 0x00, 1, 2, 3, 4};
	const uint8_t *u = info->uuid;
	uint8_t le[16] = {u[3], u[2], u[1], u[0], u[5], u[4], u[7], u[6]};
	memcpy(le + 8, u + 8, 8);
	memcpy(t1 + 8, le, 16);
	t1[0x18] = 0x06; /* woken by the power switch */
	put(&w, t1, sizeof(t1));
	const char *s1[] = {info->manufacturer, info->product, info->version,
			    info->serial};
	put_strings(&w, s1, 4);
	if (w.pos - start > maxsize)
		maxsize = (uint16_t)(w.pos - start);

	/* type 127: end of table */
	uint8_t t127[4] = {127, 4, 0x02, 0x00};
	put(&w, t127, 4);
	put_strings(&w, NULL, 0);
	if (!w.ok)
		return 0;

	uint16_t tlen = (uint16_t)(w.pos - table);
	uint32_t taddr = base + (uint32_t)table;
	uint16_t count = 3;
	uint8_t *ep = buf;
	memset(ep, 0, EP_LEN);
	memcpy(ep, "_SM_", 4);
	ep[5] = EP_LEN;
	ep[6] = 2;
	ep[7] = 8;
	memcpy(ep + 8, &maxsize, 2);
	memcpy(ep + 16, "_DMI_", 5);
	memcpy(ep + 22, &tlen, 2);
	memcpy(ep + 24, &taddr, 4);
	memcpy(ep + 28, &count, 2);
	ep[30] = 0x28;
	ep[21] = checksum(ep + 16, 15);
	ep[4] = checksum(ep, EP_LEN);
	return w.pos;
}
