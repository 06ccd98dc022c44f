/*
 * lib.c - the test guest's library: memory functions (gcc may emit calls to
 * them), a locked COM1 printer, and power-off.
 */
#include <stdarg.h>

#include "guest.h"

void *memset(void *d, int c, size_t n)
{
	u8 *p = d;
	while (n--)
		*p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *p = d;
	const u8 *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static volatile u32 print_lock;

static void com1_putc(char c)
{
	while (!(inb(0x3f8 + 5) & 0x20))
		;
	outb(0x3f8, (u8)c);
}

/* v / base and v % base without libgcc's 64-bit division: long division
 * in 16-bit chunks, each of which fits a 32-bit divide. */
static u32 divmod(u64 *v, u32 base)
{
	u32 r = 0;
	u64 q = 0;
	for (int shift = 48; shift >= 0; shift -= 16) {
		u32 cur = (r << 16) | (u32)((*v >> shift) & 0xffff);
		q |= (u64)(cur / base) << shift;
		r = cur % base;
	}
	*v = q;
	return r;
}

static void put_num(u64 v, unsigned base, int width)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = "0123456789abcdef"[divmod(&v, base)];
	} while (v);
	while (n < width)
		buf[n++] = '0';
	while (n)
		com1_putc(buf[--n]);
}

void print_nolock(const char *s)
{
	while (*s)
		com1_putc(*s++);
}

void print(const char *fmt, ...)
{
	va_list ap;
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		;
	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			com1_putc(*p);
			continue;
		}
		p++;
		int width = 0;
		int is_long = 0;
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		if (*p == 'l') {
			is_long = 1;
			p++;
		}
		switch (*p) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (*s)
				com1_putc(*s++);
			break;
		}
		case 'c':
			com1_putc((char)va_arg(ap, int));
			break;
		case 'u':
			put_num(is_long ? va_arg(ap, u64) : va_arg(ap, u32), 10,
				width);
			break;
		case 'x':
			put_num(is_long ? va_arg(ap, u64) : va_arg(ap, u32), 16,
				width);
			break;
		default:
			com1_putc(*p);
			break;
		}
	}
	va_end(ap);
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

void poweroff(void)
{
	outw(0x604, 0x2000);
	for (;;)
		__asm__ volatile("cli; hlt");
}
