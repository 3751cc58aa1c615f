/*
 * `auditshipctl send [--socket PATH] [--datagram] [EVENT_JSON | -]`: writes
 * events to the agent's socket input.
 */
#ifndef AS_CTL_SEND_H
#define AS_CTL_SEND_H

/* The socket of the DESIGN example config. */
#define AS_CTL_SEND_SOCKET "/run/auditship/audit.sock"

/* argv[0] is "send".  Returns the process exit code (0, 1 or 2). */
int as_ctl_send(int argc, char **argv);

#endif
