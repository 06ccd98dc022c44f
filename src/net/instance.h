/*
 * instance.h - an instance's network ports, set up from its record.
 *
 * For each nics[] entry of a zone (brands joyent, joyent-minimal, builder,
 * lx) hull makes a veth pair: the host end "hv<first 8 hex of uuid><k>" on
 * the nic tag's bridge (with the nic's vlan_id as its untagged PVID and the
 * alias "hull:<uuid>:<mac>", which is how teardown finds it), the other end
 * born inside the instance's network namespace as nics[].interface (net0,
 * net1, ... or eth0, ... for lx) with the nic's MAC and MTU. Inside the
 * namespace hull sets loopback up, the addresses, IPv6 autoconfiguration
 * (on only for "addrconf"), the default routes from the primary nic's
 * gateways and the record's routes. For a VM (brands kvm, bhyve) the port is
 * a tap device instead, handed to the caller, and the guest configures
 * itself from its metadata.
 *
 * Antispoof rules (antispoof.h) are loaded before a port is brought up.
 * All of it happens in the caller's network namespace as "the host": hull
 * never assumes the first namespace is the host's.
 *
 * Any failure undoes what the call made: no port, rule or address is left.
 */
#ifndef HULL_NET_INSTANCE_H
#define HULL_NET_INSTANCE_H
#include <jansson.h>
#include <stdbool.h>

#include "inst/inst.h"
#include "lib/err.h"
#include "net/nic.h"

/* Test hook: when set to N, setup fails after making the port of nics[N],
 * so tests can prove the undo. */
#define NET_TEST_FAIL_ENV "HULL_TEST_NET_FAIL_NIC"

/* True for the brands whose nics are taps (kvm, bhyve). */
bool net_brand_is_hvm(const char *brand);

/* Sets up every nic of the instance (inst/inst.h: its parsed nics and
 * brand). netns_fd is the instance's network namespace (zones; ignored for
 * VMs). For a VM, tap_fds (NET_MAX_NICS entries) receives one tap
 * descriptor per nic, owned by the caller. Stale ports of the same
 * instance are removed first. */
int net_instance_setup(const struct inst *inst, int netns_fd, int *tap_fds,
		       struct hull_err *err);
/* Removes every port and antispoof rule of the instance; the antispoof
 * table goes with the last port. Fine when there is nothing to remove. */
int net_instance_teardown(const char *uuid, struct hull_err *err);

/* Adds the nic of inst whose MAC is mac (already in its nics[]) to a
 * running instance: port, rules, and inside the namespace its addresses
 * (and default routes when it is the primary). tap_fd gets the tap of a VM. */
int net_nic_add(const struct inst *inst, const char *mac, int netns_fd,
		int *tap_fd, struct hull_err *err);
/* Removes the port of the nic with that MAC (its peer goes with it). */
int net_nic_remove(const char *uuid, const char *mac, struct hull_err *err);
#endif
