/*
 * tap.c - open a tap device through /dev/net/tun (see tap.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "net/tap.h"

int net_tap_open(const char *name, struct hull_err *err)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return hull_err_sys(err, errno, "open /dev/net/tun");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		return hull_err_sys(err, e, "create tap %s", name);
	}
	/* Persistent: the port outlives a VMM restart and is removed, like a
	 * veth, by net_instance_teardown() (found by its alias). */
	if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
		int e = errno;
		close(fd);
		return hull_err_sys(err, e, "keep tap %s", name);
	}
	return fd;
}
