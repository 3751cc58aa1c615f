/*
 * The disk buffer against real files in a mkdtemp directory and a real uv
 * loop run until the flushes complete: round trip, snapshots and recovery,
 * segment roll and deletion, cursors (two speeds, persistence, rewind),
 * damage (torn tail, corrupt middle, garbage files), max_bytes with
 * drop_newest and block, the memory bound, the want() filter, the fsync
 * modes and the offline stat/check/scan functions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "buffer/buffer.h"
#include "buffer/segment.h"
#include "core/error.h"
#include "core/log.h"
#include "core/stage.h"
#include "ctl/bufctl.h"

#define MAX_REC 20000

struct fx {
    char root[64];
    char dir[128];
    uv_loop_t loop;
    struct as_buffer *b;
    struct as_conf_buffer conf;
    struct as_buffer_hooks hooks;
    /* What the hooks saw. */
    int full_true, full_false;
    bool full;
    int readable;
    int snapshots;
    uint64_t last_offset; /* source offset of the last event appended */
    size_t nrec;
    uint8_t rec_type[MAX_REC];
    uint64_t rec_seq[MAX_REC];
    uint64_t rec_off[MAX_REC];
    bool closed;
    int close_status;
};

static void
fx_recover(void *arg, const struct as_brec *r)
{
    struct fx *fx = arg;

    assert_true(fx->nrec < MAX_REC);
    fx->rec_type[fx->nrec] = r->type;
    fx->rec_seq[fx->nrec] = r->seq;
    fx->rec_off[fx->nrec] = r->has_pos ? r->pos.offset : 0;
    fx->nrec++;
    if (r->has_pos && r->pos.offset > fx->last_offset) {
        fx->last_offset = r->pos.offset;
    }
}

static void
fx_snapshot(void *arg, struct as_buffer *b)
{
    struct fx *fx = arg;
    struct as_brec r;

    memset(&r, 0, sizeof(r));
    r.type = AS_BREC_STATE;
    r.input = "in";
    r.source = "/var/log/app.log";
    r.has_pos = true;
    r.pos.dev = 1;
    r.pos.ino = 2;
    r.pos.offset = fx->last_offset;
    r.chain = "";
    r.seq = (uint64_t) fx->snapshots;
    r.payload = "";
    fx->snapshots++;
    assert_int_equal(as_buffer_append(b, &r), 0);
}

static void
fx_readable(void *arg)
{
    ((struct fx *) arg)->readable++;
}

static void
fx_full(void *arg, bool full)
{
    struct fx *fx = arg;

    assert_true(full != fx->full);
    fx->full = full;
    if (full) {
        fx->full_true++;
    } else {
        fx->full_false++;
    }
}

static int
fx_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    strcpy(fx->root, "/tmp/as-buffer-XXXXXX");
    assert_non_null(mkdtemp(fx->root));
    snprintf(fx->dir, sizeof(fx->dir), "%s/buffer", fx->root);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    fx->conf.type = AS_BUFFER_DISK;
    fx->conf.max_bytes = 1ull << 30;
    fx->conf.fsync = AS_FSYNC_BATCH;
    fx->conf.when_full = AS_WHEN_FULL_BLOCK;
    fx->hooks.recover = fx_recover;
    fx->hooks.snapshot = fx_snapshot;
    fx->hooks.readable = fx_readable;
    fx->hooks.full = fx_full;
    fx->hooks.arg = fx;
    *state = fx;
    return 0;
}

static void
fx_open(struct fx *fx)
{
    fx->nrec = 0;
    fx->closed = false;
    assert_int_equal(
        as_buffer_open(&fx->loop, fx->dir, &fx->conf, &fx->hooks, &fx->b), 0);
}

static void
fx_run(struct fx *fx)
{
    uv_run(&fx->loop, UV_RUN_DEFAULT);
}

static void
fx_close_cb(void *arg, int status)
{
    struct fx *fx = arg;

    fx->closed = true;
    fx->close_status = status;
}

static void
fx_close(struct fx *fx)
{
    if (fx->b == NULL) {
        return;
    }
    as_buffer_close(fx->b, fx_close_cb, fx);
    fx_run(fx);
    assert_true(fx->closed);
    assert_int_equal(fx->close_status, 0);
    as_buffer_free(fx->b);
    fx->b = NULL;
}

static int
fx_teardown(void **state)
{
    struct fx *fx = *state;
    char cmd[256];

    fx_close(fx);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->root);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

/* Appends an event whose payload is "ev-%06llu" padded to size bytes. */
static int
fx_append_type(struct fx *fx, uint8_t type, const char *input, uint64_t seq,
               size_t size)
{
    static char payload[8192];
    struct as_brec r;
    int n;

    memset(&r, 0, sizeof(r));
    n = snprintf(payload, sizeof(payload), "ev-%06llu",
                 (unsigned long long) seq);
    if (size < (size_t) n) {
        size = (size_t) n;
    }
    assert_true(size < sizeof(payload));
    memset(payload + n, 'x', size - (size_t) n);
    r.type = type;
    r.input = input;
    r.source = "/var/log/app.log";
    r.has_pos = true;
    r.pos.dev = 1;
    r.pos.ino = 2;
    r.pos.fp = 0xabcdef;
    r.pos.fp_len = 256;
    r.pos.offset = seq * 100;
    r.chain = "host/in";
    r.epoch = "0123456789abcdef0123456789abcdef";
    r.seq = seq;
    r.hash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    r.received_ns = 1000 + (int64_t) seq;
    r.payload = payload;
    r.payload_len = size;
    n = as_buffer_append(fx->b, &r);
    if (n == 0) {
        fx->last_offset = r.pos.offset;
    }
    return n;
}

static int
fx_append(struct fx *fx, uint64_t seq, size_t size)
{
    return fx_append_type(fx, AS_BREC_EVENT, "in", seq, size);
}

static size_t
fx_count_events(const struct fx *fx)
{
    size_t n = 0;

    for (size_t i = 0; i < fx->nrec; i++) {
        n += fx->rec_type[i] == AS_BREC_EVENT;
    }
    return n;
}

/* Reads everything readable through c, commits, returns the count; checks
 * that seqs ascend from *next. */
static size_t
fx_drain(struct as_cursor *c, uint64_t *next, size_t max_n, bool commit)
{
    struct as_rbatch rb;
    size_t total = 0;
    int n;

    as_rbatch_init(&rb);
    while ((n = as_cursor_read(c, max_n, 1 << 20, NULL, NULL, &rb)) > 0) {
        for (int i = 0; i < n; i++) {
            if (next != NULL) {
                assert_int_equal(rb.recs[i].seq, *next);
                (*next)++;
            }
        }
        total += (size_t) n;
        if (commit) {
            assert_int_equal(as_cursor_commit(c, &rb.end), 0);
        }
    }
    assert_int_equal(n, 0);
    as_rbatch_free(&rb);
    return total;
}

static size_t
fx_count_segfiles(const struct fx *fx)
{
    DIR *d = opendir(fx->dir);
    struct dirent *de;
    uint64_t id;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        n += as__seg_name_parse(de->d_name, &id) == 0;
    }
    closedir(d);
    return n;
}

static void
fx_seg_path(const struct fx *fx, uint64_t id, char *out, size_t size)
{
    assert_int_equal(as__seg_path(out, size, fx->dir, id), 0);
}

/* ---- tests ---- */

static void
test_roundtrip(void **state)
{
    struct fx *fx = *state;
    struct as_cursor *c;
    struct as_rbatch rb;
    struct as_buffer_stats st;
    char want[32];

    fx_open(fx);
    assert_int_equal(fx->snapshots, 1);
    for (uint64_t i = 1; i <= 100; i++) {
        assert_int_equal(fx_append(fx, i, 0), 0);
    }
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    as_rbatch_init(&rb);
    /* Nothing is readable before the flush ran. */
    assert_int_equal(as_cursor_read(c, 1000, 1 << 20, NULL, NULL, &rb), 0);
    fx_run(fx);
    assert_true(fx->readable >= 1);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.oldest_unshipped_ns, 1001);
    assert_int_equal(st.records_appended, 101); /* + the snapshot */
    assert_int_equal(as_cursor_read(c, 1000, 1 << 20, NULL, NULL, &rb), 100);
    assert_int_equal(rb.n, 100);
    for (size_t i = 0; i < rb.n; i++) {
        snprintf(want, sizeof(want), "ev-%06zu", i + 1);
        assert_int_equal(rb.recs[i].len, strlen(want));
        assert_memory_equal(rb.data.data + rb.recs[i].off, want, strlen(want));
        assert_int_equal(rb.data.data[rb.recs[i].off + rb.recs[i].len], '\n');
        assert_string_equal(rb.recs[i].input, "in");
        assert_string_equal(rb.recs[i].chain, "host/in");
        assert_int_equal(rb.recs[i].seq, i + 1);
        assert_int_equal(rb.meta[i].type, AS_BREC_EVENT);
        assert_string_equal(rb.meta[i].source, "/var/log/app.log");
        assert_string_equal(rb.meta[i].epoch,
                            "0123456789abcdef0123456789abcdef");
        assert_int_equal(strlen(rb.meta[i].hash), 64);
        assert_true(rb.meta[i].has_pos);
        assert_int_equal(rb.meta[i].pos.offset, (i + 1) * 100);
        assert_int_equal(rb.meta[i].pos.fp_len, 256);
        assert_int_equal(rb.meta[i].received_ns, 1001 + (int64_t) i);
    }
    assert_int_equal(rb.data.len, 100 * 10);
    assert_int_equal(as_cursor_read(c, 1000, 1 << 20, NULL, NULL, &rb), 0);
    /* Commit the first half only (positions from a bounded read). */
    as_cursor_rewind(c);
    assert_int_equal(as_cursor_read(c, 50, 1 << 20, NULL, NULL, &rb), 50);
    assert_int_equal(as_cursor_commit(c, &rb.end), 0);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.oldest_unshipped_ns, 1051);
    assert_int_equal(as_cursor_read(c, 1000, 1 << 20, NULL, NULL, &rb), 50);
    assert_int_equal(rb.recs[0].seq, 51);
    assert_int_equal(as_cursor_commit(c, &rb.end), 0);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.oldest_unshipped_ns, 0);
    /* max_bytes still returns one record when it is larger. */
    assert_int_equal(fx_append(fx, 101, 5000), 0);
    assert_int_equal(fx_append(fx, 102, 5000), 0);
    fx_run(fx);
    assert_int_equal(as_cursor_read(c, 1000, 100, NULL, NULL, &rb), 1);
    assert_int_equal(rb.recs[0].seq, 101);
    assert_int_equal(as_cursor_read(c, 1000, 100, NULL, NULL, &rb), 1);
    assert_int_equal(rb.recs[0].seq, 102);
    as_rbatch_free(&rb);
    as_cursor_close(c);
    fx_close(fx);
}

static void
test_recovery_snapshot(void **state)
{
    struct fx *fx = *state;
    struct as__reader rd;
    struct as__frame f;
    struct as_brec br;
    uint64_t pos = 0, skipped = 0;
    char path[256];
    int fd;

    fx_open(fx);
    assert_int_equal(fx->nrec, 0);
    for (uint64_t i = 1; i <= 30; i++) {
        assert_int_equal(fx_append(fx, i, 20), 0);
    }
    fx_close(fx);
    fx->last_offset = 0;
    fx_open(fx);
    /* Snapshot of segment 1, then every record after it, in order. */
    assert_int_equal(fx->nrec, 31);
    assert_int_equal(fx->rec_type[0], AS_BREC_STATE);
    assert_int_equal(fx->rec_off[0], 0);
    for (size_t i = 1; i <= 30; i++) {
        assert_int_equal(fx->rec_type[i], AS_BREC_EVENT);
        assert_int_equal(fx->rec_seq[i], i);
    }
    assert_int_equal(fx->last_offset, 3000);
    assert_int_equal(fx->snapshots, 2);
    assert_int_equal(fx_append(fx, 31, 20), 0);
    fx_close(fx);
    /* Segment 2 starts with the state recovered from segment 1. */
    fx_seg_path(fx, 2, path, sizeof(path));
    assert_true((fd = open(path, O_RDONLY)) >= 0);
    as__reader_init(&rd, fd, 1 << 20);
    assert_int_equal(as__reader_next(&rd, &pos, &f, &skipped), AS__RD_OK);
    assert_int_equal(as__brec_decode(f.body, f.len, &br), 0);
    assert_int_equal(br.type, AS_BREC_STATE);
    assert_int_equal(br.pos.offset, 3000);
    as__reader_free(&rd);
    close(fd);
    fx_open(fx);
    /* Only the newest segment is replayed: its snapshot and event 31. */
    assert_int_equal(fx->nrec, 2);
    assert_int_equal(fx->rec_type[0], AS_BREC_STATE);
    assert_int_equal(fx->rec_off[0], 3000);
    assert_int_equal(fx->rec_seq[1], 31);
    fx_close(fx);
}

static void
test_head_damaged_fallback(void **state)
{
    struct fx *fx = *state;
    char path[256];
    int fd;

    fx_open(fx);
    for (uint64_t i = 1; i <= 10; i++) {
        assert_int_equal(fx_append(fx, i, 20), 0);
    }
    fx_close(fx);
    fx_open(fx);
    for (uint64_t i = 11; i <= 20; i++) {
        assert_int_equal(fx_append(fx, i, 20), 0);
    }
    fx_close(fx);
    /* Smash the head (the snapshot) of segment 2. */
    fx_seg_path(fx, 2, path, sizeof(path));
    assert_true((fd = open(path, O_WRONLY)) >= 0);
    assert_int_equal(pwrite(fd, "\xff\xff\xff\xff", 4, 0), 4);
    close(fd);
    fx_open(fx);
    /* Falls back to segment 1: snapshot, 1..10, then 11..20 of segment 2. */
    assert_int_equal(fx->rec_type[0], AS_BREC_STATE);
    assert_int_equal(fx_count_events(fx), 20);
    assert_int_equal(fx->rec_seq[fx->nrec - 1], 20);
    fx_close(fx);
}

static void
test_roll_and_delete(void **state)
{
    struct fx *fx = *state;
    struct as_buffer_stats st;
    struct as_cursor *c;
    uint64_t next = 1;
    char path[256];

    fx->conf.max_bytes = 8ull << 20; /* 1 MiB segments */
    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    for (uint64_t i = 1; i <= 3000; i++) {
        assert_int_equal(fx_append(fx, i, 1000), 0);
    }
    fx_run(fx);
    as_buffer_get_stats(fx->b, &st);
    assert_true(st.segments >= 3);
    assert_int_equal(fx->snapshots, (int) st.segments);
    assert_int_equal(fx_count_segfiles(fx), st.segments);
    assert_true(st.bytes > 3000 * 1000);
    /* Every segment begins with its snapshot. */
    for (uint64_t id = 1; id <= st.segments; id++) {
        struct as__reader rd;
        struct as__frame f;
        struct as_brec br;
        uint64_t pos = 0, skipped = 0;
        int fd;

        fx_seg_path(fx, id, path, sizeof(path));
        assert_true((fd = open(path, O_RDONLY)) >= 0);
        as__reader_init(&rd, fd, 1 << 30);
        assert_int_equal(as__reader_next(&rd, &pos, &f, &skipped), AS__RD_OK);
        assert_int_equal(as__brec_decode(f.body, f.len, &br), 0);
        assert_int_equal(br.type, AS_BREC_STATE);
        assert_int_equal(br.seq, id - 1);
        assert_int_equal(as__reader_next(&rd, &pos, &f, &skipped), AS__RD_OK);
        assert_int_equal(as__brec_decode(f.body, f.len, &br), 0);
        assert_int_equal(br.type, AS__BREC_SNAPEND);
        as__reader_free(&rd);
        close(fd);
    }
    assert_int_equal(fx_drain(c, &next, 400, true), 3000);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.segments, 1);
    assert_int_equal(fx_count_segfiles(fx), 1);
    as_cursor_close(c);
    fx_close(fx);
}

static void
test_two_cursors(void **state)
{
    struct fx *fx = *state;
    struct as_buffer_stats st;
    struct as_cursor *fast, *slow, *dup;
    struct as_rbatch rb;
    uint64_t next = 1;
    uint64_t segs;

    fx->conf.max_bytes = 8ull << 20;
    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "fast", &fast), 0);
    assert_int_equal(as_buffer_cursor_open(fx->b, "slow", &slow), 0);
    assert_int_equal(as_buffer_cursor_open(fx->b, "slow", &dup), -EBUSY);
    for (uint64_t i = 1; i <= 3000; i++) {
        assert_int_equal(fx_append(fx, i, 1000), 0);
    }
    fx_run(fx);
    as_buffer_get_stats(fx->b, &st);
    segs = st.segments;
    assert_int_equal(fx_drain(fast, &next, 500, true), 3000);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.segments, segs); /* slow has not moved */
    assert_int_equal(st.oldest_unshipped_ns, 1001);
    as_rbatch_init(&rb);
    assert_int_equal(as_cursor_read(slow, 1500, 1 << 30, NULL, NULL, &rb),
                     1500);
    assert_int_equal(as_cursor_commit(slow, &rb.end), 0);
    as_buffer_get_stats(fx->b, &st);
    assert_true(st.segments < segs);
    assert_true(st.segments > 1);
    assert_int_equal(st.oldest_unshipped_ns, 2501);
    as_rbatch_free(&rb);
    next = 1501;
    assert_int_equal(fx_drain(slow, &next, 500, true), 1500);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.segments, 1);
    as_cursor_close(fast);
    as_cursor_close(slow);
    fx_close(fx);
}

/*
 * oldest_unshipped_ns follows the slowest cursor, and its scan reads the
 * segment bytes once: not again from the slowest position at every commit
 * of a faster cursor.  A scan that found only state records goes on when
 * an event becomes readable behind them.
 */
static void
test_oldest_scan(void **state)
{
    struct fx *fx = *state;
    const struct as_bpos start = {1, 0};
    struct as_buffer_stats st;
    struct as_cursor *out, *dl;
    struct as_rbatch rb;
    struct as_brec r;
    uint64_t next = 1, before;

    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &out), 0);
    assert_int_equal(as_buffer_cursor_open(fx->b, "dl", &dl), 0);
    memset(&r, 0, sizeof(r));
    r.type = AS_BREC_STATE;
    r.payload = "";
    for (int i = 0; i < 10; i++) {
        assert_int_equal(as_buffer_append(fx->b, &r), 0);
    }
    fx_run(fx);
    assert_int_equal(as_cursor_commit(out, &start), 0);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.oldest_unshipped_ns, 0);
    for (uint64_t i = 1; i <= 3000; i++) {
        assert_int_equal(fx_append(fx, i, 1000), 0);
    }
    fx_run(fx);
    assert_int_equal(as_cursor_commit(out, &start), 0);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.oldest_unshipped_ns, 1001);
    before = st.read_bytes;
    /* 30 commits of out while dl stays at the start. */
    assert_int_equal(fx_drain(out, &next, 100, true), 3000);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.oldest_unshipped_ns, 1001);
    if (st.read_bytes - before > st.bytes) {
        fail_msg("read %llu bytes of a %llu byte buffer",
                 (unsigned long long) (st.read_bytes - before),
                 (unsigned long long) st.bytes);
    }
    as_rbatch_init(&rb);
    assert_int_equal(as_cursor_read(dl, 1500, 1 << 30, NULL, NULL, &rb), 1500);
    assert_int_equal(as_cursor_commit(dl, &rb.end), 0);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.oldest_unshipped_ns, 2501);
    assert_int_equal(as_cursor_read(dl, 1, 1 << 30, NULL, NULL, &rb), 1);
    assert_int_equal(as_cursor_commit(dl, &rb.end), 0);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.oldest_unshipped_ns, 2502);
    as_rbatch_free(&rb);
    next = 1502;
    assert_int_equal(fx_drain(dl, &next, 700, true), 1499);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.oldest_unshipped_ns, 0);
    assert_int_equal(fx_append(fx, 3001, 10), 0);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.oldest_unshipped_ns, 4001);
    as_cursor_close(out);
    as_cursor_close(dl);
    fx_close(fx);
}

/* Opens the buffer, appends events 1..n of 30 bytes, opens cursor "out". */
static void
fx_fill_open(struct fx *fx, uint64_t n, struct as_cursor **c,
             struct as_rbatch *rb)
{
    fx_open(fx);
    for (uint64_t i = 1; i <= n; i++) {
        assert_int_equal(fx_append(fx, i, 30), 0);
    }
    fx_run(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", c), 0);
    as_rbatch_init(rb);
}

static void
test_cursor_persistence(void **state)
{
    struct fx *fx = *state;
    struct as_cursor *c;
    struct as_rbatch rb;
    uint64_t next;

    fx_fill_open(fx, 50, &c, &rb);
    assert_int_equal(as_cursor_read(c, 20, 1 << 20, NULL, NULL, &rb), 20);
    assert_int_equal(as_cursor_commit(c, &rb.end), 0);
    /* Read further, fail, rewind: the same records again. */
    assert_int_equal(as_cursor_read(c, 10, 1 << 20, NULL, NULL, &rb), 10);
    assert_int_equal(rb.recs[0].seq, 21);
    as_cursor_rewind(c);
    assert_int_equal(as_cursor_read(c, 10, 1 << 20, NULL, NULL, &rb), 10);
    assert_int_equal(rb.recs[0].seq, 21);
    as_cursor_close(c);
    fx_close(fx);

    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    /* A new cursor starts at the oldest retained record. */
    {
        struct as_cursor *c2;

        assert_int_equal(as_buffer_cursor_open(fx->b, "new", &c2), 0);
        next = 1;
        assert_int_equal(fx_drain(c2, &next, 1000, false), 50);
        as_cursor_close(c2);
    }
    next = 21;
    assert_int_equal(fx_drain(c, &next, 7, true), 30);
    as_cursor_close(c);
    as_rbatch_free(&rb);
    fx_close(fx);
}

static void fx_write_file(const char *path, const void *p, size_t n);

/* Reopens the buffer and cursor "out" and checks the next seq it reads. */
static void
fx_cursor_resumes_at(struct fx *fx, uint64_t seq)
{
    struct as_cursor *c;
    struct as_rbatch rb;

    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    as_rbatch_init(&rb);
    assert_int_equal(as_cursor_read(c, 1, 1 << 20, NULL, NULL, &rb), 1);
    assert_int_equal(rb.recs[0].seq, seq);
    as_rbatch_free(&rb);
    as_cursor_close(c);
    fx_close(fx);
}

static void
fx_flip_byte(const char *path, off_t at)
{
    unsigned char ch;
    int fd = open(path, O_RDWR);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &ch, 1, at), 1);
    ch ^= 0x5a;
    assert_int_equal(pwrite(fd, &ch, 1, at), 1);
    close(fd);
}

/*
 * The cursor file: commits write two slots in turn, in place; a damaged
 * newest slot falls back to the one before; a version 1 file (one record,
 * from before the slots) is still read and then rewritten as version 2.
 */
static void
test_cursor_file(void **state)
{
    struct fx *fx = *state;
    struct as_cursor *c;
    struct as_rbatch rb;
    struct as_bpos at10 = {0, 0};
    unsigned char v1[AS__CURSOR_V1_SIZE];
    char path[4200];
    struct stat st;
    uint32_t crc;

    snprintf(path, sizeof(path), "%s/cursors/out", fx->dir);
    fx_fill_open(fx, 50, &c, &rb);
    for (int k = 0; k < 3; k++) { /* generations 1, 2, 3 */
        assert_int_equal(as_cursor_read(c, 10, 1 << 20, NULL, NULL, &rb), 10);
        assert_int_equal(as_cursor_commit(c, &rb.end), 0);
        if (k == 0) {
            at10 = rb.end;
        }
    }
    as_rbatch_free(&rb);
    as_cursor_close(c);
    fx_close(fx);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, AS__CURSOR_SIZE);
    fx_cursor_resumes_at(fx, 31);

    /* Generation 3 is in slot 1: damaged, the cursor is back at gen 2. */
    fx_flip_byte(path, AS__CURSOR_SLOT + 20);
    fx_cursor_resumes_at(fx, 21);
    /* Both damaged: the oldest retained record (and a warning). */
    fx_flip_byte(path, 20);
    fx_cursor_resumes_at(fx, 1);

    /* Version 1: [magic][1][segment][offset][crc32 of the 24 bytes]. */
    memcpy(v1, "ABC1\1\0\0\0", 8);
    for (int i = 0; i < 8; i++) {
        v1[8 + i] = (unsigned char) (at10.segment >> (8 * i));
        v1[16 + i] = (unsigned char) (at10.offset >> (8 * i));
    }
    crc = (uint32_t) crc32(0L, v1, 24);
    for (int i = 0; i < 4; i++) {
        v1[24 + i] = (unsigned char) (crc >> (8 * i));
    }
    fx_write_file(path, v1, sizeof(v1));
    fx_cursor_resumes_at(fx, 11);
    /* A commit rewrites it as version 2, and reopening finds the place. */
    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    as_rbatch_init(&rb);
    assert_int_equal(as_cursor_read(c, 5, 1 << 20, NULL, NULL, &rb), 5);
    assert_int_equal(rb.recs[0].seq, 11);
    assert_int_equal(as_cursor_commit(c, &rb.end), 0);
    assert_int_equal(as_cursor_read(c, 5, 1 << 20, NULL, NULL, &rb), 5);
    assert_int_equal(as_cursor_commit(c, &rb.end), 0);
    as_rbatch_free(&rb);
    as_cursor_close(c);
    fx_close(fx);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, AS__CURSOR_SIZE);
    fx_cursor_resumes_at(fx, 21);
}

static void
test_torn_tail(void **state)
{
    struct fx *fx = *state;
    struct as_buffer_stats st;
    struct as_cursor *c;
    struct stat sb;
    char path[256];
    uint64_t next = 1;
    off_t cut;

    fx_open(fx);
    for (uint64_t i = 1; i <= 20; i++) {
        assert_int_equal(fx_append(fx, i, 40), 0);
    }
    fx_close(fx);
    fx_seg_path(fx, 1, path, sizeof(path));
    assert_int_equal(stat(path, &sb), 0);
    cut = sb.st_size - 5;
    assert_int_equal(truncate(path, cut), 0);
    fx->last_offset = 0; /* what the caller knows comes from recover() */
    fx_open(fx);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.torn_tails, 1);
    assert_int_equal(fx_count_events(fx), 19);
    assert_int_equal(fx->last_offset, 1900);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size < cut);
    /* The kept bytes end on a frame: a second open finds nothing torn. */
    for (uint64_t i = 20; i <= 24; i++) {
        assert_int_equal(fx_append(fx, i, 40), 0);
    }
    fx_run(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    assert_int_equal(fx_drain(c, &next, 1000, false), 24);
    as_cursor_close(c);
    fx_close(fx);
    fx->last_offset = 0;
    fx_open(fx);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.torn_tails, 0);
    /* The newest segment's snapshot and events 20..24. */
    assert_int_equal(fx->rec_type[0], AS_BREC_STATE);
    assert_int_equal(fx->rec_off[0], 1900);
    assert_int_equal(fx_count_events(fx), 5);
    fx_close(fx);
}

/* Flips a byte inside the payload of event seq in segment 1. */
static void
fx_corrupt_event(struct fx *fx, uint64_t seq)
{
    char path[256], want[32], *data;
    struct stat sb;
    char *hit;
    int fd;

    fx_seg_path(fx, 1, path, sizeof(path));
    snprintf(want, sizeof(want), "ev-%06llu", (unsigned long long) seq);
    assert_true((fd = open(path, O_RDWR)) >= 0);
    assert_int_equal(fstat(fd, &sb), 0);
    data = malloc((size_t) sb.st_size);
    assert_int_equal(pread(fd, data, (size_t) sb.st_size, 0), sb.st_size);
    hit = memmem(data, (size_t) sb.st_size, want, strlen(want));
    assert_non_null(hit);
    assert_int_equal(pwrite(fd, "Z", 1, hit - data + 4), 1);
    free(data);
    close(fd);
}

static void
test_corrupt_middle(void **state)
{
    struct fx *fx = *state;
    struct as_buffer_stats st;
    struct as_cursor *c;
    struct as_rbatch rb;
    int n;

    fx_open(fx);
    for (uint64_t i = 1; i <= 20; i++) {
        assert_int_equal(fx_append(fx, i, 40), 0);
    }
    fx_close(fx);
    fx_corrupt_event(fx, 10);
    fx_open(fx);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.corrupt_records, 1);
    assert_int_equal(st.torn_tails, 0);
    assert_int_equal(fx_count_events(fx), 19);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    as_rbatch_init(&rb);
    n = as_cursor_read(c, 1000, 1 << 20, NULL, NULL, &rb);
    assert_int_equal(n, 19);
    for (int i = 0; i < n; i++) {
        assert_int_equal(rb.recs[i].seq, (uint64_t) (i < 9 ? i + 1 : i + 2));
    }
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.corrupt_records, 2); /* the reader counts it too */
    as_rbatch_free(&rb);
    as_cursor_close(c);
    fx_close(fx);
}

static void
fx_write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t) n);
    close(fd);
}

static void
test_garbage(void **state)
{
    struct fx *fx = *state;
    struct as_cursor *c;
    char path[256], cdir[192];
    static char junk[200000];
    uint64_t next = 1;
    unsigned seed = 12345;

    assert_int_equal(mkdir(fx->dir, 0700), 0);
    snprintf(cdir, sizeof(cdir), "%s/cursors", fx->dir);
    assert_int_equal(mkdir(cdir, 0700), 0);
    for (size_t i = 0; i < sizeof(junk); i++) {
        junk[i] = (char) (rand_r(&seed) & 0xff);
    }
    /* Sprinkle fake magics so the resync has work to do. */
    for (size_t i = 0; i + 12 < sizeof(junk); i += 997) {
        memcpy(junk + i, "ABW1\x10\x00\x00\x00", 8);
    }
    fx_seg_path(fx, 1, path, sizeof(path));
    fx_write_file(path, junk, sizeof(junk));
    fx_seg_path(fx, 2, path, sizeof(path));
    fx_write_file(path, "", 0);
    fx_seg_path(fx, 3, path, sizeof(path));
    fx_write_file(path, junk, 7);
    snprintf(path, sizeof(path), "%s/seg-zzzz.log", fx->dir);
    fx_write_file(path, junk, 100);
    snprintf(path, sizeof(path), "%s/notes.txt", fx->dir);
    fx_write_file(path, "hello", 5);
    snprintf(path, sizeof(path), "%s/out", cdir);
    fx_write_file(path, "ABC1\x01", 5); /* truncated cursor */
    snprintf(path, sizeof(path), "%s/other", cdir);
    fx_write_file(path, junk, 28); /* garbage cursor */
    fx_open(fx);
    assert_int_equal(fx_count_events(fx), 0);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    for (uint64_t i = 1; i <= 3; i++) {
        assert_int_equal(fx_append(fx, i, 10), 0);
    }
    fx_run(fx);
    assert_int_equal(fx_drain(c, &next, 1000, true), 3);
    as_cursor_close(c);
    fx_close(fx);
    /* And again: the damaged segments were deleted by the commit. */
    fx_open(fx);
    assert_int_equal(fx_count_events(fx), 3);
    assert_int_equal(as_buffer_cursor_open(fx->b, "other", &c), 0);
    as_cursor_close(c);
    fx_close(fx);
}

static void
test_drop_newest(void **state)
{
    struct fx *fx = *state;
    struct as_buffer_stats st;
    struct as_brec r;
    uint64_t i;
    int rc = 0;

    fx->conf.max_bytes = 64 << 10;
    fx->conf.when_full = AS_WHEN_FULL_DROP_NEWEST;
    fx_open(fx);
    for (i = 1; i <= 200 && rc == 0; i++) {
        rc = fx_append(fx, i, 1000);
    }
    assert_int_equal(rc, AS_ERR_FULL);
    assert_true(i > 50);
    assert_int_equal(fx_append_type(fx, AS_BREC_DEADLETTER, "in", i, 10),
                     AS_ERR_FULL);
    memset(&r, 0, sizeof(r));
    r.type = AS_BREC_STATE;
    r.payload = "";
    assert_int_equal(as_buffer_append(fx->b, &r), 0);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.dropped_full, 2);
    assert_int_equal(fx->full_true, 0);
    fx_run(fx);
    as_buffer_get_stats(fx->b, &st);
    assert_true(st.bytes <= (64 << 10) + 200);
    fx_close(fx);
}

static void
test_block(void **state)
{
    struct fx *fx = *state;
    struct as_cursor *c;

    fx->conf.max_bytes = 2ull << 20; /* 1 MiB segments */
    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    for (uint64_t i = 1; i <= 2500; i++) {
        assert_int_equal(fx_append(fx, i, 1000), 0);
    }
    assert_int_equal(fx->full_true, 1);
    assert_true(fx->full);
    fx_run(fx);
    assert_true(fx->full);
    assert_int_equal(fx_drain(c, NULL, 300, true), 2500);
    assert_false(fx->full);
    assert_int_equal(fx->full_false, 1);
    /* max_bytes bounds the backlog: the shipped records still in the live
     * segment do not count, or a small max_bytes would block for good. */
    fx->conf.max_bytes = 1000;
    as_buffer_reconfigure(fx->b, &fx->conf);
    assert_false(fx->full);
    /* A backlog above it blocks again. */
    assert_int_equal(fx_append(fx, 2501, 1000), 0);
    assert_int_equal(fx_append(fx, 2502, 1000), 0);
    assert_true(fx->full);
    assert_int_equal(fx->full_true, 2);
    fx->conf.max_bytes = 2ull << 20;
    as_buffer_reconfigure(fx->b, &fx->conf);
    assert_false(fx->full);
    as_cursor_close(c);
    fx_close(fx);
}

static void
test_memory_bound(void **state)
{
    struct fx *fx = *state;
    uint64_t i;

    fx_open(fx);
    /* Without running the loop the first flush (1 MiB) stays in flight
     * while the staging area grows past its high mark (just under 2 MiB, so
     * that it stays in one 2 MiB allocation): about 3 MiB of 1,000-byte
     * records in all, never the 4 MiB a larger mark would let it reach. */
    for (i = 1; !fx->full && i <= 20000; i++) {
        assert_int_equal(fx_append(fx, i, 1000), 0);
    }
    assert_true(fx->full);
    assert_true(i > 2500 && i < 3000);
    fx_run(fx);
    assert_false(fx->full);
    assert_int_equal(fx->full_false, 1);
    fx_close(fx);
}

static bool
fx_want_a(void *arg, const struct as_brec *r)
{
    (void) arg;
    assert_int_not_equal(r->type, AS_BREC_STATE);
    return strcmp(r->input, "a") == 0;
}

static void
test_want_filter(void **state)
{
    struct fx *fx = *state;
    struct as_cursor *c;
    struct as_rbatch rb;
    struct as_brec r;

    fx_open(fx);
    memset(&r, 0, sizeof(r));
    r.type = AS_BREC_STATE;
    r.payload = "";
    for (uint64_t i = 1; i <= 40; i++) {
        assert_int_equal(
            fx_append_type(fx, i % 4 == 0 ? AS_BREC_DEADLETTER : AS_BREC_EVENT,
                           i % 2 ? "a" : "b", i, 10),
            0);
        assert_int_equal(as_buffer_append(fx->b, &r), 0);
    }
    fx_run(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    as_rbatch_init(&rb);
    assert_int_equal(as_cursor_read(c, 1000, 1 << 20, fx_want_a, NULL, &rb),
                     20);
    for (size_t i = 0; i < rb.n; i++) {
        assert_int_equal(rb.recs[i].seq % 2, 1);
    }
    assert_int_equal(as_cursor_read(c, 1000, 1 << 20, fx_want_a, NULL, &rb), 0);
    as_cursor_rewind(c);
    /* Without a filter: events and dead letters, never state. */
    assert_int_equal(as_cursor_read(c, 1000, 1 << 20, NULL, NULL, &rb), 40);
    assert_int_equal(rb.meta[3].type, AS_BREC_DEADLETTER);
    assert_int_equal(rb.meta[2].type, AS_BREC_EVENT);
    as_rbatch_free(&rb);
    as_cursor_close(c);
    fx_close(fx);
}

static bool
fx_want_dl(void *arg, const struct as_brec *r)
{
    (void) arg;
    return r->type == AS_BREC_DEADLETTER;
}

/* Reads through c with fx_want_dl: the seqs of the records, and the bytes
 * the buffer read for that. */
static void
fx_read_dl(struct fx *fx, struct as_cursor *c, size_t n, const uint64_t *seqs,
           uint64_t *read)
{
    struct as_buffer_stats st;
    struct as_rbatch rb;
    uint64_t before;

    as_buffer_get_stats(fx->b, &st);
    before = st.read_bytes;
    as_rbatch_init(&rb);
    assert_int_equal(as_cursor_read(c, 1000, 1 << 30, fx_want_dl, NULL, &rb),
                     (int) n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rb.recs[i].seq, seqs[i]);
    }
    assert_int_equal(as_cursor_commit(c, &rb.end), 0);
    assert_int_equal(as_cursor_read(c, 1000, 1 << 30, fx_want_dl, NULL, &rb),
                     0);
    as_rbatch_free(&rb);
    as_buffer_get_stats(fx->b, &st);
    *read = st.read_bytes - before;
}

/* Appends records seq from..to of 1,000 bytes: events, but seq dl is a
 * dead letter. */
static void
fx_append_with_dl(struct fx *fx, uint64_t from, uint64_t to, uint64_t dl)
{
    for (uint64_t i = from; i <= to; i++) {
        assert_int_equal(
            fx_append_type(fx, i == dl ? AS_BREC_DEADLETTER : AS_BREC_EVENT,
                           "in", i, 1000),
            0);
    }
}

/*
 * A cursor that takes only dead letters passes the events written in this
 * run without reading them, still finds every dead letter (also one written
 * later, and, after a restart, in the recovered segment, which it reads),
 * and ends where a reading cursor ends.
 */
static void
test_want_types(void **state)
{
    struct fx *fx = *state;
    static const uint64_t first[] = {4}, later[] = {2005}, both[] = {4, 2005};
    struct as_buffer_stats st;
    struct as_cursor *c, *all;
    uint64_t read;

    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "dl", &c), 0);
    as_cursor_want_types(c, 1u << AS_BREC_DEADLETTER);
    fx_append_with_dl(fx, 1, 2000, 4);
    fx_run(fx);
    fx_read_dl(fx, c, 1, first, &read);
    as_buffer_get_stats(fx->b, &st);
    /* The window around the dead letter only. */
    assert_true(read <= AS__READ_CHUNK + 2048);
    assert_true(st.bytes > 4 * (uint64_t) AS__READ_CHUNK);
    fx_append_with_dl(fx, 2001, 2010, 2005);
    fx_run(fx);
    fx_read_dl(fx, c, 1, later, &read);
    assert_true(read <= 10 * 1300);
    fx_run(fx);
    fx_read_dl(fx, c, 0, NULL, &read);
    assert_int_equal(read, 0);
    /* It ends where a cursor that reads everything ends. */
    assert_int_equal(as_buffer_cursor_open(fx->b, "all", &all), 0);
    assert_int_equal(fx_drain(all, NULL, 1000, true), 2010);
    as_cursor_close(all);
    as_cursor_close(c);
    fx_close(fx);
    /* Recovered bytes are read: both dead letters are found. */
    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "dl2", &c), 0);
    as_cursor_want_types(c, 1u << AS_BREC_DEADLETTER);
    fx_read_dl(fx, c, 2, both, &read);
    assert_true(read >= 2000 * 1000);
    as_cursor_close(c);
    fx_close(fx);
}

/*
 * as_cursor_read_upto forms again, after a restart, the batches read
 * before it: the same records up to a recorded end, including records
 * skipped at a batch's end; a position off a record boundary or past the
 * readable end is reported by rb.end != upto.
 */
static void
test_read_upto(void **state)
{
    struct fx *fx = *state;
    struct as_cursor *c;
    struct as_rbatch rb;
    struct as_bpos e1, e2, pos, bad;
    uint64_t seq1[8], seq2[20];
    size_t n1, n2, len1, len2;

    fx_open(fx);
    for (uint64_t i = 1; i <= 30; i++) {
        assert_int_equal(
            fx_append_type(fx, AS_BREC_EVENT, i % 2 ? "a" : "b", i, 30), 0);
    }
    fx_run(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    as_rbatch_init(&rb);
    /* First run: two batches of input a, the second to the end (it ends
     * with a skipped record of input b). */
    assert_int_equal(as_cursor_read(c, 4, 1 << 20, fx_want_a, NULL, &rb), 4);
    e1 = rb.end;
    n1 = rb.n;
    len1 = rb.data.len;
    for (size_t i = 0; i < n1; i++) {
        seq1[i] = rb.recs[i].seq;
    }
    assert_int_equal(as_cursor_read(c, 1000, 1 << 20, fx_want_a, NULL, &rb),
                     11);
    e2 = rb.end;
    n2 = rb.n;
    len2 = rb.data.len;
    for (size_t i = 0; i < n2; i++) {
        seq2[i] = rb.recs[i].seq;
    }
    as_cursor_committed(c, &pos);
    as_cursor_close(c);
    fx_close(fx);

    /* After a restart: the same two batches, exactly. */
    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    assert_int_equal(as_cursor_read_upto(c, &e1, n1 + 1, fx_want_a, NULL, &rb),
                     (int) n1);
    assert_memory_equal(&rb.end, &e1, sizeof(e1));
    assert_int_equal(rb.data.len, len1);
    for (size_t i = 0; i < n1; i++) {
        assert_int_equal(rb.recs[i].seq, seq1[i]);
    }
    assert_int_equal(as_cursor_read_upto(c, &e2, n2 + 1, fx_want_a, NULL, &rb),
                     (int) n2);
    assert_memory_equal(&rb.end, &e2, sizeof(e2));
    assert_int_equal(rb.data.len, len2);
    for (size_t i = 0; i < n2; i++) {
        assert_int_equal(rb.recs[i].seq, seq2[i]);
    }
    /* Nothing left up to e2. */
    assert_int_equal(as_cursor_read_upto(c, &e2, 100, fx_want_a, NULL, &rb), 0);

    /* max_n bounds a read whose end lies further. */
    as_cursor_rewind(c);
    assert_int_equal(as_cursor_read_upto(c, &e2, 2, fx_want_a, NULL, &rb), 2);
    assert_true(rb.end.segment != e2.segment || rb.end.offset != e2.offset);

    /* Off a record boundary: it stops past the position. */
    as_cursor_rewind(c);
    bad = e1;
    bad.offset -= 3;
    (void) as_cursor_read_upto(c, &bad, 100, fx_want_a, NULL, &rb);
    assert_true(rb.end.segment != bad.segment || rb.end.offset != bad.offset);

    /* Past the readable end: it stops at the end. */
    as_cursor_rewind(c);
    bad = e2;
    bad.offset += 1000;
    assert_int_equal(as_cursor_read_upto(c, &bad, 100, fx_want_a, NULL, &rb),
                     15);
    assert_true(rb.end.segment != bad.segment || rb.end.offset != bad.offset);

    /* as_cursor_committed follows commits. */
    assert_int_equal(as_cursor_commit(c, &e1), 0);
    as_cursor_committed(c, &pos);
    assert_memory_equal(&pos, &e1, sizeof(e1));
    as_rbatch_free(&rb);
    as_cursor_close(c);
    fx_close(fx);
}

static void
test_fsync_modes(void **state)
{
    struct fx *fx = *state;
    static const int modes[] = {AS_FSYNC_NEVER, AS_FSYNC_BATCH,
                                AS_FSYNC_ALWAYS};
    struct as_cursor *c;
    uint64_t next = 1, seq = 1;

    for (size_t m = 0; m < AS_ARRAY_SIZE(modes); m++) {
        fx->conf.fsync = modes[m];
        fx_open(fx);
        assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
        for (int i = 0; i < 10; i++) {
            assert_int_equal(fx_append(fx, seq++, 100), 0);
        }
        fx_run(fx);
        assert_int_equal(fx_drain(c, &next, 1000, true), 10);
        as_cursor_close(c);
        fx_close(fx);
    }
    fx_open(fx);
    assert_int_equal(fx_count_events(fx), 10);
    assert_int_equal(fx->rec_seq[fx->nrec - 1], 30);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    assert_int_equal(fx_drain(c, NULL, 1000, false), 0);
    as_cursor_close(c);
    fx_close(fx);
}

static void
test_reopen_keeps_place_after_delete(void **state)
{
    struct fx *fx = *state;
    struct as_cursor *a, *b2;
    struct as_rbatch rb;
    uint64_t next = 1;

    fx->conf.max_bytes = 8ull << 20;
    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "a", &a), 0);
    assert_int_equal(as_buffer_cursor_open(fx->b, "b", &b2), 0);
    for (uint64_t i = 1; i <= 2500; i++) {
        assert_int_equal(fx_append(fx, i, 1000), 0);
    }
    fx_run(fx);
    /* b is closed (its output was removed): a alone deletes segments. */
    as_cursor_close(b2);
    assert_int_equal(fx_drain(a, &next, 500, true), 2500);
    as_cursor_close(a);
    for (uint64_t i = 2501; i <= 2510; i++) {
        assert_int_equal(fx_append(fx, i, 10), 0);
    }
    fx_run(fx);
    /* b's file points at a deleted segment: it moves to the oldest
     * retained record (the head of the last segment, which a kept). */
    assert_int_equal(as_buffer_cursor_open(fx->b, "b", &b2), 0);
    as_rbatch_init(&rb);
    assert_int_equal(as_cursor_read(b2, 1, 1 << 20, NULL, NULL, &rb), 1);
    next = rb.recs[0].seq + 1;
    assert_true(next > 1000);
    as_rbatch_free(&rb);
    assert_int_equal(fx_drain(b2, &next, 500, false), 2510 - next + 1);
    as_cursor_close(b2);
    fx_close(fx);
}

static void
test_memory_type(void **state)
{
    struct fx *fx = *state;
    struct as_buffer_stats st;
    struct as_cursor *c, *c2;
    struct stat sb;
    uint64_t next = 1;

    fx->conf.type = AS_BUFFER_MEMORY;
    fx->conf.max_bytes = 8ull << 20;
    fx_open(fx);
    assert_int_equal(fx->snapshots, 1);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    assert_int_equal(as_buffer_cursor_open(fx->b, "two", &c2), 0);
    for (uint64_t i = 1; i <= 3000; i++) {
        assert_int_equal(fx_append(fx, i, 1000), 0);
    }
    fx_run(fx);
    as_buffer_get_stats(fx->b, &st);
    assert_true(st.segments >= 3);
    assert_int_equal(fx_drain(c, &next, 400, true), 3000);
    as_buffer_get_stats(fx->b, &st);
    assert_true(st.segments >= 3); /* "two" has not moved */
    next = 1;
    assert_int_equal(fx_drain(c2, &next, 400, true), 3000);
    as_buffer_get_stats(fx->b, &st);
    assert_int_equal(st.segments, 1);
    as_cursor_close(c);
    as_cursor_close(c2);
    fx_close(fx);
    /* Nothing touched the disk, and nothing survives a reopen. */
    assert_int_equal(stat(fx->dir, &sb), -1);
    fx_open(fx);
    assert_int_equal(fx->nrec, 0);
    fx_close(fx);
}

static int
fx_scan_cb(void *arg, const struct as_brec *r, const struct as_bpos *at)
{
    size_t *n = arg;

    (void) at;
    n[r->type == AS_BREC_EVENT ? 0 : 1]++;
    return 0;
}

static void
test_offline(void **state)
{
    struct fx *fx = *state;
    struct as_cursor *c;
    struct as_rbatch rb;
    size_t counts[2] = {0, 0}, len = 0;
    char *text = NULL;
    FILE *out;
    char a0[] = "buffer", a1[] = "stat", a2[] = "--state-dir", a3[] = "dump",
         a4[] = "--payload", a5[] = "bogus";
    char *argv[] = {a0, a1, a2, fx->root, NULL};
    char *argv2[] = {a0, a3, a2, fx->root, a4, NULL};
    char *argv3[] = {a0, a5, NULL};

    fx_open(fx);
    assert_int_equal(as_buffer_cursor_open(fx->b, "out", &c), 0);
    for (uint64_t i = 1; i <= 20; i++) {
        assert_int_equal(fx_append(fx, i, 10), 0);
    }
    fx_run(fx);
    as_rbatch_init(&rb);
    assert_int_equal(as_cursor_read(c, 5, 1 << 20, NULL, NULL, &rb), 5);
    assert_int_equal(as_cursor_commit(c, &rb.end), 0);
    as_rbatch_free(&rb);
    as_cursor_close(c);
    fx_close(fx);

    assert_int_equal(as_buffer_scan(fx->dir, fx_scan_cb, counts), 0);
    assert_int_equal(counts[0], 20);
    assert_int_equal(counts[1], 1);
    out = open_memstream(&text, &len);
    assert_int_equal(as_buffer_check(fx->dir, out), 0);
    assert_int_equal(as_buffer_stat(fx->dir, out), 0);
    fclose(out);
    assert_non_null(strstr(text, "events 20"));
    assert_non_null(strstr(text, "cursor out"));
    assert_non_null(strstr(text, "lag 15 records"));
    free(text);
    assert_int_equal(as_ctl_buffer(4, argv), 0);
    assert_int_equal(as_ctl_buffer(5, argv2), 0);
    assert_int_equal(as_ctl_buffer(2, argv3), 2);

    fx_corrupt_event(fx, 7);
    out = open_memstream(&text, &len);
    assert_int_not_equal(as_buffer_check(fx->dir, out), 0);
    fclose(out);
    assert_non_null(strstr(text, "damaged"));
    free(text);
    counts[0] = counts[1] = 0;
    assert_int_equal(as_buffer_scan(fx->dir, fx_scan_cb, counts), 0);
    assert_int_equal(counts[0], 19);
}

static void
test_encode_bounds(void **state)
{
    struct as_brec r, out;
    char buf[256];
    size_t n;

    (void) state;
    memset(&r, 0, sizeof(r));
    r.type = AS_BREC_EVENT;
    r.input = "x";
    r.payload = "hello";
    r.payload_len = 5;
    n = as__frame_size(&r);
    assert_true(n > 0 && n < sizeof(buf));
    as__frame_encode(buf, &r, n);
    assert_int_equal(
        as__brec_decode(buf + AS__FRAME_HDR, n - AS__FRAME_HDR, &out), 0);
    assert_string_equal(out.input, "x");
    assert_string_equal(out.source, "");
    assert_false(out.has_pos);
    assert_int_equal(out.payload_len, 5);
    /* Every truncation of the body is rejected. */
    for (size_t cut = 0; cut < n - AS__FRAME_HDR; cut++) {
        assert_int_equal(as__brec_decode(buf + AS__FRAME_HDR, cut, &out),
                         AS_ERR_CORRUPT);
    }
    buf[AS__FRAME_HDR] = 9; /* unknown version */
    assert_int_equal(
        as__brec_decode(buf + AS__FRAME_HDR, n - AS__FRAME_HDR, &out),
        AS_ERR_CORRUPT);
}

static const char *const fx_deferred_payloads[] = {
    "", "a", "{\"k\":1}", "a longer payload of some forty bytes"};

/* Record i of test_deferred_checksum; returns its frame size. */
static size_t
fx_deferred_rec(struct as_brec *r, size_t i)
{
    r->payload = fx_deferred_payloads[i];
    r->payload_len = strlen(fx_deferred_payloads[i]);
    r->seq = i + 1;
    r->has_pos = i % 2 == 1;
    return as__frame_size(r);
}

/*
 * Frames staged without checksums and summed as one run later (what the
 * flush job does) are byte for byte the frames as__frame_encode makes.
 */
static void
test_deferred_checksum(void **state)
{
    struct as_brec r;
    char one[512], run[512];
    size_t at = 0;

    (void) state;
    memset(&r, 0, sizeof(r));
    memset(run, 0x5a, sizeof(run));
    r.type = AS_BREC_EVENT;
    r.input = "in";
    r.hash = "abc";
    for (size_t i = 0; i < 4; i++) {
        size_t n = fx_deferred_rec(&r, i);

        assert_true(n > 0 && at + n <= sizeof(run));
        as__frame_encode_nocrc(run + at, &r, n);
        assert_int_equal(as_le32(run + at + 8), 0);
        at += n;
    }
    as__frames_checksum(run, at);
    at = 0;
    for (size_t i = 0; i < 4; i++) {
        size_t n = fx_deferred_rec(&r, i);

        as__frame_encode(one, &r, n);
        assert_int_not_equal(as_le32(one + 8), 0);
        assert_memory_equal(run + at, one, n);
        at += n;
    }
}

/* Appends to fd one EVENT frame with seq and a payload of len bytes
 * derived from seq; returns the frame's size. */
static size_t
put_frame(int fd, uint64_t seq, size_t len)
{
    struct as_brec r;
    char *payload = malloc(len + 1), *buf;
    size_t n;

    assert_non_null(payload);
    for (size_t i = 0; i < len; i++) {
        payload[i] = (char) ('a' + (seq + i) % 26);
    }
    memset(&r, 0, sizeof(r));
    r.type = AS_BREC_EVENT;
    r.seq = seq;
    r.input = "in";
    r.payload = payload;
    r.payload_len = len;
    n = as__frame_size(&r);
    assert_true(n > 0);
    buf = malloc(n);
    assert_non_null(buf);
    as__frame_encode(buf, &r, n);
    assert_int_equal(write(fd, buf, n), (ssize_t) n);
    free(buf);
    free(payload);
    return n;
}

/* Frame i's payload length: small, medium, some larger than a chunk. */
static size_t
frame_len(uint64_t i)
{
    if (i % 17 == 5) {
        return AS__READ_CHUNK + 1000 + (size_t) i; /* > the default chunk */
    }
    return (size_t) ((i * 7919) % 40000);
}

/*
 * Reads frames 0..n-1 (see put_frame) from *pos with rd; checks each, and
 * that the damaged one (seq bad, or none: UINT64_MAX) was skipped.
 */
static void
read_frames(struct as__reader *rd, uint64_t *pos, uint64_t from, uint64_t n,
            uint64_t bad, uint64_t *skipped)
{
    struct as__frame f;
    struct as_brec br;

    for (uint64_t i = from; i < n; i++) {
        if (i == bad) {
            continue;
        }
        assert_int_equal(as__reader_next(rd, pos, &f, skipped), AS__RD_OK);
        assert_int_equal(as__brec_decode(f.body, f.len, &br), 0);
        assert_int_equal(br.seq, i);
        assert_int_equal(br.payload_len, frame_len(i));
        for (size_t k = 0; k < br.payload_len; k++) {
            if (br.payload[k] != (char) ('a' + (i + k) % 26)) {
                fail_msg("frame %llu byte %zu", (unsigned long long) i, k);
            }
        }
    }
}

/*
 * The reader's window at every chunk size, from a byte to the default:
 * frames straddle the window's end at every place (in the header, in the
 * body), some are larger than the chunk, one is damaged (resync), and the
 * readable end grows between reads as for a cursor.  Every frame arrives
 * intact and each byte of the file is read once.
 */
static void
test_reader_window(void **state)
{
    struct fx *fx = *state;
    static const size_t chunks[] = {1,   5,    12,    13,
                                    100, 4096, 65536, AS__READ_CHUNK};
    uint64_t offs[61], size = 0, bad = 23;
    char path[256];
    int fd;

    snprintf(path, sizeof(path), "%s/frames", fx->root);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    for (uint64_t i = 0; i < 60; i++) {
        offs[i] = size;
        size += put_frame(fd, i, frame_len(i));
    }
    offs[60] = size;
    /* Damage frame 23's body: the reader resyncs on frame 24's magic. */
    assert_int_equal(pwrite(fd, "\xff", 1, (off_t) (offs[bad] + 20)), 1);
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        struct as__reader rd;
        uint64_t pos = 0, skipped = 0;
        struct as__frame f;

        /* The first 40 frames are readable, then all 60. */
        as__reader_init(&rd, fd, offs[40]);
        rd.chunk = chunks[c];
        read_frames(&rd, &pos, 0, 40, bad, &skipped);
        assert_int_equal(as__reader_next(&rd, &pos, &f, &skipped), AS__RD_END);
        assert_int_equal(pos, offs[40]);
        rd.limit = size;
        read_frames(&rd, &pos, 40, 60, bad, &skipped);
        assert_int_equal(as__reader_next(&rd, &pos, &f, &skipped), AS__RD_END);
        assert_int_equal(skipped, 1);
        assert_int_equal(pos, size);
        if (rd.bytes_read != size) {
            fail_msg("chunk %zu: read %llu bytes of %llu", chunks[c],
                     (unsigned long long) rd.bytes_read,
                     (unsigned long long) size);
        }
        /* Going back re-reads: the window starts at the last frame. */
        pos = offs[10];
        read_frames(&rd, &pos, 10, 12, bad, &skipped);
        assert_true(rd.bytes_read > size);
        as__reader_free(&rd);
    }
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_bounds),
        cmocka_unit_test(test_deferred_checksum),
        cmocka_unit_test_setup_teardown(test_reader_window, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_snapshot, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_head_damaged_fallback, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_roll_and_delete, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_two_cursors, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_oldest_scan, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_cursor_persistence, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_cursor_file, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_middle, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_garbage, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_drop_newest, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_block, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_memory_bound, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_want_filter, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_want_types, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fsync_modes, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_read_upto, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_place_after_delete,
                                        fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_offline, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_memory_type, fx_setup,
                                        fx_teardown),
    };

    as_log_set_level(AS_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
