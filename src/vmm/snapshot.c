/*
 * snapshot.c - saving and loading a VM's memory snapshot (snapshot.h).
 *
 * The vCPU state is what QEMU and Firecracker save through the same KVM
 * ioctls, loaded back in the order KVM needs: special registers (CR0/CR4
 * and EFER before anything that depends on the mode), registers, FPU and
 * XSAVE, XCRs, MSRs (the TSC among them, so the guest's clock goes on
 * from where it stood), the local APIC (after the APIC base MSR in
 * sregs), the MP state, and pending events last.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "vmm/devices.h"
#include "vmm/pci.h"
#include "vmm/snapfmt.h"
#include "vmm/snapshot.h"
#include "vmm/virtio_pci.h"
#include "vmm/vm.h"

_Static_assert(sizeof(((struct snap_vcpu *)0)->xsave) ==
		   sizeof(struct kvm_xsave),
	       "KVM_GET_XSAVE fills struct kvm_xsave's fixed region");
/* no implicit padding: the sum of the fields */
_Static_assert(sizeof(struct snap_vcpu) ==
		   sizeof(struct kvm_regs) + sizeof(struct kvm_sregs) +
		       sizeof(struct kvm_fpu) + 4096 + sizeof(struct kvm_xcrs) +
		       sizeof(struct kvm_lapic_state) +
		       sizeof(struct kvm_vcpu_events) +
		       sizeof(struct kvm_mp_state) + 4 +
		       sizeof(struct kvm_debugregs) + 16,
	       "struct snap_vcpu has no implicit padding");

struct out {
	uint8_t *buf;
	size_t len, cap;
	unsigned n;
};

static uint8_t *sec_begin(struct out *o, uint32_t tag, uint32_t inst,
			  size_t max)
{
	size_t need = o->len + 16 + max + 8;
	if (need > o->cap) {
		o->cap = need * 2;
		o->buf = xrealloc(o->buf, o->cap);
	}
	memcpy(o->buf + o->len, &tag, 4);
	memcpy(o->buf + o->len + 4, &inst, 4);
	return o->buf + o->len + 16;
}

static void sec_end(struct out *o, uint64_t len)
{
	memcpy(o->buf + o->len + 8, &len, 8);
	size_t padded = (len + 7) & ~(size_t)7;
	memset(o->buf + o->len + 16 + len, 0, padded - len);
	o->len += 16 + padded;
	o->n++;
}

static void sec_add(struct out *o, uint32_t tag, uint32_t inst, const void *p,
		    size_t len)
{
	memcpy(sec_begin(o, tag, inst, len), p, len);
	sec_end(o, len);
}

/* The MSRs KVM says it saves and restores, less those this host refuses
 * to read (KVM_GET_MSRS stops at the first it cannot). */
static int msrs_get(struct vcpu *v, struct kvm_msrs **out, struct hull_err *err)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	ioctl(v->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe);
	unsigned n = probe.nmsrs;
	struct kvm_msr_list *list =
	    xcalloc(1, sizeof(*list) + (n + 1) * sizeof(uint32_t));
	list->nmsrs = n;
	if (n && ioctl(v->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		int e = errno;
		free(list);
		return hull_err_sys(err, e, "KVM_GET_MSR_INDEX_LIST");
	}
	n = list->nmsrs;
	if (n > SNAP_MSRS_MAX)
		n = SNAP_MSRS_MAX;
	struct kvm_msrs *m =
	    xcalloc(1, sizeof(*m) + n * sizeof(struct kvm_msr_entry));
	unsigned have = 0;
	for (unsigned i = 0; i < n; i++)
		m->entries[have++].index = list->indices[i];
	free(list);
	/* read in one call; drop each entry the host refuses and go on */
	unsigned done = 0;
	while (done < have) {
		struct kvm_msrs *part = xcalloc(
		    1, sizeof(*part) +
			   (have - done) * sizeof(struct kvm_msr_entry));
		part->nmsrs = have - done;
		memcpy(part->entries, m->entries + done,
		       (have - done) * sizeof(struct kvm_msr_entry));
		int got = ioctl(v->fd, KVM_GET_MSRS, part);
		if (got < 0) {
			int e = errno;
			free(part);
			free(m);
			return hull_err_sys(err, e, "KVM_GET_MSRS");
		}
		memcpy(m->entries + done, part->entries,
		       (size_t)got * sizeof(struct kvm_msr_entry));
		free(part);
		done += (unsigned)got;
		if (done < have) {
			memmove(m->entries + done, m->entries + done + 1,
				(have - done - 1) *
				    sizeof(struct kvm_msr_entry));
			have--;
		}
	}
	m->nmsrs = have;
	*out = m;
	return 0;
}

static int vcpu_save(struct vcpu *v, struct out *o, struct hull_err *err)
{
	struct snap_vcpu s;
	memset(&s, 0, sizeof(s));
	if (ioctl(v->fd, KVM_GET_REGS, &s.regs) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s.sregs) < 0 ||
	    ioctl(v->fd, KVM_GET_FPU, &s.fpu) < 0 ||
	    ioctl(v->fd, KVM_GET_LAPIC, &s.lapic) < 0 ||
	    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &s.events) < 0 ||
	    ioctl(v->fd, KVM_GET_MP_STATE, &s.mp_state) < 0 ||
	    ioctl(v->fd, KVM_GET_DEBUGREGS, &s.debugregs) < 0)
		return hull_err_sys(err, errno, "vCPU %u state", v->id);
	s.xsave_valid = ioctl(v->fd, KVM_GET_XSAVE, &s.xsave) == 0;
	s.xcrs_valid = ioctl(v->fd, KVM_GET_XCRS, &s.xcrs) == 0;
	struct kvm_msrs *m = NULL;
	if (msrs_get(v, &m, err) < 0)
		return -err->code;
	s.nmsrs = m->nmsrs;
	size_t ml = m->nmsrs * sizeof(struct kvm_msr_entry);
	uint8_t *p = sec_begin(o, SNAP_VCPU, v->id, sizeof(s) + ml);
	memcpy(p, &s, sizeof(s));
	memcpy(p + sizeof(s), m->entries, ml);
	sec_end(o, sizeof(s) + ml);
	free(m);
	return 0;
}

static int state_collect(struct vm *vm, struct out *o, struct hull_err *err)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vcpu_save(&vm->vcpus[i], o, err) < 0)
			return -err->code;
	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip c = {.chip_id = chip};
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &c) < 0)
			return hull_err_sys(err, errno, "KVM_GET_IRQCHIP");
		sec_add(o, SNAP_IRQCHIP, chip, &c, sizeof(c));
	}
	struct kvm_pit_state2 pit;
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0)
		return hull_err_sys(err, errno, "KVM_GET_PIT2");
	sec_add(o, SNAP_PIT, 0, &pit, sizeof(pit));
	struct kvm_clock_data clk = {0};
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clk) < 0)
		return hull_err_sys(err, errno, "KVM_GET_CLOCK");
	clk.flags = 0; /* restored as the guest's clock value alone */
	sec_add(o, SNAP_CLOCK, 0, &clk, sizeof(clk));

	uint8_t *p;
	p = sec_begin(o, SNAP_SERIAL, 0, DEVICE_STATE_MAX);
	sec_end(o, serial_save(vm->com1, p, DEVICE_STATE_MAX));
	p = sec_begin(o, SNAP_SERIAL, 1, DEVICE_STATE_MAX);
	sec_end(o, serial_save(vm->com2, p, DEVICE_STATE_MAX));
	p = sec_begin(o, SNAP_I8042, 0, DEVICE_STATE_MAX);
	sec_end(o, i8042_save(vm->kbd, p, DEVICE_STATE_MAX));
	p = sec_begin(o, SNAP_RTC, 0, DEVICE_STATE_MAX);
	sec_end(o, rtc_save(vm->rtc, p, DEVICE_STATE_MAX));
	p = sec_begin(o, SNAP_PM, 0, DEVICE_STATE_MAX);
	sec_end(o, pm_save(vm->pm, p, DEVICE_STATE_MAX));
	if (vm->pci) {
		p = sec_begin(o, SNAP_PCI, 0, DEVICE_STATE_MAX);
		sec_end(o, pci_save(vm->pci, p, DEVICE_STATE_MAX));
	}
	for (unsigned i = 0; i < vm->n_virtio; i++) {
		p = sec_begin(o, SNAP_VIRTIO, i, VIRTIO_STATE_MAX);
		sec_end(o, virtio_pci_save(vm->virtio[i], p, VIRTIO_STATE_MAX));
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t len, uint64_t off,
		     struct hull_err *err)
{
	const uint8_t *b = p;
	while (len) {
		ssize_t n = pwrite(fd, b, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return hull_err_sys(err, n < 0 ? errno : EIO,
					    "write state file");
		b += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static bool page_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	uint64_t acc = 0;
	for (unsigned i = 0; i < SNAP_PAGE / 8; i++)
		acc |= w[i];
	return acc == 0;
}

/* Guest RAM, sparse: runs of non-zero pages are written, zero pages are
 * skipped, so the file has holes there (SEEK_HOLE finds them, and a
 * private mapping reads them back as zeros). */
static int mem_write(struct vm *vm, int fd, uint64_t base, uint64_t *bytes,
		     struct hull_err *err)
{
	const uint64_t max_run = 1u << 20;
	uint64_t off = 0;
	*bytes = 0;
	while (off < vm->mem_size) {
		if (page_zero(vm->mem + off)) {
			off += SNAP_PAGE;
			continue;
		}
		uint64_t end = off + SNAP_PAGE;
		while (end < vm->mem_size && end - off < max_run &&
		       !page_zero(vm->mem + end))
			end += SNAP_PAGE;
		if (write_all(fd, vm->mem + off, end - off, base + off, err) <
		    0)
			return -err->code;
		*bytes += end - off;
		off = end;
	}
	return 0;
}

/* The header for state o of this VM (its mem_off just past the state,
 * page-aligned). */
static void header_fill(struct vm *vm, const struct out *o,
			struct snap_header *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, SNAP_MAGIC, 8);
	h->format = SNAP_FORMAT;
	h->header_size = SNAP_HEADER_SIZE;
	h->state_len = o->len;
	h->state_crc = snap_crc(o->buf, o->len);
	h->ncpus = vm->ncpus;
	h->mem_size = vm->mem_size;
	h->mem_off = (SNAP_HEADER_SIZE + o->len + SNAP_PAGE - 1) &
		     ~(uint64_t)(SNAP_PAGE - 1);
	h->n_sections = o->n;
	h->n_virtio = vm->n_virtio;
	snprintf(h->vmm_version, sizeof(h->vmm_version), "%s", HULL_VERSION);
	h->header_crc = snap_crc(h, offsetof(struct snap_header, header_crc));
}

int vmm_snapshot_state(struct vm *vm, uint8_t **buf, size_t *len,
		       struct hull_err *err)
{
	struct out o = {0};
	*buf = NULL;
	*len = 0;
	if (state_collect(vm, &o, err) < 0) {
		free(o.buf);
		return -err->code;
	}
	struct snap_header h;
	header_fill(vm, &o, &h);
	uint8_t *b = xmalloc(SNAP_HEADER_SIZE + o.len);
	memcpy(b, &h, SNAP_HEADER_SIZE);
	memcpy(b + SNAP_HEADER_SIZE, o.buf, o.len);
	free(o.buf);
	*buf = b;
	*len = SNAP_HEADER_SIZE + o.len;
	return 0;
}

int vmm_snapshot_save(struct vm *vm, int fd, uint64_t *bytes,
		      struct hull_err *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return hull_err_set(err, EINVAL,
				    "snapshot: not a regular file");
	struct out o = {0};
	int r = state_collect(vm, &o, err);
	if (r < 0)
		goto out;
	struct snap_header h;
	header_fill(vm, &o, &h);
	if (ftruncate(fd, 0) < 0 ||
	    ftruncate(fd, (off_t)(h.mem_off + h.mem_size)) < 0) {
		r = hull_err_sys(err, errno, "snapshot: size the state file");
		goto out;
	}
	if ((r = write_all(fd, &h, sizeof(h), 0, err)) < 0 ||
	    (r = write_all(fd, o.buf, o.len, SNAP_HEADER_SIZE, err)) < 0 ||
	    (r = mem_write(vm, fd, h.mem_off, bytes, err)) < 0)
		goto out;
	if (fdatasync(fd) < 0)
		r = hull_err_sys(err, errno, "snapshot: sync the state file");
out:
	free(o.buf);
	return r;
}

int vmm_snapshot_open(int fd, struct snap_file **out, uint8_t **bufp,
		      struct hull_err *err)
{
	uint8_t hb[SNAP_HEADER_SIZE];
	struct snap_header h;
	struct stat st;
	*out = NULL;
	*bufp = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return hull_err_set(err, EINVAL, "state file: not a file");
	ssize_t n = pread(fd, hb, sizeof(hb), 0);
	if (n < 0)
		return hull_err_sys(err, errno, "state file");
	if (snap_header_parse(hb, (size_t)n, &h, err) < 0)
		return -err->code;
	if ((uint64_t)st.st_size < h.mem_off + h.mem_size)
		return hull_err_set(
		    err, EINVAL,
		    "state file: truncated (%llu bytes, "
		    "expected %llu)",
		    (unsigned long long)st.st_size,
		    (unsigned long long)(h.mem_off + h.mem_size));
	size_t len = SNAP_HEADER_SIZE + h.state_len;
	uint8_t *buf = xmalloc(len);
	size_t got = 0;
	while (got < len) {
		n = pread(fd, buf + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return hull_err_set(err, EINVAL,
					    "state file: truncated");
		}
		got += (size_t)n;
	}
	struct snap_file *f = xcalloc(1, sizeof(*f));
	if (snap_parse(buf, len, f, err) < 0) {
		free(buf);
		free(f);
		return -err->code;
	}
	*out = f;
	*bufp = buf;
	return 0;
}

void vmm_snapshot_file_free(struct snap_file *f)
{
	free(f);
}

static const struct snap_section *find(const struct snap_file *f, uint32_t tag,
				       uint32_t inst)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->sec[i].tag == tag && f->sec[i].instance == inst)
			return &f->sec[i];
	return NULL;
}

static int vcpu_load(struct vcpu *v, const struct snap_section *sec,
		     struct hull_err *err)
{
	struct snap_vcpu s;
	memcpy(&s, sec->data, sizeof(s));
	const char *what = NULL;
	if (ioctl(v->fd, KVM_SET_SREGS, &s.sregs) < 0)
		what = "special registers";
	else if (ioctl(v->fd, KVM_SET_REGS, &s.regs) < 0)
		what = "registers";
	else if (s.xsave_valid ? ioctl(v->fd, KVM_SET_XSAVE, &s.xsave) < 0
			       : ioctl(v->fd, KVM_SET_FPU, &s.fpu) < 0)
		what = "FPU state";
	else if (s.xcrs_valid && ioctl(v->fd, KVM_SET_XCRS, &s.xcrs) < 0)
		what = "XCRs";
	if (what)
		return hull_err_sys(err, errno, "state file: vCPU %u: %s",
				    v->id, what);
	size_t ml = s.nmsrs * sizeof(struct kvm_msr_entry);
	struct kvm_msrs *m = xcalloc(1, sizeof(*m) + ml);
	m->nmsrs = s.nmsrs;
	memcpy(m->entries, sec->data + sizeof(s), ml);
	int set = ioctl(v->fd, KVM_SET_MSRS, m);
	if (set >= 0 && (unsigned)set < s.nmsrs) {
		uint32_t idx = m->entries[set].index;
		free(m);
		return hull_err_set(err, EINVAL,
				    "state file: vCPU %u: this host refuses "
				    "MSR 0x%x",
				    v->id, idx);
	}
	free(m);
	if (set < 0)
		what = "MSRs";
	else if (ioctl(v->fd, KVM_SET_LAPIC, &s.lapic) < 0)
		what = "local APIC";
	else if (ioctl(v->fd, KVM_SET_MP_STATE, &s.mp_state) < 0)
		what = "MP state";
	else if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &s.events) < 0)
		what = "pending events";
	else if (ioctl(v->fd, KVM_SET_DEBUGREGS, &s.debugregs) < 0)
		what = "debug registers";
	if (what)
		return hull_err_sys(err, errno, "state file: vCPU %u: %s",
				    v->id, what);
	return 0;
}

static int dev_load(int r, const char *what, struct hull_err *err)
{
	return r < 0 ? hull_err_set(err, EINVAL,
				    "state file: %s state is "
				    "invalid",
				    what)
		     : 0;
}

int vmm_snapshot_load(struct vm *vm, const struct snap_file *f,
		      struct hull_err *err)
{
	const struct snap_header *h = &f->hdr;
	if (h->ncpus != vm->ncpus || h->mem_size != vm->mem_size)
		return hull_err_set(
		    err, EINVAL,
		    "state file: made for %u vCPUs and %llu "
		    "MiB, this VM has %u and %llu MiB",
		    h->ncpus, (unsigned long long)(h->mem_size >> 20),
		    vm->ncpus, (unsigned long long)(vm->mem_size >> 20));
	if (h->n_virtio != vm->n_virtio || (!vm->pci) != !find(f, SNAP_PCI, 0))
		return hull_err_set(err, EINVAL,
				    "state file: made for %u virtio devices, "
				    "this VM has %u",
				    h->n_virtio, vm->n_virtio);
	/* every section there is, before anything is loaded */
	const struct snap_section *need[6] = {
	    find(f, SNAP_SERIAL, 0), find(f, SNAP_SERIAL, 1),
	    find(f, SNAP_I8042, 0),  find(f, SNAP_RTC, 0),
	    find(f, SNAP_PM, 0),     find(f, SNAP_PIT, 0)};
	for (unsigned i = 0; i < 6; i++)
		if (!need[i])
			return hull_err_set(err, EINVAL,
					    "state file: a device's state is "
					    "missing");
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (!find(f, SNAP_VCPU, i))
			return hull_err_set(
			    err, EINVAL, "state file: vCPU %u is missing", i);
	for (uint32_t chip = 0; chip < 3; chip++) {
		const struct snap_section *s = find(f, SNAP_IRQCHIP, chip);
		struct kvm_irqchip c;
		if (!s)
			return hull_err_set(err, EINVAL,
					    "state file: irqchip missing");
		memcpy(&c, s->data, sizeof(c));
		if (c.chip_id != chip ||
		    ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &c) < 0)
			return hull_err_set(err, EINVAL,
					    "state file: irqchip %u refused",
					    chip);
	}
	struct kvm_pit_state2 pit;
	memcpy(&pit, need[5]->data, sizeof(pit));
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
		return hull_err_sys(err, errno, "state file: PIT");
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vcpu_load(&vm->vcpus[i], find(f, SNAP_VCPU, i), err) < 0)
			return -err->code;
	const struct snap_section *s = find(f, SNAP_CLOCK, 0);
	if (s) {
		struct kvm_clock_data clk;
		memcpy(&clk, s->data, sizeof(clk));
		clk.flags = 0;
		if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clk) < 0)
			return hull_err_sys(err, errno, "state file: clock");
	}
	if (dev_load(serial_load(vm->com1, need[0]->data, need[0]->len), "COM1",
		     err) < 0 ||
	    dev_load(serial_load(vm->com2, need[1]->data, need[1]->len), "COM2",
		     err) < 0 ||
	    dev_load(i8042_load(vm->kbd, need[2]->data, need[2]->len), "i8042",
		     err) < 0 ||
	    dev_load(rtc_load(vm->rtc, need[3]->data, need[3]->len), "RTC",
		     err) < 0 ||
	    dev_load(pm_load(vm->pm, need[4]->data, need[4]->len),
		     "power management", err) < 0)
		return -err->code;
	if (vm->pci) {
		s = find(f, SNAP_PCI, 0);
		if (dev_load(pci_load(vm->pci, s->data, s->len), "PCI", err) <
		    0)
			return -err->code;
	}
	for (unsigned i = 0; i < vm->n_virtio; i++) {
		s = find(f, SNAP_VIRTIO, i);
		if (!s)
			return hull_err_set(err, EINVAL,
					    "state file: virtio device %u is "
					    "missing",
					    i);
		char what[32];
		snprintf(what, sizeof(what), "virtio device %u", i);
		if (dev_load(virtio_pci_load(vm->virtio[i], s->data, s->len),
			     what, err) < 0)
			return -err->code;
	}
	return 0;
}
