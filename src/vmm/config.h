/*
 * config.h - a hull-vmm VM description: command-line options or a JSON file
 * with the same fields, validated before anything is opened or started.
 *
 * Parsing is pure (strings in, struct out): it checks syntax and ranges.
 * Whether files exist and can be opened is checked by the loaders and
 * devices that open them, all before the first vCPU runs.
 */
#ifndef HULL_VMM_CONFIG_H
#define HULL_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

#define VMM_MAX_CPUS 64
#define VMM_MAX_DISKS 16
#define VMM_MAX_NETS 8
#define VMM_MEM_MIN (8ull << 20)
#define VMM_MEM_MAX (1ull << 40)
#define VMM_CMDLINE_MAX 4095
#define VMM_SERIAL_ID_MAX 20 /* virtio-blk serial is 20 bytes */

/* How a bzImage boots: auto = PVH into its ELF payload when it has a PVH
 * note, else the Linux boot protocol. */
enum vmm_boot_mode { VMM_BOOT_AUTO, VMM_BOOT_LINUX, VMM_BOOT_PVH };

enum vmm_console_kind {
	VMM_CONSOLE_STDIO,
	VMM_CONSOLE_PTY,
	VMM_CONSOLE_UNIX,
	VMM_CONSOLE_NONE
};

/* Test-only: what the VMM attempts after confining itself (seccomp test). */
enum vmm_forbidden {
	VMM_FORBIDDEN_NONE,
	VMM_FORBIDDEN_EXECVE,
	VMM_FORBIDDEN_OPEN
};

struct vmm_disk_config {
	char *path;
	bool readonly;
	char serial[VMM_SERIAL_ID_MAX + 1];
};

struct vmm_net_config {
	char *tap; /* tap interface name, or NULL when fd is given */
	int fd;	   /* an open tap descriptor, or -1 */
	uint8_t mac[6];
	bool has_mac;
};

struct vmm_config {
	uint64_t memory; /* bytes, a multiple of 2 MiB */
	unsigned cpus;
	char *kernel;
	char *initrd;
	char *cmdline;
	struct vmm_disk_config disks[VMM_MAX_DISKS];
	unsigned n_disks;
	struct vmm_net_config nets[VMM_MAX_NETS];
	unsigned n_nets;
	enum vmm_console_kind console;
	char *console_path;  /* unix:PATH */
	char *metadata_path; /* unix:PATH for COM2, or NULL */
	char *control_path;  /* unix:PATH for the control socket, or NULL */
	char *uuid;	     /* SMBIOS system UUID, canonical text */
	char *product;	     /* SMBIOS product name */
	bool rng;	     /* virtio-rng present */
	bool vconsole;	     /* virtio-console present */
	enum vmm_boot_mode boot;
	bool boot_timer; /* report the guest's port 0x440 write time */
	bool check_only; /* validate, open everything, do not run */
	char *restore;	 /* --restore PATH: resume this snapshot, or NULL */
	int restore_fd;	 /* --restore fd=N (inherited), or -1 */
	int incoming_fd; /* --incoming fd=N: a live migration stream, or -1 */
	int incoming_disks_fd; /* --incoming ...,disks=M: where the disks
				* come at the stream's end, or -1 */
	enum vmm_forbidden forbidden;
};

void vmm_config_init(struct vmm_config *c);
void vmm_config_fini(struct vmm_config *c);

/* Parses argv (options as documented in docs/hull-vmm.md; --config FILE
 * loads the JSON file at that point, later options override it). Returns 0,
 * 1 when --help or --version was handled (text in *out_text, caller frees),
 * or a negative code with err set. */
int vmm_config_parse_args(struct vmm_config *c, int argc, char **argv,
			  char **out_text, struct hull_err *err);

/* Applies a JSON object's fields (same names as the options). */
int vmm_config_apply_json(struct vmm_config *c, const char *text, size_t len,
			  struct hull_err *err);

/* Final cross-field checks (a kernel is given, ...). */
int vmm_config_validate(const struct vmm_config *c, struct hull_err *err);

/* Individual parsers, exported for the unit tests. */
int vmm_parse_size(const char *s, uint64_t *out, struct hull_err *err);
int vmm_parse_mac(const char *s, uint8_t mac[6], struct hull_err *err);
int vmm_parse_disk(const char *s, struct vmm_disk_config *d,
		   struct hull_err *err);
int vmm_parse_net(const char *s, struct vmm_net_config *n,
		  struct hull_err *err);

#endif
