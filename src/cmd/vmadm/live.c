/*
 * live.c - vmadm migrate UUID --live (hull; SmartOS has no live
 * migration): a running kvm VM moves to a new QEMU on this host
 * (include/hull/instance.h hull_instance_migrate_live).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/vmadm/vmadm.h"
#include "hull/instance.h"

/* A whole number lo..hi, or -1. */
static long long number(const char *s, long long lo, long long hi)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	return *s && !*end && v >= lo && v <= hi ? v : -1;
}

int vmadm_migrate(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"live", no_argument, NULL, 'L'},
	    {"downtime-limit", required_argument, NULL, 'D'},
	    {"auto-converge", no_argument, NULL, 'A'},
	    {"max-bandwidth", required_argument, NULL, 'B'},
	    {0, 0, 0, 0}};
	struct hull_live_opts o = {0};
	bool live = false;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt_long(argc, argv, "dv", longopts, NULL)) != -1) {
		switch (c) {
		case 'L':
			live = true;
			break;
		case 'A':
			o.auto_converge = true;
			break;
		case 'D':
			if ((o.downtime_ms = (int)number(optarg, 1, 60000)) < 0)
				return vmadm_fail("Invalid --downtime-limit: "
						  "%s (1 to 60000 ms)",
						  optarg);
			break;
		case 'B':
			if ((o.max_bandwidth = number(optarg, 1, 1LL << 40)) <
			    0)
				return vmadm_fail("Invalid --max-bandwidth: %s "
						  "(bytes per second)",
						  optarg);
			break;
		case 'd':
		case 'v':
			break;
		default:
			return vmadm_usage("migrate");
		}
	}
	if (optind != argc - 1)
		return vmadm_usage("migrate");
	const char *uuid = argv[optind];
	if (!live)
		return vmadm_fail("Cannot migrate VM %s: only --live is done "
				  "on one host (vmadm send/receive moves a "
				  "stopped instance)",
				  uuid);
	struct hull_err err;
	struct hull_live_result res;
	if (hull_instance_migrate_live(uuid, &o, &res, &err) < 0)
		return vmadm_fail_err(&err);
	fprintf(stderr,
		"Successfully migrated VM %s live (downtime %lld ms, %lld "
		"passes, %lld bytes, %lld ms)\n",
		uuid, res.downtime_ms, res.passes, res.transferred,
		res.total_ms);
	return VMADM_OK;
}
