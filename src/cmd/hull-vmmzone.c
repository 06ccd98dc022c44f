/*
 * hull-vmmzone - run a VM's emulator inside the double hull
 * (hvm/vmmzone.h, docs/hull-vmmzone.md).
 *
 *   hull-vmmzone --uuid UUID --root DIR [--run-dir DIR] [--file PATH[:rw]]...
 *                [--fd N]... [--tun] [--dlopen SONAME]... [--ram MIB]
 *                [--cpu-cap PCT] [--uid UID --gid GID] [--record VM.JSON]
 *                -- PROGRAM [ARG...]
 *
 * It waits for the emulator, forwarding SIGTERM, SIGINT and SIGHUP to it,
 * removes the hull's cgroup and exits with the emulator's status.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvm/hullrec.h"
#include "hvm/vmmzone.h"
#include "inst/inst.h"
#include "lib/uuid.h"
#include "lib/xalloc.h"

extern char **environ;

static volatile pid_t child;

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: hull-vmmzone --uuid UUID --root DIR [--run-dir DIR]\n"
	       "                    [--file PATH[:rw]]... [--fd N]... [--tun]\n"
	       "                    [--ram MIB] [--cpu-cap PCT] [--uid UID "
	       "--gid GID]\n"
	       "                    [--record VM.JSON] -- PROGRAM [ARG...]\n"
	       "Runs PROGRAM (an emulator: hull-vmm or qemu) in its own pid, "
	       "mount, ipc,\n"
	       "uts and empty network namespaces, on a root holding only "
	       "PROGRAM, its\n"
	       "libraries, the files named, the run directory and /dev/null,\n"
	       "/dev/urandom and /dev/kvm, in cgroup UUID, without "
	       "capabilities.\n"
	       "  --uuid UUID     the instance (cgroup name, hostname)\n"
	       "  --root DIR      an empty directory to build the root on\n"
	       "  --run-dir DIR   the sockets' directory (read-write)\n"
	       "  --file PATH     a disk, kernel or initrd (read-only; :rw for "
	       "read-write)\n"
	       "  --fd N          keep descriptor N open (a tap)\n"
	       "  --tun           also /dev/net/tun\n"
	       "  --ram MIB       guest RAM: memory limit is RAM + overhead\n"
	       "  --cpu-cap PCT   CPU cap in percent of one CPU\n"
	       "  --uid UID, --gid GID  run PROGRAM as UID:GID (not 0), "
	       "handing it the\n"
	       "                  :rw files, the run directory and a /dev/kvm "
	       "of its own\n"
	       "  --record VM.JSON  take uuid, disks, ram, cpu_cap and "
	       "uid/gid (hull_userns)\n"
	       "                  from an instance record\n");
}

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

static int parse_num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"uuid", required_argument, NULL, 'u'},
	    {"root", required_argument, NULL, 'r'},
	    {"run-dir", required_argument, NULL, 'd'},
	    {"file", required_argument, NULL, 'f'},
	    {"fd", required_argument, NULL, 'F'},
	    {"tun", no_argument, NULL, 't'},
	    {"dlopen", required_argument, NULL, 'L'},
	    {"record", required_argument, NULL, 'R'},
	    {"ram", required_argument, NULL, 'm'},
	    {"cpu-cap", required_argument, NULL, 'c'},
	    {"uid", required_argument, NULL, 'U'},
	    {"gid", required_argument, NULL, 'G'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct hvm_hull h = {.envp = environ};
	int fds[64];
	size_t nfds = 0;
	const char *dl[16];
	size_t ndl = 0;
	const char *record = NULL;
	long long v;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (!hull_uuid_valid(optarg)) {
				fprintf(stderr,
					"hull-vmmzone: not a uuid: %s\n",
					optarg);
				return 1;
			}
			h.uuid = optarg;
			break;
		case 'r':
			h.root = optarg;
			break;
		case 'd':
			h.run_dir = optarg;
			break;
		case 'f': {
			if (h.nfiles >= HVM_HULL_PATHS_MAX) {
				fprintf(stderr,
					"hull-vmmzone: more than %d --file\n",
					HVM_HULL_PATHS_MAX);
				return 1;
			}
			size_t n = strlen(optarg);
			bool rw = n > 3 && !strcmp(optarg + n - 3, ":rw");
			if (rw)
				optarg[n - 3] = '\0';
			h.files[h.nfiles++] =
			    (struct hvm_hull_path){optarg, rw, rw};
			break;
		}
		case 'F':
			if (nfds >= sizeof(fds) / sizeof(fds[0]) ||
			    parse_num(optarg, 3, 1 << 20, &v) < 0) {
				fprintf(stderr,
					"hull-vmmzone: --fd: bad "
					"descriptor: %s\n",
					optarg);
				return 1;
			}
			fds[nfds++] = (int)v;
			break;
		case 't':
			h.tun = true;
			break;
		case 'R':
			record = optarg;
			break;
		case 'L':
			if (ndl >= sizeof(dl) / sizeof(dl[0])) {
				fprintf(stderr,
					"hull-vmmzone: too many --dlopen\n");
				return 1;
			}
			dl[ndl++] = optarg;
			break;
		case 'm':
			if (parse_num(optarg, 1, 1 << 30, &v) < 0) {
				fprintf(stderr,
					"hull-vmmzone: --ram: not a size in "
					"MiB: %s\n",
					optarg);
				return 1;
			}
			h.ram_mib = v;
			break;
		case 'c':
			if (parse_num(optarg, 1, 100 * 1024, &v) < 0) {
				fprintf(stderr,
					"hull-vmmzone: --cpu-cap: not a "
					"percentage: %s\n",
					optarg);
				return 1;
			}
			h.cpu_cap = v;
			break;
		case 'U':
		case 'G':
			if (parse_num(optarg, 1, UINT32_MAX - 1, &v) < 0) {
				fprintf(stderr,
					"hull-vmmzone: --%s: not an id other "
					"than 0: %s\n",
					c == 'U' ? "uid" : "gid", optarg);
				return 1;
			}
			if (c == 'U')
				h.uid = (uid_t)v;
			else
				h.gid = (gid_t)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr,
				"hull-vmmzone: unknown option '%s' (see "
				"hull-vmmzone --help)\n",
				argv[optind - 1]);
			return 1;
		}
	}
	struct inst inst = {0};
	if (record) {
		/* the record's uuid, disks, ram and cpu_cap, under the
		 * options given */
		json_error_t je;
		struct hvm_hull r = {0};
		struct hull_err rerr = {0};
		json_t *vm =
		    json_load_file(record, JSON_REJECT_DUPLICATES, &je);
		if (!vm) {
			fprintf(stderr, "hull-vmmzone: %s: %s\n", record,
				je.text);
			return 1;
		}
		int pr = inst_parse(vm, &inst, &rerr);
		json_decref(vm);
		if (pr < 0 || hvm_hull_from_inst(&inst, &r, &rerr) < 0) {
			fprintf(stderr, "hull-vmmzone: %s: %s\n", record,
				rerr.msg);
			inst_fini(&inst);
			return 1;
		}
		if (h.nfiles + r.nfiles > HVM_HULL_PATHS_MAX) {
			fprintf(stderr, "hull-vmmzone: more than %d files\n",
				HVM_HULL_PATHS_MAX);
			inst_fini(&inst);
			return 1;
		}
		for (size_t i = 0; i < r.nfiles; i++)
			h.files[h.nfiles++] = r.files[i];
		if (!h.uuid)
			h.uuid = r.uuid;
		if (!h.ram_mib)
			h.ram_mib = r.ram_mib;
		if (!h.cpu_cap)
			h.cpu_cap = r.cpu_cap;
		if (!h.uid && !h.gid) {
			h.uid = r.uid;
			h.gid = r.gid;
		}
	}
	if (!h.uid != !h.gid) {
		fprintf(stderr, "hull-vmmzone: --uid and --gid go together\n");
		inst_fini(&inst);
		return 1;
	}
	if (!h.uuid || !h.root || optind >= argc) {
		fprintf(stderr, "hull-vmmzone: --uuid, --root and a program "
				"are required (see hull-vmmzone --help)\n");
		inst_fini(&inst);
		return 1;
	}
	h.argv = argv + optind;
	h.dlopen_libs = dl;
	h.ndlopen = ndl;
	h.keep_fds = fds;
	h.nkeep_fds = nfds;

	struct sigaction sa = {.sa_handler = forward};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	struct zone_cgroup cg;
	struct hull_err err = {0};
	zone_cgroup_init(&cg, h.uuid);
	/* a signal that comes while the hull is being made waits until the
	 * emulator's pid is known, then goes to it (the child resets its
	 * mask before the exec) */
	sigset_t fwd, old;
	sigemptyset(&fwd);
	sigaddset(&fwd, SIGTERM);
	sigaddset(&fwd, SIGINT);
	sigaddset(&fwd, SIGHUP);
	sigprocmask(SIG_BLOCK, &fwd, &old);
	pid_t pid;
	if (hvm_hull_start(&h, &cg, &pid, &err) < 0) {
		fprintf(stderr, "hull-vmmzone: %s\n", err.msg);
		zone_cgroup_destroy(&cg, &err);
		zone_cgroup_fini(&cg);
		inst_fini(&inst);
		return 1;
	}
	child = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child = 0;
	int rc =
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (zone_cgroup_destroy(&cg, &err) < 0) {
		fprintf(stderr, "hull-vmmzone: %s\n", err.msg);
		if (rc == 0)
			rc = 1;
	}
	zone_cgroup_fini(&cg);
	inst_fini(&inst);
	return rc;
}
