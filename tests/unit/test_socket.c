/*
 * The socket input.
 *
 * The framer on its own (socket_frame.c): lines split across reads at
 * every byte, CRLF, NUL ends, empty lines, over-long lines truncated once
 * with the rest discarded, the last line at EOF, RFC 6587 octet counting
 * (split frames, a LEN above max_line_bytes, separators, a bad header that
 * falls back to lines keeping its bytes, a frame cut by EOF), a pause in
 * the middle of a read, and a carry that never exceeds max + 2 bytes.
 *
 * Peer identity (socket_peer.c): our own pid resolves to our comm and exe;
 * invalid UTF-8 is repaired; the cache answers within its ttl only and
 * only for the same pid, uid and gid.
 *
 * The input against a real libuv loop, with clients in this process (so
 * the peer is us): stream connections with interleaved partial writes,
 * octet counting over a connection, datagrams (trailing newline or NUL,
 * over-long, empty), pause/resume for both modes (nothing arrives while
 * paused, everything once and in order after), stop reading what clients
 * sent but we had not read (and their next write failing with EPIPE), the
 * socket file (permissions, group, parent directory, a stale socket
 * replaced, a live one or a regular file refused, removed at stop only
 * while it is ours), init errors, and socket activation (descriptors passed
 * as by systemd, matched by path or by name, kept open and in place across
 * a stop and a second start).  Every loop run is bounded by a deadline.
 *
 * With AS_SOCKET_BENCH=FILE, only test_bench runs: it times the ingest of
 * FILE's lines (stream over one connection, then one datagram per line)
 * from a child process, the core replaced by a counter, and prints events/s
 * and the loop's CPU time per event.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "core/error.h"
#include "core/mem.h"
#include "inputs/socket.h"
#include "inputs/socket_frame.h"
#include "inputs/socket_peer.h"

#define WAIT_MS   5000 /* deadline of a wait that should succeed */
#define SETTLE_MS 150  /* window in which nothing more may arrive */

/* ---- the framer ---- */

struct fmsg {
    char *data;
    size_t len;
    bool trunc;
};

struct fcoll {
    struct fmsg v[64];
    size_t n;
    size_t stop_at; /* emit returns false after this many; 0 = never */
};

static bool
f_emit(void *arg, const char *msg, size_t len, bool truncated)
{
    struct fcoll *c = arg;

    assert_true(c->n < AS_ARRAY_SIZE(c->v));
    c->v[c->n].data = as_memdup(msg, len + 1);
    c->v[c->n].data[len] = '\0';
    c->v[c->n].len = len;
    c->v[c->n].trunc = truncated;
    c->n++;
    return c->stop_at == 0 || c->n != c->stop_at;
}

static void
f_clear(struct fcoll *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].data);
    }
    memset(c, 0, sizeof(*c));
}

/* Feeds s in pieces of step bytes (0 = all at once), then EOF. */
static void
f_run(struct as_sockframe *f, struct fcoll *c, const char *s, size_t n,
      size_t step)
{
    size_t pos = 0, k;

    while (pos < n) {
        k = step == 0 || n - pos < step ? n - pos : step;
        assert_int_equal(as_sockframe_feed(f, s + pos, k, f_emit, c), k);
        pos += k;
    }
    (void) as_sockframe_eof(f, f_emit, c);
}

static void
f_expect(const struct fcoll *c, size_t i, const char *data, bool trunc)
{
    assert_true(i < c->n);
    assert_int_equal(c->v[i].len, strlen(data));
    assert_memory_equal(c->v[i].data, data, strlen(data));
    assert_int_equal(c->v[i].trunc, trunc);
}

static void
test_frame_lines(void **state)
{
    static const char in[] = "first\nsecond\r\nthird\0fourth\n\n\r\n"
                             "last without newline";
    struct as_sockframe f;
    struct fcoll c;

    (void) state;
    /* The same messages however the bytes are split. */
    for (size_t step = 0; step <= sizeof(in); step++) {
        memset(&c, 0, sizeof(c));
        as_sockframe_init(&f, 64, false);
        f_run(&f, &c, in, sizeof(in) - 1, step);
        assert_int_equal(c.n, 5);
        f_expect(&c, 0, "first", false);
        f_expect(&c, 1, "second", false);
        f_expect(&c, 2, "third", false);
        f_expect(&c, 3, "fourth", false);
        f_expect(&c, 4, "last without newline", false);
        assert_int_equal(f.messages, 5);
        assert_int_equal(f.empty, 2);
        assert_int_equal(f.truncated, 0);
        as_sockframe_free(&f);
        f_clear(&c);
    }
}

static void
test_frame_long_lines(void **state)
{
    struct as_sockframe f;
    struct fcoll c;
    char *in;
    size_t n;

    (void) state;
    /* 8 bytes allowed: exactly 8, 8 + "\r", 9, 30, then a short one. */
    as_asprintf(&in, "%s\n%s\r\n%s\n%s\nok\n", "12345678", "abcdefgh",
                "123456789", "0123456789abcdefghijklmnopqrst");
    n = strlen(in);
    for (size_t step = 0; step <= 7; step++) {
        memset(&c, 0, sizeof(c));
        as_sockframe_init(&f, 8, false);
        f_run(&f, &c, in, n, step);
        assert_int_equal(c.n, 5);
        f_expect(&c, 0, "12345678", false);
        f_expect(&c, 1, "abcdefgh", false);
        f_expect(&c, 2, "12345678", true);
        f_expect(&c, 3, "01234567", true);
        f_expect(&c, 4, "ok", false);
        assert_int_equal(f.truncated, 2);
        as_sockframe_free(&f);
        f_clear(&c);
    }
    free(in);

    /* A huge line in small reads: one truncated message, bounded carry. */
    memset(&c, 0, sizeof(c));
    as_sockframe_init(&f, 1000, false);
    in = as_malloc(1024);
    memset(in, 'x', 1024);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(as_sockframe_feed(&f, in, 1024, f_emit, &c), 1024);
        assert_true(f.carry.len <= 1002);
        assert_true(f.carry.cap <= 1002);
    }
    assert_int_equal(f.carry.total, 1024 * 10000);
    assert_int_equal(as_sockframe_feed(&f, "\nnext\n", 6, f_emit, &c), 6);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.v[0].len, 1000);
    assert_true(c.v[0].trunc);
    f_expect(&c, 1, "next", false);
    free(in);
    as_sockframe_free(&f);
    f_clear(&c);
}

static void
test_frame_octet(void **state)
{
    static const char in[] = "5 hello13 with\nnewline\n\n3 abc0 14 "
                             "0123456789abcd";
    struct as_sockframe f;
    struct fcoll c;

    (void) state;
    for (size_t step = 0; step <= sizeof(in); step++) {
        memset(&c, 0, sizeof(c));
        as_sockframe_init(&f, 12, true);
        f_run(&f, &c, in, sizeof(in) - 1, step);
        assert_int_equal(c.n, 4);
        f_expect(&c, 0, "hello", false);
        /* A newline inside the count is data, a trailing one is not. */
        f_expect(&c, 1, "with\nnewline", false);
        f_expect(&c, 2, "abc", false);
        f_expect(&c, 3, "0123456789ab", true);
        assert_int_equal(f.empty, 1);
        assert_int_equal(f.framing_errors, 0);
        as_sockframe_free(&f);
        f_clear(&c);
    }
    /* Exactly max, and max with a trailing newline inside the count. */
    memset(&c, 0, sizeof(c));
    as_sockframe_init(&f, 10, true);
    f_run(&f, &c, "10 012345678911 0123456789\n", 27, 0);
    assert_int_equal(c.n, 2);
    f_expect(&c, 0, "0123456789", false);
    f_expect(&c, 1, "0123456789", false);
    as_sockframe_free(&f);
    f_clear(&c);
}

static void
test_frame_octet_errors(void **state)
{
    struct as_sockframe f;
    struct fcoll c;

    (void) state;
    /* A bad header: the rest is lines, the digits kept. */
    for (size_t step = 0; step <= 4; step++) {
        memset(&c, 0, sizeof(c));
        as_sockframe_init(&f, 64, true);
        f_run(&f, &c, "4 abcd12x y\nz\n", 14, step);
        assert_int_equal(c.n, 3);
        f_expect(&c, 0, "abcd", false);
        f_expect(&c, 1, "12x y", false);
        f_expect(&c, 2, "z", false);
        assert_int_equal(f.framing_errors, 1);
        as_sockframe_free(&f);
        f_clear(&c);
    }
    /* A frame cut short by the end of the connection. */
    memset(&c, 0, sizeof(c));
    as_sockframe_init(&f, 64, true);
    f_run(&f, &c, "20 only ten b", 13, 0);
    assert_int_equal(c.n, 1);
    f_expect(&c, 0, "only ten b", false);
    assert_int_equal(f.incomplete, 1);
    as_sockframe_free(&f);
    f_clear(&c);
    /* Digits and then the end. */
    memset(&c, 0, sizeof(c));
    as_sockframe_init(&f, 64, true);
    f_run(&f, &c, "42", 2, 0);
    assert_int_equal(c.n, 1);
    f_expect(&c, 0, "42", false);
    as_sockframe_free(&f);
    f_clear(&c);
    /* Too many digits is not a header either. */
    memset(&c, 0, sizeof(c));
    as_sockframe_init(&f, 64, true);
    f_run(&f, &c, "1234567890123456 x\n", 19, 0);
    assert_int_equal(c.n, 1);
    f_expect(&c, 0, "1234567890123456 x", false);
    assert_int_equal(f.framing_errors, 1);
    as_sockframe_free(&f);
    f_clear(&c);
    /* Octet counting only for syslog: digits start a line otherwise. */
    memset(&c, 0, sizeof(c));
    as_sockframe_init(&f, 64, false);
    f_run(&f, &c, "5 hello\n", 8, 0);
    assert_int_equal(c.n, 1);
    f_expect(&c, 0, "5 hello", false);
    as_sockframe_free(&f);
    f_clear(&c);
    /* The first byte decides: lines stay lines. */
    memset(&c, 0, sizeof(c));
    as_sockframe_init(&f, 64, true);
    f_run(&f, &c, "<13>a\n5 hello\n", 14, 0);
    assert_int_equal(c.n, 2);
    f_expect(&c, 1, "5 hello", false);
    as_sockframe_free(&f);
    f_clear(&c);
}

static void
test_frame_pause(void **state)
{
    static const char lines[] = "a\nbb\nccc\ndddd\n";
    static const char oct[] = "1 a2 bb3 ccc4 dddd";
    const char *ins[2] = {lines, oct};
    size_t lens[2] = {sizeof(lines) - 1, sizeof(oct) - 1};
    struct as_sockframe f;
    struct fcoll c;
    size_t used, pos;

    (void) state;
    for (size_t k = 0; k < 2; k++) {
        memset(&c, 0, sizeof(c));
        as_sockframe_init(&f, 64, k == 1);
        c.stop_at = 2;
        used = as_sockframe_feed(&f, ins[k], lens[k], f_emit, &c);
        assert_int_equal(c.n, 2);
        assert_true(used < lens[k]);
        c.stop_at = 0;
        pos = used;
        used = as_sockframe_feed(&f, ins[k] + pos, lens[k] - pos, f_emit, &c);
        assert_int_equal(pos + used, lens[k]);
        assert_int_equal(c.n, 4);
        f_expect(&c, 0, "a", false);
        f_expect(&c, 1, "bb", false);
        f_expect(&c, 2, "ccc", false);
        f_expect(&c, 3, "dddd", false);
        as_sockframe_free(&f);
        f_clear(&c);
    }
}

/* ---- peer identity ---- */

static void
test_peer_self(void **state)
{
    char comm[64], exe[PATH_MAX];
    struct as_peer p;
    ssize_t n;
    FILE *fp;

    (void) state;
    fp = fopen("/proc/self/comm", "r");
    assert_non_null(fp);
    assert_non_null(fgets(comm, sizeof(comm), fp));
    fclose(fp);
    comm[strcspn(comm, "\n")] = '\0';
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';

    as_peer_resolve(&p, getpid(), getuid(), getgid());
    assert_true(p.valid);
    assert_int_equal(p.pid, getpid());
    assert_int_equal(p.uid, getuid());
    assert_int_equal(p.gid, getgid());
    assert_string_equal(p.comm, comm);
    assert_non_null(p.exe);
    assert_string_equal(p.exe, exe);
    as_peer_clear(&p);
    assert_false(p.valid);

    /* pid 0 (another pid namespace): ids only. */
    as_peer_resolve(&p, 0, 1, 2);
    assert_true(p.valid);
    assert_string_equal(p.comm, "");
    assert_null(p.exe);
    assert_null(p.unit);
    as_peer_clear(&p);
}

static void
test_peer_utf8(void **state)
{
    char s[] = "ok \xc3\xa9 \xff bad \xe2\x82 cut \xed\xa0\x80 sur";

    (void) state;
    as_peer_utf8_fix(s, strlen(s));
    assert_string_equal(s, "ok \xc3\xa9 ? bad ?? cut ??? sur");
}

static void
test_peer_cache(void **state)
{
    struct as_peer_cache c;
    const struct as_peer *a, *b;

    (void) state;
    as_peer_cache_init(&c, 1000);
    a = as_peer_cache_get(&c, getpid(), getuid(), getgid(), 5000);
    assert_int_equal(a->pid, getpid());
    b = as_peer_cache_get(&c, getpid(), getuid(), getgid(), 5999);
    assert_ptr_equal(a, b);
    assert_int_equal(c.hits, 1);
    /* Another uid for the same pid (a setuid exec): resolved again. */
    b = as_peer_cache_get(&c, getpid(), getuid() + 1, getgid(), 5999);
    assert_int_equal(b->uid, getuid() + 1);
    assert_int_equal(c.hits, 1);
    /* Past the ttl: resolved again. */
    b = as_peer_cache_get(&c, getpid(), getuid(), getgid(), 7000);
    assert_int_equal(c.hits, 1);
    assert_int_equal(c.lookups, 4);
    assert_int_equal(b->uid, getuid());
    as_peer_cache_free(&c);
}

/* ---- the input against a loop ---- */

struct got {
    char *data;
    size_t len;
    unsigned flags;
    bool has_peer;
    struct as_peer peer;
    char *source;
};

struct harness {
    uv_loop_t loop;
    uv_timer_t guard;
    struct as_input in;
    struct as_conf_input_socket conf;
    char dir[64];
    char path[100];
    struct got *got;
    size_t n, cap;
    size_t pause_at; /* pause when this many events arrived; 0 = never */
    bool started, done;
    bool count_only; /* benchmark: keep no copies */
};

static void
h_emit(struct as_input *in, const char *bytes, size_t len,
       const struct as_srcinfo *src, unsigned flags)
{
    struct harness *h = in->core;
    struct got *g;

    if (h->count_only) {
        h->n++;
        return;
    }
    if (h->n == h->cap) {
        h->cap = h->cap == 0 ? 64 : h->cap * 2;
        h->got = as_reallocarray(h->got, h->cap, sizeof(*h->got));
    }
    g = &h->got[h->n++];
    memset(g, 0, sizeof(*g));
    g->data = as_memdup(bytes, len + 1);
    g->data[len] = '\0';
    g->len = len;
    g->flags = flags;
    assert_false(src->has_pos);
    g->source = as_strdup(src->source);
    if (src->peer != NULL) {
        g->has_peer = true;
        as_peer_copy(&g->peer, src->peer);
    }
    if (h->pause_at != 0 && h->n == h->pause_at) {
        in->ops->pause(in);
    }
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

    snprintf(h->dir, sizeof(h->dir), "/tmp/as-sock-XXXXXX");
    assert_non_null(mkdtemp(h->dir));
    snprintf(h->path, sizeof(h->path), "%s/run/in.sock", h->dir);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    uv_timer_init(&h->loop, &h->guard);
    uv_timer_start(&h->guard, h_guard_cb, 5, 5);
    h->conf.path = h->path;
    h->conf.mode = AS_SOCK_STREAM;
    h->conf.format = AS_FORMAT_JSON;
    h->conf.permissions = (char *) "0660";
    h->conf.group = (char *) "";
    h->conf.max_line_bytes = 64;
    h->in.ops = &as_input_socket_ops;
    h->in.id = "test";
    h->in.conf = &h->conf;
    h->in.loop = &h->loop;
    h->in.core = h;
    h->in.emit = h_emit;
    snprintf(h->in.prefix, sizeof(h->in.prefix), "input:socket:test");
    *state = h;
    return 0;
}

static int
h_init(struct harness *h, struct as_conf_errors *errs)
{
    free(h->in.ctx);
    h->in.ctx = as_calloc(1, as_input_socket_ops.ctx_size);
    return h->in.ops->init(&h->in, NULL, errs);
}

static int
h_try_start(struct harness *h)
{
    struct as_conf_errors errs = {NULL, 0};
    int rc;

    assert_int_equal(h_init(h, &errs), 0);
    assert_int_equal(errs.n, 0);
    rc = h->in.ops->start(&h->in);
    h->started = rc == 0;
    h->done = false;
    return rc;
}

static void
h_start(struct harness *h)
{
    assert_int_equal(h_try_start(h), 0);
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
pred_events(struct harness *h, size_t n)
{
    return h->n >= n;
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
pred_conns(struct harness *h, size_t n)
{
    struct as_socket_stats st;

    as_socket_stats(&h->in, &st);
    return st.accepted >= n;
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
h_stop(struct harness *h)
{
    if (!h->started) {
        return;
    }
    h->in.ops->stop(&h->in, h_done_cb);
    assert_true(h_wait(h, pred_done, 0, WAIT_MS));
    h->in.ops->destroy(&h->in);
    h->started = false;
}

static void
h_clear(struct harness *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->got[i].data);
        free(h->got[i].source);
        as_peer_clear(&h->got[i].peer);
    }
    h->n = 0;
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

static int
h_teardown(void **state)
{
    struct harness *h = *state;

    h_stop(h);
    h_clear(h);
    free(h->got);
    free(h->in.ctx);
    uv_close((uv_handle_t *) &h->guard, NULL);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    h_rm_rf(h->dir);
    free(h);
    return 0;
}

/* A client socket of type connected to path (blocking). */
static int
h_client(const char *path, int type)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    return fd;
}

static void
h_write(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t) strlen(s));
}

/* Index of the event whose bytes are s, or -1. */
static long
h_find(const struct harness *h, const char *s)
{
    for (size_t i = 0; i < h->n; i++) {
        if (strcmp(h->got[i].data, s) == 0) {
            return (long) i;
        }
    }
    return -1;
}

static void
h_expect_self(const struct got *g)
{
    assert_true(g->has_peer);
    assert_true(g->peer.valid);
    assert_int_equal(g->peer.pid, getpid());
    assert_int_equal(g->peer.uid, getuid());
    assert_int_equal(g->peer.gid, getgid());
    assert_non_null(g->peer.exe);
    assert_true(g->peer.comm[0] != '\0');
}

static void
test_stream(void **state)
{
    struct harness *h = *state;
    struct as_socket_stats st;
    char big[200];
    int a, b, c;
    long i, j;

    h_start(h);
    a = h_client(h->path, SOCK_STREAM);
    b = h_client(h->path, SOCK_STREAM);
    c = h_client(h->path, SOCK_STREAM);
    h_write(a, "a1\na2 part");
    h_write(b, "b1 part");
    assert_true(h_wait(h, pred_events, 1, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 1);
    h_write(b, "ial\r\nb2\n");
    h_write(a, "ial\n");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    h_write(c, big);
    h_write(c, "\nc2\nc3 at EOF");
    close(c);
    assert_true(h_wait(h, pred_events, 7, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 7);
    assert_true(h_find(h, "a1") >= 0);
    i = h_find(h, "a2 partial");
    j = h_find(h, "b1 partial");
    assert_true(i >= 0 && j >= 0);
    assert_true(h_find(h, "b2") > j);
    assert_true(h_find(h, "c3 at EOF") > h_find(h, "c2"));
    /* The over-long line: its first 64 bytes, flagged. */
    for (size_t k = 0; k < h->n; k++) {
        h_expect_self(&h->got[k]);
        assert_string_equal(h->got[k].source, h->path);
        if (h->got[k].data[0] == 'x') {
            assert_int_equal(h->got[k].len, 64);
            assert_int_equal(h->got[k].flags, AS_EMIT_TRUNCATED);
        } else {
            assert_int_equal(h->got[k].flags, 0);
        }
    }
    as_socket_stats(&h->in, &st);
    assert_int_equal(st.accepted, 3);
    assert_int_equal(st.conns_open, 2);
    assert_int_equal(st.messages, 7);
    assert_int_equal(st.truncated, 1);
    close(a);
    close(b);
}

static void
test_stream_octet(void **state)
{
    struct harness *h = *state;
    int a, b;

    h->conf.format = AS_FORMAT_SYSLOG;
    h_start(h);
    a = h_client(h->path, SOCK_STREAM);
    b = h_client(h->path, SOCK_STREAM);
    h_write(a, "11 <13>a b\nc d");
    h_write(a, "4 <1>x");
    h_write(b, "<13>line one\n<13>line two\n");
    close(a);
    close(b);
    assert_true(h_wait(h, pred_events, 4, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 4);
    assert_true(h_find(h, "<13>a b\nc d") >= 0);
    assert_true(h_find(h, "<1>x") >= 0);
    assert_true(h_find(h, "<13>line one") >= 0);
    assert_true(h_find(h, "<13>line two") >= 0);
}

static void
test_datagram(void **state)
{
    struct harness *h = *state;
    struct as_socket_stats st;
    char big[300];
    int a;

    h->conf.mode = AS_SOCK_DATAGRAM;
    h_start(h);
    a = h_client(h->path, SOCK_DGRAM);
    h_write(a, "one");
    h_write(a, "two\n");
    h_write(a, "three\r\n");
    h_write(a, "<12>four");
    assert_int_equal(send(a, "five\0", 5, 0), 5);
    assert_int_equal(send(a, "\n", 1, 0), 1); /* empty: skipped */
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    h_write(a, big);
    big[65] = '\0';
    h_write(a, big); /* 65 bytes: one too many */
    big[64] = '\n';
    h_write(a, big); /* 64 bytes and a newline: fits */
    h_write(a, "with\nnewline inside");
    assert_true(h_wait(h, pred_events, 9, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 9);
    assert_string_equal(h->got[0].data, "one");
    assert_string_equal(h->got[1].data, "two");
    assert_string_equal(h->got[2].data, "three");
    assert_string_equal(h->got[3].data, "<12>four");
    assert_string_equal(h->got[4].data, "five");
    assert_int_equal(h->got[5].len, 64);
    assert_int_equal(h->got[5].flags, AS_EMIT_TRUNCATED);
    assert_int_equal(h->got[6].len, 64);
    assert_int_equal(h->got[6].flags, AS_EMIT_TRUNCATED);
    assert_int_equal(h->got[7].len, 64);
    assert_int_equal(h->got[7].flags, 0);
    assert_string_equal(h->got[8].data, "with\nnewline inside");
    for (size_t k = 0; k < h->n; k++) {
        h_expect_self(&h->got[k]);
    }
    as_socket_stats(&h->in, &st);
    assert_int_equal(st.datagrams, 10);
    assert_int_equal(st.empty, 1);
    assert_int_equal(st.truncated, 2);
    assert_int_equal(st.no_creds, 0);
    /* One /proc lookup for ten datagrams of one sender. */
    assert_int_equal(st.peer_resolved, 1);
    close(a);
}

static void
test_pause_stream(void **state)
{
    struct harness *h = *state;
    char line[32], buf[400] = "";
    int a, b;

    h_start(h);
    a = h_client(h->path, SOCK_STREAM);
    for (int i = 0; i < 10; i++) {
        snprintf(line, sizeof(line), "a%d\n", i);
        strcat(buf, line);
    }
    h->pause_at = 3;
    h_write(a, buf);
    assert_true(h_wait(h, pred_events, 3, WAIT_MS));
    /* Paused: neither the rest of that read nor a new client arrives. */
    b = h_client(h->path, SOCK_STREAM);
    h_write(b, "b0\n");
    assert_true(h_wait(h, pred_conns, 2, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 3);
    h->pause_at = 0;
    h->in.ops->resume(&h->in);
    assert_true(h_wait(h, pred_events, 11, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 11);
    for (int i = 0; i < 10; i++) {
        snprintf(line, sizeof(line), "a%d", i);
        assert_int_equal(h_find(h, line), i < 3 ? i : h_find(h, line));
    }
    /* a's lines in order, each once. */
    for (int i = 1; i < 10; i++) {
        char prev[32];

        snprintf(prev, sizeof(prev), "a%d", i - 1);
        snprintf(line, sizeof(line), "a%d", i);
        assert_true(h_find(h, line) > h_find(h, prev));
    }
    assert_true(h_find(h, "b0") >= 0);
    close(a);
    close(b);
}

static void
test_pause_datagram(void **state)
{
    struct harness *h = *state;
    char msg[32];
    int a;

    h->conf.mode = AS_SOCK_DATAGRAM;
    h_start(h);
    a = h_client(h->path, SOCK_DGRAM);
    for (int i = 0; i < 8; i++) {
        snprintf(msg, sizeof(msg), "d%d", i);
        h_write(a, msg);
    }
    h->pause_at = 2;
    assert_true(h_wait(h, pred_events, 2, WAIT_MS));
    h_write(a, "late");
    h_settle(h);
    assert_int_equal(h->n, 2);
    h->pause_at = 5;
    h->in.ops->resume(&h->in);
    assert_true(h_wait(h, pred_events, 5, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 5);
    h->pause_at = 0;
    h->in.ops->resume(&h->in);
    assert_true(h_wait(h, pred_events, 9, WAIT_MS));
    h_settle(h);
    assert_int_equal(h->n, 9);
    for (int i = 0; i < 8; i++) {
        snprintf(msg, sizeof(msg), "d%d", i);
        assert_int_equal(h_find(h, msg), i);
    }
    assert_int_equal(h_find(h, "late"), 8);
    close(a);
}

static void
test_stop_drains(void **state)
{
    struct harness *h = *state;
    int a, b, d;

    h_start(h);
    a = h_client(h->path, SOCK_STREAM);
    assert_true(h_wait(h, pred_conns, 1, WAIT_MS));
    /* Never read by the loop: stop must read them. */
    h_write(a, "x1\nx2\nx3 unterminated");
    b = h_client(h->path, SOCK_STREAM); /* still in the backlog */
    h_write(b, "y1\n");
    h->in.ops->stop(&h->in, h_done_cb);
    assert_true(h_wait(h, pred_done, 0, WAIT_MS));
    h->in.ops->destroy(&h->in);
    h->started = false;
    assert_int_equal(h->n, 4);
    assert_true(h_find(h, "x3 unterminated") >= 0);
    assert_true(h_find(h, "y1") >= 0);
    /* The client learns that nothing more is read. */
    assert_int_equal(send(a, "x4\n", 3, MSG_NOSIGNAL), -1);
    assert_true(errno == EPIPE || errno == ECONNRESET);
    close(a);
    close(b);
    /* And the file is gone. */
    assert_int_equal(access(h->path, F_OK), -1);

    /* Datagrams queued at stop are delivered too. */
    h_clear(h);
    h->conf.mode = AS_SOCK_DATAGRAM;
    h_start(h);
    d = h_client(h->path, SOCK_DGRAM);
    h_write(d, "q1");
    h_write(d, "q2");
    h_stop(h);
    assert_int_equal(h->n, 2);
    assert_int_equal(send(d, "q3", 2, MSG_NOSIGNAL), -1);
    close(d);
}

static void
test_socket_file(void **state)
{
    struct harness *h = *state;
    struct sockaddr_un sa;
    struct stat st, dst;
    struct group *gr;
    char dir[128];
    mode_t um;
    int fd;

    /* Parent created (0755: clients must reach it), mode applied. */
    h->conf.permissions = (char *) "0620";
    gr = getgrgid(getgid() == 0 ? 1 : getgid());
    assert_non_null(gr);
    h->conf.group = gr->gr_name;
    um = umask(0);
    umask(um);
    h_start(h);
    snprintf(dir, sizeof(dir), "%s/run", h->dir);
    assert_int_equal(stat(dir, &dst), 0);
    assert_int_equal(dst.st_mode & 0777, 0755 & ~um);
    assert_int_equal(lstat(h->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0620);
    assert_int_equal(st.st_gid, gr->gr_gid);

    /* A second input on the same path: refused, the file stays. */
    {
        struct harness h2;
        struct as_conf_errors errs = {NULL, 0};

        memcpy(&h2, h, sizeof(h2));
        h2.in.ctx = as_calloc(1, as_input_socket_ops.ctx_size);
        h2.in.core = &h2;
        assert_int_equal(h2.in.ops->init(&h2.in, NULL, &errs), 0);
        assert_int_equal(h2.in.ops->start(&h2.in), -EADDRINUSE);
        h2.in.ops->destroy(&h2.in);
        free(h2.in.ctx);
        assert_int_equal(lstat(h->path, &dst), 0);
        assert_int_equal(dst.st_ino, st.st_ino);
    }
    h_stop(h);
    assert_int_equal(access(h->path, F_OK), -1);

    /* A stale socket (bound, then its owner gone): replaced. */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h->path);
    assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    close(fd);
    assert_int_equal(lstat(h->path, &st), 0);
    h->conf.group = (char *) "";
    h->conf.permissions = (char *) "0600";
    h_start(h);
    assert_int_equal(lstat(h->path, &dst), 0);
    assert_int_equal(dst.st_mode & 07777, 0600);
    fd = h_client(h->path, SOCK_STREAM); /* live again */
    assert_true(h_wait(h, pred_conns, 1, WAIT_MS));
    close(fd);

    /* Not ours any more at stop: left in place. */
    assert_int_equal(unlink(h->path), 0);
    fd = open(h->path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    h_stop(h);
    assert_int_equal(access(h->path, F_OK), 0);

    /* A regular file at the path: refused and kept. */
    assert_int_equal(h_try_start(h), -EEXIST);
    h->in.ops->destroy(&h->in);
    assert_int_equal(lstat(h->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(h->path);

    /* A live datagram socket of another program: refused. */
    fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    assert_int_equal(h_try_start(h), -EADDRINUSE);
    h->in.ops->destroy(&h->in);
    assert_int_equal(access(h->path, F_OK), 0);
    close(fd);
}

static void
test_init_errors(void **state)
{
    static const char *const bad_modes[] = {"",      "66",    "abc",  "0999",
                                            "07777", "06600", "0x1ff"};
    struct harness *h = *state;
    struct as_conf_errors errs = {NULL, 0};
    char longpath[200];

    for (size_t i = 0; i < AS_ARRAY_SIZE(bad_modes); i++) {
        h->conf.permissions = (char *) bad_modes[i];
        assert_int_equal(h_init(h, &errs), AS_ERR_CONFIG);
        assert_int_equal(errs.n, 1);
        assert_non_null(strstr(errs.v[0].msg, "permissions"));
        as_conf_errors_free(&errs);
    }
    h->conf.permissions = (char *) "666";
    assert_int_equal(h_init(h, &errs), 0);
    h->conf.group = (char *) "no-such-group-auditship";
    assert_int_equal(h_init(h, &errs), AS_ERR_CONFIG);
    assert_non_null(strstr(errs.v[0].msg, "unknown group"));
    as_conf_errors_free(&errs);
    h->conf.group = (char *) "0";
    assert_int_equal(h_init(h, &errs), 0);
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    h->conf.path = longpath;
    assert_int_equal(h_init(h, &errs), AS_ERR_CONFIG);
    assert_non_null(strstr(errs.v[0].msg, "longer than"));
    as_conf_errors_free(&errs);
    h->conf.path = (char *) "";
    assert_int_equal(h_init(h, &errs), AS_ERR_CONFIG);
    assert_non_null(strstr(errs.v[0].msg, "must not be empty"));
    as_conf_errors_free(&errs);
    h->conf.path = h->path;
}

/*
 * Socket activation: main put a stream listener at fd 3 (matched by path)
 * and a datagram socket at fd 4, bound elsewhere but named after an input,
 * as systemd passes them, before anything else opened a descriptor.  The
 * table of passed descriptors is read once per process, so this test runs
 * first; the descriptors stay open (as systemd's would) and match no other
 * test's path or id.
 */
static char act_dir[64];

static void
test_activation(void **state)
{
    struct harness *h = *state;
    char named[128];
    int a;

    snprintf(h->path, sizeof(h->path), "%s/act.sock", act_dir);
    snprintf(named, sizeof(named), "%s/named.sock", act_dir);
    for (int round = 0; round < 2; round++) {
        h_clear(h);
        h_start(h);
        a = h_client(h->path, SOCK_STREAM);
        h_write(a, round == 0 ? "first\n" : "again\n");
        close(a);
        assert_true(h_wait(h, pred_events, 1, WAIT_MS));
        assert_string_equal(h->got[0].data, round == 0 ? "first" : "again");
        h_expect_self(&h->got[0]);
        h_stop(h);
        /* Not ours to close or remove. */
        assert_true(fcntl(3, F_GETFD) >= 0);
        assert_int_equal(access(h->path, F_OK), 0);
    }

    /* By name, in datagram mode, with a path that is not its own. */
    h_clear(h);
    h->in.id = "named-in";
    h->conf.mode = AS_SOCK_DATAGRAM;
    snprintf(h->path, sizeof(h->path), "%s/elsewhere.sock", act_dir);
    h_start(h);
    assert_int_equal(access(h->path, F_OK), -1); /* nothing created */
    a = h_client(named, SOCK_DGRAM);
    h_write(a, "named\n");
    assert_true(h_wait(h, pred_events, 1, WAIT_MS));
    assert_string_equal(h->got[0].data, "named");
    assert_string_equal(h->got[0].source, named); /* where clients send */
    h_expect_self(&h->got[0]);
    close(a);
    h_stop(h);
    assert_true(fcntl(4, F_GETFD) >= 0);
    assert_int_equal(access(named, F_OK), 0);
}

/* Binds a socket of type at dir/name and moves it to descriptor fd. */
static void
act_socket(int type, const char *name, int fd)
{
    struct sockaddr_un sa;
    int s = socket(AF_UNIX, type, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", act_dir, name);
    if (s < 0 || bind(s, (struct sockaddr *) &sa, sizeof(sa)) != 0 ||
        (type == SOCK_STREAM && listen(s, 16) != 0) ||
        (s != fd && (dup2(s, fd) != fd || close(s) != 0))) {
        perror("test_socket: activation sockets");
        exit(1);
    }
}

/* ---- benchmark (AS_SOCKET_BENCH=FILE) ---- */

static double
bench_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
           (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

/* Child: sends data over one connection, or each line as a datagram. */
static void __attribute__((noreturn))
bench_send(const char *path, bool datagram, const char *data, size_t len)
{
    struct sockaddr_un sa;
    const char *p = data, *nl, *end = data + len;
    int fd = socket(AF_UNIX, datagram ? SOCK_DGRAM : SOCK_STREAM, 0);
    ssize_t w;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        _exit(1);
    }
    while (p < end) {
        if (datagram) {
            nl = memchr(p, '\n', (size_t) (end - p));
            nl = nl != NULL ? nl : end;
            w = send(fd, p, (size_t) (nl - p), 0);
            p = nl + 1;
        } else {
            w = write(fd, p, (size_t) (end - p));
            p += w > 0 ? w : 0;
        }
        if (w < 0 && errno != EINTR) {
            _exit(1);
        }
    }
    _exit(0);
}

static void
test_bench(void **state)
{
    struct harness *h = *state;
    const char *file = getenv("AS_SOCKET_BENCH");
    struct timespec t0, t1;
    struct as_socket_stats st;
    double ns, cpu;
    size_t len = 0, lines = 0;
    char *data;
    FILE *f;
    pid_t pid;
    int status;

    assert_non_null(file);
    f = fopen(file, "rb");
    assert_non_null(f);
    data = as_malloc(1);
    for (;;) {
        data = as_realloc(data, len + (1 << 20));
        size_t n = fread(data + len, 1, 1 << 20, f);
        if (n == 0) {
            break;
        }
        len += n;
    }
    fclose(f);
    for (size_t i = 0; i < len; i++) {
        lines += data[i] == '\n';
    }
    h->count_only = true;
    h->conf.max_line_bytes = 256 * 1024;
    for (int mode = 0; mode < 2; mode++) {
        h->conf.mode = mode == 0 ? AS_SOCK_STREAM : AS_SOCK_DATAGRAM;
        h->n = 0;
        h_start(h);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cpu = bench_cpu_s();
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            bench_send(h->path, mode == 1, data, len);
        }
        while (h->n < lines) {
            uv_run(&h->loop, UV_RUN_ONCE);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        cpu = bench_cpu_s() - cpu;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        as_socket_stats(&h->in, &st);
        ns = (double) (t1.tv_sec - t0.tv_sec) * 1e9 +
             (double) (t1.tv_nsec - t0.tv_nsec);
        print_message("# socket bench %s: %zu events, %llu bytes in %.1f ms: "
                      "%.0f events/s, loop CPU %.2f us/event\n",
                      mode == 0 ? "stream" : "datagram", lines,
                      (unsigned long long) st.bytes, ns / 1e6,
                      (double) lines / ns * 1e9, cpu / (double) lines * 1e6);
        h_stop(h);
    }
    h->n = 0; /* nothing was kept */
    h->count_only = false;
    free(data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_activation, h_setup, h_teardown),
        cmocka_unit_test(test_frame_lines),
        cmocka_unit_test(test_frame_long_lines),
        cmocka_unit_test(test_frame_octet),
        cmocka_unit_test(test_frame_octet_errors),
        cmocka_unit_test(test_frame_pause),
        cmocka_unit_test(test_peer_self),
        cmocka_unit_test(test_peer_utf8),
        cmocka_unit_test(test_peer_cache),
        cmocka_unit_test_setup_teardown(test_stream, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_stream_octet, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_datagram, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_pause_stream, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_pause_datagram, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_stop_drains, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_socket_file, h_setup, h_teardown),
        cmocka_unit_test_setup_teardown(test_init_errors, h_setup, h_teardown),
    };

    const struct CMUnitTest bench[] = {
        cmocka_unit_test_setup_teardown(test_bench, h_setup, h_teardown),
    };
    char pid[32];
    int rc;

    if (getenv("AS_SOCKET_BENCH") != NULL) {
        return cmocka_run_group_tests(bench, NULL, NULL);
    }
    snprintf(act_dir, sizeof(act_dir), "/tmp/as-sock-act-XXXXXX");
    if (mkdtemp(act_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    act_socket(SOCK_STREAM, "act.sock", 3);
    act_socket(SOCK_DGRAM, "named.sock", 4);
    snprintf(pid, sizeof(pid), "%d", (int) getpid());
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", "2", 1);
    setenv("LISTEN_FDNAMES", "whatever:named-in", 1);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    close(3);
    close(4);
    h_rm_rf(act_dir);
    return rc;
}
