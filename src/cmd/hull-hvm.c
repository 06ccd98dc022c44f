/*
 * hull-hvm - the HVM brands' building blocks by hand: the firmware-less
 * boot loader (boot-find) and the kvm brand's QEMU launcher (qemu-argv,
 * qemu). The supervisor uses the same library calls (src/hvm); this
 * program lets an operator see what a disk boots and what QEMU is given,
 * and lets the tests and benchmarks drive them. See docs/hull-hvm.md.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvm/loader.h"
#include "hvm/probe.h"
#include "hvm/qemu.h"
#include "hvm/qmp.h"
#include "hvm/vmm.h"
#include "inst/inst.h"
#include "lib/err.h"
#include "lib/json.h"
#include "lib/strv.h"
#include "lib/xalloc.h"

static void usage(FILE *f)
{
	fputs(
	    "usage: hull-hvm boot-find DISK [--extract DIR]\n"
	    "       hull-hvm qemu-argv|qemu --record FILE --run-dir DIR\n"
	    "                [--boot-dir DIR] [--accel auto|kvm|tcg]\n"
	    "                [--console-pty] [--console-log FILE]\n"
	    "                [--tap-fd FD]... [--qemu BIN]\n"
	    "       hull-hvm vmm-argv (the same options)\n"
	    "       hull-hvm qmp RUN_DIR status|powerdown|quit|stop [SECONDS]\n"
	    "       hull-hvm --help | --version\n"
	    "\n"
	    "  boot-find   print what DISK boots (grub.cfg default entry, "
	    "else the\n"
	    "              newest BLS entry, else the newest "
	    "/boot/vmlinuz-*) as JSON;\n"
	    "              --extract copies kernel and initrd into DIR\n"
	    "  qemu-argv   print the QEMU command line for an instance "
	    "record, one\n"
	    "              argument per line\n"
	    "  qemu        run it (exec): the kvm brand's VMM by hand\n"
	    "  vmm-argv    print the hull-vmm command line (the bhyve brand; "
	    "needs KVM)\n"
	    "  qmp         ask a running QEMU over RUN_DIR/qmp.sock: its "
	    "status,\n"
	    "              a guest power-off (ACPI power button), quit, or "
	    "stop:\n"
	    "              power-off, then quit after SECONDS (default "
	    "60)\n",
	    f);
}

static json_t *boot_json(const struct hvm_boot *b)
{
	json_t *o = json_object();
	json_t *ird = json_array();
	for (size_t i = 0; i < b->ent.ninitrd; i++)
		json_array_append_new(ird, json_string(b->ent.initrd[i]));
	json_object_set_new(o, "source",
			    json_string(hvm_boot_source_name(b->ent.source)));
	if (b->ent.title)
		json_object_set_new(o, "title", json_string(b->ent.title));
	json_object_set_new(o, "partition", json_integer(b->partition));
	json_object_set_new(o, "kernel", json_string(b->ent.kernel));
	json_object_set_new(o, "initrd", ird);
	json_object_set_new(o, "cmdline", json_string(b->ent.cmdline));
	if (b->kernel_file)
		json_object_set_new(o, "kernel_file",
				    json_string(b->kernel_file));
	if (b->initrd_file)
		json_object_set_new(o, "initrd_file",
				    json_string(b->initrd_file));
	return o;
}

static int cmd_boot_find(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"extract", required_argument, NULL, 'x'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *dir = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'x') {
			dir = optarg;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "hull-hvm: boot-find: bad option %s\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "hull-hvm: boot-find: expected one DISK\n");
		return 2;
	}
	struct hull_err err = {0};
	struct hvm_boot b;
	if (hvm_boot_load(
		&(struct hvm_loader_cfg){.disk = argv[optind], .dir = dir}, &b,
		&err) < 0) {
		fprintf(stderr, "hull-hvm: %s\n", err.msg);
		return 1;
	}
	json_t *o = boot_json(&b);
	hull_json_print(o);
	json_decref(o);
	hvm_boot_fini(&b);
	return 0;
}

/* The disk the boot loader reads: the one marked boot, else the first. */
static const char *boot_disk(const struct inst *inst)
{
	for (size_t i = 0; i < inst->ndisks; i++)
		if (inst->disks[i].boot)
			return inst->disks[i].path;
	return inst->ndisks ? inst->disks[0].path : NULL;
}

static int cmd_qemu(int argc, char **argv, const char *cmd)
{
	const bool run = !strcmp(cmd, "qemu");
	const bool vmm = !strcmp(cmd, "vmm-argv");
	static const struct option opts[] = {
	    {"record", required_argument, NULL, 'r'},
	    {"run-dir", required_argument, NULL, 'R'},
	    {"boot-dir", required_argument, NULL, 'b'},
	    {"accel", required_argument, NULL, 'a'},
	    {"console-pty", no_argument, NULL, 'p'},
	    {"console-log", required_argument, NULL, 'l'},
	    {"tap-fd", required_argument, NULL, 't'},
	    {"qemu", required_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *record = NULL, *boot_dir = NULL, *accel = "auto";
	struct hvm_qemu_host h = {0};
	int taps[HVM_QEMU_NICS_MAX];
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			record = optarg;
			break;
		case 'R':
			h.run_dir = optarg;
			break;
		case 'b':
			boot_dir = optarg;
			break;
		case 'a':
			accel = optarg;
			break;
		case 'p':
			h.console_pty = true;
			break;
		case 'l':
			h.console_log = optarg;
			break;
		case 'q':
			h.qemu = optarg;
			break;
		case 't': {
			char *end;
			long fd = strtol(optarg, &end, 10);
			if (*end || fd < 0 || fd > 65535 ||
			    h.ntap_fds >= HVM_QEMU_NICS_MAX) {
				fprintf(stderr,
					"hull-hvm: %s: bad --tap-fd %s\n", cmd,
					optarg);
				return 2;
			}
			taps[h.ntap_fds++] = (int)fd;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "hull-hvm: %s: bad option %s\n", cmd,
				argv[optind - 1]);
			return 2;
		}
	}
	if (!record || !h.run_dir || optind != argc) {
		fprintf(stderr,
			"hull-hvm: %s: needs --record FILE and --run-dir DIR\n",
			cmd);
		return 2;
	}
	if (strcmp(accel, "auto") && strcmp(accel, "kvm") &&
	    strcmp(accel, "tcg")) {
		fprintf(stderr,
			"hull-hvm: %s: --accel must be auto, kvm or "
			"tcg\n",
			cmd);
		return 2;
	}
	h.kvm =
	    !strcmp(accel, "kvm") || (!strcmp(accel, "auto") && hvm_kvm_full());
	h.tap_fds = taps;
	struct hull_err err = {0};
	json_t *vm = hull_json_load_file(record, &err);
	if (!vm) {
		fprintf(stderr, "hull-hvm: %s\n", err.msg);
		return 1;
	}
	struct hvm_boot b = {0};
	struct inst inst = {0};
	int rc = 1;
	char **av = NULL;
	if (inst_parse(vm, &inst, &err) < 0) {
		fprintf(stderr, "hull-hvm: %s\n", err.msg);
		goto out;
	}
	if (!inst.vm.bootrom) {
		const char *disk = boot_disk(&inst);
		if (!disk) {
			fprintf(stderr, "hull-hvm: disks: no boot disk\n");
			goto out;
		}
		if (!boot_dir) {
			fprintf(stderr,
				"hull-hvm: %s: direct boot needs "
				"--boot-dir DIR\n",
				cmd);
			rc = 2;
			goto out;
		}
		if (hvm_boot_load(
			&(struct hvm_loader_cfg){.disk = disk, .dir = boot_dir},
			&b, &err) < 0) {
			fprintf(stderr, "hull-hvm: %s\n", err.msg);
			goto out;
		}
		h.kernel = b.kernel_file;
		h.initrd = b.initrd_file;
		h.cmdline = b.ent.cmdline;
	}
	if (vmm) {
		struct hvm_vmm_host vh = {.kvm = h.kvm,
					  .run_dir = h.run_dir,
					  .kernel = h.kernel,
					  .initrd = h.initrd,
					  .cmdline = h.cmdline,
					  .tap_fds = taps,
					  .ntap_fds = h.ntap_fds};
		av = hvm_vmm_argv(&inst, &vh, &err);
	} else {
		av = hvm_qemu_argv(&inst, &h, &err);
	}
	if (!av) {
		fprintf(stderr, "hull-hvm: %s\n", err.msg);
		goto out;
	}
	if (run) {
		fflush(stdout);
		execvp(av[0], av);
		fprintf(stderr, "hull-hvm: exec %s: %s\n", av[0],
			strerror(errno));
		rc = 127;
		goto out;
	}
	for (char **p = av; *p; p++)
		printf("%s\n", *p);
	rc = 0;
out:
	hull_strv_free(av);
	hvm_boot_fini(&b);
	inst_fini(&inst);
	json_decref(vm);
	return rc;
}

static int cmd_qmp(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "hull-hvm: qmp: expected RUN_DIR and one of "
				"status, powerdown, quit, stop [SECONDS]\n");
		return 2;
	}
	const char *what = argv[2];
	const char *cmd = !strcmp(what, "powerdown") ? "system_powerdown"
			  : !strcmp(what, "quit")    ? "quit"
			  : !strcmp(what, "status")  ? "query-status"
			  : !strcmp(what, "stop")    ? "stop"
						     : NULL;
	if (!cmd || (argc == 4 && strcmp(what, "stop"))) {
		fprintf(stderr, "hull-hvm: qmp: unknown request %s\n", what);
		return 2;
	}
	long secs = 60;
	if (argc == 4) {
		char *end;
		secs = strtol(argv[3], &end, 10);
		if (*end || secs < 0 || secs > 86400) {
			fprintf(stderr, "hull-hvm: qmp: bad timeout %s\n",
				argv[3]);
			return 2;
		}
	}
	struct hull_err err = {0};
	_cleanup_free_ char *path =
	    xasprintf("%s/%s", argv[1], HVM_QEMU_QMP_SOCK);
	struct hvm_qmp *q = hvm_qmp_open(path, 5000, &err);
	if (!q) {
		fprintf(stderr, "hull-hvm: %s\n", err.msg);
		return 1;
	}
	int r;
	char status[64];
	bool forced = false;
	if (!strcmp(what, "status")) {
		r = hvm_qmp_status(q, status, sizeof(status), 5000, &err);
		if (r == 0)
			printf("%s\n", status);
	} else if (!strcmp(what, "stop")) {
		r = hvm_qmp_stop(q, (int)secs * 1000, &forced, &err);
		if (r == 0)
			printf("%s\n", forced ? "forced" : "powered off");
	} else {
		r = hvm_qmp_execute(q, cmd, NULL, 5000, &err);
	}
	hvm_qmp_close(q);
	if (r < 0) {
		fprintf(stderr, "hull-hvm: %s\n", err.msg);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(sub, "--version")) {
		printf("hull-hvm %s\n", HULL_VERSION);
		return 0;
	}
	if (!strcmp(sub, "boot-find"))
		return cmd_boot_find(argc - 1, argv + 1);
	if (!strcmp(sub, "qemu-argv"))
		return cmd_qemu(argc - 1, argv + 1, "qemu-argv");
	if (!strcmp(sub, "qemu"))
		return cmd_qemu(argc - 1, argv + 1, "qemu");
	if (!strcmp(sub, "vmm-argv"))
		return cmd_qemu(argc - 1, argv + 1, "vmm-argv");
	if (!strcmp(sub, "qmp"))
		return cmd_qmp(argc - 1, argv + 1);
	fprintf(stderr, "hull-hvm: unknown command %s (see hull-hvm --help)\n",
		sub);
	return 2;
}
