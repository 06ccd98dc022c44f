/*
 * vmm.c - an instance to hull-vmm argv (see vmm.h).
 */
#include "hvm/vmm.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hvm/qemu.h"
#include "lib/uuid.h"
#include "lib/mac.h"
#include "lib/strv.h"
#include "lib/xalloc.h"
#include "lib/mac.h"
#include "net/nic.h"

static void add2(struct hull_strv *sv, const char *opt, char *owned)
{
	hull_strv_push(sv, xstrdup(opt));
	hull_strv_push(sv, owned);
}

static int fail(struct hull_strv *sv, struct hull_err *err, const char *what,
		const char *why)
{
	hull_strv_free(sv->v);
	sv->v = NULL;
	return hull_err_set(err, EINVAL, "%s: %s", what, why);
}

/* hull-vmm's option syntax separates fields with commas. */
static bool plain_path(const char *p)
{
	return p[0] == '/' && !strchr(p, ',');
}

char **hvm_vmm_argv(const struct inst *inst, const struct hvm_vmm_host *h,
		    struct hull_err *err)
{
	struct hull_strv sv = {0};
	char key[48];
	const char *uuid = inst->uuid;
	int64_t vcpus = inst->vcpus < 0 ? 1 : inst->vcpus,
		ram = inst->ram < 0 ? 256 : inst->ram;

	if (!h->kvm) {
		hull_err_set(err, ENODEV,
			     "brand bhyve needs hardware virtualization "
			     "(KVM with vmx or svm), which this host does not "
			     "have; the kvm brand runs here under QEMU's TCG");
		return NULL;
	}
	if (!h->run_dir || h->run_dir[0] != '/') {
		hull_err_set(err, EINVAL, "instance record or run directory");
		return NULL;
	}
	if (vcpus < 1 || vcpus > HVM_VMM_VCPUS_MAX) {
		hull_err_set(err, EINVAL,
			     "vcpus: must be an integer from 1 to %d",
			     HVM_VMM_VCPUS_MAX);
		return NULL;
	}
	if (ram < HVM_QEMU_RAM_MIN || ram > HVM_QEMU_RAM_MAX) {
		hull_err_set(err, EINVAL,
			     "ram: must be an integer from %d to %d",
			     HVM_QEMU_RAM_MIN, HVM_QEMU_RAM_MAX);
		return NULL;
	}
	if (inst->vm.bootrom) {
		hull_err_set(
		    err, EINVAL,
		    "bootrom: hull-vmm boots the guest's kernel "
		    "directly and has no firmware; leave bootrom unset");
		return NULL;
	}
	if (!h->kernel) {
		hull_err_set(err, EINVAL, "disks: no kernel to boot");
		return NULL;
	}

	hull_strv_push(&sv, xstrdup(h->vmm ? h->vmm : HVM_VMM_BIN));
	add2(&sv, "--memory", xasprintf("%lldM", (long long)ram));
	add2(&sv, "--cpus", xasprintf("%lld", (long long)vcpus));
	add2(&sv, "--kernel", xstrdup(h->kernel));
	if (h->initrd)
		add2(&sv, "--initrd", xstrdup(h->initrd));
	add2(&sv, "--cmdline", xstrdup(h->cmdline ? h->cmdline : ""));

	if (inst->ndisks > HVM_VMM_DISKS_MAX) {
		fail(&sv, err, "disks", "more than hull-vmm's 16");
		return NULL;
	}
	for (size_t i = 0; i < inst->ndisks; i++) {
		const struct inst_disk *d = &inst->disks[i];
		const char *path = d->path, *model = d->model,
			   *media = d->media, *duuid = d->uuid;
		snprintf(key, sizeof(key), "disks.%zu.path", i);
		if (!path || !plain_path(path)) {
			fail(&sv, err, key,
			     "must be an absolute path without commas");
			return NULL;
		}
		snprintf(key, sizeof(key), "disks.%zu.model", i);
		if (model && strcmp(model, "virtio")) {
			fail(&sv, err, key,
			     "hull-vmm emulates virtio disks only");
			return NULL;
		}
		snprintf(key, sizeof(key), "disks.%zu.media", i);
		if (media && strcmp(media, "disk")) {
			fail(&sv, err, key, "hull-vmm has no cdrom");
			return NULL;
		}
		char serial[21];
		if (duuid && hull_uuid_valid(duuid)) {
			size_t k = 0;
			for (const char *p = duuid; *p && k < 20; p++)
				if (*p != '-')
					serial[k++] = *p;
			serial[k] = '\0';
		} else {
			snprintf(serial, sizeof(serial), "hull-disk%u",
				 (unsigned)(i % 100));
		}
		add2(&sv, "--disk", xasprintf("%s,serial=%s", path, serial));
	}

	const struct net_config *net = inst->net;
	if (net->nnics > HVM_VMM_NICS_MAX) {
		fail(&sv, err, "nics", "more than hull-vmm's 8");
		return NULL;
	}
	for (size_t i = 0; i < net->nnics; i++) {
		const char *model = inst->vm.nic_model[i];
		char mac[HULL_MAC_STRLEN];
		hull_mac_format(net->nics[i].mac, mac);
		snprintf(key, sizeof(key), "nics.%zu.model", i);
		if (model && strcmp(model, "virtio")) {
			fail(&sv, err, key,
			     "hull-vmm emulates virtio nics only");
			return NULL;
		}
		if (i >= h->ntap_fds || h->tap_fds[i] < 0) {
			snprintf(key, sizeof(key), "nics.%zu", i);
			fail(&sv, err, key, "no tap device");
			return NULL;
		}
		add2(&sv, "--net",
		     xasprintf("fd=%d,mac=%s", h->tap_fds[i], mac));
	}

	hull_strv_push(&sv, xstrdup("--rng"));
	add2(&sv, "--console",
	     xasprintf("unix:%s/%s", h->run_dir, HVM_QEMU_CONSOLE_SOCK));
	add2(&sv, "--metadata",
	     xasprintf("unix:%s/%s", h->run_dir, HVM_QEMU_COM2_SOCK));
	add2(&sv, "--control",
	     xasprintf("unix:%s/%s", h->run_dir, HVM_VMM_CONTROL_SOCK));
	add2(&sv, "--uuid", xstrdup(uuid));
	add2(&sv, "--product", xstrdup("SmartDC HVM"));
	return sv.v;
}
