/*
 * tap.h - tap devices for VM nics: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, so
 * the VMM exchanges frames with a virtio-net header and no packet info.
 */
#ifndef HULL_NET_TAP_H
#define HULL_NET_TAP_H
#include "lib/err.h"

/* Creates the persistent tap device name in the caller's network namespace
 * and returns a descriptor on it (owned by the caller, close-on-exec). The
 * device stays after the descriptor is closed, until its link is deleted. */
int net_tap_open(const char *name, struct hull_err *err);
#endif
