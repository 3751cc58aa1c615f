/*
 * `auditshipctl buffer stat|dump --state-dir DIR`: offline inspection of the
 * disk buffer.
 */
#ifndef AS_BUFCTL_H
#define AS_BUFCTL_H

/* argv[0] is "buffer".  Returns the process exit code. */
int as_ctl_buffer(int argc, char **argv);

#endif
