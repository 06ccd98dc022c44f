/*
 * machines.h - CloudAPI's machines resource (sdc-cloudapi
 * lib/machines.js): list, get, create, actions, delete, audit; and the
 * hooks through which the agents' reports change a machine's state.
 *
 * Records: machines  uuid -> the CloudAPI machine object plus owner,
 * server (the compute node's uuid, also compute_node), payload (what the
 * agent creates), audit (the last actions, newest last). A deleted
 * machine stays as {id, owner, server, state: "deleted"}: a GET of it is
 * 410 Gone, as CloudAPI answers.
 */
#ifndef HULL_HEAD_MACHINES_H
#define HULL_HEAD_MACHINES_H
#include <jansson.h>

#include "head/api.h"
#include "head/store.h"
#include "lib/err.h"

/* /:login/machines[/:id[/audit]] */
int machines_dispatch(struct api_req *q);

/* The machine record as CloudAPI shows it (new reference). */
json_t *machine_view(json_t *m);

/* CloudAPI's state for a vmadm state. */
const char *machine_state_of_vm(const char *vm_state);

/* An agent's report of one of its instances: sets the machine's state
 * when the machine is the server's (-EPERM when it is another's; 0 and
 * nothing changed when the head node does not know it). */
int machine_agent_report(struct store *s, const char *server, const char *uuid,
			 const char *vm_state, struct hull_err *err);

/* A task's end as its agent reports it (ok, or failed with error):
 * the machine's state, audit and addresses follow. */
int machine_task_done(struct store *s, json_t *task, bool ok, const char *error,
		      const char *vm_state, struct hull_err *err);
/* Whether brand is a hardware VM's (bhyve or kvm). */
bool head_brand_is_hvm(const char *brand);
#endif
