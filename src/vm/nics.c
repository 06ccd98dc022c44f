/*
 * nics.c - defaults for nics (see nics.h).
 */
#include "vm/nics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/proptable.h"

void vm_nics_assign(json_t *nics, unsigned brand)
{
	if (!json_is_array(nics))
		return;
	const char *pfx = brand == VM_BRAND_LX ? "eth" : "net";
	int next = 0;
	size_t i;
	json_t *nic;
	bool primary = false;
	json_array_foreach(nics, i, nic)
	{
		const char *ifc =
		    json_string_value(json_object_get(nic, "interface"));
		if (ifc && strlen(ifc) > 3 && atoi(ifc + 3) >= next)
			next = atoi(ifc + 3) + 1;
		primary =
		    primary || json_is_true(json_object_get(nic, "primary"));
	}
	json_array_foreach(nics, i, nic)
	{
		if (!json_is_object(nic))
			continue;
		if (!json_object_get(nic, "interface")) {
			char name[16];
			snprintf(name, sizeof(name), "%s%d", pfx, next++);
			json_object_set_new(nic, "interface",
					    json_string(name));
		}
		if (!primary) {
			json_object_set_new(nic, "primary", json_true());
			primary = true;
		}
	}
}

void vm_nics_fill_macs(json_t *nics, unsigned (*rand32)(void))
{
	size_t i;
	json_t *nic;
	json_array_foreach(nics, i, nic)
	{
		if (!json_is_object(nic) || json_object_get(nic, "mac"))
			continue;
		char mac[18];
		json_t *vrid = json_object_get(nic, "vrrp_vrid");
		if (json_is_integer(vrid)) {
			snprintf(mac, sizeof(mac), "00:00:5e:00:01:%02x",
				 (unsigned)json_integer_value(vrid) & 0xff);
		} else {
			unsigned a = rand32(), b = rand32();
			snprintf(
			    mac, sizeof(mac), "%x2:%02x:%02x:%02x:%02x:%02x",
			    (a >> 28) & 0xf, (a >> 16) & 0xff, (a >> 8) & 0xff,
			    a & 0xff, (b >> 8) & 0xff, b & 0xff);
		}
		json_object_set_new(nic, "mac", json_string(mac));
	}
}
