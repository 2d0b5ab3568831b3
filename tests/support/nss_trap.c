/*
 * nss_trap.c - linked with -Wl,--wrap=... into a test build of a bootstrap to
 * prove that glibc's NSS and dynamic loading are never reached at run time:
 * static glibc would need the host's shared NSS modules for them, and the
 * Lambda host's may not match. Each wrapper aborts loudly.
 */
#include <stdio.h>
#include <stdlib.h>

#include "banned.h"

#define TRAP(name)                                                                  \
	void __wrap_##name(void);                                                   \
	void __wrap_##name(void)                                                    \
	{                                                                           \
		fputs("nss_trap: " #name " was called in a static build\n", stderr); \
		abort();                                                            \
	}

TRAP(getaddrinfo)
TRAP(gethostbyname)
TRAP(gethostbyname_r)
TRAP(getservbyname)
TRAP(getservbyname_r)
TRAP(getservbyport)
TRAP(getservbyport_r)
TRAP(getpwnam)
TRAP(getpwnam_r)
TRAP(getpwuid)
TRAP(getpwuid_r)
TRAP(dlopen)
TRAP(dlsym)
