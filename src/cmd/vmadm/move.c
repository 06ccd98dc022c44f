/*
 * move.c - vmadm send and receive: an instance as a stream on stdout, and
 * back from stdin on another pool (include/hull/send.h); vmadm migrate
 * --live: a running bhyve VM to a fresh hull-vmm (include/hull/instance.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/vmadm/vmadm.h"
#include "hull/instance.h"
#include "hull/send.h"

static void print_warning(enum hull_step step, const char *uuid,
			  const char *msg, void *arg)
{
	if (step == HULL_STEP_WARNING)
		fprintf(stderr, "%s\n", msg);
}

static const struct hull_progress quiet = {.fn = print_warning};

int vmadm_send(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"live", no_argument, NULL, 'L'},
	    {"incremental", required_argument, NULL, 'i'},
	    {0, 0, 0, 0}};
	struct hull_send_opts o = {0};
	int c;
	vmadm_getopt_reset();
	while ((c = getopt_long(argc, argv, "i:dv", longopts, NULL)) != -1) {
		if (c == 'i')
			o.base = optarg;
		else if (c == 'L')
			o.live = true;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("send");
	}
	if (optind != argc - 1)
		return vmadm_usage("send");
	const char *uuid = argv[optind];
	if (isatty(STDOUT_FILENO))
		return vmadm_fail("Cannot send VM %s: refusing to write a "
				  "stream to a terminal",
				  uuid);
	/* A receiver that goes away is an error to report, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	/* When stdout is a pipe, one of 1 MiB carries a chunk in one go
	 * (fails harmlessly on anything else). */
	fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);
	struct hull_err err;
	struct hull_send_result res;
	if (hull_instance_send(uuid, &o, STDOUT_FILENO, &quiet, &res, &err) < 0)
		return vmadm_fail_err(&err);
	fprintf(stderr, "Successfully sent VM %s (snapshot %s, %llu bytes)\n",
		uuid, res.snapshot, res.bytes);
	return VMADM_OK;
}

int vmadm_receive(int argc, char **argv)
{
	const char *file = NULL;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt(argc, argv, "+f:dv")) != -1) {
		if (c == 'f')
			file = optarg;
		else if (c != 'd' && c != 'v')
			return vmadm_usage("receive");
	}
	if (optind != argc)
		return vmadm_usage("receive");
	int fd = STDIN_FILENO;
	if (file && (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return vmadm_fail("Cannot open %s: %s", file, strerror(errno));
	if (!file && isatty(fd))
		return vmadm_fail("Cannot receive: refusing to read a stream "
				  "from a terminal");
	fcntl(fd, F_SETPIPE_SZ, 1 << 20);
	struct hull_err err;
	char uuid[HULL_INSTANCE_UUID_LEN + 1];
	int r = hull_instance_receive(fd, &quiet, uuid, &err);
	if (file)
		close(fd);
	if (r < 0)
		return vmadm_fail_err(&err);
	fprintf(stderr, "Successfully received VM %s\n", uuid);
	return VMADM_OK;
}

/* migrate <uuid> --live [--downtime MS] [--auto-converge] [--bandwidth
 * MIB_PER_S]: hull's own
 * (SmartOS's vmadm has no migrate): a running bhyve VM moves to a fresh
 * hull-vmm on this host. Only --live exists; a move between servers goes
 * through the head node (hull-api). */
int vmadm_migrate(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"live", no_argument, NULL, 'L'},
	    {"downtime", required_argument, NULL, 'D'},
	    {"auto-converge", no_argument, NULL, 'A'},
	    {"bandwidth", required_argument, NULL, 'B'},
	    {0, 0, 0, 0}};
	bool live = false, ac = false;
	long downtime = 0, bw = 0;
	int c;
	vmadm_getopt_reset();
	while ((c = getopt_long(argc, argv, "dv", longopts, NULL)) != -1) {
		char *end;
		if (c == 'L') {
			live = true;
		} else if (c == 'A') {
			ac = true;
		} else if (c == 'D') {
			errno = 0;
			downtime = strtol(optarg, &end, 10);
			if (errno || *end || downtime < 1 || downtime > 60000)
				return vmadm_fail("Invalid value for downtime: "
						  "must be an integer from 1 "
						  "to 60000 (ms)");
		} else if (c == 'B') {
			errno = 0;
			bw = strtol(optarg, &end, 10);
			if (errno || *end || bw < 1 || bw > 1048576)
				return vmadm_fail(
				    "Invalid value for bandwidth: "
				    "must be an integer from 1 "
				    "to 1048576 (MiB/s)");
		} else if (c != 'd' && c != 'v') {
			return vmadm_usage("migrate");
		}
	}
	if (optind != argc - 1 || !live)
		return vmadm_usage("migrate");
	const char *uuid = argv[optind];
	struct hull_err err;
	json_t *res = NULL;
	if (hull_instance_move_live(uuid, (int)downtime, ac, (int)bw, &res,
				    &err) < 0)
		return vmadm_fail_err(&err);
	json_int_t dt = json_integer_value(json_object_get(res, "downtime_ns"));
	const char *emu = json_string_value(json_object_get(res, "emulator"));
	fprintf(stderr,
		"Successfully migrated VM %s to a new %s (pid %lld, "
		"downtime %lld.%03lld ms)\n",
		uuid, emu ? emu : "hull-vmm",
		(long long)json_integer_value(json_object_get(res, "pid")),
		(long long)(dt / 1000000), (long long)(dt / 1000 % 1000));
	json_decref(res);
	return VMADM_OK;
}
