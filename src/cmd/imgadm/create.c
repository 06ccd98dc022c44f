/*
 * create.c - `imgadm create`: a new image (manifest + file) from a stopped
 * instance, with `origin` set to the instance's image, as SmartOS's
 * `imgadm create` makes one from a VM.
 *
 * The file is a tar of the zone root (hull's image format, what `imgadm
 * install` takes), named NAME-VERSION.tar[.gz|.bz2|.xz] beside
 * NAME-VERSION.imgmanifest. The instance stays locked for the whole
 * archive, so it cannot be started meanwhile.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/install.h"
#include "image/vmimage.h"
#include "imgadm.h"
#include "inst/record.h"
#include "lib/fileio.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/root.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"
#include "vm/record.h"

static const char help[] =
    "usage: imgadm create [-m MANIFEST|-] [-o PATH-PREFIX] "
    "[-c none|gzip|bzip2|xz] VM-UUID [FIELD=VALUE ...]\n"
    "\n"
    "Makes an image from a stopped instance: NAME-VERSION.imgmanifest and\n"
    "NAME-VERSION.tar[.gz|.bz2|.xz] (in the current folder, or at\n"
    "PATH-PREFIX.imgmanifest and PATH-PREFIX.tar...). The manifest comes\n"
    "from -m (a file, or - for stdin) and FIELD=VALUE pairs (each VALUE is\n"
    "read as JSON first, else as a string); name and version are required.\n"
    "origin is set to the instance's image. -c defaults to none.\n";

static const char *ext_of(const char *c)
{
	return !strcmp(c, "gzip")    ? ".gz"
	       : !strcmp(c, "bzip2") ? ".bz2"
	       : !strcmp(c, "xz")    ? ".xz"
				     : "";
}

static json_t *read_base(const char *m, struct hull_err *err)
{
	if (!m)
		return json_object();
	if (strcmp(m, "-"))
		return hull_json_load_file(m, err);
	json_error_t je;
	json_t *j = json_loadf(stdin, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		hull_err_set(err, EINVAL, "manifest on stdin: %s", je.text);
	return j;
}

static int make_image(const char *vmuuid, json_t *base, const char *prefix,
		      const char *comp, struct hull_err *err)
{
	char *lockp = inst_lock_path(vmuuid);
	int lock = -1, r;
	json_t *vm = NULL, *m = NULL;
	char *mpath = NULL, *fpath = NULL, *root = NULL, *pfx = NULL;
	char *cfg = inst_config_dir(vmuuid);
	bool exists = hull_is_dir(cfg);
	free(cfg);
	if (!exists) {
		r = hull_err_set(err, ENOENT, "VM %s not found", vmuuid);
		goto out;
	}
	lock = hull_lock_take(lockp, true, err);
	if (lock < 0) {
		r = lock;
		goto out;
	}
	vm = vm_record_load(vmuuid, err);
	if (!vm) {
		r = -ENOENT;
		goto out;
	}
	if (strcmp(hull_json_str(vm, "state", ""), "stopped")) {
		r = hull_err_set(err, EBUSY,
				 "VM %s is %s: stop it before making an image",
				 vmuuid, hull_json_str(vm, "state", "?"));
		goto out;
	}
	char id[HULL_UUID_LEN + 1], now[32];
	hull_uuid_generate(id);
	vm_time_iso(now);
	m = image_manifest_from_vm(vm, base, id, now, err);
	if (!m) {
		r = -EINVAL;
		goto out;
	}
	pfx = prefix ? xstrdup(prefix)
		     : xasprintf("%s-%s", hull_json_str(m, "name", ""),
				 hull_json_str(m, "version", ""));
	mpath = xasprintf("%s.imgmanifest", pfx);
	fpath = xasprintf("%s.tar%s", pfx, ext_of(comp));
	root = hull_root_path("%s/root", vmuuid);
	r = image_archive_write(root, fpath, comp, err);
	if (r < 0)
		goto out;
	char sha[41];
	r = image_file_sha1(fpath, sha, err);
	if (r < 0)
		goto undo;
	struct stat st;
	if (stat(fpath, &st) < 0) {
		r = hull_err_sys(err, errno, "stat %s", fpath);
		goto undo;
	}
	json_object_set_new(m, "files",
			    json_pack("[{s:s,s:I,s:s}]", "sha1", sha, "size",
				      (json_int_t)st.st_size, "compression",
				      comp));
	r = hull_json_save_file(mpath, m, err);
	if (r < 0)
		goto undo;
	printf("Created image %s (%s@%s) from VM %s\n  manifest: %s\n  "
	       "file:     %s\n",
	       hull_json_str(m, "uuid", ""), hull_json_str(m, "name", ""),
	       hull_json_str(m, "version", ""), vmuuid, mpath, fpath);
	goto out;
undo:
	unlink(fpath);
out:
	hull_lock_release(lock);
	json_decref(vm);
	json_decref(m);
	free(lockp);
	free(mpath);
	free(fpath);
	free(root);
	free(pfx);
	return r;
}

int imgadm_create(int argc, char **argv)
{
	const char *mfile = NULL, *prefix = NULL, *comp = "none";
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help"))
			return imgadm_help(help);
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt(argc, argv, "+m:o:c:iqs:p:h")) != -1) {
		switch (c) {
		case 'm':
			mfile = optarg;
			break;
		case 'o':
			prefix = optarg;
			break;
		case 'c':
			comp = optarg;
			break;
		case 'q':
			break;
		case 'h':
			return imgadm_help(help);
		case 'i':
			return imgadm_usage("create", "-i (incremental images) "
						      "is not supported yet");
		case 's':
		case 'p':
			return imgadm_usage("create",
					    "-%c is not supported yet", c);
		default:
			return imgadm_usage("create", "unknown option");
		}
	}
	if (optind >= argc)
		return imgadm_usage("create", "a VM uuid is required");
	if (strcmp(comp, "none") && strcmp(comp, "gzip") &&
	    strcmp(comp, "bzip2") && strcmp(comp, "xz"))
		return imgadm_usage("create", "-c must be none, gzip, bzip2 or "
					      "xz");
	const char *vmuuid = argv[optind++];
	struct hull_err err = {0};
	if (hull_root_check(&err) < 0)
		return imgadm_fail(&err);
	json_t *base = read_base(mfile, &err);
	if (!base)
		return imgadm_fail(&err);
	for (; optind < argc; optind++) {
		const char *eq = strchr(argv[optind], '=');
		if (!eq || eq == argv[optind]) {
			json_decref(base);
			return imgadm_usage("create",
					    "\"%s\" is not FIELD=VALUE",
					    argv[optind]);
		}
		char *k = xstrndup(argv[optind], (size_t)(eq - argv[optind]));
		/* name and version are strings even when they look like
		 * numbers ("version=1.2"). */
		bool str = !strcmp(k, "name") || !strcmp(k, "version");
		json_t *v =
		    str ? NULL : json_loads(eq + 1, JSON_DECODE_ANY, NULL);
		json_object_set_new(base, k, v ? v : json_string(eq + 1));
		free(k);
	}
	int r = make_image(vmuuid, base, prefix, comp, &err);
	json_decref(base);
	return r < 0 ? imgadm_fail(&err) : IMGADM_OK;
}
