/*
 * networks.h - the head node's networks and their addresses (NAPI's role
 * in Triton): networks with subnets, provisioning ranges, gateways,
 * resolvers and routes, IPv4 and IPv6; per-account fabric VLANs and the
 * fabric networks on them; addresses handed out to instances and
 * reserved by the operator. Nothing here prints.
 *
 * Records (buckets of store.h):
 *   networks  uuid -> {id, name, family, subnet, netmask (IPv4), gateway,
 *                      provision_start_ip, provision_end_ip, resolvers,
 *                      routes, vlan_id, mtu, nic_tag, public, fabric,
 *                      internet_nat, description, owner (fabric or owned
 *                      networks), vnet_id (fabric: the VXLAN VNI), nat
 *                      (internet_nat: the NAT gateway's outside address,
 *                      {network, ip, prefix, gateway, nic_tag, vlan_id},
 *                      held in ips as machine "nat:ID")}
 *   network_pools  uuid -> {id, name, description, networks (member
 *             network ids, in the order they are provisioned on), family,
 *             nic_tag (the members'), owner_uuids (absent: every account),
 *             public (no owner_uuids)}: NAPI's network pools
 *   vlans     OWNER/VLAN_ID -> {owner, vlan_id, name, description, vnet_id}
 *   vnis      VNI -> {owner, vlan_id}: the key makes a VNI unique
 *   ips       NETWORK/IP -> {network, ip, machine | reserved: true}: the
 *             key makes an address unique, whichever hull-api process
 *             or database client writes it (the records table's primary
 *             key, SQLite or PostgreSQL).
 */
#ifndef HULL_HEAD_NETWORKS_H
#define HULL_HEAD_NETWORKS_H
#include <arpa/inet.h>
#include <jansson.h>
#include <stdbool.h>

#include "head/store.h"
#include "lib/err.h"

/* A fabric's MTU: the underlay's 1500 less VXLAN's 50 bytes (outer
 * Ethernet 14, IPv4 20, UDP 8, VXLAN 8). */
#define HEAD_UNDERLAY_MTU 1500
#define HEAD_FABRIC_MTU (HEAD_UNDERLAY_MTU - 50)
/* The nic tag fabric nics carry in their payload (Triton's name). */
#define HEAD_FABRIC_NIC_TAG "sdc_overlay"

/* An address of either family as a number (IPv4 in the low 32 bits). */
struct head_ip {
	int af; /* AF_INET or AF_INET6 */
	unsigned __int128 v;
};

/* "192.0.2.1" or "2001:db8::1"; pure. -EINVAL when neither. */
int head_ip_parse(const char *s, struct head_ip *out);
void head_ip_format(const struct head_ip *ip, char out[INET6_ADDRSTRLEN]);

/*
 * Checks a network description (NAPI's and CloudAPI's fields: name
 * subnet gateway provision_start_ip provision_end_ip resolvers routes
 * vlan_id mtu internet_nat description nic_tag) and returns the record to
 * store (without id and owner) in *out: family, netmask and defaults
 * filled in, every address inside the subnet, the range in order. fabric:
 * IPv4 only, mtu HEAD_FABRIC_MTU at most, internet_nat defaults to true
 * when a gateway is given. Unknown fields are refused. Pure.
 */
int head_network_parse(json_t *in, bool fabric, json_t **out,
		       struct hull_err *err);

/*
 * Makes a network. Fabric networks (fabric true) belong to owner (an
 * account uuid), need the owner's VLAN in->vlan_id, and must not
 * overlap another of the owner's fabric networks; names are unique among
 * the networks the owner sees. *rec: the new record (new reference, may
 * be NULL).
 */
int head_network_create(struct store *s, json_t *in, const char *owner,
			bool fabric, bool public, json_t **rec,
			struct hull_err *err);
/* Deletes a network; -EBUSY while an instance holds one of its addresses
 * (reservations go with it). */
int head_network_delete(struct store *s, const char *id, struct hull_err *err);
/* The network id_or_name that owner may use (public, or owner's; owner
 * NULL: any), or -ENOENT. *out: new reference. */
int head_network_lookup(struct store *s, const char *owner,
			const char *id_or_name, json_t **out,
			struct hull_err *err);
/* CloudAPI's network object of record n (new reference): the record
 * less hull's own fields (owner, nic_tag, vnet_id, family, nat). */
json_t *head_network_view(json_t *n);
/* Whether owner (an account uuid) may see and use network n. */
bool head_network_visible(json_t *n, const char *owner);

/*
 * Hands machine an address of net (an ips record whose key is the lock):
 * the lowest free one, or with spread a random one of the first free
 * ones (a retry after a conflict). -ECANCELED when another writer took it
 * between the read and the write (the caller's transaction must roll
 * back and retry: PostgreSQL aborts a transaction on a unique
 * violation), -ENOSPC when none is free.
 */
int head_ip_allocate(struct store *s, json_t *net, const char *machine,
		     bool spread, char out[INET6_ADDRSTRLEN],
		     struct hull_err *err);
/* Releases every address machine holds. */
int head_ips_release(struct store *s, const char *machine,
		     struct hull_err *err);
/* Reserves ip of net for the operator (NULL: the lowest free, retried
 * on conflicts); out gets the address. -EEXIST when it is taken. */
int head_ip_reserve(struct store *s, json_t *net, const char *ip,
		    char out[INET6_ADDRSTRLEN], struct hull_err *err);
/* Frees a reservation; an instance's address is refused (-EBUSY). */
int head_ip_unreserve(struct store *s, json_t *net, const char *ip,
		      struct hull_err *err);
/* The ips records of net, as a new array. */
int head_ip_list(struct store *s, json_t *net, json_t **out,
		 struct hull_err *err);

/* A new locally administered unicast MAC for an instance's nic (NAPI
 * hands out nics' MACs): "xx:xx:xx:xx:xx:xx". */
void head_mac_new(char out[18]);

/*
 * The fabric map for compute node server (Triton's portolan, as one
 * document the agent polls): {"vteps": [underlay address of every
 * compute node], "segments": [{"vni", "nic_tag", "mtu", "remotes":
 * [underlay addresses of the other nodes with an instance on it],
 * "macs": {mac: underlay address}}]}, one segment per VNI on which
 * server has an instance (not deleted, not failed).
 */
int head_fabric_map(struct store *s, const char *server, json_t **out,
		    struct hull_err *err);

/* Fabric VLANs of an account: {vlan_id, name, description}, a VNI
 * allocated with each. */
int head_vlan_create(struct store *s, const char *owner, json_t *in,
		     json_t **rec, struct hull_err *err);
int head_vlan_get(struct store *s, const char *owner, long vlan_id,
		  json_t **rec, struct hull_err *err);
int head_vlan_list(struct store *s, const char *owner, json_t **out,
		   struct hull_err *err);
/* -EBUSY while a network is on it. */
int head_vlan_delete(struct store *s, const char *owner, long vlan_id,
		     struct hull_err *err);
/* ---- network pools (netpools.c) ---- */

/* Whether rec is a network pool's record (it lists member networks), as
 * CloudAPI tells a pool from a network. */
bool head_is_pool(json_t *rec);
/* Whether owner may see and provision on pool p: a pool without
 * owner_uuids is every account's (owner NULL: the operator). */
bool head_pool_visible(json_t *p, const char *owner);
/* CloudAPI's object of a pool (sdc-cloudapi translateNetwork): id, name,
 * public, description (when not empty). New reference. */
json_t *head_pool_view(json_t *p);
/* The pool id_or_name that owner may use, or -ENOENT. */
int head_pool_lookup(struct store *s, const char *owner, const char *id_or_name,
		     json_t **out, struct hull_err *err);
/* A network or a pool by id, then by name (networks before pools), that
 * owner may use; -ENOENT "network X not found". */
int head_netpool_lookup(struct store *s, const char *owner,
			const char *id_or_name, json_t **out,
			struct hull_err *err);
/*
 * Makes a pool from in: {name, networks: [network ids or names, in
 * order], description, owner_uuids: [account uuids]}. Refused (-EINVAL,
 * NAPI's words): no networks, more than 64, an unknown or fabric one,
 * mixed families or nic tags, a network owned by an account not in
 * owner_uuids. -EEXIST: the name is a pool's or a network's.
 */
int head_pool_create(struct store *s, json_t *in, json_t **rec,
		     struct hull_err *err);
/* Changes the fields in gives (as create's) of pool; its family stays. */
int head_pool_update(struct store *s, json_t *pool, json_t *in, json_t **rec,
		     struct hull_err *err);
/* Deletes a pool; instances that got addresses through it keep them (on
 * its member networks), as in NAPI. */
int head_pool_delete(struct store *s, const char *id, struct hull_err *err);
/* *pool: the first pool that names network_id (new reference), or NULL. */
int head_pool_naming(struct store *s, const char *network_id, json_t **pool,
		     struct hull_err *err);
/*
 * Hands machine an address from the first member network of pool with
 * one free (head_ip_allocate's rules and return values); *net gets that
 * network's record (new reference). -ENOSPC "All networks in pool ID are
 * full" when none has.
 */
int head_pool_allocate(struct store *s, json_t *pool, const char *machine,
		       bool spread, char out[INET6_ADDRSTRLEN], json_t **net,
		       struct hull_err *err);
#endif
