/*
 * bhyve.c - instance record to hull-vmm argv (see bhyve.h and docs/hvm.md).
 */
#include "hvm/bhyve.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hvm/qemu.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

struct argv {
	char **v;
	size_t n, cap;
};

static void add(struct argv *a, char *owned)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 48;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = owned;
	a->v[a->n] = NULL;
}

static void add2(struct argv *a, const char *opt, char *owned)
{
	add(a, xstrdup(opt));
	add(a, owned);
}

static bool is_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* A JSON string, or NULL when absent or null; -EINVAL for another type. */
static int get_str(json_t *o, const char *key, const char *name,
		   const char **out, struct hull_err *err)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return hull_err_set(err, EINVAL, "%s: must be a string", name);
	*out = json_string_value(v);
	return 0;
}

static int get_int(json_t *o, const char *key, json_int_t dflt, json_int_t lo,
		   json_int_t hi, json_int_t *out, struct hull_err *err)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return hull_err_set(err, EINVAL,
				    "%s: must be an integer from %lld to %lld",
				    key, (long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 0;
}

/* A model property: absent, or "virtio" (hull-vmm's only kind). */
static int virtio_only(json_t *o, const char *key, const char *name,
		       const char *dflt, struct hull_err *err)
{
	const char *m;
	int r = get_str(o, key, name, &m, err);
	if (r < 0)
		return r;
	if (!m)
		m = dflt;
	if (m && strcmp(m, "virtio"))
		return hull_err_set(err, EINVAL,
				    "%s: %s is not offered by the bhyve brand "
				    "(virtio only)",
				    name, m);
	return 0;
}

/* hull-vmm's --disk and --net split their value on commas. */
static int no_comma(const char *s, const char *name, struct hull_err *err)
{
	if (strchr(s, ','))
		return hull_err_set(err, EINVAL, "%s: must not contain ','",
				    name);
	return 0;
}

static int add_disks(struct argv *a, json_t *vm, struct hull_err *err)
{
	json_t *disks = json_object_get(vm, "disks");
	if (!disks)
		return 0;
	if (!json_is_array(disks))
		return hull_err_set(err, EINVAL, "disks: must be an array");
	if (json_array_size(disks) > HVM_BHYVE_DISKS_MAX)
		return hull_err_set(err, EINVAL, "disks: more than %d",
				    HVM_BHYVE_DISKS_MAX);
	const char *deflt;
	int r;
	if ((r = get_str(vm, "disk_driver", "disk_driver", &deflt, err)) < 0 ||
	    (r = virtio_only(vm, "disk_driver", "disk_driver", NULL, err)) < 0)
		return r;
	size_t i;
	json_t *d;
	json_array_foreach(disks, i, d)
	{
		char name[48];
		if (!json_is_object(d))
			return hull_err_set(err, EINVAL,
					    "disks.%zu: must be an object", i);
		const char *path, *media, *uuid;
		snprintf(name, sizeof(name), "disks.%zu.path", i);
		if ((r = get_str(d, "path", name, &path, err)) < 0)
			return r;
		if (!path || path[0] != '/')
			return hull_err_set(
			    err, EINVAL, "%s: must be an absolute path", name);
		if ((r = no_comma(path, name, err)) < 0)
			return r;
		snprintf(name, sizeof(name), "disks.%zu.model", i);
		if ((r = virtio_only(d, "model", name, deflt, err)) < 0)
			return r;
		snprintf(name, sizeof(name), "disks.%zu.media", i);
		if ((r = get_str(d, "media", name, &media, err)) < 0)
			return r;
		if (media && strcmp(media, "disk") && strcmp(media, "cdrom"))
			return hull_err_set(err, EINVAL,
					    "%s: must be disk or cdrom", name);
		snprintf(name, sizeof(name), "disks.%zu.uuid", i);
		if ((r = get_str(d, "uuid", name, &uuid, err)) < 0)
			return r;
		json_t *bootv = json_object_get(d, "boot");
		if (bootv && !json_is_boolean(bootv))
			return hull_err_set(
			    err, EINVAL,
			    "disks.%zu.boot: must be true or false", i);
		json_t *rov = json_object_get(d, "read_only");
		if (rov && !json_is_boolean(rov))
			return hull_err_set(err, EINVAL,
					    "disks.%zu.read_only: must be true "
					    "or false",
					    i);
		bool ro =
		    (media && !strcmp(media, "cdrom")) || json_is_true(rov);
		/* The same serial the kvm brand gives (qemu.c): the disk's
		 * UUID without dashes, as much as virtio-blk holds. */
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
		add2(
		    a, "--disk",
		    xasprintf("%s%s,serial=%s", path, ro ? ",ro" : "", serial));
	}
	return 0;
}

static int add_nics(struct argv *a, json_t *vm, const struct hvm_bhyve_host *h,
		    struct hull_err *err)
{
	json_t *nics = json_object_get(vm, "nics");
	if (!nics)
		return 0;
	if (!json_is_array(nics))
		return hull_err_set(err, EINVAL, "nics: must be an array");
	if (json_array_size(nics) > HVM_BHYVE_NICS_MAX)
		return hull_err_set(err, EINVAL, "nics: more than %d",
				    HVM_BHYVE_NICS_MAX);
	const char *deflt;
	int r;
	if ((r = get_str(vm, "nic_driver", "nic_driver", &deflt, err)) < 0 ||
	    (r = virtio_only(vm, "nic_driver", "nic_driver", NULL, err)) < 0)
		return r;
	size_t i;
	json_t *n;
	json_array_foreach(nics, i, n)
	{
		char name[48];
		if (!json_is_object(n))
			return hull_err_set(err, EINVAL,
					    "nics.%zu: must be an object", i);
		const char *mac;
		snprintf(name, sizeof(name), "nics.%zu.mac", i);
		if ((r = get_str(n, "mac", name, &mac, err)) < 0)
			return r;
		if (!mac || !is_mac(mac))
			return hull_err_set(err, EINVAL,
					    "%s: must be a MAC address", name);
		snprintf(name, sizeof(name), "nics.%zu.model", i);
		if ((r = virtio_only(n, "model", name, deflt, err)) < 0)
			return r;
		if (i >= h->ntap_fds || h->tap_fds[i] < 0)
			return hull_err_set(err, EINVAL,
					    "nics.%zu: no tap device", i);
		add2(a, "--net", xasprintf("fd=%d,mac=%s", h->tap_fds[i], mac));
	}
	return 0;
}

char **hvm_bhyve_argv(json_t *vm, const struct hvm_bhyve_host *h,
		      struct hull_err *err)
{
	if (!json_is_object(vm)) {
		hull_err_set(err, EINVAL, "the VM record must be an object");
		return NULL;
	}
	if (!h->run_dir || h->run_dir[0] != '/') {
		hull_err_set(err, EINVAL, "run directory: must be absolute");
		return NULL;
	}
	if (!h->kernel) {
		hull_err_set(err, EINVAL,
			     "bhyve brand: no kernel from the boot loader "
			     "(hull-vmm has no firmware)");
		return NULL;
	}
	const char *uuid;
	json_int_t vcpus = 0, ram = 0;
	if (get_str(vm, "uuid", "uuid", &uuid, err) < 0)
		return NULL;
	if (!uuid || !hull_uuid_valid(uuid)) {
		hull_err_set(err, EINVAL, "uuid: must be a UUID");
		return NULL;
	}
	if (get_int(vm, "vcpus", 1, 1, HVM_BHYVE_VCPUS_MAX, &vcpus, err) < 0 ||
	    get_int(vm, "ram", 256, HVM_BHYVE_RAM_MIN, HVM_BHYVE_RAM_MAX, &ram,
		    err) < 0)
		return NULL;
	ram += ram & 1;

	struct argv a = {0};
	add(&a, xstrdup(h->vmm ? h->vmm : HVM_BHYVE_BIN));
	add2(&a, "--uuid", xstrdup(uuid));
	add2(&a, "--product", xstrdup(HVM_BHYVE_PRODUCT));
	add2(&a, "--cpus", xasprintf("%lld", (long long)vcpus));
	add2(&a, "--memory", xasprintf("%lldM", (long long)ram));
	add2(&a, "--kernel", xstrdup(h->kernel));
	if (h->initrd)
		add2(&a, "--initrd", xstrdup(h->initrd));
	if (h->cmdline)
		add2(&a, "--cmdline", xstrdup(h->cmdline));
	if (add_disks(&a, vm, err) < 0 || add_nics(&a, vm, h, err) < 0) {
		hvm_strv_free(a.v);
		return NULL;
	}
	add2(&a, "--console",
	     xasprintf("unix:%s/%s", h->run_dir, HVM_BHYVE_CONSOLE_SOCK));
	add2(&a, "--metadata",
	     xasprintf("unix:%s/%s", h->run_dir, HVM_BHYVE_COM2_SOCK));
	add2(&a, "--control",
	     xasprintf("unix:%s/%s", h->run_dir, HVM_BHYVE_CONTROL_SOCK));
	return a.v;
}
