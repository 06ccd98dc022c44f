/*
 * fuzz_network.c - a network description on arbitrary bytes (any account
 * sends one to POST /:login/fabrics/default/vlans/:id/networks): parsed as
 * a fabric and as an operator's network; an accepted one has its range
 * inside its subnet and in order, and every address in it parses.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "head/networks.h"
#include "lib/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(json_t *n)
{
	struct head_ip lo, hi;
	if (head_ip_parse(hull_json_str(n, "provision_start_ip", NULL), &lo) <
		0 ||
	    head_ip_parse(hull_json_str(n, "provision_end_ip", NULL), &hi) <
		0 ||
	    lo.af != hi.af || lo.v > hi.v)
		__builtin_trap();
	const char *gw = hull_json_str(n, "gateway", NULL);
	struct head_ip g;
	if (gw && (head_ip_parse(gw, &g) < 0 || g.af != lo.af))
		__builtin_trap();
	char buf[INET6_ADDRSTRLEN];
	head_ip_format(&lo, buf);
	if (strcmp(buf, hull_json_str(n, "provision_start_ip", "")))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in = json_loadb((const char *)data, size, 0, NULL);
	if (!in)
		return 0;
	for (int fabric = 0; fabric < 2; fabric++) {
		json_t *out = NULL;
		struct hull_err err;
		if (head_network_parse(in, fabric, &out, &err) == 0) {
			check(out);
			json_decref(out);
		}
	}
	json_decref(in);
	return 0;
}
