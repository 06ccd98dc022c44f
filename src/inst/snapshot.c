/*
 * snapshot.c - an instance's snapshots (include/hull/snapshot.h; vmadm
 * create-snapshot, delete-snapshot, rollback-snapshot).
 *
 * As on SmartOS: a snapshot of the instance dataset named
 * <uuid>@vmsnap-<name>, listed newest first in the instance's `snapshots`
 * property as {name, created_at}; rollback stops the instance, puts the
 * dataset back, deletes every newer snapshot and starts it again when it
 * was running. The instance record itself is not rolled back: it is kept
 * as it is now (less the deleted snapshots) and written back afterwards,
 * as SmartOS keeps the zone's configuration outside the snapshot.
 *
 * Beyond SmartOS, a running bhyve VM's snapshot can hold its memory and
 * device state too (HULL_SNAPSHOT_MEMORY, `vmadm create-snapshot -m`):
 * hull-vmm is paused and writes its state (docs/hull-vmm.md "Snapshot
 * file") into the instance's dataset as vmstate, through a descriptor
 * passed on its control socket; the dataset is snapshotted while the
 * guest stays paused, so the disks and the memory agree; the live copy
 * of vmstate is removed and the guest resumes. Such a snapshot is listed
 * with "memory": true. Rolling back to it checks the state file in the
 * snapshot first (a bad one changes nothing), then rolls back as usual
 * and starts the VM, whose supervisor finds vmstate in the dataset and
 * hands it to hull-vmm --restore: the guest resumes where it was.
 *
 * A kvm VM's state is QEMU's own migration stream (hvm/qemustate.h):
 * over its command QMP socket QEMU is stopped and migrates into vmstate
 * through a passed descriptor; vmstate.sum beside it holds the stream's
 * size and SHA-256, since QEMU's stream has no checksum and QEMU exits
 * on a bad one. The rollback checks both before anything changes, and
 * the supervisor starts QEMU with -incoming defer and feeds it vmstate.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hull/snapshot.h"
#include "hvm/com2.h"
#include "hvm/qemu.h"
#include "hvm/qemustate.h"
#include "hvm/vmm.h"
#include "inst/record.h"
#include "inst/txn.h"
#include "lib/fdpass.h"
#include "lib/fileio.h"
#include "lib/root.h"
#include "lib/json.h"
#include "lib/lock.h"
#include "lib/xalloc.h"
#include "pool/pool.h"
#include "supervisor/client.h"
#include "supervisor/vm.h"
#include "vmm/snapfmt.h"
#include "vm/proptable.h"
#include "vm/record.h"

enum snap_op { SNAP_CREATE, SNAP_DELETE, SNAP_ROLLBACK };

bool hull_snapshot_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.:%", *p))
			return false;
	return true;
}

/* Index of name in the record's snapshots (newest first), or -1. */
static long snap_find(json_t *vm, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(
	    json_object_get(vm, "snapshots"), i,
	    e) if (!strcmp(hull_json_str(e, "name", ""), name)) return (long)i;
	return -1;
}

#define VMSTATE_TIMEOUT_MS 120000

/* One request to hull-vmm's control socket, with fd passed alongside
 * when fd >= 0; the answer's "error" becomes err. */
static int vmm_request(const char *uuid, const char *req, int fd,
		       struct hull_err *err)
{
	_cleanup_free_ char *path = hull_root_path(
	    "%s/run/" SV_VM_RUN_SUBDIR "/" HVM_VMM_CONTROL_SOCK, uuid);
	int s = hvm_com2_connect(path, 2000, err);
	if (s < 0)
		return s;
	int r = 0;
	char line[4096];
	size_t len = 0;
	int sent = hull_fd_send(s, req, strlen(req), &fd, fd >= 0 ? 1 : 0);
	if (sent < 0) {
		r = hull_err_sys(err, -sent, "%s", path);
		goto out;
	}
	while (!memchr(line, '\n', len)) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		if (len == sizeof(line) ||
		    poll(&p, 1, VMSTATE_TIMEOUT_MS) != 1) {
			r = hull_err_set(err, ETIMEDOUT,
					 "hull-vmm did not answer");
			goto out;
		}
		ssize_t n = read(s, line + len, sizeof(line) - len);
		if (n <= 0) {
			r = hull_err_set(err, EPIPE,
					 "hull-vmm closed its control socket");
			goto out;
		}
		len += (size_t)n;
	}
	json_t *ans = json_loadb(
	    line, (size_t)((char *)memchr(line, '\n', len) - line), 0, NULL);
	if (!json_is_true(json_object_get(ans, "ok")))
		r = hull_err_set(err, EIO, "%s",
				 hull_json_str(ans, "error", "bad answer"));
	json_decref(ans);
out:
	close(s);
	return r;
}

/* The dataset's vmstate, in the live dataset or in snapshot snap. */
static char *vmstate_path(struct pool *pool, const char *ds)
{
	_cleanup_free_ char *dir = pool_dataset_path(pool, ds);
	return xasprintf("%s/" HULL_VMSTATE_FILE, dir);
}

/* The kvm brand: QEMU paused and its state written to path, with the
 * sum file beside it; *q stays open (paused QEMU) for the resume, also
 * on failure. */
static int qemu_state_save(const char *uuid, const char *path,
			   struct hvm_qmp **q, struct hull_err *err)
{
	_cleanup_free_ char *sock = hull_root_path(
	    "%s/run/" SV_VM_RUN_SUBDIR "/" HVM_QEMU_QMPC_SOCK, uuid);
	*q = hvm_qmp_open(sock, 10000, err);
	if (!*q)
		return -err->code;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	if (fd < 0)
		return hull_err_sys(err, errno, "%s", path);
	struct hvm_qemu_state_sum sum = {0};
	int r = hvm_qemu_state_save(*q, fd, VMSTATE_TIMEOUT_MS, err);
	if (r == 0)
		r = hvm_qemu_state_digest(fd, &sum, err);
	close(fd);
	if (r < 0)
		return r;
	_cleanup_free_ char *sp =
	    xasprintf("%s" HVM_QEMU_STATE_SUM_SUFFIX, path);
	_cleanup_free_ char *text = hvm_qemu_state_sum_format(&sum);
	return hull_file_replace(sp, text, strlen(text), 0600, err);
}

static void qemu_state_unlink(const char *path)
{
	unlink(path);
	_cleanup_free_ char *sp =
	    xasprintf("%s" HVM_QEMU_STATE_SUM_SUFFIX, path);
	unlink(sp);
}

static int snap_create(struct pool *pool, json_t *vm, const char *uuid,
		       long idx, const char *name, unsigned flags, bool kvm,
		       const struct hull_progress *pr, struct hull_err *err)
{
	if (idx >= 0)
		return hull_err_set(err, EEXIST,
				    "Snapshot %s of VM %s already exists", name,
				    uuid);
	char *snap = xasprintf("%s@vmsnap-%s", uuid, name);
	bool memory = flags & HULL_SNAPSHOT_MEMORY;
	char *state = memory ? vmstate_path(pool, uuid) : NULL;
	struct hvm_qmp *q = NULL;
	int r = 0;
	if (memory && kvm && supervisor_alive(uuid)) {
		r = qemu_state_save(uuid, state, &q, err);
		if (r < 0) {
			qemu_state_unlink(state);
			if (q)
				hvm_qmp_execute(q, "cont", NULL, 10000, NULL);
			hull_err_prefix(err, "memory snapshot of VM %s", uuid);
			goto out;
		}
	} else if (memory) {
		if (!supervisor_alive(uuid)) {
			r = hull_err_set(err, EINVAL,
					 "Cannot snapshot the memory of VM %s: "
					 "it is not running",
					 uuid);
			goto out;
		}
		/* paused and written; it stays paused for the disks */
		int fd = open(
		    state, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    0600);
		if (fd < 0) {
			r = hull_err_sys(err, errno, "%s", state);
			goto out;
		}
		r = vmm_request(uuid,
				"{\"command\": \"snapshot\", \"resume\": "
				"false}\n",
				fd, err);
		close(fd);
		if (r < 0) {
			unlink(state);
			vmm_request(uuid, "{\"command\": \"resume\"}\n", -1,
				    NULL);
			hull_err_prefix(err, "memory snapshot of VM %s", uuid);
			goto out;
		}
	}
	r = pool_snapshot_create(pool, snap, err);
	if (memory && kvm) {
		qemu_state_unlink(state);
		struct hull_err rerr;
		int rr = hvm_qmp_execute(q, "cont", NULL, 10000, &rerr);
		if (r == 0 && rr < 0) {
			pool_snapshot_destroy(pool, snap, NULL);
			r = hull_err_set(err, -rr, "resume VM %s: %s", uuid,
					 rerr.msg);
		}
	} else if (memory) {
		unlink(state);
		struct hull_err rerr;
		int rr =
		    vmm_request(uuid, "{\"command\": \"resume\"}\n", -1, &rerr);
		if (r == 0 && rr < 0) {
			pool_snapshot_destroy(pool, snap, NULL);
			r = hull_err_set(err, -rr, "resume VM %s: %s", uuid,
					 rerr.msg);
		}
	}
	if (r == 0) {
		inst_progress(pr, HULL_STEP_SNAPSHOT, uuid, name);
		json_t *list = json_object_get(vm, "snapshots");
		if (!json_is_array(list)) {
			list = json_array();
			json_object_set_new(vm, "snapshots", list);
		}
		char now[32];
		vm_time_iso(now);
		json_t *e =
		    json_pack("{s:s,s:s}", "name", name, "created_at", now);
		if (memory)
			json_object_set_new(e, "memory", json_true());
		json_array_insert_new(list, 0, e);
		r = vm_record_save(vm, err);
		if (r < 0)
			pool_snapshot_destroy(pool, snap, NULL);
	}
out:
	hvm_qmp_close(q);
	free(state);
	free(snap);
	return r;
}

/* A kvm VM's state file: its sum file, then its size, QEMU's magic and
 * its SHA-256 against the sum. */
static int qemu_state_check(const char *path, struct hull_err *err)
{
	_cleanup_free_ char *sp =
	    xasprintf("%s" HVM_QEMU_STATE_SUM_SUFFIX, path);
	char buf[512];
	int sfd = open(sp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (sfd < 0)
		return hull_err_sys(err, errno, "state file: its sum file");
	ssize_t n = read(sfd, buf, sizeof(buf));
	close(sfd);
	struct hvm_qemu_state_sum want, got;
	if (n < 0)
		return hull_err_sys(err, errno, "state file: its sum file");
	int r = hvm_qemu_state_sum_parse(buf, (size_t)n, &want, err);
	if (r < 0)
		return r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return hull_err_sys(err, errno, "state file");
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r = hull_err_sys(err, errno, "state file");
	} else if ((uint64_t)st.st_size != want.size) {
		r = hull_err_set(err, EINVAL,
				 "state file: truncated (%llu of %llu bytes)",
				 (unsigned long long)st.st_size,
				 (unsigned long long)want.size);
	} else if ((r = hvm_qemu_state_digest(fd, &got, err)) == 0 &&
		   strcmp(got.sha256, want.sha256)) {
		r = hull_err_set(err, EINVAL,
				 "state file: SHA-256 checksum mismatch");
	}
	close(fd);
	return r;
}

/* Reads and checks a snapshot's state file as hull-vmm will (header,
 * checksums, sections) and that it is made for this VM's size. */
static int vmstate_check(const char *path, json_t *vm, struct hull_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return hull_err_sys(err, errno, "state file");
	uint8_t hb[SNAP_HEADER_SIZE];
	struct snap_header h;
	struct stat st;
	uint8_t *buf = NULL;
	int r;
	ssize_t n = pread(fd, hb, sizeof(hb), 0);
	if (fstat(fd, &st) < 0 || n < 0) {
		r = hull_err_sys(err, errno, "state file");
		goto out;
	}
	if ((r = snap_header_parse(hb, (size_t)n, &h, err)) < 0)
		goto out;
	if ((uint64_t)st.st_size < h.mem_off + h.mem_size) {
		r = hull_err_set(err, EINVAL, "state file: truncated");
		goto out;
	}
	uint64_t ram = (uint64_t)hull_json_int(vm, "ram", 0) << 20;
	if (ram && ram != h.mem_size) {
		r = hull_err_set(err, EINVAL,
				 "state file: made for %llu MiB of memory, the "
				 "VM has %llu MiB",
				 (unsigned long long)(h.mem_size >> 20),
				 (unsigned long long)(ram >> 20));
		goto out;
	}
	size_t len = SNAP_HEADER_SIZE + h.state_len;
	buf = xmalloc(len);
	if (pread(fd, buf, len, 0) != (ssize_t)len) {
		r = hull_err_set(err, EINVAL, "state file: truncated");
		goto out;
	}
	struct snap_file *f = xcalloc(1, sizeof(*f));
	r = snap_parse(buf, len, f, err);
	free(f);
out:
	free(buf);
	close(fd);
	return r;
}

static int snap_delete(struct pool *pool, json_t *vm, const char *uuid,
		       long idx, const char *name,
		       const struct hull_progress *pr, struct hull_err *err)
{
	char *snap = xasprintf("%s@vmsnap-%s", uuid, name);
	int r = pool_snapshot_destroy(pool, snap, err);
	free(snap);
	if (r < 0)
		return r;
	inst_progress(pr, HULL_STEP_SNAPSHOT, uuid, name);
	json_array_remove(json_object_get(vm, "snapshots"), (size_t)idx);
	return vm_record_save(vm, err);
}

static int snap_rollback(struct pool *pool, json_t *vm, const char *uuid,
			 long idx, const char *name, bool kvm,
			 const struct hull_progress *pr, struct hull_err *err)
{
	bool was_running = supervisor_alive(uuid);
	char *snap = xasprintf("%s@vmsnap-%s", uuid, name);
	bool memory = json_is_true(json_object_get(
	    json_array_get(json_object_get(vm, "snapshots"), (size_t)idx),
	    "memory"));
	int r = 0;
	if (memory) {
		/* checked before anything changes: a bad state file leaves
		 * the VM as it is */
		_cleanup_free_ char *state = vmstate_path(pool, snap);
		if ((kvm ? qemu_state_check(state, err)
			 : vmstate_check(state, vm, err)) < 0) {
			free(snap);
			return hull_err_prefix(err,
					       "Cannot rollback-snapshot VM "
					       "%s to %s",
					       uuid, name);
		}
	}
	/* force, as SmartOS's VM.rollback_snapshot stops it: what runs now
	 * is thrown away */
	r = inst_stop_locked(uuid, true, 0, pr, err);
	if (r < 0) {
		free(snap);
		return r;
	}
	r = pool_rollback(pool, snap, err);
	free(snap);
	if (r < 0)
		return r;
	inst_progress(pr, HULL_STEP_SNAPSHOT, uuid, name);
	/* Newer snapshots go, newest first, as SmartOS does. */
	json_t *list = json_object_get(vm, "snapshots");
	while (idx-- > 0) {
		const char *newer =
		    hull_json_str(json_array_get(list, 0), "name", "");
		char *s = xasprintf("%s@vmsnap-%s", uuid, newer);
		r = pool_snapshot_destroy(pool, s, err);
		free(s);
		if (r < 0)
			return r;
		json_array_remove(list, 0);
	}
	json_int_t quota = hull_json_int(vm, "quota", 0);
	r = pool_quota_set(pool, uuid, (uint64_t)quota << 30, err);
	if (r < 0 && r != -ENOTSUP && r != -EOPNOTSUPP)
		return r;
	r = vm_record_save(vm, err);
	if (r < 0)
		return r;
	/* A memory snapshot resumes its guest (the supervisor hands the
	 * dataset's vmstate to hull-vmm), whether or not it ran just now. */
	if (was_running || memory) {
		r = inst_start_locked(uuid, pr, err);
		if (r > 0)
			r = 0;
	}
	return r;
}

static int snapshot_op(const char *uuid, const char *name, enum snap_op op,
		       unsigned flags, const struct hull_progress *pr,
		       struct hull_err *err)
{
	static const char *const cmds[] = {"create-snapshot", "delete-snapshot",
					   "rollback-snapshot"};
	const char *cmd = cmds[op];
	struct hull_err local;
	if (!err)
		err = &local;
	if (!hull_snapshot_name_valid(name))
		return hull_err_set(err, EINVAL,
				    "Invalid snapshot name \"%s\": 1 to 64 of "
				    "A-Z a-z 0-9 - _ . : %%",
				    name);
	json_t *vm = vm_record_load(uuid, err);
	if (!vm)
		return -err->code;
	unsigned brand = vm_brand_from_name(hull_json_str(vm, "brand", ""));
	bool failed = !strcmp(hull_json_str(vm, "state", ""), "failed");
	json_decref(vm);
	/* SmartOS snapshots OS brands and bhyve (its disks are in the
	 * instance's dataset here), and refuses kvm; hull takes a kvm VM's
	 * snapshot with its memory (QEMU's migration), not its disks alone. */
	if (brand == VM_BRAND_KVM && op == SNAP_CREATE &&
	    !(flags & HULL_SNAPSHOT_MEMORY))
		return hull_err_set(err, ENOTSUP,
				    "snapshots for kvm VMs currently "
				    "unsupported");
	if (!(brand & (VM_BRANDS_OS | VM_BRAND_BHYVE | VM_BRAND_KVM)))
		return hull_err_set(err, EINVAL,
				    "Cannot %s VM %s: snapshots are supported "
				    "for OS brands and bhyve only",
				    cmd, uuid);
	if ((flags & HULL_SNAPSHOT_MEMORY) &&
	    !(brand & (VM_BRAND_BHYVE | VM_BRAND_KVM)))
		return hull_err_set(err, EINVAL,
				    "Cannot %s VM %s: memory snapshots are "
				    "for bhyve and kvm VMs only",
				    cmd, uuid);
	if (failed)
		return hull_err_set(
		    err, EINVAL, "Cannot %s VM %s: state is failed", cmd, uuid);
	struct pool *pool;
	int r = pool_open(&pool, err);
	if (r < 0)
		return r;
	int lock = inst_lock(uuid, true, err);
	bool pending;
	r = lock;
	vm = lock < 0 ? NULL : vm_record_load_raw(uuid, &pending, err);
	if (!vm) {
		if (r >= 0)
			r = -err->code;
		goto out;
	}
	/* Looked up under the lock: a concurrent call's change is seen. */
	long idx = snap_find(vm, name);
	if (op != SNAP_CREATE && idx < 0) {
		r = hull_err_set(err, ENOENT, "Snapshot %s of VM %s not found",
				 name, uuid);
		goto out;
	}
	r = op == SNAP_CREATE ? snap_create(pool, vm, uuid, idx, name, flags,
					    brand == VM_BRAND_KVM, pr, err)
	    : op == SNAP_DELETE
		? snap_delete(pool, vm, uuid, idx, name, pr, err)
		: snap_rollback(pool, vm, uuid, idx, name,
				brand == VM_BRAND_KVM, pr, err);
out:
	hull_lock_release(lock);
	json_decref(vm);
	pool_close(pool);
	return r;
}

int hull_snapshot_create(const char *uuid, const char *name,
			 const struct hull_progress *pr, struct hull_err *err)
{
	return snapshot_op(uuid, name, SNAP_CREATE, 0, pr, err);
}

int hull_snapshot_create_flags(const char *uuid, const char *name,
			       unsigned flags, const struct hull_progress *pr,
			       struct hull_err *err)
{
	return snapshot_op(uuid, name, SNAP_CREATE, flags, pr, err);
}

int hull_snapshot_delete(const char *uuid, const char *name,
			 const struct hull_progress *pr, struct hull_err *err)
{
	return snapshot_op(uuid, name, SNAP_DELETE, 0, pr, err);
}

int hull_snapshot_rollback(const char *uuid, const char *name,
			   const struct hull_progress *pr, struct hull_err *err)
{
	return snapshot_op(uuid, name, SNAP_ROLLBACK, 0, pr, err);
}
