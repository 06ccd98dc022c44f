/*
 * live_kvm.h - the kvm brand's half of a live switch between two hosts
 * (CloudAPI migrate `live: true`): QEMU's own pre-copy migration, run
 * while the guest runs, its stream relayed over the agents' TLS-PSK
 * channel (migrate.c) into a state file staged on the target; the target's
 * start then resumes the guest from it as from a memory snapshot.
 *
 * Source (live_kvm_precopy): a socket pair, one end given to the running
 * QEMU with getfd, `migrate fd:...` with the migration's downtime-limit
 * (300 ms unless begin said otherwise) and the auto-converge capability
 * when begin allowed it (live_opts.h); cancelled after 30 dirty-page
 * passes (42 with auto-converge, as hull-vmm's). A thread relays what
 * QEMU writes, in frames, to the target and into a local copy; the
 * calling thread polls query-migrate every 10 ms (never the relay: at the
 * last pass QEMU writes while it holds its big lock, and a QMP call
 * waiting for that lock would stall the relay). `completed` leaves QEMU
 * paused (postmigrate) with the whole stream on both hosts; any failure
 * cancels and resumes it (`cont`), the guest running on.
 *
 * Target (live_kvm_stage_receive): the frames into a staged file beside
 * the agent's state, made the staged state only once the end frame says
 * QEMU completed. The switch's last increment follows on the usual
 * stream; activate then puts the staged state into the dataset as
 * HULL_VMSTATE_FILE (live_kvm_stage_place) and starts the VM.
 *
 * Target, unless HULL_AGENT_KVM_STAGED (live_kvm.c): the instance starts
 * paused with QEMU waiting (HULL_VMSTATE_INCOMING) and takes the frames
 * live as well; complete and paused, it is held for the switch: the last
 * increment is received under it, and activate re-points its disks and
 * runs it (live_kvm_held_resume). The staged state is the fallback.
 */
#ifndef HULL_AGENT_LIVE_KVM_H
#define HULL_AGENT_LIVE_KVM_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/live_opts.h"
#include "lib/err.h"

/* The channel's first 8 bytes for a QEMU stream (a send stream's are
 * SENDFMT_MAGIC); 8 more bytes of zeros fill the intro. */
#define LIVE_KVM_MAGIC "HULLQEMU"

struct live_kvm_stat {
	int64_t passes, downtime_ms, total_ms, transferred;
};

/* Source: pre-copy to the target on ssl (the channel, after its intro).
 * Returns 0 with QEMU paused and the stream staged here and on the
 * target; < 0 with the guest running here. */
int live_kvm_precopy(const char *uuid, SSL *ssl, const struct live_opts *o,
		     struct live_kvm_stat *st, struct hull_err *err);
/* Source: `cont` of the paused QEMU (a failure after the pre-copy). */
int live_kvm_resume(const char *uuid, struct hull_err *err);

/* Target: the frames after the intro into the staged state. */
int live_kvm_stage_receive(const char *uuid, SSL *ssl, struct hull_err *err);
/* Target (live_kvm.c): whether the
 * instance's QEMU took the whole stream live and waits paused, held for
 * the switch; the last increment is then received under it
 * (hull_instance_receive_held). */
bool live_kvm_held(const char *uuid);
/* The held QEMU pointed at the received disks, `cont`, `announce-self`:
 * the guest runs here. On failure the instance is stopped (the staged
 * state remains for a start). */
int live_kvm_held_resume(const char *uuid, struct hull_err *err);
/* The held QEMU stopped (nothing when none is held). */
void live_kvm_held_drop(const char *uuid);

/* Either end: the staged state into the dataset as its vmstate (0 and
 * nothing done when there is none); the staged file goes. */
int live_kvm_stage_place(const char *uuid, bool *placed, struct hull_err *err);
void live_kvm_stage_drop(const char *uuid);
/* Removes the dataset's vmstate again (the guest resumed in the QEMU it
 * was copied from: the state is stale). */
void live_kvm_state_remove(const char *uuid);

#endif
