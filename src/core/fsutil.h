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

#endif
