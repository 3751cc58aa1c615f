/*
 * The file tail input against a real libuv loop and real files in a mkdtemp
 * directory: line splitting and positions, partial and overlong lines, glob
 * and exclude, start_at, discovery while running, rotation by rename+create,
 * copytruncate (also with lines that reached only the copy, while running
 * and while stopped), truncation, deletion, inode reuse, resume from
 * recovered positions (also of a file rotated while stopped), pause/resume,
 * and a stop that closes every handle and fd.  Every loop run is bounded by
 * a deadline.
 *
 * With AS_TAIL_BENCH=FILE, test_bench times the delivery of FILE's lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <uv.h>

#include "core/log.h"
#include "core/mem.h"
#include "inputs/tail.h"

#define WAIT_MS   5000 /* deadline of a wait that should succeed */
#define SETTLE_MS 150  /* window in which nothing more may arrive */

struct got_line {
    char *data;
    size_t len;
    char *source;
    struct as_srcpos pos;
    unsigned flags;
};

struct got_forget {
    char *source;
    struct as_srcpos pos;
};

struct harness {
    uv_loop_t loop;
    uv_timer_t guard;
    struct as_input in;
    struct as_conf_input_file conf;
    char *pats[4];
    char *excl[4];
    char dir[64];
    struct got_line *lines;
    size_t n, cap;
    struct got_forget forgot[16];
    size_t n_forgot;
    size_t pause_at;    /* pause when this many lines arrived; 0 = never */
    size_t pause_every; /* pause after every this many lines; 0 = never */
    bool started, done;
    struct as_srcstate rec[4];
    size_t n_rec;
    bool count_only; /* benchmark: keep no copies */
};

static void
h_emit(struct as_input *in, const char *bytes, size_t len,
       const struct as_srcinfo *src, unsigned flags)
{
    struct harness *h = in->core;
    struct got_line *l;

    if (h->count_only) {
        h->n++;
        return;
    }
    if (h->n == h->cap) {
        h->cap = h->cap == 0 ? 64 : h->cap * 2;
        h->lines = as_reallocarray(h->lines, h->cap, sizeof(*h->lines));
    }
    l = &h->lines[h->n++];
    l->data = as_strndup(bytes, len);
    l->len = len;
    l->source = as_strdup(src->source);
    assert_true(src->has_pos);
    l->pos = src->pos;
    l->flags = flags;
    if ((h->pause_at != 0 && h->n == h->pause_at) ||
        (h->pause_every != 0 && h->n % h->pause_every == 0)) {
        in->ops->pause(in);
    }
}

static void
h_forget(struct as_input *in, const char *source, const struct as_srcpos *pos)
{
    struct harness *h = in->core;

    assert_true(h->n_forgot < AS_ARRAY_SIZE(h->forgot));
    h->forgot[h->n_forgot].source = as_strdup(source);
    h->forgot[h->n_forgot].pos = *pos;
    h->n_forgot++;
}

static void
h_guard_cb(uv_timer_t *t)
{
    (void) t;
}

static int
h_setup(void **state)
{
    struct harness *h = as_calloc(1, sizeof(*h));

    snprintf(h->dir, sizeof(h->dir), "/tmp/as-tail-XXXXXX");
    assert_non_null(mkdtemp(h->dir));
    assert_int_equal(uv_loop_init(&h->loop), 0);
    uv_timer_init(&h->loop, &h->guard);
    uv_timer_start(&h->guard, h_guard_cb, 5, 5);
    h->conf.paths.v = h->pats;
    h->conf.exclude.v = h->excl;
    h->conf.start_at = AS_START_BEGINNING;
    h->conf.max_line_bytes = 1024;
    h->conf.rescan_interval_ms = 50;
    h->in.ops = &as_input_tail_ops;
    h->in.id = "test";
    h->in.conf = &h->conf;
    h->in.loop = &h->loop;
    h->in.core = h;
    h->in.emit = h_emit;
    h->in.forget = h_forget;
    snprintf(h->in.prefix, sizeof(h->in.prefix), "input:file:test");
    *state = h;
    return 0;
}

static char *
h_path(struct harness *h, const char *name)
{
    char *p;

    as_asprintf(&p, "%s/%s", h->dir, name);
    return p;
}

static void
h_pattern(struct harness *h, const char *name)
{
    h->pats[h->conf.paths.n++] = h_path(h, name);
}

static void
h_start(struct harness *h)
{
    struct as_conf_errors errs = {NULL, 0};

    h->in.ctx = as_calloc(1, as_input_tail_ops.ctx_size);
    assert_int_equal(h->in.ops->init(&h->in, NULL, &errs), 0);
    assert_int_equal(errs.n, 0);
    h->in.recovered = h->rec;
    h->in.n_recovered = h->n_rec;
    assert_int_equal(h->in.ops->start(&h->in), 0);
    h->started = true;
}

/* Runs the loop until pred holds or ms elapsed; returns pred. */
static bool
h_wait(struct harness *h, bool (*pred)(struct harness *, size_t), size_t arg,
       uint64_t ms)
{
    uint64_t deadline;

    uv_update_time(&h->loop);
    deadline = uv_now(&h->loop) + ms;
    while (!pred(h, arg) && uv_now(&h->loop) < deadline) {
        uv_run(&h->loop, UV_RUN_ONCE);
    }
    return pred(h, arg);
}

static bool
pred_lines(struct harness *h, size_t n)
{
    return h->n >= n;
}

static bool
pred_forgot(struct harness *h, size_t n)
{
    return h->n_forgot >= n;
}

static bool
pred_never(struct harness *h, size_t n)
{
    (void) h;
    (void) n;
    return false;
}

static bool
pred_done(struct harness *h, size_t n)
{
    (void) n;
    return h->done;
}

static bool
pred_truncations(struct harness *h, size_t n)
{
    struct as_tail_stats st;

    as_tail_stats(&h->in, &st);
    return st.truncations >= n;
}

static void
h_settle(struct harness *h)
{
    (void) h_wait(h, pred_never, 0, SETTLE_MS);
}

static void
h_done_cb(void *stage, int status)
{
    struct as_input *in = stage;
    struct harness *h = in->core;

    assert_int_equal(status, 0);
    h->done = true;
}

static void
h_rm_rf(const char *dir)
{
    struct dirent *de;
    char *p;
    DIR *d = opendir(dir);

    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        as_asprintf(&p, "%s/%s", dir, de->d_name);
        if (unlink(p) != 0) {
            h_rm_rf(p);
            rmdir(p);
        }
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static void
h_close_cb(uv_handle_t *hd)
{
    (void) hd;
}

static int
h_teardown(void **state)
{
    struct harness *h = *state;

    if (h->started) {
        h->in.ops->stop(&h->in, h_done_cb);
        assert_true(h_wait(h, pred_done, 0, WAIT_MS));
        h->in.ops->destroy(&h->in);
    }
    free(h->in.ctx);
    uv_close((uv_handle_t *) &h->guard, h_close_cb);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    for (size_t i = 0; i < h->n && !h->count_only; i++) {
        free(h->lines[i].data);
        free(h->lines[i].source);
    }
    free(h->lines);
    for (size_t i = 0; i < h->n_forgot; i++) {
        free(h->forgot[i].source);
    }
    for (size_t i = 0; i < h->conf.paths.n; i++) {
        free(h->pats[i]);
    }
    for (size_t i = 0; i < h->conf.exclude.n; i++) {
        free(h->excl[i]);
    }
    for (size_t i = 0; i < h->n_rec; i++) {
        free((char *) h->rec[i].source);
    }
    h_rm_rf(h->dir);
    free(h);
    return 0;
}

/* ---- file helpers ---- */

static void
put(const char *path, const char *s, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
    size_t n = strlen(s);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, s, n), (ssize_t) n);
    close(fd);
}

static void
append(const char *path, const char *s)
{
    put(path, s, O_APPEND);
}

static void
fdprintf(int fd, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t) n < sizeof(buf));
    assert_int_equal(write(fd, buf, (size_t) n), n);
}

/* The documented fingerprint, computed independently of the module. */
static uint64_t
fp_of(const void *p, size_t len)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    uint64_t v = 0;

    SHA256(p, len, md);
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | md[i];
    }
    return v;
}

static struct as_srcpos
pos_of(const char *path, uint64_t offset)
{
    struct as_srcpos pos;
    unsigned char head[AS_FP_MAX];
    struct stat st;
    ssize_t n;
    int fd;

    assert_int_equal(stat(path, &st), 0);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, head, sizeof(head));
    assert_true(n >= 0);
    close(fd);
    pos.dev = (uint64_t) st.st_dev;
    pos.ino = (uint64_t) st.st_ino;
    pos.fp = fp_of(head, (size_t) n);
    pos.fp_len = (uint32_t) n;
    pos.offset = offset;
    return pos;
}

static void
add_recovered(struct harness *h, const char *path, struct as_srcpos pos)
{
    h->rec[h->n_rec].source = as_strdup(path);
    h->rec[h->n_rec].pos = pos;
    h->n_rec++;
}

/* Open fds of this process on files under dir. */
static size_t
count_fds(const char *dir)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    char link[512], *p;
    size_t n = 0;
    ssize_t len;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        as_asprintf(&p, "/proc/self/fd/%s", de->d_name);
        len = readlink(p, link, sizeof(link) - 1);
        free(p);
        if (len > 0) {
            link[len] = '\0';
            if (strncmp(link, dir, strlen(dir)) == 0) {
                n++;
            }
        }
    }
    closedir(d);
    return n;
}

/* Index of the line with exactly this text, asserting there is one. */
static size_t
find_once(struct harness *h, const char *text)
{
    size_t at = (size_t) -1, seen = 0;

    for (size_t i = 0; i < h->n; i++) {
        if (strcmp(h->lines[i].data, text) == 0) {
            at = i;
            seen++;
        }
    }
    if (seen != 1) {
        fail_msg("line '%s' delivered %zu times", text, seen);
    }
    return at;
}

/* cp src dst: a new inode with the same bytes (logrotate's copy). */
static void
copy_file(const char *src, const char *dst)
{
    char buf[4096];
    ssize_t n;
    int in = open(src, O_RDONLY), out;

    assert_true(in >= 0);
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(out >= 0);
    while ((n = read(in, buf, sizeof(buf))) > 0) {
        assert_int_equal(write(out, buf, (size_t) n), n);
    }
    assert_int_equal(n, 0);
    close(in);
    close(out);
}

/* Writes lines PREFIX-first..PREFIX-(last-1) (9 bytes each) to fd. */
static void
write_lines(int fd, const char *prefix, size_t first, size_t last)
{
    for (size_t i = first; i < last; i++) {
        fdprintf(fd, "%s-%04zu\n", prefix, i);
    }
}

static uint64_t
ino_of(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (uint64_t) st.st_ino;
}

/* The forget calls for source, asserting there is at most one. */
static const struct got_forget *
forgot_of(struct harness *h, const char *source)
{
    const struct got_forget *g = NULL;

    for (size_t i = 0; i < h->n_forgot; i++) {
        if (strcmp(h->forgot[i].source, source) == 0) {
            assert_null(g);
            g = &h->forgot[i];
        }
    }
    return g;
}

/* ---- tests ---- */

static void
test_lines_offsets(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "a.log");
    struct stat st;

    put(p, "a\nbb\nccc\n", 0);
    assert_int_equal(stat(p, &st), 0);
    h_pattern(h, "a.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 3, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 3);
    assert_string_equal(h->lines[0].data, "a");
    assert_string_equal(h->lines[1].data, "bb");
    assert_string_equal(h->lines[2].data, "ccc");
    assert_int_equal(h->lines[0].pos.offset, 2);
    assert_int_equal(h->lines[1].pos.offset, 5);
    assert_int_equal(h->lines[2].pos.offset, 9);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(h->lines[i].source, p);
        assert_int_equal(h->lines[i].flags, 0);
        assert_true(h->lines[i].pos.dev == (uint64_t) st.st_dev);
        assert_true(h->lines[i].pos.ino == (uint64_t) st.st_ino);
        assert_int_equal(h->lines[i].pos.fp_len, 9);
        assert_true(h->lines[i].pos.fp == fp_of("a\nbb\nccc\n", 9));
    }
    free(p);
}

/* Line i of test_big_file: a number and i % 90 bytes of padding. */
static size_t
big_line(size_t i, char *line, size_t size)
{
    char pad[91];
    int n;

    memset(pad, 'x', sizeof(pad) - 1);
    pad[i % 90] = '\0';
    n = snprintf(line, size, "%07zu-%s", i, pad);
    assert_true(n > 0 && (size_t) n < size);
    return (size_t) n;
}

/* Lines of varying length across several read chunks. */
static void
test_big_file(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "big.log"), line[128];
    const size_t n = 60000;
    uint64_t off = 0;
    size_t i, len;
    FILE *fp;

    fp = fopen(p, "w");
    assert_non_null(fp);
    for (i = 0; i < n; i++) {
        len = big_line(i, line, sizeof(line));
        fprintf(fp, "%s\n", line);
    }
    assert_int_equal(fclose(fp), 0);
    h_pattern(h, "big.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, n, WAIT_MS));
    for (i = 0; i < n; i++) {
        len = big_line(i, line, sizeof(line));
        off += len + 1;
        assert_string_equal(h->lines[i].data, line);
        assert_int_equal(h->lines[i].pos.offset, off);
    }
    assert_true(off > 2 * 1024 * 1024); /* more than two chunks */
    free(p);
}

static void
test_fp_grows(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "a.log");
    char big[400];

    put(p, "x\n", 0);
    h_pattern(h, "a.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 1, WAIT_MS));
    assert_int_equal(h->lines[0].pos.fp_len, 2);
    memset(big, 'y', sizeof(big));
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    append(p, big);
    assert_true(h_wait(h, pred_lines, 2, WAIT_MS));
    assert_int_equal(h->lines[1].pos.fp_len, AS_FP_MAX);
    {
        char all[AS_FP_MAX];

        all[0] = 'x';
        all[1] = '\n';
        memset(all + 2, 'y', AS_FP_MAX - 2);
        assert_true(h->lines[1].pos.fp == fp_of(all, AS_FP_MAX));
    }
    assert_int_equal(h->lines[1].pos.offset, 2 + sizeof(big) - 1);
    free(p);
}

static void
test_partial_line(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "a.log");

    put(p, "hel", 0);
    h_pattern(h, "a.log");
    h_start(h);
    h_settle(h);
    assert_int_equal(h->n, 0);
    append(p, "lo\nwor");
    assert_true(h_wait(h, pred_lines, 1, WAIT_MS));
    assert_string_equal(h->lines[0].data, "hello");
    assert_int_equal(h->lines[0].pos.offset, 6);
    h_settle(h);
    assert_int_equal(h->n, 1);
    append(p, "ld\n");
    assert_true(h_wait(h, pred_lines, 2, WAIT_MS));
    assert_string_equal(h->lines[1].data, "world");
    assert_int_equal(h->lines[1].pos.offset, 12);
    free(p);
}

static void
test_crlf(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "a.log");

    put(p, "a\r\nb\n\r\nc\rd\n", 0);
    h_pattern(h, "a.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 4, WAIT_MS));
    assert_string_equal(h->lines[0].data, "a");
    assert_int_equal(h->lines[0].pos.offset, 3);
    assert_string_equal(h->lines[1].data, "b");
    assert_int_equal(h->lines[1].pos.offset, 5);
    assert_int_equal(h->lines[2].len, 0);
    assert_int_equal(h->lines[2].pos.offset, 7);
    assert_string_equal(h->lines[3].data, "c\rd");
    assert_int_equal(h->lines[3].pos.offset, 11);
    free(p);
}

static void
test_overlong(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "a.log");
    struct as_tail_stats st;

    h->conf.max_line_bytes = 16;
    /* 19 bytes, then exactly 16 with \r\n, then 16 plain. */
    put(p, "0123456789abcdefXYZ\n0123456789ABCDEF\r\n0123456789abcdef\n", 0);
    h_pattern(h, "a.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 3, WAIT_MS));
    assert_int_equal(h->lines[0].len, 16);
    assert_memory_equal(h->lines[0].data, "0123456789abcdef", 16);
    assert_int_equal(h->lines[0].flags, AS_EMIT_TRUNCATED);
    assert_int_equal(h->lines[0].pos.offset, 20);
    assert_string_equal(h->lines[1].data, "0123456789ABCDEF");
    assert_int_equal(h->lines[1].flags, 0);
    assert_int_equal(h->lines[1].pos.offset, 38);
    assert_string_equal(h->lines[2].data, "0123456789abcdef");
    assert_int_equal(h->lines[2].flags, 0);

    /* An overlong line arriving in pieces is emitted once, at its newline. */
    append(p, "ABCDEFGHIJ");
    h_settle(h);
    append(p, "KLMNOPQRSTUVWXYZ");
    h_settle(h);
    append(p, "0123456789");
    h_settle(h);
    assert_int_equal(h->n, 3);
    append(p, "!\nok\n");
    assert_true(h_wait(h, pred_lines, 5, WAIT_MS));
    assert_int_equal(h->lines[3].len, 16);
    assert_memory_equal(h->lines[3].data, "ABCDEFGHIJKLMNOP", 16);
    assert_int_equal(h->lines[3].flags, AS_EMIT_TRUNCATED);
    assert_int_equal(h->lines[3].pos.offset, 55 + 38);
    assert_string_equal(h->lines[4].data, "ok");
    assert_int_equal(h->lines[4].flags, 0);
    as_tail_stats(&h->in, &st);
    assert_int_equal(st.truncated_lines, 2);
    assert_int_equal(st.lines, 5);
    free(p);
}

static void
test_glob_exclude(void **state)
{
    struct harness *h = *state;
    const char *names[] = {"a.log", "b.log", "c.gz", "skip.log", "d.txt"};
    char *p;

    for (size_t i = 0; i < AS_ARRAY_SIZE(names); i++) {
        char line[64];

        p = h_path(h, names[i]);
        snprintf(line, sizeof(line), "%s\n", names[i]);
        put(p, line, 0);
        free(p);
    }
    h_pattern(h, "*.log");
    h_pattern(h, "*.gz");
    h->excl[h->conf.exclude.n++] = as_strdup("*.gz");
    h->excl[h->conf.exclude.n++] = as_strdup("skip.*");
    h->excl[h->conf.exclude.n++] = h_path(h, "b.log"); /* full path */
    h_start(h);
    assert_true(h_wait(h, pred_lines, 1, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 1);
    assert_string_equal(h->lines[0].data, "a.log");
}

static void
test_start_at_end(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "a.log");

    put(p, "old\n", 0);
    h->conf.start_at = AS_START_END;
    h_pattern(h, "a.log");
    h_start(h);
    h_settle(h);
    assert_int_equal(h->n, 0);
    append(p, "new\n");
    assert_true(h_wait(h, pred_lines, 1, WAIT_MS));
    assert_string_equal(h->lines[0].data, "new");
    assert_int_equal(h->lines[0].pos.offset, 8);
    /* The fingerprint still covers the file's first bytes. */
    assert_int_equal(h->lines[0].pos.fp_len, 8);
    assert_true(h->lines[0].pos.fp == fp_of("old\nnew\n", 8));
    free(p);
}

static void
test_new_file_running(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "b.log");

    h->conf.start_at = AS_START_END;
    h->conf.rescan_interval_ms = 10000; /* inotify must find it */
    h_pattern(h, "*.log");
    h_start(h);
    h_settle(h);
    put(p, "first\nsecond\n", 0);
    assert_true(h_wait(h, pred_lines, 2, WAIT_MS));
    assert_string_equal(h->lines[0].data, "first");
    assert_int_equal(h->lines[0].pos.offset, 6);
    assert_string_equal(h->lines[1].data, "second");
    assert_string_equal(h->lines[1].source, p);
    free(p);
}

/*
 * Writes 310 lines while the file is renamed to app.log.1 and a new app.log
 * is created; the writer keeps writing to the old file for a moment.  With
 * glob "app.log" the old file is drained, then forgotten; with "app.log*"
 * it is followed under its new name.
 */
static void
rotate_common(struct harness *h, const char *pattern, bool drained)
{
    char *p = h_path(h, "app.log"), *p1 = h_path(h, "app.log.1"), text[32];
    struct as_tail_stats st;
    struct stat s1, s2;
    int fd1, fd2;
    size_t i, at;
    uint64_t last1 = 0, last2 = 0;

    fd1 = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd1 >= 0);
    assert_int_equal(fstat(fd1, &s1), 0);
    h_pattern(h, pattern);
    h_start(h);
    for (i = 0; i < 100; i++) {
        fdprintf(fd1, "line-%04zu\n", i);
    }
    assert_true(h_wait(h, pred_lines, 1, WAIT_MS));
    for (; i < 200; i++) {
        fdprintf(fd1, "line-%04zu\n", i);
    }
    assert_int_equal(rename(p, p1), 0);
    fd2 = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd2 >= 0);
    assert_int_equal(fstat(fd2, &s2), 0);
    for (; i < 300; i++) {
        fdprintf(fd2, "line-%04zu\n", i);
    }
    /* The writer still holds the old file for a moment. */
    for (; i < 310; i++) {
        fdprintf(fd1, "line-%04zu\n", i);
    }
    close(fd1);
    close(fd2);
    assert_true(h_wait(h, pred_lines, 310, WAIT_MS));
    if (drained) {
        assert_true(h_wait(h, pred_forgot, 1, WAIT_MS));
    }
    h_settle(h);
    assert_int_equal(h->n, 310);
    for (i = 0; i < 310; i++) {
        snprintf(text, sizeof(text), "line-%04zu", i);
        at = find_once(h, text);
        if (i >= 200 && i < 300) {
            assert_true(h->lines[at].pos.ino == (uint64_t) s2.st_ino);
        } else {
            assert_true(h->lines[at].pos.ino == (uint64_t) s1.st_ino);
        }
    }
    /* Offsets grow per file: nothing re-read, nothing skipped. */
    for (i = 0; i < h->n; i++) {
        uint64_t *last =
            h->lines[i].pos.ino == (uint64_t) s1.st_ino ? &last1 : &last2;

        assert_int_equal(h->lines[i].pos.offset, *last + 10);
        *last = h->lines[i].pos.offset;
    }
    as_tail_stats(&h->in, &st);
    assert_true(st.rotations >= 1);
    if (drained) {
        assert_true(h->forgot[0].pos.ino == (uint64_t) s1.st_ino);
        assert_int_equal(h->forgot[0].pos.offset, 210 * 10);
        assert_string_equal(h->forgot[0].source, p1);
        assert_int_equal(st.files_open, 1);
    } else {
        assert_int_equal(h->n_forgot, 0);
        assert_int_equal(st.files_open, 2);
    }
    free(p);
    free(p1);
}

static void
test_rotate_rename(void **state)
{
    rotate_common(*state, "app.log", true);
}

static void
test_rotate_rename_globbed(void **state)
{
    rotate_common(*state, "app.log*", false);
}

static void
test_copytruncate(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "app.log"), text[32];
    struct as_tail_stats st;
    int fd;
    size_t i;

    fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    h_pattern(h, "app.log");
    h_start(h);
    for (i = 0; i < 50; i++) {
        fdprintf(fd, "old-%04zu\n", i);
    }
    assert_true(h_wait(h, pred_lines, 50, WAIT_MS));
    /* copytruncate: the copy is not ours; then more is written at once. */
    assert_int_equal(ftruncate(fd, 0), 0);
    for (i = 0; i < 80; i++) {
        fdprintf(fd, "new-%04zu\n", i);
    }
    close(fd);
    assert_true(h_wait(h, pred_lines, 130, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 130);
    for (i = 0; i < 80; i++) {
        snprintf(text, sizeof(text), "new-%04zu", i);
        assert_int_equal(h->lines[find_once(h, text)].pos.offset, (i + 1) * 9);
    }
    as_tail_stats(&h->in, &st);
    assert_int_equal(st.truncations, 1);
    assert_int_equal(st.copies, 0);
    free(p);
}

/*
 * copytruncate with lines that reached only the copy: 50 lines are read,
 * 30 more are appended while the loop does not run, the file is copied to
 * app.log.1 and truncated, then n_new lines are written to it.  Every line
 * arrives exactly once, the copy's rest before the new lines.  Decoys: an
 * older copy with the same first bytes but other last bytes (and newer),
 * a symlink to the copy and a directory.
 */
static void
copytruncate_common(struct harness *h, size_t n_new)
{
    char *p = h_path(h, "app.log"), *p1 = h_path(h, "app.log.1");
    char *p2 = h_path(h, "app.log.2"), *ln = h_path(h, "link");
    char *sub = h_path(h, "sub"), text[32];
    const struct got_forget *g;
    struct as_tail_stats st;
    struct timespec times[2];
    uint64_t ino, ino1;
    size_t i, at, total = 80 + n_new;
    int fd;

    fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    write_lines(fd, "old", 0, 50);
    h_pattern(h, "app.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 50, WAIT_MS));
    h_settle(h);
    ino = ino_of(p);
    /* Not read yet: the loop does not run until the end. */
    write_lines(fd, "old", 50, 80);
    copy_file(p, p1);
    ino1 = ino_of(p1);
    assert_int_equal(ftruncate(fd, 0), 0);
    write_lines(fd, "new", 0, n_new);
    close(fd);
    fd = open(p2, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    write_lines(fd, "old", 0, 40);
    write_lines(fd, "dec", 40, 100);
    /* Newer than the copy, so only the bytes before our offset tell. */
    times[0].tv_sec = times[1].tv_sec = time(NULL) + 60;
    times[0].tv_nsec = times[1].tv_nsec = 0;
    assert_int_equal(futimens(fd, times), 0);
    close(fd);
    assert_int_equal(symlink(p1, ln), 0);
    assert_int_equal(mkdir(sub, 0755), 0);

    assert_true(h_wait(h, pred_lines, total, WAIT_MS));
    assert_true(h_wait(h, pred_forgot, 1, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, total);
    for (i = 0; i < 80; i++) {
        snprintf(text, sizeof(text), "old-%04zu", i);
        at = find_once(h, text);
        assert_int_equal(at, i); /* in order, before any new line */
        assert_int_equal(h->lines[at].pos.offset, (i + 1) * 9);
        if (i < 50) {
            assert_string_equal(h->lines[at].source, p);
            assert_true(h->lines[at].pos.ino == ino);
        } else {
            assert_string_equal(h->lines[at].source, p1);
            assert_true(h->lines[at].pos.ino == ino1);
        }
    }
    for (i = 0; i < n_new; i++) {
        snprintf(text, sizeof(text), "new-%04zu", i);
        at = find_once(h, text);
        assert_int_equal(at, 80 + i);
        assert_string_equal(h->lines[at].source, p);
        assert_true(h->lines[at].pos.ino == ino);
        assert_int_equal(h->lines[at].pos.offset, (i + 1) * 9);
    }
    /* The drained copy is forgotten with its own identity. */
    assert_non_null(g = forgot_of(h, p1));
    assert_true(g->pos.ino == ino1);
    assert_int_equal(g->pos.offset, 80 * 9);
    /*
     * The live file's old position is forgotten only when it delivered
     * nothing since: else the core has its new position.
     */
    g = forgot_of(h, p);
    if (n_new > 0) {
        assert_null(g);
    } else {
        assert_non_null(g);
        assert_true(g->pos.ino == ino);
        assert_int_equal(g->pos.offset, 50 * 9);
    }
    assert_int_equal(h->n_forgot, n_new > 0 ? 1 : 2);
    as_tail_stats(&h->in, &st);
    assert_int_equal(st.truncations, 1);
    assert_int_equal(st.copies, 1);
    assert_int_equal(st.files_open, 1);
    free(p);
    free(p1);
    free(p2);
    free(ln);
    free(sub);
}

/* Found by size (the file is shorter than our offset). */
static void
test_copytruncate_copy(void **state)
{
    copytruncate_common(*state, 10);
}

/* Found by its first bytes (the file grew past our offset again). */
static void
test_copytruncate_copy_grown(void **state)
{
    copytruncate_common(*state, 70);
}

/* Nothing written after the truncation. */
static void
test_copytruncate_copy_idle(void **state)
{
    copytruncate_common(*state, 0);
}

/*
 * copytruncate while stopped: the recovered position (line 20) finds its
 * file truncated; the copy's rest comes first, then the file from 0 (also
 * with start_at: end, since the position was known).  With mid_drain, the
 * agent had already drained the copy up to line 30 before it stopped, and
 * that recovered position of the copy wins.
 */
static void
copytruncate_down_common(struct harness *h, bool mid_drain)
{
    char *p = h_path(h, "app.log"), *p1 = h_path(h, "app.log.1"), text[32];
    struct as_srcpos pos, pos1;
    struct as_tail_stats st;
    size_t i, first = mid_drain ? 30 : 20, n_old = 50 - first;
    uint64_t ino1;
    int fd;

    fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    write_lines(fd, "old", 0, 50);
    pos = pos_of(p, 20 * 9);
    copy_file(p, p1);
    ino1 = ino_of(p1);
    pos1 = pos_of(p1, 30 * 9);
    assert_int_equal(ftruncate(fd, 0), 0);
    write_lines(fd, "new", 0, 5);
    close(fd);
    add_recovered(h, p, pos);
    if (mid_drain) {
        add_recovered(h, p1, pos1);
    }
    h->conf.start_at = AS_START_END;
    h_pattern(h, "app.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, n_old + 5, WAIT_MS));
    assert_true(h_wait(h, pred_forgot, mid_drain ? 2 : 1, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, n_old + 5);
    for (i = 0; i < n_old; i++) {
        snprintf(text, sizeof(text), "old-%04zu", first + i);
        assert_string_equal(h->lines[i].data, text);
        assert_string_equal(h->lines[i].source, p1);
        assert_true(h->lines[i].pos.ino == ino1);
        assert_int_equal(h->lines[i].pos.offset, (first + i + 1) * 9);
    }
    for (i = 0; i < 5; i++) {
        snprintf(text, sizeof(text), "new-%04zu", i);
        assert_string_equal(h->lines[n_old + i].data, text);
        assert_string_equal(h->lines[n_old + i].source, p);
        assert_true(h->lines[n_old + i].pos.ino == pos.ino);
    }
    assert_true(forgot_of(h, p1)->pos.ino == ino1);
    if (mid_drain) {
        /* The stale position of the live file, at once. */
        assert_true(forgot_of(h, p)->pos.ino == pos.ino);
        assert_int_equal(forgot_of(h, p)->pos.offset, 20 * 9);
    } else {
        assert_null(forgot_of(h, p));
    }
    as_tail_stats(&h->in, &st);
    assert_int_equal(st.copies, mid_drain ? 0 : 1);
    free(p);
    free(p1);
}

static void
test_copytruncate_while_down(void **state)
{
    copytruncate_down_common(*state, false);
}

static void
test_copytruncate_while_down_mid_drain(void **state)
{
    copytruncate_down_common(*state, true);
}

/*
 * Truncated while stopped, no copy (a file with other first bytes is not
 * one): the position is forgotten and the file read from 0.
 */
static void
test_truncated_while_down(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "app.log"), *p1 = h_path(h, "other.log");
    struct as_tail_stats st;
    struct as_srcpos pos;

    put(p, "l0\nl1\nl2\nl3\n", 0);
    pos = pos_of(p, 6);
    put(p, "n0\n", O_TRUNC);
    put(p1, "x0\nl1\nl2\nl3\nl4\n", 0);
    add_recovered(h, p, pos);
    h_pattern(h, "app.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 1, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 1);
    assert_string_equal(h->lines[0].data, "n0");
    assert_int_equal(h->n_forgot, 1);
    assert_string_equal(h->forgot[0].source, p);
    assert_int_equal(h->forgot[0].pos.offset, 6);
    as_tail_stats(&h->in, &st);
    assert_int_equal(st.copies, 0);
    free(p);
    free(p1);
}

static void
test_truncate(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "app.log");
    struct as_tail_stats st;

    put(p, "one-one\ntwo-two\nthree-three\n", 0);
    h_pattern(h, "app.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 3, WAIT_MS));
    put(p, "", O_TRUNC); /* : > file */
    assert_true(h_wait(h, pred_truncations, 1, WAIT_MS));
    append(p, "x\ny\n");
    assert_true(h_wait(h, pred_lines, 5, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 5);
    assert_string_equal(h->lines[3].data, "x");
    assert_int_equal(h->lines[3].pos.offset, 2);
    assert_string_equal(h->lines[4].data, "y");
    assert_int_equal(h->lines[4].pos.offset, 4);
    assert_true(h->lines[4].pos.fp == fp_of("x\ny\n", 4));
    as_tail_stats(&h->in, &st);
    assert_int_equal(st.copies, 0);
    assert_int_equal(h->n_forgot, 0);
    free(p);
}

static void
test_deleted(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "app.log");
    struct as_tail_stats st;

    put(p, "a\n", 0);
    h_pattern(h, "app.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 1, WAIT_MS));
    append(p, "b\nc\n");
    assert_int_equal(unlink(p), 0);
    assert_true(h_wait(h, pred_lines, 3, WAIT_MS));
    assert_true(h_wait(h, pred_forgot, 1, WAIT_MS));
    assert_string_equal(h->lines[2].data, "c");
    assert_int_equal(h->forgot[0].pos.offset, 6);
    as_tail_stats(&h->in, &st);
    assert_int_equal(st.files_open, 0);
    free(p);
}

static void
test_inode_reuse(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "app.log");
    struct as_srcpos pos;

    put(p, "new-1\nnew-2\n", 0);
    /* Same dev+inode, but the position was for other first bytes. */
    pos = pos_of(p, 6);
    pos.fp = fp_of("old-1\nold-2\n", 12);
    add_recovered(h, p, pos);
    h->conf.start_at = AS_START_END; /* must not apply: the path is known */
    h_pattern(h, "app.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 2, WAIT_MS));
    assert_string_equal(h->lines[0].data, "new-1");
    assert_int_equal(h->lines[0].pos.offset, 6);
    assert_string_equal(h->lines[1].data, "new-2");
    free(p);
}

static void
test_resume(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "app.log");
    struct as_srcpos pos;

    put(p, "l0\nl1\nl2\nl3\nl4\n", 0);
    pos = pos_of(p, 9); /* just past l2 */
    append(p, "l5\n");  /* grew since: fp_len 15 still checks */
    add_recovered(h, p, pos);
    h_pattern(h, "app.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 3, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 3);
    assert_string_equal(h->lines[0].data, "l3");
    assert_int_equal(h->lines[0].pos.offset, 12);
    assert_string_equal(h->lines[2].data, "l5");
    assert_int_equal(h->lines[2].pos.fp_len, 18);
    assert_int_equal(h->n_forgot, 0);
    free(p);
}

static void
test_rotated_while_down(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "app.log"), *p1 = h_path(h, "app.log.1");
    struct as_srcpos pos;
    size_t i;

    put(p, "l0\nl1\nl2\nl3\nl4\n", 0);
    pos = pos_of(p, 6); /* just past l1 */
    add_recovered(h, p, pos);
    assert_int_equal(rename(p, p1), 0);
    put(p, "n0\nn1\n", 0);
    h->conf.start_at = AS_START_END;
    h_pattern(h, "app.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 5, WAIT_MS));
    assert_true(h_wait(h, pred_forgot, 2, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 5);
    /* The rotated file's rest first, then the new file from 0. */
    for (i = 0; i < 3; i++) {
        char want[8];

        snprintf(want, sizeof(want), "l%zu", i + 2);
        assert_string_equal(h->lines[i].data, want);
        assert_string_equal(h->lines[i].source, p1);
        assert_int_equal(h->lines[i].pos.offset, 3 * (i + 3));
        assert_true(h->lines[i].pos.ino == pos.ino);
    }
    assert_string_equal(h->lines[3].data, "n0");
    assert_int_equal(h->lines[3].pos.offset, 3);
    assert_string_equal(h->lines[3].source, p);
    assert_string_equal(h->lines[4].data, "n1");
    /* Both names of the drained file are forgotten, with its identity. */
    for (i = 0; i < h->n_forgot; i++) {
        assert_true(h->forgot[i].pos.ino == pos.ino);
    }
    assert_string_equal(h->forgot[0].source, p1);
    assert_string_equal(h->forgot[1].source, p);
    free(p);
    free(p1);
}

/*
 * Writes 5,000 lines "line-NNNNNN" (12 bytes each) to p, starts the input
 * on it with a pause after the 100th line and waits for those 100.
 */
static void
h_start_paused(struct harness *h, const char *p)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    for (size_t i = 0; i < 5000; i++) {
        fdprintf(fd, "line-%06zu\n", i);
    }
    close(fd);
    h->pause_at = 100;
    h_pattern(h, "app.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 100, WAIT_MS));
}

static void
test_pause_resume(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "app.log"), text[32];
    size_t i;

    h_start_paused(h, p);
    h_settle(h);
    assert_int_equal(h->n, 100);
    append(p, "late\n");
    h_settle(h);
    assert_int_equal(h->n, 100);
    h->in.ops->resume(&h->in);
    assert_true(h_wait(h, pred_lines, 5001, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 5001);
    for (i = 0; i < 5000; i++) {
        snprintf(text, sizeof(text), "line-%06zu", i);
        assert_string_equal(h->lines[i].data, text);
        assert_int_equal(h->lines[i].pos.offset, (i + 1) * 12);
    }
    assert_string_equal(h->lines[5000].data, "late");
    free(p);
}

/*
 * Pauses in the middle of chunks (also right after the line that straddles
 * the first chunk boundary, which came from the carry) and at the end: the
 * rest of a chunk is split on resume, not read again, so the bytes read
 * are exactly the file's size, and every line still arrives once, in order,
 * at its offset.
 */
static void
test_pause_reads_once(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "app.log"), text[32];
    struct as_tail_stats st;
    const size_t total = 100000, every = 4033; /* 13 B lines: 3 chunks */
    size_t i, want;
    int fd;

    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    for (i = 0; i < total; i++) {
        fdprintf(fd, "line-%07zu\n", i);
    }
    close(fd);
    h->pause_every = every;
    h_pattern(h, "app.log");
    h_start(h);
    while (h->n < total) {
        want = (h->n / every + 1) * every;
        want = want < total ? want : total;
        assert_true(h_wait(h, pred_lines, want, WAIT_MS));
        assert_int_equal(h->n, want);
        h->in.ops->resume(&h->in);
    }
    append(p, "late\n");
    assert_true(h_wait(h, pred_lines, total + 1, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, total + 1);
    for (i = 0; i < total; i++) {
        snprintf(text, sizeof(text), "line-%07zu", i);
        assert_string_equal(h->lines[i].data, text);
        assert_int_equal(h->lines[i].pos.offset, (i + 1) * 13);
    }
    assert_string_equal(h->lines[total].data, "late");
    as_tail_stats(&h->in, &st);
    assert_int_equal(st.bytes, total * 13 + 5);
    assert_int_equal(st.bytes_read, total * 13 + 5);
    free(p);
}

/*
 * A file cut below the end of the bytes read ahead before a pause (its first
 * bytes unchanged, so no restart): those bytes are dropped and what the
 * file holds now is read, as when nothing was kept.
 */
static void
test_pause_then_shrink(void **state)
{
    struct harness *h = *state;
    char *p = h_path(h, "app.log"), text[32];
    size_t i;

    h_start_paused(h, p);
    assert_int_equal(truncate(p, 250 * 12), 0);
    h_settle(h); /* the rescan timer stats it while paused */
    h->in.ops->resume(&h->in);
    assert_true(h_wait(h, pred_lines, 250, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 250);
    for (i = 0; i < 250; i++) {
        snprintf(text, sizeof(text), "line-%06zu", i);
        assert_string_equal(h->lines[i].data, text);
        assert_int_equal(h->lines[i].pos.offset, (i + 1) * 12);
    }
    free(p);
}

static void
test_stop_closes(void **state)
{
    struct harness *h = *state;
    char *p;

    for (int i = 0; i < 3; i++) {
        char name[16];

        snprintf(name, sizeof(name), "f%d.log", i);
        p = h_path(h, name);
        put(p, "x\n", 0);
        free(p);
    }
    h_pattern(h, "*.log");
    h_start(h);
    assert_true(h_wait(h, pred_lines, 3, WAIT_MS));
    assert_int_equal(count_fds(h->dir), 3);
    h->in.ops->stop(&h->in, h_done_cb);
    assert_true(h_wait(h, pred_done, 0, WAIT_MS));
    assert_int_equal(count_fds(h->dir), 0);
    h->in.ops->destroy(&h->in);
    h->started = false;
    /* teardown checks that uv_loop_close finds no handle left. */
}

static void
test_init_checks(void **state)
{
    struct harness *h = *state;
    struct as_conf_errors errs = {NULL, 0};

    h->in.ctx = as_calloc(1, as_input_tail_ops.ctx_size);
    assert_int_equal(h->in.ops->init(&h->in, NULL, &errs), AS_ERR_CONFIG);
    assert_int_equal(errs.n, 1);
    free(errs.v);
}

static void
test_bench(void **state)
{
    struct harness *h = *state;
    const char *file = getenv("AS_TAIL_BENCH");
    struct as_tail_stats st;
    struct timespec t0, t1;
    double ns;

    assert_non_null(file);
    h->pats[h->conf.paths.n++] = as_strdup(file);
    h->conf.max_line_bytes = 256 * 1024;
    h->count_only = true;
    h_start(h);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (true) {
        uv_run(&h->loop, UV_RUN_ONCE);
        as_tail_stats(&h->in, &st);
        if (st.lines > 0 && h->n == st.lines) {
            struct stat s;

            assert_int_equal(stat(file, &s), 0);
            if (st.bytes == (uint64_t) s.st_size) {
                break;
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ns = (double) (t1.tv_sec - t0.tv_sec) * 1e9 +
         (double) (t1.tv_nsec - t0.tv_nsec);
    print_message("# tail bench: %llu lines, %llu bytes in %.1f ms: "
                  "%.1f ns/line, %.0f MB/s\n",
                  (unsigned long long) st.lines, (unsigned long long) st.bytes,
                  ns / 1e6, ns / (double) st.lines,
                  (double) st.bytes / ns * 1e3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines_offsets, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_fp_grows, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_big_file, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_partial_line, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_crlf, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_overlong, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_glob_exclude, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_start_at_end, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_new_file_running, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_rotate_rename, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_rotate_rename_globbed, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_copytruncate, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_copytruncate_copy, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_copytruncate_copy_grown, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_copytruncate_copy_idle, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_copytruncate_while_down, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_copytruncate_while_down_mid_drain,
                                        h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_while_down, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_truncate, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_deleted, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_inode_reuse, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_resume, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_rotated_while_down, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_pause_resume, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_pause_reads_once, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_pause_then_shrink, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_stop_closes, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_init_checks, h_setup, h_teardown),
    };
    const struct CMUnitTest bench[] = {
        cmocka_unit_test_setup_teardown(test_bench, h_setup, h_teardown),
    };

    as_log_set_level(getenv("AS_TAIL_DEBUG") != NULL ? AS_LOG_DEBUG
                                                     : AS_LOG_WARN);
    if (getenv("AS_TAIL_BENCH") != NULL) {
        return cmocka_run_group_tests(bench, NULL, NULL);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
