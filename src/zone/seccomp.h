/*
 * seccomp.h - the syscall filter of every zone process (init and zlogin).
 *
 * A deny list that answers EPERM: loading kernel modules, kexec, reboot
 * commands other than those a pid namespace turns into "kill my init",
 * keyctl and friends (the keyring is not namespaced), bpf, perf_event_open,
 * open_by_handle_at (the "shocker" escape), swap, accounting, clock
 * setting, I/O ports, userfaultfd, new user namespaces (unshare/clone with
 * CLONE_NEWUSER; clone3 answers ENOSYS so libc falls back to clone, whose
 * flags a filter can see). For the lx brand uname(2) goes to the
 * supervisor through a user-notification listener.
 */
#ifndef HULL_ZONE_SECCOMP_H
#define HULL_ZONE_SECCOMP_H
#include <stdbool.h>
#include "lib/err.h"
/* Loads the filter into the calling thread. With notify_uname, returns the
 * listener descriptor (>= 0, close-on-exec) the caller must pass to the
 * supervisor, else 0; notify_sethostname sends sethostname(2) there too
 * (for zones that lack CAP_SYS_ADMIN over their uts namespace). */
int zone_seccomp_load(bool notify_uname, bool notify_sethostname,
		      struct hull_err *err);
#endif
