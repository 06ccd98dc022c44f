/*
 * live_vmm.h - the bhyve brand's half of a live switch between two hosts
 * (CloudAPI migrate `live: true`): hull-vmm's own pre-copy (its control
 * socket's `migrate`, docs/hull-vmm.md "Live migration"), run while the
 * guest runs, its stream relayed over the agents' TLS-PSK channel
 * (migrate.c) and applied on both hosts to a snapshot file staged beside
 * the agent's state; the target's start then resumes the guest from it
 * as from a memory snapshot (--restore), as the kvm brand's does
 * (live_kvm.h).
 *
 * Source (live_vmm_precopy): a socket pair, one end passed to the running
 * hull-vmm with `migrate` (the migration's downtime limit, 300 ms unless
 * begin said otherwise, 30 passes, auto-converge when begin allowed it;
 * live_opts.h). The agent
 * reads the stream, applies it to its local file and relays the bytes
 * to the target unchanged. hull-vmm's last pass ends with its vCPUs
 * paused, the last pages, the device state and the end record; it then
 * waits for the target's `R`, which never comes: once the target's agent
 * says it has the whole stream, this agent ends the paused hull-vmm (a
 * forced stop), so the guest never runs here again unless the switch
 * fails, and then from the staged file. Any failure before that closes
 * the stream: hull-vmm resumes its guest and answers `ok: false`.
 *
 * Target (live_vmm_stage_receive): the same bytes applied to its staged
 * file, made the staged state only after the end record.
 *
 * The staged file is a snapshot file (docs/hull-vmm.md "Snapshot file")
 * whose RAM starts at SNAP_MEM_OFF_MAX: pages land where they belong as
 * they come (the state, whose length sets a snapshot's usual RAM offset,
 * comes last). live_vmm_stage_place renames it into the dataset as
 * HULL_VMSTATE_FILE for the start (activate, or a rollback on the source).
 */
#ifndef HULL_AGENT_LIVE_VMM_H
#define HULL_AGENT_LIVE_VMM_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/live_opts.h"
#include "lib/err.h"

/* The channel's first 8 bytes for a hull-vmm stream; 8 more bytes of
 * zeros fill the intro (as LIVE_KVM_MAGIC's). */
#define LIVE_VMM_MAGIC "HULLVMMP"

struct live_vmm_stat {
	int64_t bytes;	    /* the stream's bytes */
	int64_t state_ms;   /* pre-copy start to the state record's arrival */
	int64_t confirm_ms; /* that arrival to the target's word */
	int64_t stop_ms;    /* the paused hull-vmm's forced stop */
	int stream, ctl;    /* the paused hull-vmm's stream and control */
};

/* Source: pre-copy to the target on ssl (the channel, nothing sent yet).
 * Returns 0 with the state staged on both hosts and the source's
 * hull-vmm paused for good (its disks final), its stream held in st
 * for live_vmm_source_end; < 0 with the guest running here. */
int live_vmm_precopy(const char *uuid, SSL *ssl, const struct live_opts *o,
		     struct live_vmm_stat *st, struct hull_err *err);
/* Source: the paused hull-vmm ended (a forced stop of the VM); 0, or
 * < 0 with the guest resumed in it and the staged state dropped. */
int live_vmm_source_end(const char *uuid, struct live_vmm_stat *st,
			struct hull_err *err);

/* Target: the stream after the intro into the staged state. */
int live_vmm_stage_receive(const char *uuid, SSL *ssl, struct hull_err *err);

/* Either end: the staged state into the dataset as its vmstate (0 and
 * nothing done when there is none). */
int live_vmm_stage_place(const char *uuid, bool *placed, struct hull_err *err);
void live_vmm_stage_drop(const char *uuid);

#endif
