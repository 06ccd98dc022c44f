/*
 * nictag.h - nic tags: SmartOS's names for the networks a host offers.
 *
 * A tag names a Linux bridge in the host's network namespace (whichever
 * namespace the caller runs in: hull never assumes the first one). A normal
 * tag's bridge has the host link it was bound to (by MAC or by name)
 * enslaved, carrying every VLAN tagged; an etherstub (`-l`) is a bridge with
 * no uplink, local to the host. Bridges have VLAN filtering on.
 *
 * Tags persist in R/var/nictags.json; a bridge that is missing (after a
 * host reboot) is recreated by net_tag_restore_all() or at first use
 * (net_tag_bridge_ensure()).
 */
#ifndef HULL_NET_NICTAG_H
#define HULL_NET_NICTAG_H
#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/mac.h"
#include "net/nic.h"

struct net_tag {
	char name[NET_TAG_MAX + 1];
	bool etherstub;
	char mac[HULL_MAC_STRLEN]; /* the uplink's MAC; "" for an etherstub */
	char link[IFNAMSIZ];	   /* the uplink's name when bound */
	unsigned mtu;		   /* 0: the default */
	char bridge[IFNAMSIZ];
};

/* The bridge name of a tag: "hb" + the name when it fits, else "hb", the
 * first 5 characters and 8 hex digits of a hash of the whole name. */
void net_tag_bridge_name(const char *tag, char out[IFNAMSIZ]);

/* -ENOENT with "nic tag 'NAME' does not exist" when missing. */
int net_tag_get(const char *name, struct net_tag *out, struct hull_err *err);
/* All tags, sorted by name; *out is the caller's to free. */
int net_tag_list(struct net_tag **out, size_t *n, struct hull_err *err);

/* Adds a tag and makes its bridge. For a normal tag, link_or_mac names the
 * uplink by MAC or by link name; mtu 0 keeps the links' MTU. */
int net_tag_add(const char *name, bool etherstub, const char *link_or_mac,
		unsigned mtu, struct hull_err *err);
/* Rebinds a normal tag (link_or_mac non-NULL) and/or sets its MTU (non-0). */
int net_tag_update(const char *name, const char *link_or_mac, unsigned mtu,
		   struct hull_err *err);
/* Removes a tag and its bridge; refused while an instance record names the
 * tag unless force. */
int net_tag_delete(const char *name, bool force, struct hull_err *err);
/* UUIDs (a new JSON array, sorted) of the instances whose records name the
 * tag in nics[].nic_tag. */
json_t *net_tag_users(const char *name, struct hull_err *err);

/* Makes sure the tag's bridge exists, is bound and up; returns its ifindex. */
int net_tag_bridge_ensure(const char *name, struct net_tag *out,
			  struct hull_err *err);
/* net_tag_bridge_ensure() for every tag. */
int net_tag_restore_all(struct hull_err *err);

/* Calls fn with each instance record under the pool root (R/<uuid>/config/
 * vm.json), stopping at a non-zero return. Unreadable records are skipped. */
int net_records_foreach(int (*fn)(const char *uuid, json_t *record, void *arg),
			void *arg);
#endif
