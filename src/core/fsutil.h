/*
 * Small file system helpers shared by the core and the plugins.
 */
#ifndef AS_FSUTIL_H
#define AS_FSUTIL_H

#include <stdbool.h>

/*
 * Creates path and its missing parents (mode 0750), like mkdir -p; with
 * parent_only, only the directories above the last '/'.  Returns 0 or
 * -errno.
 */
int as_mkdirs(const char *path, bool parent_only);
/* The same with the given mode (before the umask) for the directories it
 * creates; the socket input uses 0755 so that clients can reach it. */
int as_mkdirs_mode(const char *path, bool parent_only, unsigned mode);

#endif
