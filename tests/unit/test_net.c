/*
 * test_net.c - the pure parts of src/net: MACs, addresses, the nics[] and
 * routes parser, nic tag names and antispoof rule text.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <seccomp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/err.h"
#include "lib/nft.h"
#include "lib/xalloc.h"
#include "net/addr.h"
#include "net/antispoof.h"
#include "lib/mac.h"
#include "net/nic.h"
#include "net/nictag.h"
#include "net/resolv.h"

static void test_mac_parse_normalises(void **state)
{
	uint8_t m[HULL_MAC_LEN];
	char s[HULL_MAC_STRLEN];

	assert_int_equal(hull_mac_parse("0:C:29:a:B:ff", m), 0);
	hull_mac_format(m, s);
	assert_string_equal(s, "00:0c:29:0a:0b:ff");
	assert_int_equal(hull_mac_parse("02-00-00-00-00-01", m), 0);
	hull_mac_format(m, s);
	assert_string_equal(s, "02:00:00:00:00:01");
}

static void test_mac_parse_refuses_garbage(void **state)
{
	uint8_t m[HULL_MAC_LEN];
	const char *bad[] = {"",
			     "02:00:00:00:00",
			     "02:00:00:00:00:01:02",
			     "02:00:00:00:00:001",
			     "02:00-00:00:00:01",
			     "g2:00:00:00:00:01",
			     "02:00:00:00:00:01 ",
			     "020000000001",
			     NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(hull_mac_parse(bad[i], m), -EINVAL);
	assert_int_equal(hull_mac_parse(NULL, m), -EINVAL);
}

static void test_mac_unicast(void **state)
{
	uint8_t m[HULL_MAC_LEN];

	hull_mac_parse("01:00:5e:00:00:01", m);
	assert_false(hull_mac_is_unicast(m));
	hull_mac_parse("00:00:00:00:00:00", m);
	assert_false(hull_mac_is_unicast(m));
	hull_mac_parse("ff:ff:ff:ff:ff:ff", m);
	assert_false(hull_mac_is_unicast(m));
	hull_mac_parse("90:b8:d0:12:34:56", m);
	assert_true(hull_mac_is_unicast(m));
}

static void test_mac_generate_smartos_prefix(void **state)
{
	uint8_t r[HULL_MAC_LEN] = {0xff, 1, 2, 3, 4, 5}, m[HULL_MAC_LEN];

	hull_mac_from_random(r, m);
	assert_int_equal(m[0], 0xf2);
	assert_memory_equal(m + 1, r + 1, 5);
	r[0] = 0x01;
	hull_mac_from_random(r, m);
	assert_int_equal(m[0], 0x02);
	for (int i = 0; i < 200; i++) {
		hull_mac_generate(m);
		/* X2: locally administered, unicast. */
		assert_int_equal(m[0] & 0x0f, 0x02);
		assert_true(hull_mac_is_unicast(m));
	}
}

static void test_mac_ipv6_ll(void **state)
{
	uint8_t m[HULL_MAC_LEN], ll[16];
	struct net_addr a = {.family = AF_INET6, .prefix = 128};
	char s[NET_ADDR_STRLEN];

	hull_mac_parse("02:00:00:00:00:01", m);
	hull_mac_to_ipv6_ll(m, a.a);
	net_addr_format(&a, false, s, sizeof(s));
	assert_string_equal(s, "fe80::ff:fe00:1");
	hull_mac_parse("90:b8:d0:12:34:56", m);
	hull_mac_to_ipv6_ll(m, ll);
	memcpy(a.a, ll, 16);
	net_addr_format(&a, false, s, sizeof(s));
	assert_string_equal(s, "fe80::92b8:d0ff:fe12:3456");
}

static void test_addr_cidr(void **state)
{
	struct net_addr a, b;
	char s[NET_ADDR_STRLEN];

	assert_int_equal(net_cidr_parse("192.0.2.5/24", false, &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.prefix, 24);
	net_addr_format(&a, true, s, sizeof(s));
	assert_string_equal(s, "192.0.2.5/24");
	assert_int_equal(net_cidr_parse("2001:db8::5/64", false, &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.prefix, 64);
	assert_int_equal(net_cidr_parse("192.0.2.5", true, &b), 0);
	assert_int_equal(b.prefix, 32);
	assert_int_equal(net_cidr_parse("192.0.2.5", false, &b), -EINVAL);
	assert_int_equal(net_cidr_parse("192.0.2.5/33", false, &b), -EINVAL);
	assert_int_equal(net_cidr_parse("2001:db8::/129", false, &b), -EINVAL);
	assert_int_equal(net_cidr_parse("192.0.2.5/", false, &b), -EINVAL);
	assert_int_equal(net_cidr_parse("192.0.2.5/-1", false, &b), -EINVAL);
	assert_int_equal(net_cidr_parse("/24", false, &b), -EINVAL);
	assert_int_equal(net_cidr_parse("192.0.2/24", false, &b), -EINVAL);
	assert_int_equal(net_cidr_parse("dhcp", true, &b), -EINVAL);
}

static void test_addr_netmask(void **state)
{
	unsigned p;

	assert_int_equal(net_netmask_parse("255.255.255.0", &p), 0);
	assert_int_equal(p, 24);
	assert_int_equal(net_netmask_parse("255.255.255.255", &p), 0);
	assert_int_equal(p, 32);
	assert_int_equal(net_netmask_parse("0.0.0.0", &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(net_netmask_parse("255.255.254.0", &p), 0);
	assert_int_equal(p, 23);
	assert_int_equal(net_netmask_parse("255.0.255.0", &p), -EINVAL);
	assert_int_equal(net_netmask_parse("255.255.255.1", &p), -EINVAL);
	assert_int_equal(net_netmask_parse("24", &p), -EINVAL);
}

static void test_addr_subnet(void **state)
{
	struct net_addr n, ip, net;
	char s[NET_ADDR_STRLEN];

	net_cidr_parse("192.0.2.5/23", false, &n);
	net_addr_parse("192.0.3.1", &ip);
	assert_true(net_addr_in_subnet(&n, &ip));
	net_addr_parse("192.0.4.1", &ip);
	assert_false(net_addr_in_subnet(&n, &ip));
	net_addr_parse("2001:db8::1", &ip);
	assert_false(net_addr_in_subnet(&n, &ip));
	net_addr_network(&n, &net);
	net_addr_format(&net, true, s, sizeof(s));
	assert_string_equal(s, "192.0.2.0/23");
	net_cidr_parse("2001:db8:1::7/47", false, &n);
	net_addr_network(&n, &net);
	net_addr_format(&net, true, s, sizeof(s));
	assert_string_equal(s, "2001:db8::/47");
}

static void test_tag_names(void **state)
{
	char b[IFNAMSIZ];

	assert_true(net_tag_name_valid("external"));
	assert_true(net_tag_name_valid("admin_2"));
	assert_false(net_tag_name_valid(""));
	assert_false(net_tag_name_valid("bad-name"));
	assert_false(net_tag_name_valid("a234567890123456789012345678901"));
	assert_true(net_tag_name_valid("a23456789012345678901234567890"));
	assert_true(net_etherstub_name_valid("stub0"));
	assert_false(net_etherstub_name_valid("stub"));
	net_tag_bridge_name("external", b);
	assert_string_equal(b, "hbexternal");
	net_tag_bridge_name("a_very_long_tag_name", b);
	assert_int_equal(strlen(b), 15);
	assert_memory_equal(b, "hba_ver", 7);
	char b2[IFNAMSIZ];
	net_tag_bridge_name("a_very_long_tag_name2", b2);
	assert_string_not_equal(b, b2);
}

/* Parses a record given as JSON text; returns the error code. */
static int parse(const char *text, struct net_config *c, struct hull_err *e)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	int r;

	assert_non_null(j);
	r = net_config_parse(j, c, e);
	json_decref(j);
	return r;
}

static void test_nics_parse_full(void **state)
{
	struct net_config *c = xcalloc(1, sizeof(*c));
	struct hull_err e = {0};
	char s[NET_ADDR_STRLEN];

	assert_int_equal(
	    parse(
		"{\"brand\":\"lx\",\"nics\":["
		"{\"nic_tag\":\"admin\",\"mac\":\"2:8:20:1:2:3\","
		"\"ip\":\"192.0.2.5\",\"netmask\":\"255.255.255.0\","
		"\"gateway\":\"192.0.2.1\",\"vlan_id\":\"10\"},"
		"{\"nic_tag\":\"ext\",\"mac\":\"02:08:20:01:02:04\","
		"\"ips\":[\"198.51.100.7/24\",\"2001:db8::7/64\",\"addrconf\"],"
		"\"gateways\":[\"198.51.100.1\",\"fe80::1\"],\"primary\":true,"
		"\"mtu\":9000,\"dhcp_server\":true,"
		"\"allowed_ips\":[\"203.0.113.0/24\",\"203.0.113.9\"]}],"
		"\"routes\":{\"203.0.113.0/24\":\"198.51.100.9\","
		"\"192.0.2.128/25\":\"nics[0]\","
		"\"10.1.1.1\":\"macs[02:08:20:01:02:04]\"}}",
		c, &e),
	    0);
	assert_int_equal(c->nnics, 2);
	assert_int_equal(c->primary, 1);
	assert_string_equal(c->nics[0].interface, "eth0");
	assert_string_equal(c->nics[1].interface, "eth1");
	assert_int_equal(c->nics[0].vlan_id, 10);
	assert_int_equal(c->nics[0].nips, 1);
	assert_int_equal(c->nics[0].ips[0].prefix, 24);
	assert_int_equal(c->nics[1].nips, 2);
	assert_true(c->nics[1].addrconf);
	assert_false(c->nics[1].dhcp);
	assert_int_equal(c->nics[1].mtu, 9000);
	assert_true(c->nics[1].allow_dhcp_spoofing);
	assert_true(c->nics[1].allow_ip_spoofing);
	assert_int_equal(c->nics[1].nallowed, 2);
	assert_int_equal(c->nroutes, 3);
	assert_int_equal(c->nics[1].ngateways, 2);
	for (size_t i = 0; i < c->nroutes; i++) {
		net_addr_format(&c->routes[i].dst, true, s, sizeof(s));
		if (!strcmp(s, "192.0.2.128/25")) {
			assert_true(c->routes[i].linklocal);
			assert_int_equal(c->routes[i].nic, 0);
		} else if (!strcmp(s, "10.1.1.1/32")) {
			assert_true(c->routes[i].linklocal);
			assert_int_equal(c->routes[i].nic, 1);
		} else {
			assert_string_equal(s, "203.0.113.0/24");
			assert_false(c->routes[i].linklocal);
		}
	}
	assert_int_equal(parse("{\"nics\":[{\"nic_tag\":\"a\",\"mac\":"
			       "\"02:00:00:00:00:01\",\"ips\":[\"dhcp\"]}]}",
			       c, &e),
			 0);
	assert_string_equal(c->nics[0].interface, "net0");
	assert_int_equal(c->primary, 0);
	assert_true(c->nics[0].dhcp);
	free(c);
}

struct bad {
	const char *json;
	const char *msg;
};

static void test_nics_parse_errors(void **state)
{
	static const struct bad bad[] = {
	    {"{\"nics\":[{\"mac\":\"02:00:00:00:00:01\"}]}",
	     "nics.0: no nic_tag"},
	    {"{\"nics\":[{\"nic_tag\":\"a\"}]}", "nics.0: no mac"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"zz\"}]}",
	     "nics.0.mac: invalid MAC address 'zz'"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"01:00:00:00:00:01\"}]}",
	     "nics.0.mac: not a unicast MAC address '01:00:00:00:00:01'"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\"},"
	     "{\"nic_tag\":\"a\",\"mac\":\"2:0:0:0:0:1\"}]}",
	     "nics.1.mac: duplicate MAC address 02:00:00:00:00:01"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
	     "\"vlan_id\":4095}]}",
	     "nics.0.vlan_id: 4095 is out of range (0-4094)"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
	     "\"vlan_id\":-1}]}",
	     "nics.0.vlan_id: -1 is out of range (0-4094)"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
	     "\"mtu\":100}]}",
	     "nics.0.mtu: 100 is out of range (576-9000)"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
	     "\"ips\":[\"192.0.2.5\"]}]}",
	     "nics.0.ips: not an address in CIDR form, 'dhcp' or "
	     "'addrconf': '192.0.2.5'"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
	     "\"ips\":[\"192.0.2.5/24\"],\"gateways\":[\"198.51.100.1\"]}]}",
	     "nics.0: gateway 198.51.100.1 is outside the nic's subnets"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
	     "\"ip\":\"192.0.2.5\",\"netmask\":\"255.255.255.0\","
	     "\"gateway\":\"192.0.3.1\"}]}",
	     "nics.0: gateway 192.0.3.1 is outside the nic's subnets"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
	     "\"ip\":\"192.0.2.5\",\"netmask\":\"255.0.255.0\"}]}",
	     "nics.0.netmask: not a netmask: '255.0.255.0'"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
	     "\"ip\":\"192.0.2.5\"}]}",
	     "nics.0: ip 192.0.2.5 needs a netmask"},
	    {"{\"nics\":[{\"nic_tag\":\"bad-tag\",\"mac\":"
	     "\"02:00:00:00:00:01\"}]}",
	     "nics.0.nic_tag: invalid tag name 'bad-tag'"},
	    {"{\"nics\":[{\"nic_tag\":\"sdc_overlay/123\",\"mac\":"
	     "\"02:00:00:00:00:01\"}]}",
	     "nics.0.nic_tag: overlay nic tags are not supported: "
	     "'sdc_overlay/123'"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
	     "\"primary\":true},{\"nic_tag\":\"a\",\"mac\":"
	     "\"02:00:00:00:00:02\",\"primary\":true}]}",
	     "nics.1.primary: more than one primary nic"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
	     "\"interface\":\"x\"},{\"nic_tag\":\"a\",\"mac\":"
	     "\"02:00:00:00:00:02\",\"interface\":\"x\"}]}",
	     "nics.1.interface: duplicate interface x"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
	     "\"allow_ip_spoofing\":\"yes\"}]}",
	     "nics.0.allow_ip_spoofing: not a boolean"},
	    {"{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\"}],"
	     "\"routes\":{\"10.0.0.0/8\":\"nics[1]\"}}",
	     "routes.10.0.0.0/8: 'nics[1]' names no nic"},
	    {"{\"routes\":{\"10.0.0.0/8\":\"2001:db8::1\"}}",
	     "routes.10.0.0.0/8: not a gateway for it: '2001:db8::1'"},
	    {"{\"routes\":{\"nope\":\"192.0.2.1\"}}",
	     "routes: not an address or subnet: 'nope'"},
	    {"{\"nics\":{}}", "nics: not an array"},
	    {NULL, NULL}};
	struct net_config *c = xcalloc(1, sizeof(*c));

	for (int i = 0; bad[i].json; i++) {
		struct hull_err e = {0};
		assert_true(parse(bad[i].json, c, &e) < 0);
		assert_string_equal(e.msg, bad[i].msg);
	}
	free(c);
}

static void test_antispoof_rules(void **state)
{
	struct net_config *c = xcalloc(1, sizeof(*c));
	struct hull_err e = {0};
	char *t;

	assert_int_equal(
	    parse("{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
		  "\"ips\":[\"192.0.2.5/24\",\"2001:db8::5/64\"],"
		  "\"allowed_ips\":[\"198.51.100.7/24\"]}]}",
		  c, &e),
	    0);
	t = net_antispoof_port_rules("hull_as_t", &c->nics[0], "hv123456780");
	assert_non_null(strstr(t, "add table bridge hull_as_t\n"));
	assert_non_null(strstr(t, "p_hv123456780 ether saddr != "
				  "02:00:00:00:00:01 drop\n"));
	assert_non_null(strstr(t, "ip saddr != { 192.0.2.5, 198.51.100.0/24 } "
				  "drop\n"));
	assert_non_null(strstr(t, "arp saddr ip != { 0.0.0.0, 192.0.2.5, "
				  "198.51.100.0/24 } drop\n"));
	assert_non_null(strstr(t, "ip6 saddr != { ::, fe80::ff:fe00:1, "
				  "2001:db8::5 } drop\n"));
	assert_non_null(strstr(t, "ether type != { ip, ip6, arp } drop\n"));
	assert_non_null(strstr(t, "udp sport 67 drop\n"));
	/* No router advertisement or redirect leaves a plain nic. */
	assert_non_null(strstr(t, "p_hv123456780 icmpv6 type { "
				  "nd-router-advert, nd-redirect } drop\n"));
	assert_non_null(strstr(t, "p_hv123456780 icmp type redirect drop\n"));
	assert_non_null(strstr(t, "ports { \"hv123456780\" : jump "
				  "p_hv123456780 }\n"));
	free(t);

	c->nics[0].blocked_ports[0] = 25;
	c->nics[0].blocked_ports[1] = 587;
	c->nics[0].nblocked = 2;
	t = net_antispoof_port_rules("hull_as_t", &c->nics[0], "hv123456780");
	assert_non_null(strstr(t, "meta l4proto { tcp, udp } th dport { 25, "
				  "587 } drop\n"));
	free(t);
	c->nics[0].nblocked = 0;
	c->nics[0].allow_unfiltered_promisc = true;
	t = net_antispoof_port_rules("hull_as_t", &c->nics[0], "hv123456780");
	assert_null(strstr(t, "ether saddr"));
	assert_non_null(strstr(t, "ip saddr"));
	free(t);
	c->nics[0].allow_unfiltered_promisc = false;

	/* Every allow_* flag lifts its rule and nothing else. */
	c->nics[0].allow_mac_spoofing = true;
	c->nics[0].allow_restricted_traffic = true;
	c->nics[0].allow_dhcp_spoofing = true;
	c->nics[0].allow_ip_spoofing = true;
	t = net_antispoof_port_rules("hull_as_t", &c->nics[0], "hv123456780");
	/* Only the VLAN rule of the out chain drops. */
	{
		const char *d = strstr(t, "drop");
		assert_non_null(d);
		assert_null(strstr(d + 1, "drop"));
		assert_non_null(strstr(t, "o_hv123456780 meta mark and "
					  "0xffff0000 == 0x48550000 meta mark "
					  "!= 0x48550000 drop\n"));
	}
	free(t);
	c->nics[0].vlan_id = 10;
	t = net_antispoof_port_rules("hull_as_t", &c->nics[0], "hv123456780");
	assert_non_null(strstr(t, "p_hv123456780 meta mark set 0x4855000a\n"));
	assert_non_null(strstr(t, "meta mark != 0x4855000a drop\n"));
	assert_non_null(strstr(t, "out_ports { \"hv123456780\" : jump "
				  "o_hv123456780 }\n"));
	free(t);

	/* A dhcp nic cannot be pinned to an IPv4 address. */
	assert_int_equal(
	    parse("{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
		  "\"ips\":[\"dhcp\"]}]}",
		  c, &e),
	    0);
	t = net_antispoof_port_rules("hull_as_t", &c->nics[0], "p");
	assert_null(strstr(t, "ip saddr"));
	assert_non_null(strstr(t, "ip6 saddr != { ::, fe80::ff:fe00:1 } drop"));
	free(t);
	/* An addrconf nic is not pinned to IPv6 addresses, yet it is no
	 * router either. */
	assert_int_equal(
	    parse("{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
		  "\"ips\":[\"addrconf\"]}]}",
		  c, &e),
	    0);
	t = net_antispoof_port_rules("hull_as_t", &c->nics[0], "p");
	assert_null(strstr(t, "ip6 saddr"));
	assert_non_null(strstr(t, "nd-router-advert, nd-redirect } drop"));
	free(t);
	/* allow_dhcp_spoofing implies allow_ip_spoofing: a DHCP server may
	 * advertise routes too. */
	assert_int_equal(
	    parse("{\"nics\":[{\"nic_tag\":\"a\",\"mac\":\"02:00:00:00:00:01\","
		  "\"ips\":[\"192.0.2.5/24\"],\"allow_dhcp_spoofing\":true}]}",
		  c, &e),
	    0);
	t = net_antispoof_port_rules("hull_as_t", &c->nics[0], "p");
	assert_null(strstr(t, "nd-router-advert"));
	assert_null(strstr(t, "icmp type redirect"));
	free(t);
	/* No address at all: no IPv4 leaves. */
	assert_int_equal(parse("{\"nics\":[{\"nic_tag\":\"a\",\"mac\":"
			       "\"02:00:00:00:00:01\"}]}",
			       c, &e),
			 0);
	t = net_antispoof_port_rules("hull_as_t", &c->nics[0], "p");
	assert_non_null(strstr(t, "p_p ether type ip drop\n"));
	free(t);

	t = net_antispoof_port_remove("hull_as_t", "hv123456780");
	assert_non_null(strstr(t, "delete element bridge hull_as_t ports "
				  "{ \"hv123456780\" }\n"));
	assert_non_null(strstr(t, "delete chain bridge hull_as_t "
				  "p_hv123456780\n"));
	assert_non_null(strstr(t, "delete chain bridge hull_as_t "
				  "o_hv123456780\n"));
	free(t);
	free(c);
}

static void test_resolv_conf(void **state)
{
	json_t *j =
	    json_loads("{\"resolvers\":[\"192.0.2.53\",\"2001:db8::53\"],"
		       "\"dns_domain\":\"example.com\"}",
		       0, NULL);
	struct hull_err e = {0};
	char *t;

	assert_int_equal(net_resolv_conf_render(j, &t, &e), 0);
	assert_non_null(strstr(t, "\nsearch example.com\nnameserver "
				  "192.0.2.53\nnameserver 2001:db8::53\n"));
	free(t);
	json_decref(j);
	j = json_loads("{}", 0, NULL);
	assert_int_equal(net_resolv_conf_render(j, &t, &e), 0);
	assert_null(t);
	json_decref(j);
	j = json_loads("{\"resolvers\":[\"8.8.8\"]}", 0, NULL);
	assert_true(net_resolv_conf_render(j, &t, &e) < 0);
	assert_string_equal(e.msg, "resolvers.0: not an IP address");
	json_decref(j);
	j = json_loads("{\"dns_domain\":\"a b\\nnameserver 1.2.3.4\"}", 0,
		       NULL);
	assert_true(net_resolv_conf_render(j, &t, &e) < 0);
	json_decref(j);
}

/* A kernel without nf_tables netlink (modules off), imitated with a
 * seccomp filter: libnftables itself would exit the process; hull's
 * wrapper reports an error and the caller goes on. */
static int no_netfilter_netlink(void)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);
	if (!f ||
	    seccomp_rule_add(f, SCMP_ACT_ERRNO(EPROTONOSUPPORT),
			     SCMP_SYS(socket), 2,
			     SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
			     SCMP_A2(SCMP_CMP_EQ, NETLINK_NETFILTER)) < 0 ||
	    seccomp_load(f) < 0)
		return -1;
	seccomp_release(f);
	return 0;
}

static int wait_status(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void test_nft_unavailable_is_an_error(void **state)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (no_netfilter_netlink() < 0)
			_exit(10);
		/* the premise: plain libnftables ends the process */
		pid_t raw = fork();
		if (raw == 0) {
			int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
			dup2(null, STDERR_FILENO);
			struct nft_ctx *n = nft_ctx_new(NFT_CTX_DEFAULT);
			nft_ctx_buffer_error(n);
			nft_run_cmd_from_buffer(n, "list tables\n");
			_exit(0);
		}
		if (wait_status(raw) == 0)
			_exit(11);
		if (hull_nft_available())
			_exit(12);
		struct hull_err err = {0};
		if (hull_nft_open(&err) || !strstr(err.msg, "nf_tables"))
			_exit(13);
		if (net_antispoof_apply("list tables\n", &err) >= 0)
			_exit(14);
		_exit(0);
	}
	assert_int_equal(wait_status(pid), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mac_parse_normalises),
	    cmocka_unit_test(test_mac_parse_refuses_garbage),
	    cmocka_unit_test(test_mac_unicast),
	    cmocka_unit_test(test_mac_generate_smartos_prefix),
	    cmocka_unit_test(test_mac_ipv6_ll),
	    cmocka_unit_test(test_addr_cidr),
	    cmocka_unit_test(test_addr_netmask),
	    cmocka_unit_test(test_addr_subnet),
	    cmocka_unit_test(test_tag_names),
	    cmocka_unit_test(test_nics_parse_full),
	    cmocka_unit_test(test_nics_parse_errors),
	    cmocka_unit_test(test_antispoof_rules),
	    cmocka_unit_test(test_resolv_conf),
	    cmocka_unit_test(test_nft_unavailable_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
