/*
 * virtio_pci.c - the modern virtio-pci transport. BAR 0 layout:
 *   0x0000 common configuration     0x0800 MSI-X table   0x0c00 MSI-X PBA
 *   0x1000 ISR status               0x2000 device configuration
 *   0x3000 notifications, 4 bytes per queue
 * and the matching vendor capabilities in configuration space.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "vmm/iothread.h"
#include "vmm/virtio_pci.h"

#define BAR_COMMON 0x0000
#define BAR_MSIX_TABLE 0x0800
#define BAR_MSIX_PBA 0x0c00
#define BAR_ISR 0x1000
#define BAR_DEVICE 0x2000
#define BAR_NOTIFY 0x3000
#define NOTIFY_MULT 4
#define CAP_MSIX 0x84
#define NO_VECTOR 0xffff

#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

void virtio_cfg_copy(const void *cfg, size_t cfg_len, uint64_t off,
		     uint8_t *data, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		data[i] =
		    off + i < cfg_len ? ((const uint8_t *)cfg)[off + i] : 0;
}

static bool msix_enabled(const struct virtio_dev *v)
{
	return v->pci.cfg[CAP_MSIX + 3] & 0x80;
}

/* Keeps vector vec's MSI route in step with its table entry. */
static void msix_route(struct virtio_dev *v, unsigned vec)
{
	if (vec >= VIRTIO_MSIX_VECTORS || v->irqfd[vec] < 0)
		return;
	bool on = msix_enabled(v) && !(v->msix[vec][3] & 1);
	if (vm_msi_route(v->vm, v->msi_gsi + vec, on, v->msix[vec][0],
			 v->msix[vec][1], v->msix[vec][2]) < 0) {
		/* fall back to KVM_SIGNAL_MSI for this vector */
		close(v->irqfd[vec]);
		v->irqfd[vec] = -1;
	}
}

static void msix_send(struct virtio_dev *v, uint16_t vec)
{
	if (vec >= VIRTIO_MSIX_VECTORS || (v->msix[vec][3] & 1) ||
	    (v->pci.cfg[CAP_MSIX + 3] & 0x40))
		return; /* masked: a real device would set the PBA bit */
	if (v->irqfd[vec] >= 0) {
		uint64_t one = 1;
		if (write(v->irqfd[vec], &one, 8) == 8)
			return;
	}
	struct kvm_msi msi = {
	    .address_lo = v->msix[vec][0],
	    .address_hi = v->msix[vec][1],
	    .data = v->msix[vec][2],
	};
	ioctl(v->vm->vm_fd, KVM_SIGNAL_MSI, &msi);
}

static void intx_update(struct virtio_dev *v)
{
	bool level = v->isr && !msix_enabled(v) && !(v->pci.cfg[0x05] & 0x04);
	if (level != v->intx_level) {
		v->intx_level = level;
		vm_irq_line(v->vm, v->pci.gsi, level);
	}
}

void virtio_pci_notify_queue(struct virtio_dev *v, unsigned q)
{
	if (!virtq_should_notify(&v->q[q].vq))
		return;
	v->isr |= 1;
	if (msix_enabled(v)) {
		if (v->q[q].msix_vector != NO_VECTOR)
			msix_send(v, v->q[q].msix_vector);
	} else {
		intx_update(v);
	}
}

static void ioeventfd_set(struct virtio_dev *v, unsigned qi, bool on)
{
	struct virtio_queue *q = &v->q[qi];
	if (q->ioeventfd_on == on)
		return;
	uint64_t addr = on ? pci_bar0(&v->pci) + BAR_NOTIFY + qi * NOTIFY_MULT
			   : q->ioeventfd_addr;
	struct kvm_ioeventfd io = {
	    .addr = addr,
	    .len = 2,
	    .fd = q->kick_fd,
	    .flags = on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};
	/* On failure the notify write exits to us instead and we kick the
	 * eventfd by hand: slower, still correct. */
	if (ioctl(v->vm->vm_fd, KVM_IOEVENTFD, &io) == 0) {
		q->ioeventfd_on = on;
		q->ioeventfd_addr = addr;
	}
}

static void device_reset(struct virtio_dev *v)
{
	for (unsigned i = 0; i < v->ops->num_queues; i++) {
		ioeventfd_set(v, i, false);
		struct virtio_queue *q = &v->q[i];
		memset(&q->vq, 0, sizeof(q->vq));
		q->vq.mem = &v->mem;
		q->size = v->ops->queue_size;
		q->msix_vector = NO_VECTOR;
		q->enabled = false;
	}
	v->guest_features = 0;
	v->status = 0;
	v->isr = 0;
	v->msix_config = NO_VECTOR;
	v->qsel = 0;
	intx_update(v);
	if (v->ops->reset)
		v->ops->reset(v);
}

static uint64_t common_read(struct virtio_dev *v, uint64_t off)
{
	struct virtio_queue *q =
	    v->qsel < v->ops->num_queues ? &v->q[v->qsel] : NULL;
	switch (off) {
	case 0x00:
		return v->dfsel;
	case 0x04:
		return v->dfsel < 2
			   ? (uint32_t)(v->host_features >> (32 * v->dfsel))
			   : 0;
	case 0x08:
		return v->gfsel;
	case 0x0c:
		return v->gfsel < 2
			   ? (uint32_t)(v->guest_features >> (32 * v->gfsel))
			   : 0;
	case 0x10:
		return v->msix_config;
	case 0x12:
		return v->ops->num_queues;
	case 0x14:
		return v->status;
	case 0x15:
		return v->config_gen;
	case 0x16:
		return v->qsel;
	case 0x18:
		return q ? q->size : 0;
	case 0x1a:
		return q ? q->msix_vector : NO_VECTOR;
	case 0x1c:
		return q ? q->enabled : 0;
	case 0x1e:
		return v->qsel;
	case 0x20:
		return q ? (uint32_t)q->vq.desc : 0;
	case 0x24:
		return q ? (uint32_t)(q->vq.desc >> 32) : 0;
	case 0x28:
		return q ? (uint32_t)q->vq.avail : 0;
	case 0x2c:
		return q ? (uint32_t)(q->vq.avail >> 32) : 0;
	case 0x30:
		return q ? (uint32_t)q->vq.used : 0;
	case 0x34:
		return q ? (uint32_t)(q->vq.used >> 32) : 0;
	default:
		return 0;
	}
}

static void set_lo(uint64_t *r, uint32_t v)
{
	*r = (*r & ~0xffffffffull) | v;
}
static void set_hi(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffull) | ((uint64_t)v << 32);
}

static void common_write(struct virtio_dev *v, uint64_t off, uint32_t val)
{
	struct virtio_queue *q =
	    v->qsel < v->ops->num_queues ? &v->q[v->qsel] : NULL;
	/* queue fields are frozen once enabled (4.1.4.3.2) */
	bool q_rw = q && !q->enabled;
	switch (off) {
	case 0x00:
		v->dfsel = val;
		break;
	case 0x08:
		v->gfsel = val;
		break;
	case 0x0c:
		if (v->gfsel < 2 && !(v->status & STATUS_FEATURES_OK)) {
			uint64_t f = v->guest_features;
			if (v->gfsel == 0)
				set_lo(&f, val);
			else
				set_hi(&f, val);
			v->guest_features = f & v->host_features;
		}
		break;
	case 0x10:
		v->msix_config = (uint16_t)val;
		break;
	case 0x14: {
		uint8_t s = (uint8_t)val;
		if (s == 0) {
			device_reset(v);
			break;
		}
		/* FEATURES_OK only sticks with VERSION_1 accepted */
		if ((s & STATUS_FEATURES_OK) &&
		    !virtio_has(v, VIRTIO_F_VERSION_1))
			s &= (uint8_t)~STATUS_FEATURES_OK;
		bool was_ok = v->status & STATUS_DRIVER_OK;
		v->status = s;
		if (!was_ok && (s & STATUS_DRIVER_OK) && v->ops->ready)
			v->ops->ready(v);
		break;
	}
	case 0x16:
		v->qsel = (uint16_t)val;
		break;
	case 0x18:
		if (q_rw && val && val <= v->ops->queue_size &&
		    !(val & (val - 1)))
			q->size = (uint16_t)val;
		break;
	case 0x1a:
		if (q)
			q->msix_vector = (uint16_t)val;
		break;
	case 0x1c:
		if (q_rw && val == 1) {
			q->vq.size = q->size;
			q->vq.mem = &v->mem;
			if (virtq_enable(&q->vq) == 0) {
				q->enabled = true;
				ioeventfd_set(v, v->qsel, true);
			}
		}
		break;
	case 0x20:
		if (q_rw)
			set_lo(&q->vq.desc, val);
		break;
	case 0x24:
		if (q_rw)
			set_hi(&q->vq.desc, val);
		break;
	case 0x28:
		if (q_rw)
			set_lo(&q->vq.avail, val);
		break;
	case 0x2c:
		if (q_rw)
			set_hi(&q->vq.avail, val);
		break;
	case 0x30:
		if (q_rw)
			set_lo(&q->vq.used, val);
		break;
	case 0x34:
		if (q_rw)
			set_hi(&q->vq.used, val);
		break;
	default:
		break;
	}
}

static uint32_t le(const uint8_t *d, unsigned len)
{
	uint32_t v = 0;
	memcpy(&v, d, len < 4 ? len : 4);
	return v;
}

static void bar_read(struct pci_dev *pd, uint64_t off, uint8_t *data,
		     unsigned len)
{
	struct virtio_dev *v = pd->priv;
	uint32_t val = 0;
	memset(data, 0, len);
	pthread_mutex_lock(&v->lock);
	if (off < BAR_MSIX_TABLE) {
		/* 16-bit fields read with their width; 8-bit status */
		uint64_t r = common_read(v, off & ~1ull);
		if (off == 0x15)
			r = v->config_gen;
		val = (uint32_t)r;
	} else if (off < BAR_MSIX_TABLE + 16 * VIRTIO_MSIX_VECTORS) {
		uint64_t e = (off - BAR_MSIX_TABLE) / 16, w = (off % 16) / 4;
		val = v->msix[e][w];
	} else if (off >= BAR_ISR && off < BAR_ISR + 4) {
		val = v->isr;
		v->isr = 0; /* reading ISR acknowledges (4.1.4.5) */
		intx_update(v);
	} else if (off >= BAR_DEVICE && off < BAR_NOTIFY) {
		if (v->ops->cfg_read)
			v->ops->cfg_read(v, off - BAR_DEVICE, data, len);
		pthread_mutex_unlock(&v->lock);
		return;
	}
	pthread_mutex_unlock(&v->lock);
	memcpy(data, &val, len < 4 ? len : 4);
}

static void kick(struct virtio_dev *v, unsigned qi)
{
	uint64_t one = 1;
	if (qi < v->ops->num_queues && write(v->q[qi].kick_fd, &one, 8) < 0) {
		/* the counter saturating still leaves the fd readable */
	}
}

void virtio_pci_rekick(struct virtio_dev *v, unsigned q)
{
	kick(v, q);
}

static void bar_write(struct pci_dev *pd, uint64_t off, const uint8_t *data,
		      unsigned len)
{
	struct virtio_dev *v = pd->priv;
	uint32_t val = le(data, len);
	if (off >= BAR_NOTIFY) {
		/* no ioeventfd caught it: hand it to the I/O thread ourselves
		 */
		kick(v, (unsigned)((off - BAR_NOTIFY) / NOTIFY_MULT));
		return;
	}
	pthread_mutex_lock(&v->lock);
	if (off < BAR_MSIX_TABLE) {
		common_write(v, off, val);
	} else if (off < BAR_MSIX_TABLE + 16 * VIRTIO_MSIX_VECTORS &&
		   len == 4) {
		unsigned vec = (unsigned)((off - BAR_MSIX_TABLE) / 16);
		v->msix[vec][(off % 16) / 4] = val;
		msix_route(v, vec);
	} else if (off >= BAR_DEVICE && off < BAR_NOTIFY && v->ops->cfg_write) {
		v->ops->cfg_write(v, off - BAR_DEVICE, data, len);
	}
	pthread_mutex_unlock(&v->lock);
}

static void cfg_written(struct pci_dev *pd)
{
	struct virtio_dev *v = pd->priv;
	pthread_mutex_lock(&v->lock);
	bool on = msix_enabled(v);
	if (on != v->msix_was_enabled) {
		v->msix_was_enabled = on;
		for (unsigned i = 0; i < VIRTIO_MSIX_VECTORS; i++)
			msix_route(v, i);
		intx_update(v);
	}
	pthread_mutex_unlock(&v->lock);
}

static void bar_moved(struct pci_dev *pd)
{
	struct virtio_dev *v = pd->priv;
	pthread_mutex_lock(&v->lock);
	for (unsigned i = 0; i < v->ops->num_queues; i++)
		if (v->q[i].ioeventfd_on) {
			ioeventfd_set(v, i, false);
			ioeventfd_set(v, i, true);
		}
	pthread_mutex_unlock(&v->lock);
}

static const struct pci_dev_ops virtio_bar_ops = {bar_read, bar_write,
						  bar_moved, cfg_written};

struct kick_ctx {
	struct virtio_dev *v;
	unsigned q;
};

static void on_kick(void *arg, uint32_t events)
{
	struct kick_ctx *k = arg;
	struct virtio_dev *v = k->v;
	uint64_t n;
	if (read(v->q[k->q].kick_fd, &n, 8) < 0)
		return;
	pthread_mutex_lock(&v->lock);
	if (v->q[k->q].enabled && (v->status & STATUS_DRIVER_OK))
		v->ops->notify(v, k->q);
	pthread_mutex_unlock(&v->lock);
}

static void add_cap(uint8_t *cfg, unsigned at, unsigned next, uint8_t type,
		    uint32_t off, uint32_t len, unsigned cap_len)
{
	cfg[at] = 0x09; /* vendor-specific */
	cfg[at + 1] = (uint8_t)next;
	cfg[at + 2] = (uint8_t)cap_len;
	cfg[at + 3] = type;
	cfg[at + 4] = 0; /* BAR 0 */
	put32(cfg + at + 8, off);
	put32(cfg + at + 12, len);
}

struct virtio_dev *virtio_pci_new(struct vm *vm, struct pci *bus,
				  const struct virtio_dev_ops *ops,
				  uint64_t features, void *priv,
				  struct hull_err *err)
{
	struct virtio_dev *v = xcalloc(1, sizeof(*v));
	pthread_mutex_init(&v->lock, NULL);
	v->vm = vm;
	v->ops = ops;
	v->priv = priv;
	v->host_features = features | VIRTIO_F_VERSION_1;
	v->mem.region[0].gpa = 0;
	v->mem.region[0].size = vm->low_size;
	v->mem.region[0].host = vm->mem;
	v->mem.n = 1;
	if (vm->mem_size > vm->low_size) {
		v->mem.region[1].gpa = 1ull << 32;
		v->mem.region[1].size = vm->mem_size - vm->low_size;
		v->mem.region[1].host = vm->mem + vm->low_size;
		v->mem.n = 2;
	}
	v->mem.dirty = &vm->dev_dirty;
	v->mem.dirty_base = vm->mem;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		v->q[i].kick_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MSIX_VECTORS; i++)
		v->irqfd[i] = -1;
	v->pci.ops = &virtio_bar_ops;
	v->pci.priv = v;
	if (pci_add(bus, &v->pci, 0x1af4, (uint16_t)(0x1040 + ops->device_id),
		    ops->class_code, ops->device_id, err) < 0)
		goto fail;
	uint8_t *c = v->pci.cfg;
	c[0x34] = 0x40;
	add_cap(c, 0x40, 0x50, 1, BAR_COMMON, 0x38, 16);
	add_cap(c, 0x50, 0x60, 3, BAR_ISR, 4, 16);
	add_cap(c, 0x60, 0x70, 4, BAR_DEVICE, 0x1000, 16);
	add_cap(c, 0x70, CAP_MSIX, 2, BAR_NOTIFY, 0x1000, 20);
	put32(c + 0x70 + 16, NOTIFY_MULT);
	c[CAP_MSIX] = 0x11;
	c[CAP_MSIX + 1] = 0;
	put16(c + CAP_MSIX + 2, VIRTIO_MSIX_VECTORS - 1);
	put32(c + CAP_MSIX + 4, BAR_MSIX_TABLE); /* BIR 0 */
	put32(c + CAP_MSIX + 8, BAR_MSIX_PBA);
	v->pci.wmask[CAP_MSIX + 3] = 0xc0; /* enable, function mask */

	for (unsigned i = 0; i < ops->num_queues; i++) {
		v->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->q[i].kick_fd < 0) {
			hull_err_sys(err, errno, "eventfd");
			goto fail;
		}
		struct kick_ctx *k = xmalloc(sizeof(*k));
		*k = (struct kick_ctx){v, i};
		if (io_add(v->q[i].kick_fd, EPOLLIN, on_kick, k, err) < 0)
			goto fail;
	}
	v->msi_gsi = vm_msi_gsi_alloc(vm, VIRTIO_MSIX_VECTORS);
	for (unsigned i = 0; i < VIRTIO_MSIX_VECTORS; i++) {
		v->msix[i][3] = 1; /* masked until the driver programs it */
		/* an irqfd per vector; its route is set when the driver
		 * unmasks it. Without one, KVM_SIGNAL_MSI does the job. */
		v->irqfd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct kvm_irqfd fd = {.fd = (uint32_t)v->irqfd[i],
				       .gsi = v->msi_gsi + i};
		if (v->irqfd[i] >= 0 && ioctl(vm->vm_fd, KVM_IRQFD, &fd) < 0) {
			close(v->irqfd[i]);
			v->irqfd[i] = -1;
		}
	}
	device_reset(v);
	return v;
fail:
	hull_err_prefix(err, "%s", ops->name);
	return NULL; /* the process is exiting; descriptors go with it */
}

unsigned virtio_pci_fds(struct virtio_dev *v, int *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < v->ops->num_queues && n < max; i++)
		if (v->q[i].kick_fd >= 0)
			out[n++] = v->q[i].kick_fd;
	for (unsigned i = 0; i < VIRTIO_MSIX_VECTORS && n < max; i++)
		if (v->irqfd[i] >= 0)
			out[n++] = v->irqfd[i];
	return n;
}

/*
 * Snapshot state (docs/hull-vmm.md). Requests are served on the I/O
 * thread, which is also where a snapshot is taken, so no request is half
 * done: what the driver queued and the device has not taken is in guest
 * RAM, and last_avail says where the device stopped.
 */
struct virtio_queue_state {
	uint64_t desc, avail, used;
	uint16_t last_avail, used_idx, msix_vector, size;
	uint8_t enabled, pad[7];
} __attribute__((packed));

struct virtio_state {
	uint16_t device_id, num_queues;
	uint32_t dfsel, gfsel;
	uint8_t status, isr, config_gen, pad;
	uint16_t msix_config, qsel;
	uint32_t pad2;
	uint64_t host_features, guest_features;
	uint8_t cfg[256];
	uint32_t msix[VIRTIO_MSIX_VECTORS][4];
	struct virtio_queue_state q[VIRTIO_MAX_QUEUES];
} __attribute__((packed));

size_t virtio_pci_save(struct virtio_dev *v, uint8_t *buf, size_t max)
{
	struct virtio_state st = {0};
	if (max < sizeof(st))
		return 0;
	pthread_mutex_lock(&v->lock);
	st.device_id = v->ops->device_id;
	st.num_queues = (uint16_t)v->ops->num_queues;
	st.dfsel = v->dfsel;
	st.gfsel = v->gfsel;
	st.status = v->status;
	st.isr = v->isr;
	st.config_gen = v->config_gen;
	st.msix_config = v->msix_config;
	st.qsel = v->qsel;
	st.host_features = v->host_features;
	st.guest_features = v->guest_features;
	memcpy(st.cfg, v->pci.cfg, sizeof(st.cfg));
	memcpy(st.msix, v->msix, sizeof(st.msix));
	for (unsigned i = 0; i < v->ops->num_queues; i++) {
		const struct virtio_queue *q = &v->q[i];
		st.q[i] = (struct virtio_queue_state){
		    .desc = q->vq.desc,
		    .avail = q->vq.avail,
		    .used = q->vq.used,
		    .last_avail = q->vq.last_avail,
		    .used_idx = q->vq.used_idx,
		    .msix_vector = q->msix_vector,
		    .size = q->size,
		    .enabled = q->enabled,
		};
	}
	pthread_mutex_unlock(&v->lock);
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

int virtio_pci_load(struct virtio_dev *v, const uint8_t *buf, size_t len)
{
	struct virtio_state st;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.device_id != v->ops->device_id ||
	    st.num_queues != v->ops->num_queues ||
	    st.host_features != v->host_features ||
	    (st.guest_features & ~v->host_features))
		return -EINVAL;
	for (unsigned i = 0; i < v->ops->num_queues; i++) {
		uint16_t size = st.q[i].size;
		if (!size || size > v->ops->queue_size || (size & (size - 1)))
			return -EINVAL;
	}
	pthread_mutex_lock(&v->lock);
	v->dfsel = st.dfsel;
	v->gfsel = st.gfsel;
	v->status = st.status;
	v->isr = st.isr;
	v->config_gen = st.config_gen;
	v->msix_config = st.msix_config;
	v->qsel = st.qsel;
	v->guest_features = st.guest_features;
	/* only what the guest may write; the rest is this build's */
	for (unsigned i = 0; i < sizeof(st.cfg); i++)
		v->pci.cfg[i] = (uint8_t)((v->pci.cfg[i] & ~v->pci.wmask[i]) |
					  (st.cfg[i] & v->pci.wmask[i]));
	memcpy(v->msix, st.msix, sizeof(st.msix));
	int r = 0;
	for (unsigned i = 0; i < v->ops->num_queues; i++) {
		struct virtio_queue *q = &v->q[i];
		const struct virtio_queue_state *s = &st.q[i];
		ioeventfd_set(v, i, false);
		memset(&q->vq, 0, sizeof(q->vq));
		q->vq.mem = &v->mem;
		q->vq.desc = s->desc;
		q->vq.avail = s->avail;
		q->vq.used = s->used;
		q->msix_vector = s->msix_vector;
		q->size = s->size;
		q->enabled = false;
		if (!s->enabled)
			continue;
		q->vq.size = q->size;
		/* the rings must lie in guest RAM, as when the driver
		 * enabled the queue */
		if (virtq_enable(&q->vq) < 0) {
			r = -EINVAL;
			break;
		}
		q->vq.last_avail = s->last_avail;
		q->vq.used_idx = s->used_idx;
		q->enabled = true;
		ioeventfd_set(v, i, true);
	}
	v->msix_was_enabled = msix_enabled(v);
	for (unsigned i = 0; i < VIRTIO_MSIX_VECTORS; i++)
		msix_route(v, i);
	v->intx_level = false;
	intx_update(v);
	if (r == 0 && (v->status & STATUS_DRIVER_OK) && v->ops->ready)
		v->ops->ready(v);
	pthread_mutex_unlock(&v->lock);
	/* requests queued before the snapshot and not yet taken */
	for (unsigned i = 0; r == 0 && i < v->ops->num_queues; i++)
		if (v->q[i].enabled)
			kick(v, i);
	return r;
}
