/*
 * `auditshipctl buffer stat|check|dump --state-dir DIR [--payload]`: offline
 * inspection of the disk buffer in DIR/buffer (see src/buffer/offline.c).
 * Exit codes: 0 fine, 1 damage found or an error, 2 usage.  dump prints one
 * line per record (position, type, input, chain, seq, payload length) and,
 * with --payload, the payload itself: the operator asked for the contents.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/buffer.h"
#include "buffer/segment.h"
#include "core/error.h"
#include "core/mem.h"
#include "bufctl.h"

struct bufctl_dump {
    bool payload;
};

static void
bufctl_usage(void)
{
    fprintf(stderr, "usage: auditshipctl buffer stat|check|dump "
                    "--state-dir DIR [--payload]\n");
}

static const char *
bufctl_type(uint8_t t)
{
    switch (t) {
    case AS_BREC_EVENT:
        return "event";
    case AS_BREC_DEADLETTER:
        return "deadletter";
    case AS_BREC_STATE:
        return "state";
    default:
        return "unknown";
    }
}

static int
bufctl_dump_cb(void *arg, const struct as_brec *r, const struct as_bpos *at)
{
    struct bufctl_dump *d = arg;

    printf("%016" PRIx64 ":%" PRIu64 " %s input=%s chain=%s seq=%" PRIu64
           " len=%zu",
           at->segment, at->offset, bufctl_type(r->type),
           r->input[0] != '\0' ? r->input : "-",
           r->chain[0] != '\0' ? r->chain : "-", r->seq, r->payload_len);
    if (r->has_pos) {
        printf(" pos=%" PRIu64 ":%" PRIu64 ":%" PRIu64, r->pos.dev, r->pos.ino,
               r->pos.offset);
    }
    if (d->payload && r->payload_len > 0) {
        putchar(' ');
        fwrite(r->payload, 1, r->payload_len, stdout);
    }
    putchar('\n');
    return 0;
}

int
as_ctl_buffer(int argc, char **argv)
{
    struct bufctl_dump d = {false};
    const char *cmd, *state_dir = NULL;
    char *dir = NULL;
    int r, rc = 1;

    if (argc < 2) {
        bufctl_usage();
        return 2;
    }
    cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc) {
            state_dir = argv[++i];
        } else if (strcmp(argv[i], "--payload") == 0) {
            d.payload = true;
        } else {
            bufctl_usage();
            return 2;
        }
    }
    if (state_dir == NULL) {
        state_dir = AS_LOCALSTATEDIR "/lib/auditship";
    }
    as_asprintf(&dir, "%s/buffer", state_dir);
    if (strcmp(cmd, "stat") == 0) {
        r = as_buffer_stat(dir, stdout);
    } else if (strcmp(cmd, "check") == 0) {
        r = as_buffer_check(dir, stdout);
    } else if (strcmp(cmd, "dump") == 0) {
        r = as_buffer_scan(dir, bufctl_dump_cb, &d);
    } else {
        bufctl_usage();
        rc = 2;
        goto out;
    }
    fflush(stdout);
    if (r < 0 && r != AS_ERR_CORRUPT) {
        fprintf(stderr, "auditshipctl: buffer %s: %s: %s\n", cmd, dir,
                as_strerror(r));
    }
    rc = r == 0 ? 0 : 1;
out:
    free(dir);
    return rc;
}
