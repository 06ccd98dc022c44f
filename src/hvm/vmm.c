/*
 * vmm.c - instance record to hull-vmm argv (see vmm.h).
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

static bool is_mac(const char *s)
{
	uint8_t m[HULL_MAC_LEN];
	return hull_mac_parse_canonical(s, m) == 0;
}

/* hull-vmm's option syntax separates fields with commas. */
static bool plain_path(const char *p)
{
	return p[0] == '/' && !strchr(p, ',');
}

static int int_or(json_t *vm, const char *key, json_int_t dflt, json_int_t lo,
		  json_int_t hi, json_int_t *out)
{
	json_t *v = json_object_get(vm, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

char **hvm_vmm_argv(json_t *vm, const struct hvm_vmm_host *h,
		    struct hull_err *err)
{
	struct hull_strv sv = {0};
	char key[48];
	json_int_t vcpus = 1, ram = 256;

	if (!h->kvm) {
		hull_err_set(err, ENODEV,
			     "brand bhyve needs hardware virtualization "
			     "(KVM with vmx or svm), which this host does not "
			     "have; the kvm brand runs here under QEMU's TCG");
		return NULL;
	}
	if (!json_is_object(vm) || !h->run_dir || h->run_dir[0] != '/') {
		hull_err_set(err, EINVAL, "instance record or run directory");
		return NULL;
	}
	const char *uuid = json_string_value(json_object_get(vm, "uuid"));
	if (!uuid || !hull_uuid_valid(uuid)) {
		hull_err_set(err, EINVAL, "uuid: not a UUID");
		return NULL;
	}
	if (int_or(vm, "vcpus", 1, 1, HVM_VMM_VCPUS_MAX, &vcpus) < 0) {
		hull_err_set(err, EINVAL,
			     "vcpus: must be an integer from 1 to %d",
			     HVM_VMM_VCPUS_MAX);
		return NULL;
	}
	if (int_or(vm, "ram", 256, HVM_QEMU_RAM_MIN, HVM_QEMU_RAM_MAX, &ram) <
	    0) {
		hull_err_set(err, EINVAL,
			     "ram: must be an integer from %d to %d",
			     HVM_QEMU_RAM_MIN, HVM_QEMU_RAM_MAX);
		return NULL;
	}
	json_t *rom = json_object_get(vm, "bootrom");
	if (rom && !json_is_null(rom)) {
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

	json_t *disks = json_object_get(vm, "disks"), *d;
	if (disks && !json_is_array(disks)) {
		fail(&sv, err, "disks", "must be an array");
		return NULL;
	}
	if (json_array_size(disks) > HVM_VMM_DISKS_MAX) {
		fail(&sv, err, "disks", "more than hull-vmm's 16");
		return NULL;
	}
	size_t i;
	json_array_foreach(disks, i, d)
	{
		const char *path =
		    json_string_value(json_object_get(d, "path"));
		const char *model =
		    json_string_value(json_object_get(d, "model"));
		const char *media =
		    json_string_value(json_object_get(d, "media"));
		const char *duuid =
		    json_string_value(json_object_get(d, "uuid"));
		snprintf(key, sizeof(key), "disks.%zu.path", i);
		if (!json_is_object(d) || !path || !plain_path(path)) {
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

	json_t *nics = json_object_get(vm, "nics"), *n;
	if (nics && !json_is_array(nics)) {
		fail(&sv, err, "nics", "must be an array");
		return NULL;
	}
	if (json_array_size(nics) > HVM_VMM_NICS_MAX) {
		fail(&sv, err, "nics", "more than hull-vmm's 8");
		return NULL;
	}
	json_array_foreach(nics, i, n)
	{
		const char *mac = json_string_value(json_object_get(n, "mac"));
		const char *model =
		    json_string_value(json_object_get(n, "model"));
		snprintf(key, sizeof(key), "nics.%zu.mac", i);
		if (!mac || !is_mac(mac)) {
			fail(&sv, err, key, "must be a MAC address");
			return NULL;
		}
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
