/*
 * Micro benchmark: the loop-thread cost of as_buffer_append for a 600-byte
 * record (framing, crc32 and the copy into the staging area).  The flushes
 * run on the thread pool between rounds and are not timed.
 * Usage: bench/buffer-append [records] (default 500000).
 * Build: make bench/buffer-append.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buffer/buffer.h"
#include "core/error.h"

static void
bench_snapshot(void *arg, struct as_buffer *b)
{
    (void) arg;
    (void) b;
}

static void
bench_close_cb(void *arg, int status)
{
    *(int *) arg = status;
}

static uint64_t
bench_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

int
main(int argc, char **argv)
{
    struct as_conf_buffer conf = {AS_BUFFER_DISK, 8ull << 30, AS_FSYNC_BATCH,
                                  AS_WHEN_FULL_BLOCK};
    struct as_buffer_hooks hooks;
    struct as_buffer *b;
    struct as_brec r;
    char dir[] = "/tmp/as-bench-XXXXXX", cmd[64], payload[600];
    uv_loop_t loop;
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 500000;
    uint64_t t, spent = 0, best = UINT64_MAX;
    int status = -1;

    if (mkdtemp(dir) == NULL || uv_loop_init(&loop) != 0) {
        return 1;
    }
    memset(&hooks, 0, sizeof(hooks));
    hooks.snapshot = bench_snapshot;
    if (as_buffer_open(&loop, dir, &conf, &hooks, &b) != 0) {
        return 1;
    }
    memset(payload, 'a', sizeof(payload));
    memset(&r, 0, sizeof(r));
    r.type = AS_BREC_EVENT;
    r.input = "app";
    r.source = "/var/log/app/audit.log";
    r.has_pos = true;
    r.chain = "host1/app";
    r.epoch = "0123456789abcdef0123456789abcdef";
    r.hash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    r.payload = payload;
    r.payload_len = sizeof(payload);
    for (uint64_t i = 0; i < n; i += 1000) {
        uint64_t round;

        t = bench_ns();
        for (uint64_t j = 0; j < 1000; j++) {
            r.seq = i + j;
            r.pos.offset = (i + j) * 601;
            r.received_ns = (int64_t) t;
            if (as_buffer_append(b, &r) != 0) {
                return 1;
            }
        }
        round = bench_ns() - t;
        spent += round;
        best = round < best ? round : best;
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    printf("as_buffer_append, 600-byte payload: %.1f ns/record mean, "
           "%.1f ns/record best round (%" PRIu64 " records)\n",
           (double) spent / (double) n, (double) best / 1000.0, n);
    as_buffer_close(b, bench_close_cb, &status);
    uv_run(&loop, UV_RUN_DEFAULT);
    as_buffer_free(b);
    uv_loop_close(&loop);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 && status == 0 ? 0 : 1;
}
