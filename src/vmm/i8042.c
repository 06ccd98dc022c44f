/*
 * i8042.c - just enough of the PS/2 keyboard controller for a guest to probe
 * it, to reset the machine with command 0xfe (how Linux's reboot=k and the
 * test guests reboot), and to carry the control socket's "shutdown": the
 * Ctrl-Alt-Del key sequence on IRQ 1, which Linux turns into a reboot or
 * (under systemd) into ctrl-alt-del.target.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "vmm/devices.h"

#define STATUS_OBF 0x01
#define STATUS_SYS 0x04
#define STATUS_CMD 0x08

struct i8042 {
	pthread_mutex_t lock;
	struct vm *vm;
	uint8_t ctr;	 /* controller configuration byte */
	uint8_t out[16]; /* pending output bytes */
	unsigned out_head, out_count;
	bool irq_level;
	uint8_t pending_cmd;
	uint8_t status;
};

static void update_irq(struct i8042 *k)
{
	bool level = k->out_count && (k->ctr & 0x01);
	if (level != k->irq_level) {
		k->irq_level = level;
		vm_irq_line(k->vm, 1, level);
	}
}

static void put_out(struct i8042 *k, uint8_t v)
{
	if (k->out_count < sizeof(k->out))
		k->out[(k->out_head + k->out_count++) % sizeof(k->out)] = v;
	update_irq(k);
}

static void data_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct i8042 *k = dev;
	pthread_mutex_lock(&k->lock);
	if (off == 0) { /* port 0x60 */
		data[0] = k->out[k->out_head];
		if (k->out_count) {
			k->out_head = (k->out_head + 1) % sizeof(k->out);
			k->out_count--;
		}
		update_irq(k);
	} else { /* port 0x64 */
		data[0] =
		    k->status | STATUS_SYS | (k->out_count ? STATUS_OBF : 0);
	}
	pthread_mutex_unlock(&k->lock);
	for (unsigned i = 1; i < len; i++)
		data[i] = 0xff;
}

static void command(struct i8042 *k, uint8_t cmd)
{
	k->status |= STATUS_CMD;
	switch (cmd) {
	case 0x20:
		put_out(k, k->ctr);
		break; /* read CTR */
	case 0x60:     /* write CTR */
	case 0xd1:     /* write output port */
	case 0xd2:
	case 0xd3:
	case 0xd4: /* write to kbd/aux */
		k->pending_cmd = cmd;
		break;
	case 0xaa:
		put_out(k, 0x55);
		break; /* self-test passed */
	case 0xab:
	case 0xa9:
		put_out(k, 0x00);
		break; /* port tests passed */
	case 0xfe:     /* pulse reset line */
		vm_request_exit(k->vm, VM_EXIT_REBOOT);
		break;
	default:
		break;
	}
}

static void data_write(void *dev, uint64_t off, const uint8_t *data,
		       unsigned len)
{
	struct i8042 *k = dev;
	pthread_mutex_lock(&k->lock);
	if (off == 4) {
		command(k, data[0]);
	} else {
		k->status &= (uint8_t)~STATUS_CMD;
		if (k->pending_cmd == 0x60) {
			k->ctr = data[0];
			update_irq(k);
		} else if (k->pending_cmd == 0xd1 && !(data[0] & 1))
			vm_request_exit(k->vm,
					VM_EXIT_REBOOT); /* reset bit low */
		else if (k->pending_cmd == 0xd2 || k->pending_cmd == 0xd3)
			put_out(k, data[0]); /* echo */
		k->pending_cmd = 0;
	}
	pthread_mutex_unlock(&k->lock);
}

static const struct vm_io_ops i8042_ops = {data_read, data_write};

void i8042_ctrl_alt_del(struct i8042 *k)
{
	/* set 1 scancodes: Ctrl, Alt, Del pressed, then released */
	static const uint8_t seq[] = {0x1d, 0x38, 0x53, 0xd3, 0xb8, 0x9d};
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < sizeof(seq); i++)
		put_out(k, seq[i]);
	pthread_mutex_unlock(&k->lock);
}

struct i8042 *i8042_new(struct vm *vm, struct hull_err *err)
{
	struct i8042 *k = xcalloc(1, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->vm = vm;
	k->ctr = 0x00; /* interrupts off, both ports enabled */
	/* One range 0x60..0x64; 0x61 (PC speaker/NMI status) reads as 0 here
	 * and is harmless. */
	if (vm_pio_register(vm, 0x60, 5, &i8042_ops, k, err) < 0) {
		free(k);
		return NULL;
	}
	return k;
}

/* Snapshot state (docs/hull-vmm.md): the configuration byte, the
 * command waiting for its data byte, the status and the pending output. */
struct i8042_state {
	uint8_t ctr, pending_cmd, status, out_count;
	uint8_t out[16];
} __attribute__((packed));

size_t i8042_save(struct i8042 *k, uint8_t *buf, size_t max)
{
	struct i8042_state st = {0};
	if (max < sizeof(st))
		return 0;
	pthread_mutex_lock(&k->lock);
	st.ctr = k->ctr;
	st.pending_cmd = k->pending_cmd;
	st.status = k->status;
	st.out_count = (uint8_t)k->out_count;
	for (unsigned i = 0; i < k->out_count; i++)
		st.out[i] = k->out[(k->out_head + i) % sizeof(k->out)];
	pthread_mutex_unlock(&k->lock);
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

int i8042_load(struct i8042 *k, const uint8_t *buf, size_t len)
{
	struct i8042_state st;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.out_count > sizeof(st.out))
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	k->ctr = st.ctr;
	k->pending_cmd = st.pending_cmd;
	k->status = st.status;
	k->out_head = 0;
	k->out_count = st.out_count;
	memcpy(k->out, st.out, sizeof(st.out));
	k->irq_level = false;
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}
