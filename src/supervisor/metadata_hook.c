/*
 * metadata_hook.c - the instance's metadata channel, served from the
 * supervisor's own loop (docs/hull-metadata.md): the metadata server core
 * listens on R/<uuid>/run/zonecontrol/metadata.sock, which the zone sees
 * read-only at /.zonecontrol/metadata.sock (/native/.zonecontrol/ for lx).
 * One server per supervisor, kept across reboots of the zone.
 */
#include "supervisor/metadata_hook.h"

#include <sys/epoll.h>
#include <unistd.h>

#include "lib/root.h"
#include "lib/xalloc.h"
#include "metadata/channel.h"
#include "metadata/server.h"
#include "metadata/store.h"
#include "supervisor/log.h"
#include "supervisor/vm.h"
#include "hvm/com2.h"
#include "hvm/qemu.h"

static struct metadata_file_store *md_fs;
static struct metadata_store md_store;
static struct metadata_server *md_srv;

static void md_log(void *ctx, const char *msg)
{
	sv_log("warn", "metadata: %s", msg);
}

static void on_metadata(struct sv_loop *loop, int fd, uint32_t events,
			void *data)
{
	struct hull_err err = {0};
	if (metadata_server_run(md_srv, 0, &err) < 0)
		sv_log("error", "metadata: %s", err.msg);
}

/* An HVM instance's guest speaks the protocol on its COM2, which its
 * emulator listens on at run/vm/ttyb.sock (supervisor/vm.h): connect to
 * it after each boot and serve it as one more stream of the server. */
static int hvm_com2_add(const char *uuid, struct hull_err *err)
{
	if (!sv_vm_record_is_hvm(uuid))
		return 0;
	_cleanup_free_ char *p = hull_root_path(
	    "%s/run/" SV_VM_RUN_SUBDIR "/" HVM_QEMU_COM2_SOCK, uuid);
	int fd = hvm_com2_connect(p, 10000, err);
	if (fd < 0 || metadata_server_add_stream(md_srv, fd, err) < 0)
		return hull_err_prefix(err, "COM2");
	return 0;
}

static int md_started(struct sv_loop *loop, const struct zone_config *cfg,
		      pid_t init, struct hull_err *err)
{
	if (md_srv)
		return hvm_com2_add(cfg->uuid, err);
	_cleanup_free_ char *rec =
	    hull_root_path("%s/config/vm.json", cfg->uuid);
	_cleanup_free_ char *sock =
	    hull_root_path("%s/run/zonecontrol/metadata.sock", cfg->uuid);
	md_fs = metadata_file_store_new(rec);
	metadata_file_store_bind(md_fs, &md_store);
	if (!(md_srv = metadata_server_new(&md_store, NULL, err)))
		return -err->code;
	metadata_server_set_log(md_srv, md_log, NULL);
	int fd = metadata_channel_listen(sock, err);
	if (fd < 0 || metadata_server_add_listener(md_srv, fd, err) < 0)
		return -err->code;
	int r = sv_loop_add(loop, metadata_server_fd(md_srv), EPOLLIN,
			    on_metadata, NULL, err);
	return r < 0 ? r : hvm_com2_add(cfg->uuid, err);
}

const struct sv_hook metadata_hook = {
    .name = "metadata",
    .zone_started = md_started,
};
