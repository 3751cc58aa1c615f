/*
 * auditshipctl: the operator's command line tool.  Dispatches to one
 * function per subcommand (verify, keygen, buffer, send; status is not
 * implemented yet).  Owns nothing; every subcommand returns the exit code:
 * 0 success, 1 the check failed (send: the agent is not reachable or a
 * write failed), 2 usage or I/O error.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "ctl/bufctl.h"
#include "ctl/keygen.h"
#include "ctl/send.h"
#include "ctl/verify.h"

static void
ctl_usage(FILE *f)
{
    fprintf(f, "usage: auditshipctl COMMAND [ARGS]\n"
               "  verify [--pubkey FILE] [--quiet] FILE...  check hash chains\n"
               "  keygen --out PREFIX                     Ed25519 key pair\n"
               "  buffer stat|dump --state-dir DIR        inspect the buffer\n"
               "  send [--socket PATH] [--datagram] [EVENT_JSON | -]\n"
               "  status [--url URL]\n"
               "  --help, --version\n");
}

int
main(int argc, char **argv)
{
    const char *cmd;

    as_log_init("auditshipctl");
    if (argc < 2) {
        ctl_usage(stderr);
        return 2;
    }
    cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("auditshipctl %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        strcmp(cmd, "help") == 0) {
        ctl_usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "verify") == 0) {
        return as_ctl_verify(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "keygen") == 0) {
        return as_ctl_keygen(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "buffer") == 0) {
        return as_ctl_buffer(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "send") == 0) {
        return as_ctl_send(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "status") == 0) {
        fprintf(stderr, "auditshipctl: %s: not implemented yet\n", cmd);
        return 2;
    }
    fprintf(stderr, "auditshipctl: unknown command: %s\n", cmd);
    ctl_usage(stderr);
    return 2;
}
