/*
 * rtc.c - the CMOS real-time clock (MC146818) at ports 0x70/0x71: the host's
 * UTC time in BCD, 24-hour mode, no alarms or periodic interrupts. Guests
 * read it once at boot to set their clock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/xalloc.h"
#include "vmm/devices.h"

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128]; /* plain storage for the non-clock bytes */
};

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t clock_reg(struct rtc *r, uint8_t idx)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	switch (idx) {
	case 0x00:
		return bcd(tm.tm_sec);
	case 0x02:
		return bcd(tm.tm_min);
	case 0x04:
		return bcd(tm.tm_hour);
	case 0x06:
		return bcd(tm.tm_wday + 1);
	case 0x07:
		return bcd(tm.tm_mday);
	case 0x08:
		return bcd(tm.tm_mon + 1);
	case 0x09:
		return bcd(tm.tm_year % 100);
	case 0x32:
		return bcd((1900 + tm.tm_year) / 100);
	case 0x0a:
		return 0x26; /* 32.768 kHz base, 1024 Hz rate, no update */
	case 0x0b:
		return 0x02; /* 24-hour, BCD */
	case 0x0c:
		return 0x00;
	case 0x0d:
		return 0x80; /* battery good */
	default:
		return r->cmos[idx];
	}
}

static void rtc_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct rtc *r = dev;
	pthread_mutex_lock(&r->lock);
	data[0] = off == 1 ? clock_reg(r, r->index) : 0xff;
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 1; i < len; i++)
		data[i] = 0xff;
}

static void rtc_write(void *dev, uint64_t off, const uint8_t *data,
		      unsigned len)
{
	struct rtc *r = dev;
	pthread_mutex_lock(&r->lock);
	if (off == 0)
		r->index = data[0] & 0x7f; /* bit 7 is the NMI mask */
	else if (r->index >= 0x0e)
		r->cmos[r->index] = data[0];
	pthread_mutex_unlock(&r->lock);
}

static const struct vm_io_ops rtc_ops = {rtc_read, rtc_write};

int rtc_init(struct vm *vm, struct hull_err *err)
{
	struct rtc *r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	if (vm_pio_register(vm, 0x70, 2, &rtc_ops, r, err) < 0) {
		free(r);
		return -err->code;
	}
	vm->rtc = r;
	return 0;
}

/* Snapshot state (docs/hull-vmm.md): the index register and the CMOS
 * bytes; the clock itself is the host's, read at each access. */
size_t rtc_save(struct rtc *r, uint8_t *buf, size_t max)
{
	if (max < 1 + sizeof(r->cmos))
		return 0;
	pthread_mutex_lock(&r->lock);
	buf[0] = r->index;
	memcpy(buf + 1, r->cmos, sizeof(r->cmos));
	pthread_mutex_unlock(&r->lock);
	return 1 + sizeof(r->cmos);
}

int rtc_load(struct rtc *r, const uint8_t *buf, size_t len)
{
	if (len != 1 + sizeof(r->cmos) || buf[0] > 0x7f)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	r->index = buf[0];
	memcpy(r->cmos, buf + 1, sizeof(r->cmos));
	pthread_mutex_unlock(&r->lock);
	return 0;
}
