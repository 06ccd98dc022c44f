/*
 * virtio.c - placeholder until the virtio-pci devices exist.
 */
#include "guest.h"

int test_virtio_blk(const char *args) { print("virtio: not yet\n"); return -1; }
int test_virtio_blk_bench(void) { return -1; }
int test_virtio_rng(void) { return -1; }
int test_virtio_net(void) { return -1; }
int test_virtio_console(void) { return -1; }
