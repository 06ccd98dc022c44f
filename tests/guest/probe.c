/*
 * probe.c - a stand-in emulator for the double hull's tests
 * (tests/integration/test_vmmzone.py): run as "the emulator" inside the
 * hull, it reports what it can see and do, one fact per line.
 *
 *   hull-probe [--own PATH] [--try PATH]... [--trywrite PATH]... [--run DIR]
 *
 * --own: a disk it must be able to open read-write; --try: paths it must
 * not be able to open (the host's files, another instance's disk);
 * --run: a directory to create a file in; --subvol: a directory to make a
 * btrfs subvolume in (which the hull's filter refuses).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

static void open_report(const char *what, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd >= 0) {
		printf("%s %s: opened\n", what, path);
		close(fd);
	} else {
		printf("%s %s: %s\n", what, path, strerror(errno));
	}
}

static void list(const char *label, const char *dir, int numeric_only)
{
	DIR *d = opendir(dir);
	printf("%s:", label);
	if (!d) {
		printf(" (%s)\n", strerror(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (numeric_only && (e->d_name[0] < '0' || e->d_name[0] > '9'))
			continue;
		printf(" %s", e->d_name);
	}
	closedir(d);
	printf("\n");
}

static void status_line(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			printf("status %s", line);
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	printf("pid: %d\n", (int)getpid());
	printf("hostname: %s\n", host);
	list("proc", "/proc", 1);
	list("root", "/", 0);
	list("dev", "/dev", 0);
	status_line("CapEff");
	status_line("CapBnd");
	status_line("NoNewPrivs");
	status_line("Uid");
	status_line("Gid");
	status_line("Groups");
	char line[256];
	FILE *f = fopen("/proc/self/cgroup", "re");
	while (f && fgets(line, sizeof(line), f))
		printf("cgroup: %s", line);
	if (f)
		fclose(f);
	f = fopen("/proc/net/dev", "re");
	printf("net:");
	for (int n = 0; f && fgets(line, sizeof(line), f); n++) {
		char *c = strchr(line, ':');
		if (n < 2 || !c)
			continue;
		*c = '\0';
		char *s = line;
		while (*s == ' ')
			s++;
		printf(" %s", s);
	}
	printf("\n");
	if (f)
		fclose(f);
	if (mount("none", "/proc", "tmpfs", 0, NULL) < 0)
		printf("mount: %s\n", strerror(errno));
	else
		printf("mount: done\n");
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--own")) {
			open_report("own", argv[i + 1], O_RDWR);
		} else if (!strcmp(argv[i], "--try")) {
			open_report("try", argv[i + 1], O_RDONLY);
		} else if (!strcmp(argv[i], "--trywrite")) {
			open_report("trywrite", argv[i + 1], O_WRONLY);
		} else if (!strcmp(argv[i], "--subvol")) {
			struct btrfs_ioctl_vol_args a;
			memset(&a, 0, sizeof(a));
			strcpy(a.name, "probe-subvol");
			int fd = open(argv[i + 1],
				      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			int r = fd < 0 ? -1
				       : ioctl(fd, BTRFS_IOC_SUBVOL_CREATE, &a);
			printf("subvol %s: %s\n", argv[i + 1],
			       r == 0 ? "made" : strerror(errno));
			if (fd >= 0)
				close(fd);
		} else if (!strcmp(argv[i], "--run")) {
			char p[4096];
			snprintf(p, sizeof(p), "%s/probe.out", argv[i + 1]);
			open_report("run", p, O_WRONLY | O_CREAT | O_TRUNC);
		}
	}
	fflush(stdout);
	return 0;
}
