/*
 * devfilter.c - a v1 device whitelist as a cgroup v2 device program.
 *
 * The kernel runs the program on each open or mknod of a device node by a
 * process of the cgroup, with struct bpf_cgroup_dev_ctx in r1: access_type
 * (the access bits << 16 | the device type), major, minor. It returns 1 to
 * allow, 0 to refuse (EPERM). The program:
 *
 *   r2 = ctx->access_type; w3 = w2 & 0xffff (type); w2 >>= 16 (access)
 *   r4 = ctx->major; r5 = ctx->minor
 *   for each rule: type, major, minor (unless *), then access (unless all
 *     three), each a jump to the next rule when it does not match;
 *     r0 = 1; exit
 *   r0 = 0; exit
 */
#include "zone/devfilter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/xalloc.h"

#define INSN(c, d, s, o, i)                                                    \
	((struct bpf_insn){.code = (c),                                        \
			   .dst_reg = (d),                                     \
			   .src_reg = (s),                                     \
			   .off = (o),                                         \
			   .imm = (i)})

#define LOG_SIZE (64 * 1024)

struct dev_rule {
	int type;	   /* BPF_DEVCG_DEV_CHAR or _BLOCK */
	long major, minor; /* -1: any */
	unsigned access;   /* BPF_DEVCG_ACC_* bits */
};

/* A number or "*" up to the character stop; returns the rest or NULL. */
static const char *num_or_any(const char *s, char stop, long *out)
{
	if (*s == '*') {
		*out = -1;
		s++;
	} else {
		char *end;
		errno = 0;
		long v = strtol(s, &end, 10);
		if (end == s || errno || v < 0 || v > 0xfffff)
			return NULL;
		*out = v;
		s = end;
	}
	return *s == stop ? s + 1 : NULL;
}

static int rule_parse(const char *s, struct dev_rule *r)
{
	if ((s[0] != 'c' && s[0] != 'b') || s[1] != ' ')
		return -EINVAL;
	r->type = s[0] == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
	if (!(s = num_or_any(s + 2, ':', &r->major)) ||
	    !(s = num_or_any(s, ' ', &r->minor)))
		return -EINVAL;
	r->access = 0;
	for (; *s; s++) {
		unsigned bit = *s == 'r'   ? BPF_DEVCG_ACC_READ
			       : *s == 'w' ? BPF_DEVCG_ACC_WRITE
			       : *s == 'm' ? BPF_DEVCG_ACC_MKNOD
					   : 0;
		if (!bit)
			return -EINVAL;
		r->access |= bit;
	}
	return r->access ? 0 : -EINVAL;
}

int zone_devfilter_build(const char *const *rules, size_t n,
			 struct bpf_insn *insns, struct hull_err *err)
{
	if (n > ZONE_DEVFILTER_MAX_RULES)
		return hull_err_set(err, EINVAL,
				    "device filter: %zu rules, "
				    "at most %d",
				    n, ZONE_DEVFILTER_MAX_RULES);
	const unsigned all =
	    BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
	int k = 0;
	insns[k++] =
	    INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);
	insns[k++] =
	    INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
	insns[k++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_3, 0, 0, 0xffff);
	insns[k++] = INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_2, 0, 0, 16);
	insns[k++] =
	    INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0);
	insns[k++] =
	    INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0);
	for (size_t i = 0; i < n; i++) {
		struct dev_rule r;
		if (rule_parse(rules[i], &r) < 0)
			return hull_err_set(err, EINVAL,
					    "device filter: bad rule '%s'",
					    rules[i]);
		int jumps[3], nj = 0;
		jumps[nj++] = k;
		insns[k++] =
		    INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_3, 0, 0, r.type);
		if (r.major >= 0) {
			jumps[nj++] = k;
			insns[k++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4,
					  0, 0, (int)r.major);
		}
		if (r.minor >= 0) {
			jumps[nj++] = k;
			insns[k++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5,
					  0, 0, (int)r.minor);
		}
		/* An access the rule does not grant: the next rule. */
		int acc_jump = -1;
		if (r.access != all) {
			insns[k++] = INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_6,
					  BPF_REG_2, 0, 0);
			insns[k++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_6,
					  0, 0, (int)(all & ~r.access));
			acc_jump = k;
			insns[k++] =
			    INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_6, 0, 0, 0);
		}
		insns[k++] =
		    INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
		insns[k++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		/* Each jump lands on the next rule's first instruction. */
		for (int j = 0; j < nj; j++)
			insns[jumps[j]].off = (short)(k - jumps[j] - 1);
		if (acc_jump >= 0)
			insns[acc_jump].off = (short)(k - acc_jump - 1);
	}
	insns[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
	insns[k++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return k;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/* Loads the program; a refusal can only be a bug of ours: then again with
 * the verifier's log, whose last line names it. */
static int prog_load(const struct bpf_insn *insns, int count,
		     struct hull_err *err)
{
	union bpf_attr load;
	memset(&load, 0, sizeof(load));
	load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	load.insns = (uint64_t)(uintptr_t)insns;
	load.insn_cnt = (uint32_t)count;
	load.license = (uint64_t)(uintptr_t) "GPL";
	int prog = sys_bpf(BPF_PROG_LOAD, &load); /* close-on-exec */
	if (prog >= 0)
		return prog;
	_cleanup_free_ char *log = xmalloc(LOG_SIZE);
	log[0] = '\0';
	load.log_buf = (uint64_t)(uintptr_t)log;
	load.log_size = LOG_SIZE;
	load.log_level = 1;
	prog = sys_bpf(BPF_PROG_LOAD, &load);
	if (prog >= 0)
		return prog;
	int e = errno;
	size_t len = strnlen(log, LOG_SIZE - 1);
	log[len] = '\0';
	while (len && log[len - 1] == '\n')
		log[--len] = '\0';
	char *last = strrchr(log, '\n');
	last = last ? last + 1 : log;
	return hull_err_sys(err, e, "device filter: load%s%s",
			    *last ? ": " : "", last);
}

int zone_devfilter_attach(const char *dir, const char *const *rules, size_t n,
			  struct hull_err *err)
{
	struct bpf_insn insns[ZONE_DEVFILTER_MAX_INSNS];
	int count = zone_devfilter_build(rules, n, insns, err);
	if (count < 0)
		return count;
	int prog = prog_load(insns, count, err);
	if (prog < 0)
		return prog;
	int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		int e = errno;
		close(prog);
		return hull_err_sys(err, e, "device filter: open %s", dir);
	}
	union bpf_attr at;
	memset(&at, 0, sizeof(at));
	at.target_fd = (uint32_t)cg;
	at.attach_bpf_fd = (uint32_t)prog;
	at.attach_type = BPF_CGROUP_DEVICE;
	at.attach_flags = BPF_F_ALLOW_MULTI;
	int r = sys_bpf(BPF_PROG_ATTACH, &at);
	int e = errno;
	/* The attachment holds the program; our descriptors can go. */
	close(cg);
	close(prog);
	if (r < 0)
		return hull_err_sys(err, e, "device filter: attach to %s", dir);
	return 0;
}
