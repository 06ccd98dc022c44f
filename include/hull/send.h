/*
 * hull/send.h - moving an instance between pools as one byte stream
 * (vmadm send and receive). The stream's format is in src/inst/sendfmt.h
 * and docs/vmadm.md. Conventions as in hull/instance.h: nothing here
 * prints, errors are one line in err, a refused call leaves nothing.
 *
 * These are the seam for moves driven from elsewhere (the head node's
 * migration, replication): a caller hands any descriptor (a pipe, a
 * socket) and gets the same stream vmadm writes.
 */
#ifndef HULL_SEND_H
#define HULL_SEND_H

#include <stdbool.h>

#include "hull/instance.h"
#include "lib/err.h"

struct hull_send_opts {
	/* Incremental from this snapshot of the instance (the short name of
	 * a snapshot an earlier send made, "send-1"), which the receiving
	 * pool must have too; NULL: a full stream. */
	const char *base;
	/* Send from a read-only snapshot of the running instance without
	 * stopping it (crash-consistent). Without it a running instance is
	 * stopped first (its autoboot cleared), as SmartOS's send does. */
	bool live;
};

/* What a send made: the snapshot both sides keep as the base of the next
 * incremental send. */
struct hull_send_result {
	char snapshot[72];
	unsigned long long bytes; /* the datasets' stream bytes */
};

/*
 * Writes instance uuid as one stream to fd (blocking writes; a closed
 * reader is an error). Takes a new snapshot of each dataset, <ds>@send-N,
 * kept afterwards. A full stream of a zone on btrfs is relative to its
 * image's snapshot, so the image's blocks are not sent again. res may be
 * NULL.
 */
int hull_instance_send(const char *uuid, const struct hull_send_opts *o, int fd,
		       const struct hull_progress *pr,
		       struct hull_send_result *res, struct hull_err *err);

/*
 * Destroys the send-N snapshots of instance uuid but the newest keep
 * (keep >= 1): the replicas a replication keeps on either side. The
 * newest, the base of the next increment, always stays.
 */
int hull_instance_send_prune(const char *uuid, unsigned keep,
			     struct hull_err *err);

/*
 * Reads a stream from fd and creates the instance on this pool (a full
 * stream), or brings an instance it has up to the stream's snapshot (an
 * incremental one; the instance must be stopped here). While it runs the
 * instance's state is `receiving`; if this process dies it is `failed`,
 * and hull_instance_delete removes it. A stream that ends early, is
 * corrupt or hostile is refused and leaves nothing. The image of a zone
 * is imported first when missing. The instance boots when its autoboot
 * is true, unless the stream was sent live (the original still runs).
 * uuid_out as in hull_instance_create.
 */
int hull_instance_receive(int fd, const struct hull_progress *pr,
			  char uuid_out[HULL_INSTANCE_UUID_LEN + 1],
			  struct hull_err *err);

/*
 * An incremental stream received while the instance runs: a kvm VM whose
 * QEMU took a live migration's stream and waits paused, its disks not yet
 * activated (agent/live_kvm.h). The dataset's files stay (the running
 * supervisor's and QEMU's); the received disk files replace the old ones
 * under their names (QEMU keeps the old until it is pointed at the new).
 */
int hull_instance_receive_held(int fd, const struct hull_progress *pr,
			       char uuid_out[HULL_INSTANCE_UUID_LEN + 1],
			       struct hull_err *err);

#endif
