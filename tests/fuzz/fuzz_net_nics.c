/*
 * fuzz_net_nics.c - the nics[]/routes parser of src/net/nic.c, and the
 * antispoof rule text built from what it accepts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/xalloc.h"
#include "net/antispoof.h"
#include "net/nic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct net_config cfg;
	struct hull_err err;
	json_t *j = json_loadb((const char *)data, size, 0, NULL);

	if (!j)
		return 0;
	if (net_config_parse(j, &cfg, &err) == 0)
		for (size_t i = 0; i < cfg.nnics; i++)
			free(net_antispoof_port_rules("hull_antispoof_fuzz",
						      &cfg.nics[i],
						      "hv000000000"));
	json_decref(j);
	return 0;
}
