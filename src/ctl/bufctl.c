/* Placeholder: `auditshipctl buffer` lands with the disk buffer. */
#include <stdio.h>

#include "bufctl.h"

int
as_ctl_buffer(int argc, char **argv)
{
    (void) argc;
    (void) argv;
    fprintf(stderr, "auditshipctl: buffer: not implemented yet\n");
    return 2;
}
