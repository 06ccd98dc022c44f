/*
 * qemu.c - instance record to QEMU argv (see qemu.h and docs/hvm.md).
 */
#include "hvm/qemu.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/uuid.h"
#include "lib/strv.h"
#include "lib/xalloc.h"
#include "lib/mac.h"
#include "net/nic.h"

static void add2(struct hull_strv *sv, const char *opt, char *owned)
{
	hull_strv_push(sv, xstrdup(opt));
	hull_strv_push(sv, owned);
}

/* QEMU's option syntax: a comma inside a value is written twice. */
static char *qesc(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++)
		n += *p == ',' ? 2 : 1;
	char *o = xmalloc(n + 1), *q = o;
	for (const char *p = s; *p; p++) {
		*q++ = *p;
		if (*p == ',')
			*q++ = ',';
	}
	*q = '\0';
	return o;
}

static int add_disks(struct hull_strv *sv, const struct inst *inst,
		     bool firmware, struct hull_err *err)
{
	if (inst->ndisks > HVM_QEMU_DISKS_MAX)
		return hull_err_set(err, EINVAL, "disks: more than %d",
				    HVM_QEMU_DISKS_MAX);
	const char *deflt = inst->vm.disk_driver;
	bool scsi_bus = false;
	int ide_unit = 0;
	for (size_t i = 0; i < inst->ndisks; i++) {
		const struct inst_disk *d = &inst->disks[i];
		char name[32];
		snprintf(name, sizeof(name), "disks.%zu", i);
		const char *path = d->path, *model = d->model,
			   *media = d->media, *uuid = d->uuid;
		if (!path || path[0] != '/')
			return hull_err_set(err, EINVAL,
					    "%s.path: must be an absolute path",
					    name);
		if (!model)
			model = deflt ? deflt : "virtio";
		if (!media)
			media = "disk";
		bool cdrom = d->cdrom, boot = d->boot;
		/* The guest sees a stable serial: the disk's UUID when it
		 * has one (hex digits only, as many as virtio-blk takes),
		 * else its index. */
		char serial[21];
		if (uuid && hull_uuid_valid(uuid)) {
			size_t k = 0;
			for (const char *p = uuid; *p && k < 20; p++)
				if (*p != '-')
					serial[k++] = *p;
			serial[k] = '\0';
		} else {
			snprintf(serial, sizeof(serial), "hull-disk%u",
				 (unsigned)(i % 100));
		}
		_cleanup_free_ char *epath = qesc(path);
		/* Named nodes: QEMU 7.2 reopens (blockdev-reopen) only
		 * nodes with names given, never its automatic #blockN
		 * ones; a live migration's target points its disks at
		 * the files of the last increment that way. */
		add2(sv, "-drive",
		     xasprintf("file=%s,if=none,id=disk%zu,format=raw,"
			       "media=%s%s,node-name=" HVM_QEMU_NODE_FMT
			       ",file.node-name=" HVM_QEMU_NODE_FILE,
			       epath, i, media, cdrom ? ",readonly=on" : "", i,
			       i));
		char boot_opt[24] = "";
		/* Only firmware reads bootindex; a direct boot's loader
		 * ROM holds index 0 itself. */
		if (boot && firmware)
			snprintf(boot_opt, sizeof(boot_opt), ",bootindex=%d",
				 0);
		if (!strcmp(model, "virtio")) {
			if (cdrom)
				return hull_err_set(
				    err, EINVAL,
				    "%s.model: a virtio disk cannot be a cdrom",
				    name);
			add2(sv, "-device",
			     xasprintf("virtio-blk-pci,drive=disk%zu,"
				       "serial=%s%s",
				       i, serial, boot_opt));
		} else if (!strcmp(model, "ide")) {
			if (ide_unit >= 4)
				return hull_err_set(err, EINVAL,
						    "%s.model: more than 4 ide "
						    "disks",
						    name);
			add2(sv, "-device",
			     xasprintf("%s,drive=disk%zu,bus=ide.%d,unit=%d,"
				       "serial=%s%s",
				       cdrom ? "ide-cd" : "ide-hd", i,
				       ide_unit / 2, ide_unit % 2, serial,
				       boot_opt));
			ide_unit++;
		} else if (!strcmp(model, "scsi")) {
			if (!scsi_bus) {
				add2(sv, "-device",
				     xstrdup("virtio-scsi-pci,id=scsi0"));
				scsi_bus = true;
			}
			add2(sv, "-device",
			     xasprintf("%s,drive=disk%zu,bus=scsi0.0,"
				       "serial=%s%s",
				       cdrom ? "scsi-cd" : "scsi-hd", i, serial,
				       boot_opt));
		} else {
			return hull_err_set(err, EINVAL,
					    "%s.model: must be virtio, ide or "
					    "scsi",
					    name);
		}
	}
	return 0;
}

static int add_nics(struct hull_strv *sv, const struct inst *inst,
		    const struct hvm_qemu_host *h, struct hull_err *err)
{
	const struct net_config *net = inst->net;
	if (net->nnics > HVM_QEMU_NICS_MAX)
		return hull_err_set(err, EINVAL, "nics: more than %d",
				    HVM_QEMU_NICS_MAX);
	const char *deflt = inst->vm.nic_driver;
	for (size_t i = 0; i < net->nnics; i++) {
		const char *model = inst->vm.nic_model[i];
		if (!model)
			model = deflt ? deflt : "virtio";
		const char *dev;
		if (!strcmp(model, "virtio"))
			dev = "virtio-net-pci";
		else if (!strcmp(model, "e1000"))
			dev = "e1000";
		else if (!strcmp(model, "rtl8139"))
			dev = "rtl8139";
		else
			return hull_err_set(err, EINVAL,
					    "nics.%zu.model: must be virtio, "
					    "e1000 or rtl8139",
					    i);
		if (i >= h->ntap_fds || h->tap_fds[i] < 0)
			return hull_err_set(err, EINVAL,
					    "nics.%zu: no tap device", i);
		char mac[HULL_MAC_STRLEN];
		hull_mac_format(net->nics[i].mac, mac);
		add2(sv, "-netdev",
		     xasprintf("tap,id=net%zu,fd=%d", i, h->tap_fds[i]));
		add2(sv, "-device",
		     xasprintf("%s,netdev=net%zu,mac=%s", dev, i, mac));
	}
	return 0;
}

/* A unix socket QEMU listens on, without waiting for the peer. */
static char *sock_chardev(const char *id, const char *run, const char *name,
			  const char *log)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", run, name);
	_cleanup_free_ char *ep = qesc(p);
	_cleanup_free_ char *el = log ? qesc(log) : NULL;
	return xasprintf("socket,id=%s,path=%s,server=on,wait=off%s%s%s", id,
			 ep, el ? ",logfile=" : "", el ? el : "",
			 el ? ",logappend=on" : "");
}

/*
 * -m: the guest's RAM in MiB. Under TCG, 8 KiB more (QEMU rounds -m up to
 * 8 KiB): QEMU 7.2 loses guest writes during a live migration from a TCG
 * guest (fixed in QEMU 9.0, commit 03bfc2188f "physmem: Fix migration
 * dirty bitmap coherency with TCG memory access"). Its dirty-bitmap sync
 * takes a fast path for a RAM block whose length is a multiple of 64
 * pages, and that path clears the migration dirty bits without marking
 * TCG's TLB entries "not dirty" again, so stores through those entries
 * set no dirty bit and the pages are never sent again: the migrated
 * guest's memory is stale (its kernel panics on corrupt lists). A block
 * of another length takes the page-by-page path, which resets the TLB
 * entries as it clears each bit. KVM tracks dirty pages itself and gets
 * exactly what was asked for.
 */
static char *ram_arg(int64_t ram, bool kvm)
{
	if (kvm)
		return xasprintf("%lld", (long long)ram);
	return xasprintf("%lldk", (long long)ram * 1024 + 8);
}

char **hvm_qemu_argv(const struct inst *inst, const struct hvm_qemu_host *h,
		     struct hull_err *err)
{
	struct hull_strv sv = {0};
	const char *uuid = inst->uuid, *cpu_type = inst->vm.cpu_type,
		   *bootrom = inst->vm.bootrom, *boot_order = inst->vm.boot,
		   *extra = inst->vm.qemu_extra_opts,
		   *vnc_pw = inst->vm.vnc_password;
	int64_t vcpus = inst->vcpus < 0 ? 1 : inst->vcpus,
		ram = inst->ram < 0 ? 256 : inst->ram,
		vnc_port = inst->vm.vnc_port;

	if (!h->run_dir || h->run_dir[0] != '/') {
		hull_err_set(err, EINVAL, "run directory: not absolute");
		return NULL;
	}
	if (vcpus < 1 || vcpus > HVM_QEMU_VCPUS_MAX) {
		hull_err_set(err, EINVAL,
			     "vcpus: must be an integer from 1 to %d",
			     HVM_QEMU_VCPUS_MAX);
		return NULL;
	}
	if (ram < HVM_QEMU_RAM_MIN || ram > HVM_QEMU_RAM_MAX) {
		hull_err_set(err, EINVAL,
			     "ram: must be an integer from %d to %d",
			     HVM_QEMU_RAM_MIN, HVM_QEMU_RAM_MAX);
		return NULL;
	}
	if (vnc_pw && strlen(vnc_pw) > HVM_QEMU_VNC_PASSWORD_MAX) {
		hull_err_set(err, EINVAL, "vnc_password: at most %d characters",
			     HVM_QEMU_VNC_PASSWORD_MAX);
		return NULL;
	}
	if (!cpu_type)
		cpu_type = "qemu64";
	if (strcmp(cpu_type, "qemu64") && strcmp(cpu_type, "host")) {
		hull_err_set(err, EINVAL, "cpu_type: must be qemu64 or host");
		return NULL;
	}
	if (bootrom && strcmp(bootrom, "bios") && strcmp(bootrom, "uefi")) {
		hull_err_set(err, EINVAL, "bootrom: must be bios or uefi");
		return NULL;
	}
	bool uefi = bootrom && !strcmp(bootrom, "uefi") && !h->kernel;

	hull_strv_push(&sv, xstrdup(h->qemu ? h->qemu : HVM_QEMU_BIN));
	add2(&sv, "-name", xasprintf("guest=%s,debug-threads=on", uuid));
	add2(&sv, "-uuid", xstrdup(uuid));
	hull_strv_push(&sv, xstrdup("-no-user-config"));
	hull_strv_push(&sv, xstrdup("-nodefaults"));
	add2(&sv, "-machine",
	     xasprintf("%s,accel=%s", uefi ? "q35" : "pc",
		       h->kvm ? "kvm" : "tcg"));
	/* "host" passes the host CPU through, which only KVM can; under TCG
	 * the nearest is QEMU's "max" model. */
	add2(&sv, "-cpu",
	     xstrdup(!strcmp(cpu_type, "host") && !h->kvm ? "max" : cpu_type));
	add2(&sv, "-smp", xasprintf("%lld", (long long)vcpus));
	add2(&sv, "-m", ram_arg(ram, h->kvm));
	/* SmartOS's identity, spec §0.1: cloud-init's SmartOS datasource
	 * looks for a product starting with "SmartDC". */
	add2(&sv, "-smbios",
	     xasprintf("type=1,manufacturer=Joyent,product=SmartDC HVM,"
		       "version=7.0,serial=%s,uuid=%s,sku=001,"
		       "family=Virtual Machine",
		       uuid, uuid));
	add2(&sv, "-rtc", xstrdup("base=utc"));
	/* A guest reboot ends QEMU; the supervisor starts it again, which
	 * runs the boot loader again (a new kernel after an upgrade). */
	hull_strv_push(&sv, xstrdup("-no-reboot"));
	/* QEMU's own seccomp filter, under the double hull's. */
	add2(&sv, "-sandbox",
	     xstrdup("on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
		     "resourcecontrol=deny"));
	/* VNC (vnc_port 0: a port chosen at start, N: that port, -1: none):
	 * QEMU serves it on a unix socket in the run directory, and the
	 * supervisor relays a TCP port on the host to it (the hull has no
	 * network). With a password, VNC authentication is on and the
	 * supervisor sets the password over QMP before it relays. */
	if (vnc_port >= 0) {
		_cleanup_free_ char *p =
		    xasprintf("%s/%s", h->run_dir, HVM_QEMU_VNC_SOCK);
		_cleanup_free_ char *ep = qesc(p);
		add2(&sv, "-vga", xstrdup("std"));
		add2(&sv, "-display", xstrdup("none"));
		add2(&sv, "-vnc",
		     xasprintf("unix:%s%s", ep,
			       vnc_pw && *vnc_pw ? ",password=on" : ""));
	} else {
		hull_strv_push(&sv, xstrdup("-nographic"));
	}

	if (h->kernel) {
		add2(&sv, "-kernel", xstrdup(h->kernel));
		if (h->initrd)
			add2(&sv, "-initrd", xstrdup(h->initrd));
		add2(&sv, "-append", xstrdup(h->cmdline ? h->cmdline : ""));
	} else {
		if (uefi) {
			_cleanup_free_ char *e = qesc(HVM_QEMU_OVMF);
			add2(&sv, "-drive",
			     xasprintf("if=pflash,format=raw,readonly=on,"
				       "file=%s",
				       e));
		} else {
			add2(&sv, "-bios", xstrdup(HVM_QEMU_SEABIOS));
		}
		const char *ord = boot_order ? boot_order : "order=cd";
		for (const char *p = ord; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("=,", *p)) {
				hull_err_set(err, EINVAL,
					     "boot: not a boot order: %s", ord);
				goto fail;
			}
		add2(&sv, "-boot", xstrdup(ord));
	}

	/* COM1: the console; COM2: the metadata channel. */
	if (h->console_pty) {
		_cleanup_free_ char *el =
		    h->console_log ? qesc(h->console_log) : NULL;
		add2(&sv, "-chardev",
		     xasprintf("pty,id=com1%s%s%s", el ? ",logfile=" : "",
			       el ? el : "", el ? ",logappend=on" : ""));
	} else {
		add2(&sv, "-chardev",
		     sock_chardev("com1", h->run_dir, HVM_QEMU_CONSOLE_SOCK,
				  h->console_log));
	}
	add2(&sv, "-serial", xstrdup("chardev:com1"));
	add2(&sv, "-chardev",
	     sock_chardev("com2", h->run_dir, HVM_QEMU_COM2_SOCK, NULL));
	add2(&sv, "-serial", xstrdup("chardev:com2"));
	add2(&sv, "-chardev",
	     sock_chardev("qmp", h->run_dir, HVM_QEMU_QMP_SOCK, NULL));
	add2(&sv, "-mon", xstrdup("chardev=qmp,mode=control"));
	/* A second QMP monitor for commands that want their answer
	 * (vmadm sysrq, the VNC password): the first is the supervisor's,
	 * held for events. */
	add2(&sv, "-chardev",
	     sock_chardev("qmpc", h->run_dir, HVM_QEMU_QMPC_SOCK, NULL));
	add2(&sv, "-mon", xstrdup("chardev=qmpc,mode=control"));

	if (add_disks(&sv, inst, !h->kernel, err) < 0 ||
	    add_nics(&sv, inst, h, err) < 0)
		goto fail;
	add2(&sv, "-device", xstrdup("virtio-rng-pci"));

	if (extra) {
		_cleanup_free_ char *copy = xstrdup(extra);
		char *save = NULL;
		for (char *t = strtok_r(copy, " \t\n", &save); t;
		     t = strtok_r(NULL, " \t\n", &save))
			hull_strv_push(&sv, xstrdup(t));
	}
	return sv.v;
fail:
	hull_strv_free(sv.v);
	return NULL;
}
