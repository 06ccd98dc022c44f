/*
 * probe.c - whether KVM runs full guests here (see probe.h).
 */
#include "hvm/probe.h"

#include <stdlib.h>
#include <string.h>

#include "lib/fileio.h"
#include "lib/host.h"

bool hvm_cpuinfo_has_virt(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if ((size_t)(le - p) > 5 && !strncmp(p, "flags", 5)) {
			const char *w = memchr(p, ':', (size_t)(le - p));
			while (w && w < le) {
				while (w < le &&
				       (*w == ' ' || *w == ':' || *w == '\t'))
					w++;
				const char *we = w;
				while (we < le && *we != ' ' && *we != '\t')
					we++;
				size_t l = (size_t)(we - w);
				if (l == 3 && (!memcmp(w, "vmx", 3) ||
					       !memcmp(w, "svm", 3)))
					return true;
				w = we;
			}
			return false; /* the first CPU speaks for all */
		}
		p = nl ? nl + 1 : end;
	}
	return false;
}

bool hvm_kvm_full(void)
{
	if (!host_kvm_usable(NULL))
		return false;
	char *text = NULL;
	size_t len = 0;
	if (hull_file_read("/proc/cpuinfo", 4 << 20, &text, &len, NULL) < 0)
		return false;
	bool ok = hvm_cpuinfo_has_virt(text, len);
	free(text);
	return ok;
}
