/*
 * File system helpers: see fsutil.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "mem.h"

int
as_mkdirs(const char *path, bool parent_only)
{
    return as_mkdirs_mode(path, parent_only, 0750);
}

int
as_mkdirs_mode(const char *path, bool parent_only, unsigned mode)
{
    char *tmp = as_strdup(path);
    char *end = parent_only ? strrchr(tmp, '/') : tmp + strlen(tmp);
    int rc = 0;

    if (end == NULL || end == tmp) {
        free(tmp);
        return 0;
    }
    *end = '\0';
    for (char *s = tmp + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;

            *s = '\0';
            if (mkdir(tmp, (mode_t) mode) != 0 && errno != EEXIST) {
                rc = -errno;
                break;
            }
            *s = c;
            if (c == '\0') {
                break;
            }
        }
    }
    free(tmp);
    return rc;
}
