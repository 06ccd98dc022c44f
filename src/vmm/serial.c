/*
 * serial.c - an 8250/16550A UART (COM1, COM2) with FIFO-less transmit and a
 * receive ring, loopback (the Linux driver's probe uses it) and interrupts
 * for received data and an empty transmitter.
 *
 * Transmit never waits: a byte written to THR is taken at once, so LSR
 * always reads "transmitter empty" and earlyprintk never spins. Output is
 * gathered into lines (a write per line rather than per byte, each one a
 * wake-up of whoever reads the console); a partial line, such as a
 * prompt, goes out after 2 ms through a timer on the I/O thread.
 *
 * Receive holds back its source instead of dropping: input that does not
 * fit the ring stays with the caller (console.c), which stops reading its
 * socket until the guest has read the ring down to half, when room_fd (an
 * eventfd written from the vCPU thread that read RBR) wakes the I/O
 * thread. Half, not one byte: one wake-up per 2 KiB the guest reads, not
 * per byte. The guest still sees a plain 16550A: DR while the ring holds
 * a byte, a receive interrupt while DR and IER_RDI, never an overrun.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "vmm/devices.h"
#include "vmm/iothread.h"

#define RX_RING 4096

enum {
	REG_RBR_THR,
	REG_IER,
	REG_IIR_FCR,
	REG_LCR,
	REG_MCR,
	REG_LSR,
	REG_MSR,
	REG_SCR
};

#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04

struct serial {
	pthread_mutex_t lock;
	struct vm *vm;
	unsigned irq;
	int out_fd;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thr_pending; /* "THR empty" interrupt not yet acknowledged */
	bool irq_level;
	uint8_t rx[RX_RING];
	unsigned rx_head, rx_count;
	bool rx_held; /* input was held back: say when there is room */
	int room_fd;
	uint8_t obuf[512];
	size_t olen;
	int timer_fd;
	bool timer_armed;
	uint8_t *bl; /* backlog ring (serial_keep_backlog), or NULL */
	size_t bl_max, bl_head, bl_len;
};

#define FLUSH_DELAY_NS 2000000

static void flush_locked(struct serial *s)
{
	size_t off = 0;
	while (s->out_fd >= 0 && off < s->olen) {
		ssize_t n = write(s->out_fd, s->obuf + off, s->olen - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* a pty or socket nobody reads: dropped */
		off += (size_t)n;
	}
	s->olen = 0;
}

static void update_irq(struct serial *s)
{
	bool level = ((s->ier & IER_RDI) && s->rx_count) ||
		     ((s->ier & IER_THRI) && s->thr_pending);
	if (level != s->irq_level) {
		s->irq_level = level;
		vm_irq_line(s->vm, s->irq, level);
	}
}

/* After the guest took bytes: wake the I/O thread if it holds input back
 * and the ring has room for a good part of it. */
static void rx_room(struct serial *s)
{
	if (!s->rx_held || s->rx_count > RX_RING / 2)
		return;
	s->rx_held = false;
	uint64_t one = 1;
	if (s->room_fd >= 0 && write(s->room_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, a wake-up is on
		 * its way */
	}
}

static void rx_push(struct serial *s, uint8_t b)
{
	if (s->rx_count == RX_RING)
		return; /* overrun: the byte is lost, as on a real UART */
	s->rx[(s->rx_head + s->rx_count++) % RX_RING] = b;
}

static void out_byte(struct serial *s, uint8_t b)
{
	if (s->mcr & MCR_LOOP) {
		rx_push(s, b);
		return;
	}
	if (s->out_fd < 0) {
		if (s->bl) {
			s->bl[(s->bl_head + s->bl_len) % s->bl_max] = b;
			if (s->bl_len < s->bl_max)
				s->bl_len++;
			else
				s->bl_head = (s->bl_head + 1) % s->bl_max;
		}
		return;
	}
	s->obuf[s->olen++] = b;
	if (b == '\n' || s->olen == sizeof(s->obuf) || s->timer_fd < 0) {
		flush_locked(s);
	} else if (!s->timer_armed) {
		struct itimerspec t = {.it_value = {0, FLUSH_DELAY_NS}};
		if (timerfd_settime(s->timer_fd, 0, &t, NULL) == 0)
			s->timer_armed = true;
		else
			flush_locked(s);
	}
}

static void on_flush_timer(void *arg, uint32_t events)
{
	struct serial *s = arg;
	uint64_t n;
	if (read(s->timer_fd, &n, sizeof(n)) < 0) {
		/* spurious wake-up: flush anyway */
	}
	pthread_mutex_lock(&s->lock);
	s->timer_armed = false;
	flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

static uint8_t msr_value(struct serial *s)
{
	if (s->mcr & MCR_LOOP) {
		/* loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
		uint8_t m = s->mcr;
		return (uint8_t)(((m & 0x02) << 3) | ((m & 0x01) << 5) |
				 ((m & 0x04) << 4) | ((m & 0x08) << 4));
	}
	return 0xb0; /* DCD, DSR, CTS: a cable is plugged in */
}

static void serial_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct serial *s = dev;
	uint8_t v = 0;
	pthread_mutex_lock(&s->lock);
	switch (off) {
	case REG_RBR_THR:
		if (s->lcr & LCR_DLAB) {
			v = s->dll;
		} else if (s->rx_count) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % RX_RING;
			s->rx_count--;
			rx_room(s);
		}
		break;
	case REG_IER:
		v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
		break;
	case REG_IIR_FCR:
		if ((s->ier & IER_RDI) && s->rx_count) {
			v = IIR_RDI;
		} else if ((s->ier & IER_THRI) && s->thr_pending) {
			v = IIR_THRI;
			s->thr_pending =
			    false; /* reading IIR acknowledges THRE */
		} else {
			v = IIR_NONE;
		}
		if (s->fcr & 0x01)
			v |= 0xc0;
		break;
	case REG_LCR:
		v = s->lcr;
		break;
	case REG_MCR:
		v = s->mcr;
		break;
	case REG_LSR:
		v = LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
		break;
	case REG_MSR:
		v = msr_value(s);
		break;
	case REG_SCR:
		v = s->scr;
		break;
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < len; i++)
		data[i] = i ? 0xff : v;
}

static void serial_write(void *dev, uint64_t off, const uint8_t *data,
			 unsigned len)
{
	struct serial *s = dev;
	uint8_t v = data[0];
	pthread_mutex_lock(&s->lock);
	switch (off) {
	case REG_RBR_THR:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
		} else {
			out_byte(s, v);
			s->thr_pending = true;
		}
		break;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* enabling THRI with the transmitter empty interrupts
			 * at once */
			if ((v & IER_THRI) && !(s->ier & IER_THRI))
				s->thr_pending = true;
			s->ier = v & 0x0f;
		}
		break;
	case REG_IIR_FCR:
		s->fcr = v;
		if (v & 0x02) { /* clear receive FIFO */
			s->rx_count = 0;
			s->rx_head = 0;
			rx_room(s);
		}
		break;
	case REG_LCR:
		s->lcr = v;
		break;
	case REG_MCR:
		s->mcr = v & 0x1f;
		break;
	case REG_SCR:
		s->scr = v;
		break;
	default:
		break;
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static const struct vm_io_ops serial_ops = {serial_read, serial_write};

struct serial *serial_new(struct vm *vm, uint16_t base, unsigned irq,
			  struct hull_err *err)
{
	struct serial *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->vm = vm;
	s->irq = irq;
	s->out_fd = -1;
	s->timer_fd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	s->room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->room_fd < 0) {
		hull_err_sys(err, errno, "eventfd");
		goto fail;
	}
	if (vm_pio_register(vm, base, 8, &serial_ops, s, err) < 0 ||
	    (s->timer_fd >= 0 &&
	     io_add(s->timer_fd, EPOLLIN, on_flush_timer, s, err) < 0))
		goto fail;
	return s;
fail:
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->room_fd >= 0)
		close(s->room_fd);
	free(s);
	return NULL;
}

void serial_set_output(struct serial *s, int out_fd)
{
	pthread_mutex_lock(&s->lock);
	flush_locked(s);
	s->out_fd = out_fd;
	/* what was written while nobody listened, oldest first */
	while (out_fd >= 0 && s->bl_len) {
		size_t n = s->bl_max - s->bl_head;
		if (n > s->bl_len)
			n = s->bl_len;
		ssize_t w = write(out_fd, s->bl + s->bl_head, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* a client that does not read: the rest is
				  dropped */
		s->bl_head = (s->bl_head + (size_t)w) % s->bl_max;
		s->bl_len -= (size_t)w;
	}
	if (out_fd >= 0)
		s->bl_head = s->bl_len = 0;
	pthread_mutex_unlock(&s->lock);
}

void serial_keep_backlog(struct serial *s, size_t max)
{
	pthread_mutex_lock(&s->lock);
	free(s->bl);
	s->bl = max ? xmalloc(max) : NULL;
	s->bl_max = max;
	s->bl_head = s->bl_len = 0;
	pthread_mutex_unlock(&s->lock);
}

void serial_flush(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

unsigned serial_fds(const struct serial *s, int *out, unsigned max)
{
	unsigned n = 0;
	if (s->timer_fd >= 0 && n < max)
		out[n++] = s->timer_fd;
	if (s->room_fd >= 0 && n < max)
		out[n++] = s->room_fd;
	return n;
}

int serial_room_fd(const struct serial *s)
{
	return s->room_fd;
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_count < RX_RING)
		rx_push(s, buf[n++]);
	s->rx_held = n < len;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial_free(struct serial *s)
{
	if (!s)
		return;
	free(s->bl);
	if (s->room_fd >= 0)
		close(s->room_fd);
	free(s);
}

/* Snapshot state: the registers a driver programmed and the unread
 * input, in a fixed little-endian layout (docs/hull-vmm.md). Output
 * already written is on its way to the console and not part of it. */
struct serial_state {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, thr_pending;
	uint16_t rx_count, pad[3];
	uint8_t rx[RX_RING];
} __attribute__((packed));

size_t serial_save(struct serial *s, uint8_t *buf, size_t max)
{
	struct serial_state st = {0};
	if (max < sizeof(st))
		return 0;
	pthread_mutex_lock(&s->lock);
	st.ier = s->ier;
	st.lcr = s->lcr;
	st.mcr = s->mcr;
	st.scr = s->scr;
	st.dll = s->dll;
	st.dlm = s->dlm;
	st.fcr = s->fcr;
	st.thr_pending = s->thr_pending;
	st.rx_count = (uint16_t)s->rx_count;
	for (unsigned i = 0; i < s->rx_count; i++)
		st.rx[i] = s->rx[(s->rx_head + i) % RX_RING];
	pthread_mutex_unlock(&s->lock);
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

int serial_load(struct serial *s, const uint8_t *buf, size_t len)
{
	struct serial_state st;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.rx_count > RX_RING || st.thr_pending > 1)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->ier = st.ier;
	s->lcr = st.lcr;
	s->mcr = st.mcr;
	s->scr = st.scr;
	s->dll = st.dll;
	s->dlm = st.dlm;
	s->fcr = st.fcr;
	s->thr_pending = st.thr_pending;
	s->rx_head = 0;
	s->rx_count = st.rx_count;
	memcpy(s->rx, st.rx, st.rx_count);
	s->irq_level = false;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
