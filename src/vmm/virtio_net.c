/*
 * virtio_net.c - virtio-net (virtio 1.2 section 5.1) on a tap device with
 * vnet headers: the 12-byte virtio_net_hdr the driver puts before each
 * frame is the tap's own header, so checksum and segmentation offloads
 * pass through untouched. Queue 0 receives, queue 1 transmits. When the
 * driver has no receive buffers the tap is left unread (frames wait in its
 * queue) until the driver posts some.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "vmm/iothread.h"
#include "vmm/virtio_devices.h"

#define NET_F_CSUM (1ull << 0)
#define NET_F_GUEST_CSUM (1ull << 1)
#define NET_F_MAC (1ull << 5)
#define NET_F_GUEST_TSO4 (1ull << 7)
#define NET_F_GUEST_TSO6 (1ull << 8)
#define NET_F_HOST_TSO4 (1ull << 11)
#define NET_F_HOST_TSO6 (1ull << 12)
#define NET_F_STATUS (1ull << 16)

#define RXQ 0
#define TXQ 1
#define VNET_HDR_LEN 12

struct net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_pairs;
	uint16_t mtu;
} __attribute__((packed));

struct net {
	struct virtio_dev *v;
	int tap;
	bool rx_watching;
	struct net_config cfg;
	struct iovec iov[VIRTQ_MAX_SEGS];
};

static void cfg_read(struct virtio_dev *v, uint64_t off, uint8_t *data,
		     unsigned len)
{
	struct net *n = v->priv;
	virtio_cfg_copy(&n->cfg, sizeof(n->cfg), off, data, len);
}

static int seg_iov(struct net *n, const struct virtq_chain *c, bool write)
{
	int k = 0;
	for (unsigned i = 0; i < c->n; i++)
		if (c->seg[i].write == write && c->seg[i].len)
			n->iov[k++] =
			    (struct iovec){c->seg[i].ptr, c->seg[i].len};
	return k;
}

static void on_tap(void *arg, uint32_t events);

static void rx_watch(struct net *n, bool on)
{
	if (n->rx_watching != on) {
		io_mod(n->tap, on ? EPOLLIN : 0, on_tap, n);
		n->rx_watching = on;
	}
}

/* Moves frames from the tap into receive buffers while both exist. */
static void rx(struct net *n)
{
	struct virtio_dev *v = n->v;
	struct virtq *q = &v->q[RXQ].vq;
	struct virtq_chain *c = xmalloc(sizeof(*c));
	bool any = false;
	for (unsigned budget = VIRTQ_BUDGET(q);; budget--) {
		if (!budget) {
			virtio_pci_rekick(v, RXQ);
			break;
		}
		if (!v->q[RXQ].enabled || !virtq_pending(q)) {
			rx_watch(n, false); /* wait for the driver's kick */
			break;
		}
		if (virtq_pop(q, c) != 1)
			break;
		int k = seg_iov(n, c, true);
		if (!k) {
			/* nothing writable: useless to us, return it empty */
			virtq_push(q, c->head, 0);
			any = true;
			continue;
		}
		ssize_t got = readv(n->tap, n->iov, k);
		if (got < 0) {
			/* nothing to read after all: give the chain back */
			q->last_avail--;
			rx_watch(n, true);
			break;
		}
		virtq_push(q, c->head, (uint32_t)got);
		any = true;
	}
	free(c);
	if (any)
		virtio_pci_notify_queue(v, RXQ);
}

static void on_tap(void *arg, uint32_t events)
{
	struct net *n = arg;
	pthread_mutex_lock(&n->v->lock);
	rx(n);
	pthread_mutex_unlock(&n->v->lock);
}

static void tx(struct net *n)
{
	struct virtio_dev *v = n->v;
	struct virtq *q = &v->q[TXQ].vq;
	struct virtq_chain *c = xmalloc(sizeof(*c));
	bool any = false;
	unsigned budget = VIRTQ_BUDGET(q);
	while (budget && virtq_pop(q, c) == 1) {
		budget--;
		int k = seg_iov(n, c, false);
		/* a frame the tap refuses is dropped, as a wire would */
		if (k && c->read_len > VNET_HDR_LEN &&
		    writev(n->tap, n->iov, k) < 0) {
			/* counted nowhere yet: the guest sees a lost frame */
		}
		virtq_push(q, c->head, 0);
		any = true;
	}
	if (!budget)
		virtio_pci_rekick(v, TXQ);
	free(c);
	if (any)
		virtio_pci_notify_queue(v, TXQ);
}

static void notify(struct virtio_dev *v, unsigned qi)
{
	struct net *n = v->priv;
	if (qi == TXQ)
		tx(n);
	else
		rx(n); /* new receive buffers: frames may be waiting */
}

static void ready(struct virtio_dev *v)
{
	struct net *n = v->priv;
	unsigned off = 0;
	if (virtio_has(v, NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (virtio_has(v, NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (virtio_has(v, NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
	}
	/* what the tap may hand us is what the driver can take */
	ioctl(n->tap, TUNSETOFFLOAD, off);
	rx_watch(n, true);
}

static void reset(struct virtio_dev *v)
{
	struct net *n = v->priv;
	if (n)
		rx_watch(n, false);
}

static const struct virtio_dev_ops net_ops = {
    .name = "virtio-net",
    .device_id = 1,
    .class_code = 0x020000,
    .num_queues = 2,
    .queue_size = 256,
    .cfg_read = cfg_read,
    .notify = notify,
    .ready = ready,
    .reset = reset,
};

static int tap_open(const struct vmm_net_config *nc, struct hull_err *err)
{
	struct ifreq ifr = {0};
	int fd;
	if (nc->tap) {
		fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return hull_err_sys(err, errno, "net: /dev/net/tun");
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		strncpy(ifr.ifr_name, nc->tap, IFNAMSIZ - 1);
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			int e = errno;
			close(fd);
			return hull_err_sys(err, e, "net: tap %s", nc->tap);
		}
	} else {
		fd = fcntl(nc->fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return hull_err_sys(err, errno, "net: fd %d", nc->fd);
		if (ioctl(fd, TUNGETIFF, &ifr) < 0 ||
		    !(ifr.ifr_flags & IFF_TAP) ||
		    !(ifr.ifr_flags & IFF_VNET_HDR)) {
			close(fd);
			return hull_err_set(
			    err, EINVAL,
			    "net: fd %d is not a tap opened with IFF_VNET_HDR",
			    nc->fd);
		}
		fcntl(fd, F_SETFL, O_NONBLOCK);
		close(nc->fd); /* ours now, as a dup that is close-on-exec */
	}
	int hdr = VNET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		int e = errno;
		close(fd);
		return hull_err_sys(err, e, "net: tap vnet header");
	}
	return fd;
}

struct virtio_dev *virtio_net_new(struct vm *vm, struct pci *bus,
				  const struct vmm_net_config *nc,
				  struct hull_err *err)
{
	int tap = tap_open(nc, err);
	if (tap < 0)
		return NULL;
	struct net *n = xcalloc(1, sizeof(*n));
	n->tap = tap;
	if (nc->has_mac) {
		memcpy(n->cfg.mac, nc->mac, 6);
	} else {
		/* locally administered, from the tap descriptor and pid */
		uint32_t r = (uint32_t)getpid() * 2654435761u ^ (uint32_t)tap;
		uint8_t mac[6] = {0x02,
				  0x68,
				  (uint8_t)(r >> 24),
				  (uint8_t)(r >> 16),
				  (uint8_t)(r >> 8),
				  (uint8_t)r};
		memcpy(n->cfg.mac, mac, 6);
	}
	n->cfg.status = 1; /* link up */
	n->cfg.max_pairs = 1;
	n->cfg.mtu = 1500;
	uint64_t f = NET_F_MAC | NET_F_STATUS | NET_F_CSUM | NET_F_GUEST_CSUM |
		     NET_F_GUEST_TSO4 | NET_F_GUEST_TSO6 | NET_F_HOST_TSO4 |
		     NET_F_HOST_TSO6;
	struct virtio_dev *v = virtio_pci_new(vm, bus, &net_ops, f, n, err);
	if (!v) {
		close(tap);
		free(n);
		return NULL;
	}
	n->v = v;
	if (io_add(tap, 0, on_tap, n, err) < 0)
		return NULL;
	return v;
}

unsigned virtio_net_fds(struct virtio_dev *v, int *out, unsigned max)
{
	struct net *n = v->priv;
	if (!max || v->ops != &net_ops)
		return 0;
	out[0] = n->tap;
	return 1;
}

void virtio_net_announce(struct virtio_dev *v)
{
	struct net *n = v->priv;
	if (v->ops != &net_ops)
		return;
	/* QEMU's self-announce (net/announce.c): a broadcast RARP request,
	 * "reverse request" (opcode 3) with the nic's MAC as sender and
	 * target and no addresses, padded to the 60-byte minimum. */
	uint8_t f[VNET_HDR_LEN + 60];
	memset(f, 0, sizeof(f));
	uint8_t *e = f + VNET_HDR_LEN;
	memset(e, 0xff, 6);
	memcpy(e + 6, n->cfg.mac, 6);
	static const uint8_t rarp[] = {0x80, 0x35, 0x00, 0x01, 0x08,
				       0x00, 0x06, 0x04, 0x00, 0x03};
	memcpy(e + 12, rarp, sizeof(rarp));
	memcpy(e + 22, n->cfg.mac, 6);
	memcpy(e + 32, n->cfg.mac, 6);
	if (write(n->tap, f, sizeof(f)) < 0) {
		/* best effort: a switch learns the port from the guest's next
		 * frame anyway */
	}
}
