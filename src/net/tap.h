/*
 * tap.h - tap devices for VM nics: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, so
 * the VMM exchanges frames with a virtio-net header and no packet info.
 */
#ifndef HULL_NET_TAP_H
#define HULL_NET_TAP_H
#include "lib/err.h"

/* Creates (or attaches to) the tap device name in the caller's network
 * namespace. Returns its descriptor (owned by the caller, close-on-exec);
 * the device goes away when the last descriptor is closed. */
int net_tap_open(const char *name, struct hull_err *err);
#endif
