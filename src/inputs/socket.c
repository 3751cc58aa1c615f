/*
 * The `socket` input: applications write events to a Unix socket.
 *
 * mode: stream: a SOCK_STREAM listener; every accepted connection is read
 * in chunks of SOCK_CHUNK bytes into one shared buffer and split into
 * messages by its own framer (socket_frame.c: newline or NUL, or RFC 6587
 * octet counting for syslog).  mode: datagram: a SOCK_DGRAM socket read with
 * recvmmsg, up to SOCK_DGRAM_VLEN datagrams per call, one event each.
 * Readiness comes from one uv_poll_t per descriptor (level-triggered): each
 * readable event reads one chunk (stream) or a few recvmmsg batches
 * (datagram), so many clients are served fairly and no event costs a
 * system call of its own.
 *
 * Owns (in struct sock_ctx, calloc'ed and freed by the core): the listening
 * or datagram descriptor (unless systemd passed it, see below), the socket
 * file when it created it, one struct sock_conn per open connection (its fd,
 * poll handle, framer and peer identity), the read buffer, the datagram
 * slots, the peer cache, an idle handle (resume) and a timer (accept again
 * after EMFILE).
 *
 * Invariants:
 * - Every message carries the sender's identity (auditship.peer): for a
 *   connection, SO_PEERCRED taken at accept (the process that connected);
 *   for a datagram, the SCM_CREDENTIALS the kernel attaches (SO_PASSCRED).
 *   comm, exe and unit are looked up once per connection, and at most once
 *   per pid and second for datagrams (as_peer_cache).
 * - Backpressure: pause stops reading every connection and the datagram
 *   socket (the listener keeps accepting; new connections are read after
 *   resume).  The bytes of a read that the pause interrupted stay in the
 *   shared buffer (pend_*) or the datagram slots (dg_pend_*), which nothing
 *   else touches while paused; resume delivers them first, from the idle
 *   handle (never from inside the core's call), and only then reads again.
 *   A paused stream client blocks in write() once the kernel's socket
 *   buffer is full (EAGAIN if non-blocking); a datagram client blocks in
 *   send() or gets EAGAIN once the receive queue is full.
 * - The socket file is created with `permissions` and `group` applied
 *   before anyone can connect: the socket is bound with owner-only
 *   permissions (fchmod before bind), then chown'ed and chmod'ed, and only
 *   then listens.  A file left at the path by a crashed agent (connect gets
 *   ECONNREFUSED) is replaced; a live socket or any other kind of file is
 *   not (start fails naming the path).  stop removes the file only if it is
 *   still the one we bound (same device and inode).
 * - Socket activation: descriptors passed by systemd (LISTEN_FDS) are read
 *   once into a process-wide table; an input takes the one that is a Unix
 *   socket of its type bound to its path (or named after its id with
 *   FileDescriptorName=).  Such a descriptor is never closed and its file
 *   never removed: stop only gives it back to the table, so that the input
 *   built by a reload (SIGHUP) takes it again and clients see no gap.
 * - stop loses nothing that a client was told was sent: the file is removed
 *   first (new clients get ENOENT), the backlog is accepted, every
 *   connection is shut down for reading (a later write by the client fails
 *   with EPIPE) and read to its end, its last unterminated message emitted;
 *   a created datagram socket is shut down for reading (senders get EPIPE)
 *   and drained.  An inherited socket keeps its backlog and queue for the
 *   next start.
 * - Logs name paths, fds, pids and counts, never message contents;
 *   repeated errors are rate-limited.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/mem.h"
#include "socket.h"
#include "socket_frame.h"
#include "socket_peer.h"

#define SOCK_CHUNK       (256 * 1024) /* bytes read per connection per turn */
#define SOCK_DGRAM_VLEN  64           /* datagrams per recvmmsg */
#define SOCK_DGRAM_ARENA (16u << 20)  /* address space of the slots */
#define SOCK_DGRAM_TURNS 4            /* recvmmsg calls per readable event */
#define SOCK_DRAIN_MAX   100000       /* datagrams drained at stop, at most */
#define SOCK_ACCEPTS     64           /* accepts per readable event */
#define SOCK_MAX_CONNS   1024         /* open connections, at most */
#define SOCK_DEF_MAXLINE (256 * 1024)
#define SOCK_PEER_TTL_MS 1000
#define SOCK_LOG_EVERY   120000 /* ms between repeated error lines */
#define SOCK_RETRY_MS    250    /* accept again after EMFILE */

struct sock_ctx;

struct sock_conn {
    struct sock_conn *next, **pprev;
    struct sock_ctx *ctx;
    uv_poll_t poll;
    int fd;
    bool polling;
    struct as_peer peer;
    struct as_srcinfo src;
    struct as_sockframe fr;
    /* Framer counters already folded into the input's. */
    uint64_t seen_empty, seen_framing, seen_incomplete;
};

struct sock_ctx {
    struct as_input *in;
    const struct as_conf_input_socket *conf;
    size_t max_line;
    int type;     /* SOCK_STREAM or SOCK_DGRAM */
    mode_t mode;  /* permissions */
    gid_t gid;    /* group, when has_gid */
    bool has_gid; /* group was set */
    int lfd;      /* the listening or datagram socket, or -1 */
    int inh;      /* its index in the inherited table, or -1 */
    char *source; /* srcinfo.source: the path clients use (for a passed
                     descriptor, the one it is bound to) */
    bool created; /* we bound the file at conf->path */
    uint64_t dev, ino;
    uv_poll_t lpoll;
    uv_idle_t kick;
    uv_timer_t retry;
    bool lpoll_on, started, paused, stopping, draining;
    bool reading; /* connections and datagrams are read (not paused, and
                     nothing a pause interrupted is left) */
    struct sock_conn *conns;
    size_t n_conns;
    char *rbuf; /* stream: SOCK_CHUNK bytes shared by all connections */
    /* A chunk whose delivery a pause interrupted: rbuf[pend_off, pend_len). */
    struct sock_conn *pend_conn;
    size_t pend_off, pend_len;
    /* datagram: vlen slots of slot bytes, with headers and control space */
    char *arena;
    size_t slot, vlen, cspace;
    struct mmsghdr *msgs;
    struct iovec *iovs;
    char *ctrl;
    size_t dg_pend_i, dg_pend_n; /* datagrams [i, n) still to deliver */
    struct as_srcinfo dg_src;
    struct as_peer_cache peers;
    unsigned pending_closes;
    as_done_cb *done;
    struct as_socket_stats stats;
    struct as_ratelimit rl_err; /* read, accept and credential errors */
    struct as_ratelimit rl_frame;
};

/*
 * Descriptors passed by systemd, read once per process (sd_listen_fds
 * leaves the environment alone, so every reload finds the same table).
 */
struct sock_inherited {
    int fd;
    char *name; /* FileDescriptorName=, or NULL */
    bool claimed;
};
static struct sock_inherited *sock_fds;
static size_t sock_n_fds;
static bool sock_fds_read;

static void sock_kick_cb(uv_idle_t *h);
static void sock_accept_cb(uv_poll_t *h, int status, int events);
static void sock_dgram_cb(uv_poll_t *h, int status, int events);
static void sock_conn_cb(uv_poll_t *h, int status, int events);

/* ---- init: cross-key checks, no I/O beyond the group lookup ---- */

/*
 * Appends a located error without a file name, so that --check prints the
 * config's path in front of it (as the file input does).
 */
static void __attribute__((format(printf, 3, 4)))
sock_conf_error(struct as_conf_errors *errs, const struct as_conf_stage *cs,
                const char *fmt, ...)
{
    struct as_error *e;
    va_list ap;

    errs->v = as_reallocarray(errs->v, errs->n + 1, sizeof(*errs->v));
    e = &errs->v[errs->n++];
    memset(e, 0, sizeof(*e));
    e->line = cs != NULL ? cs->line : 0;
    e->col = cs != NULL ? cs->col : 0;
    va_start(ap, fmt);
    as_error_setv(e, fmt, ap);
    va_end(ap);
}

/* "0660", "660", "0755": 3 or 4 octal digits, at most 0777. */
static int
sock_parse_mode(const char *s, mode_t *out)
{
    size_t n = s != NULL ? strlen(s) : 0;
    unsigned v = 0;

    if (n < 3 || n > 4) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '7') {
            return -1;
        }
        v = v * 8 + (unsigned) (s[i] - '0');
    }
    if (v > 0777) {
        return -1;
    }
    *out = (mode_t) v;
    return 0;
}

/* Resolves a group name (or a numeric gid); 0, or -1 when unknown. */
static int
sock_parse_group(const char *name, gid_t *out)
{
    struct group gr, *res = NULL;
    size_t size = 4096;
    char *buf, *end;
    unsigned long v;
    int rc;

    if (name[0] >= '0' && name[0] <= '9') {
        errno = 0;
        v = strtoul(name, &end, 10);
        if (*end == '\0' && errno == 0 && v < (unsigned long) (gid_t) -1) {
            *out = (gid_t) v;
            return 0;
        }
    }
    for (;;) {
        buf = as_malloc(size);
        rc = getgrnam_r(name, &gr, buf, size, &res);
        if (rc == ERANGE && size < (1u << 20)) {
            free(buf);
            size *= 4;
            continue;
        }
        break;
    }
    if (rc == 0 && res != NULL) {
        *out = res->gr_gid;
        free(buf);
        return 0;
    }
    free(buf);
    return -1;
}

static int
sock_init(struct as_input *in, const struct as_conf_stage *cs,
          struct as_conf_errors *errs)
{
    const struct as_conf_input_socket *c = in->conf;
    struct sock_ctx *ctx = in->ctx;
    struct sockaddr_un sa;
    int r = 0;

    ctx->lfd = -1;
    ctx->inh = -1;
    if (c->path == NULL || c->path[0] == '\0') {
        sock_conf_error(errs, cs, "socket input '%s': path must not be empty",
                        in->id);
        r = AS_ERR_CONFIG;
    } else if (strlen(c->path) >= sizeof(sa.sun_path)) {
        sock_conf_error(errs, cs,
                        "socket input '%s': path is longer than %zu "
                        "bytes (the limit of a Unix socket address)",
                        in->id, sizeof(sa.sun_path) - 1);
        r = AS_ERR_CONFIG;
    }
    if (sock_parse_mode(c->permissions, &ctx->mode) != 0) {
        sock_conf_error(errs, cs,
                        "socket input '%s': permissions \"%s\" is not an "
                        "octal mode such as \"0660\" (at most \"0777\")",
                        in->id, c->permissions != NULL ? c->permissions : "");
        r = AS_ERR_CONFIG;
    }
    if (c->group != NULL && c->group[0] != '\0') {
        if (sock_parse_group(c->group, &ctx->gid) != 0) {
            sock_conf_error(errs, cs, "socket input '%s': unknown group \"%s\"",
                            in->id, c->group);
            r = AS_ERR_CONFIG;
        } else {
            ctx->has_gid = true;
        }
    }
    if (c->max_line_bytes > ((uint64_t) 1 << 30)) {
        sock_conf_error(errs, cs,
                        "socket input '%s': max_line_bytes is larger "
                        "than 1GiB",
                        in->id);
        r = AS_ERR_CONFIG;
    }
    return r;
}

/* ---- the socket file ---- */

static void
sock_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, strlen(path)); /* length checked at init */
}

/*
 * Whether a process listens on the socket file at path: 1 yes, 0 no (a
 * stale file: ECONNREFUSED), or -errno when we cannot tell.  A socket of the
 * other type answers EPROTOTYPE to our type and is probed with its own.
 */
static int
sock_probe(const char *path, int type)
{
    int types[2] = {type, type == SOCK_STREAM ? SOCK_DGRAM : SOCK_STREAM};
    struct sockaddr_un sa;
    int fd, r, e;

    sock_addr(&sa, path);
    for (size_t i = 0; i < 2; i++) {
        fd = socket(AF_UNIX, types[i] | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return -errno;
        }
        r = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
        e = errno;
        close(fd);
        if (r == 0 || e == EAGAIN) {
            return 1;
        }
        if (e == ECONNREFUSED) {
            return 0;
        }
        if (e != EPROTOTYPE) {
            return -e;
        }
    }
    return 0;
}

/*
 * Creates the socket file (see the invariants at the top).  Returns 0 with
 * ctx->lfd bound (and listening), or a negative code after logging why.
 */
static int
sock_create(struct sock_ctx *ctx)
{
    const char *path = ctx->conf->path, *pfx = ctx->in->prefix;
    struct sockaddr_un sa;
    struct stat st;
    int fd = -1, one = 1, rc, live;
    bool bound = false;

    if ((rc = as_mkdirs_mode(path, true, 0755)) != 0) {
        as_slog_error(pfx, "cannot create the directory of %s: %s", path,
                      as_strerror(rc));
        return rc;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            as_slog_error(pfx,
                          "%s exists and is not a socket: not removing it; "
                          "move it away or choose another path",
                          path);
            return -EEXIST;
        }
        live = sock_probe(path, ctx->type);
        if (live > 0) {
            as_slog_error(pfx,
                          "%s: another process is listening on this socket "
                          "(another auditshipd?); not replacing it",
                          path);
            return -EADDRINUSE;
        }
        if (live < 0) {
            as_slog_error(pfx,
                          "%s: cannot tell whether a process listens on it: "
                          "%s; not replacing it",
                          path, as_strerror(live));
            return live;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            rc = -errno;
            as_slog_error(pfx, "cannot remove the stale socket %s: %s", path,
                          as_strerror(rc));
            return rc;
        }
        as_slog_info(pfx,
                     "removed the stale socket %s (nobody listened on it: "
                     "left by an agent that did not stop cleanly)",
                     path);
    } else if (errno != ENOENT) {
        rc = -errno;
        as_slog_error(pfx, "cannot stat %s: %s", path, as_strerror(rc));
        return rc;
    }

    fd = socket(AF_UNIX, ctx->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        as_slog_error(pfx, "socket: %s", as_strerror(rc));
        return rc;
    }
    if (ctx->type == SOCK_DGRAM &&
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0) {
        rc = -errno;
        as_slog_error(pfx, "SO_PASSCRED on %s: %s", path, as_strerror(rc));
        goto out;
    }
    /*
     * The file bind creates takes the socket's mode (less the umask):
     * owner-only until chown and chmod below have run.
     */
    (void) fchmod(fd, ctx->mode & 0700);
    sock_addr(&sa, path);
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        rc = -errno;
        as_slog_error(pfx, "cannot bind %s: %s", path, as_strerror(rc));
        goto out;
    }
    bound = true;
    if (ctx->has_gid && chown(path, (uid_t) -1, ctx->gid) != 0) {
        rc = -errno;
        as_slog_error(pfx, "cannot give %s to group %s: %s", path,
                      ctx->conf->group, as_strerror(rc));
        goto out;
    }
    if (chmod(path, ctx->mode) != 0 || stat(path, &st) != 0) {
        rc = -errno;
        as_slog_error(pfx, "cannot set the permissions of %s: %s", path,
                      as_strerror(rc));
        goto out;
    }
    if (ctx->type == SOCK_STREAM && listen(fd, SOMAXCONN) != 0) {
        rc = -errno;
        as_slog_error(pfx, "cannot listen on %s: %s", path, as_strerror(rc));
        goto out;
    }
    ctx->dev = (uint64_t) st.st_dev;
    ctx->ino = (uint64_t) st.st_ino;
    ctx->lfd = fd;
    ctx->created = true;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0) {
        if (bound) {
            (void) unlink(path);
        }
        close(fd);
    }
    return rc;
}

/* Removes the socket file if it is still the one we bound. */
static void
sock_remove_file(struct sock_ctx *ctx)
{
    const char *path = ctx->conf->path;
    struct stat st;

    if (!ctx->created) {
        return;
    }
    ctx->created = false;
    if (lstat(path, &st) != 0) {
        return;
    }
    if ((uint64_t) st.st_dev != ctx->dev || (uint64_t) st.st_ino != ctx->ino) {
        as_slog_warn(ctx->in->prefix,
                     "%s is no longer the socket we created: "
                     "left in place",
                     path);
        return;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        as_slog_warn(ctx->in->prefix, "cannot remove %s: %s", path,
                     strerror(errno));
    }
}

/* ---- socket activation ---- */

static void
sock_read_listen_fds(void)
{
    char **names = NULL;
    int n;

    if (sock_fds_read) {
        return;
    }
    sock_fds_read = true;
    n = sd_listen_fds_with_names(0, &names);
    if (n > 0) {
        sock_fds = as_calloc((size_t) n, sizeof(*sock_fds));
        for (int i = 0; i < n; i++) {
            sock_fds[i].fd = SD_LISTEN_FDS_START + i;
            sock_fds[i].name = names != NULL ? names[i] : NULL;
            if (sock_fds[i].name != NULL &&
                strcmp(sock_fds[i].name, "unknown") == 0) {
                free(sock_fds[i].name); /* libsystemd's "no name" */
                sock_fds[i].name = NULL;
            }
        }
        sock_n_fds = (size_t) n;
    } else if (names != NULL) {
        for (size_t i = 0; names[i] != NULL; i++) {
            free(names[i]);
        }
    }
    free(names);
}

/* The path fd is bound to (a copy), or a copy of def when it has none. */
static char *
sock_bound_path(int fd, const char *def)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa);

    memset(&sa, 0, sizeof(sa));
    if (getsockname(fd, (struct sockaddr *) &sa, &len) == 0 &&
        len > offsetof(struct sockaddr_un, sun_path) &&
        sa.sun_path[0] != '\0') {
        return as_strndup(sa.sun_path,
                          len - offsetof(struct sockaddr_un, sun_path));
    }
    return as_strdup(def);
}

/* Takes the passed descriptor meant for this input; -1 when none is. */
static int
sock_claim(struct sock_ctx *ctx)
{
    int listening = ctx->type == SOCK_STREAM ? 1 : -1;
    const char *id = ctx->in->id;

    sock_read_listen_fds();
    for (size_t i = 0; i < sock_n_fds; i++) {
        if (!sock_fds[i].claimed &&
            sd_is_socket_unix(sock_fds[i].fd, ctx->type, listening,
                              ctx->conf->path, 0) > 0) {
            sock_fds[i].claimed = true;
            return (int) i;
        }
    }
    for (size_t i = 0; i < sock_n_fds; i++) {
        if (!sock_fds[i].claimed && sock_fds[i].name != NULL &&
            strcmp(sock_fds[i].name, id) == 0 &&
            sd_is_socket(sock_fds[i].fd, AF_UNIX, ctx->type, listening) > 0) {
            sock_fds[i].claimed = true;
            return (int) i;
        }
    }
    return -1;
}

/* ---- emitting ---- */

/* Framer callback: one message of connection arg. */
static bool
sock_frame_emit(void *arg, const char *msg, size_t len, bool truncated)
{
    struct sock_conn *c = arg;
    struct sock_ctx *ctx = c->ctx;

    ctx->stats.messages++;
    if (truncated) {
        ctx->stats.truncated++;
    }
    ctx->in->emit(ctx->in, msg, len, &c->src,
                  truncated ? AS_EMIT_TRUNCATED : 0);
    return ctx->draining || (!ctx->paused && !ctx->stopping);
}

/* Folds the framer's counters of c into the input's; logs framing errors. */
static void
sock_conn_fold(struct sock_ctx *ctx, struct sock_conn *c)
{
    uint64_t fe = c->fr.framing_errors - c->seen_framing;

    ctx->stats.empty += c->fr.empty - c->seen_empty;
    ctx->stats.incomplete += c->fr.incomplete - c->seen_incomplete;
    ctx->stats.framing_errors += fe;
    c->seen_empty = c->fr.empty;
    c->seen_incomplete = c->fr.incomplete;
    c->seen_framing = c->fr.framing_errors;
    if (fe > 0 && as_ratelimit_ok(&ctx->rl_frame, SOCK_LOG_EVERY)) {
        as_slog_warn(ctx->in->prefix,
                     "connection from pid %lld: not an octet-counting "
                     "header; reading the rest of it as lines "
                     "(%llu framing errors so far)",
                     (long long) c->peer.pid,
                     (unsigned long long) ctx->stats.framing_errors);
    }
}

/*
 * Splits rbuf[off, n) of connection c.  When the core pauses us during it,
 * the rest is kept for resume (pend_*).
 */
static void
sock_conn_feed(struct sock_ctx *ctx, struct sock_conn *c, size_t off, size_t n)
{
    size_t used;

    used =
        as_sockframe_feed(&c->fr, ctx->rbuf + off, n - off, sock_frame_emit, c);
    sock_conn_fold(ctx, c);
    if (off + used < n) {
        ctx->pend_conn = c;
        ctx->pend_off = off + used;
        ctx->pend_len = n;
    }
}

/* ---- connections ---- */

static void
sock_done_maybe(struct sock_ctx *ctx)
{
    as_done_cb *done = ctx->done;

    if (ctx->pending_closes == 0 && ctx->stopping && done != NULL) {
        ctx->done = NULL;
        done(ctx->in, 0);
    }
}

static void
sock_conn_close_cb(uv_handle_t *h)
{
    struct sock_conn *c = h->data;
    struct sock_ctx *ctx = c->ctx;

    close(c->fd);
    as_sockframe_free(&c->fr);
    as_peer_clear(&c->peer);
    free(c);
    ctx->pending_closes--;
    sock_done_maybe(ctx);
}

static void
sock_listen_arm(struct sock_ctx *ctx)
{
    if (ctx->stopping || ctx->lpoll_on || ctx->lfd < 0) {
        return;
    }
    if (ctx->type == SOCK_STREAM) {
        if (ctx->n_conns >= SOCK_MAX_CONNS ||
            uv_is_active((uv_handle_t *) &ctx->retry)) {
            return;
        }
        uv_poll_start(&ctx->lpoll, UV_READABLE, sock_accept_cb);
    } else {
        if (!ctx->reading) {
            return;
        }
        uv_poll_start(&ctx->lpoll, UV_READABLE, sock_dgram_cb);
    }
    ctx->lpoll_on = true;
}

static void
sock_listen_stop(struct sock_ctx *ctx)
{
    if (ctx->lpoll_on) {
        uv_poll_stop(&ctx->lpoll);
        ctx->lpoll_on = false;
    }
}

static void
sock_conn_close(struct sock_ctx *ctx, struct sock_conn *c)
{
    sock_conn_fold(ctx, c);
    if (ctx->pend_conn == c) {
        ctx->pend_conn = NULL;
    }
    *c->pprev = c->next;
    if (c->next != NULL) {
        c->next->pprev = c->pprev;
    }
    ctx->n_conns--;
    ctx->stats.conns_open--;
    ctx->pending_closes++;
    uv_close((uv_handle_t *) &c->poll, sock_conn_close_cb);
    sock_listen_arm(ctx);
}

/* The end of a connection (EOF or error): its last message, then close. */
static void
sock_conn_end(struct sock_ctx *ctx, struct sock_conn *c)
{
    (void) as_sockframe_eof(&c->fr, sock_frame_emit, c);
    sock_conn_close(ctx, c);
}

static void
sock_conn_add(struct sock_ctx *ctx, int fd)
{
    struct sock_conn *c;
    struct ucred uc;
    socklen_t len = sizeof(uc);
    int rc;

    c = as_calloc(1, sizeof(*c));
    c->ctx = ctx;
    c->fd = fd;
    if ((rc = uv_poll_init(ctx->in->loop, &c->poll, fd)) != 0) {
        ctx->stats.accept_errors++;
        if (as_ratelimit_ok(&ctx->rl_err, SOCK_LOG_EVERY)) {
            as_slog_warn(ctx->in->prefix, "cannot watch a connection: %s",
                         as_strerror(rc));
        }
        close(fd);
        free(c);
        return;
    }
    c->poll.data = c;
    as_sockframe_init(&c->fr, ctx->max_line,
                      ctx->conf->format == AS_FORMAT_SYSLOG);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0) {
        ctx->stats.peer_lookups++;
        as_peer_copy(&c->peer,
                     as_peer_cache_get(&ctx->peers, uc.pid, uc.uid, uc.gid,
                                       uv_now(ctx->in->loop)));
    } else if (as_ratelimit_ok(&ctx->rl_err, SOCK_LOG_EVERY)) {
        as_slog_warn(ctx->in->prefix,
                     "SO_PEERCRED failed (%s): events of this "
                     "connection carry no peer",
                     strerror(errno));
    }
    c->src.source = ctx->source;
    c->src.has_pos = false;
    c->src.peer = c->peer.valid ? &c->peer : NULL;
    c->next = ctx->conns;
    c->pprev = &ctx->conns;
    if (ctx->conns != NULL) {
        ctx->conns->pprev = &c->next;
    }
    ctx->conns = c;
    ctx->n_conns++;
    ctx->stats.accepted++;
    ctx->stats.conns_open++;
    if (ctx->reading && !ctx->stopping) {
        uv_poll_start(&c->poll, UV_READABLE, sock_conn_cb);
        c->polling = true;
    }
}

static void
sock_conn_cb(uv_poll_t *h, int status, int events)
{
    struct sock_conn *c = h->data;
    struct sock_ctx *ctx = c->ctx;
    ssize_t n;

    (void) events;
    if (!ctx->reading || ctx->stopping) {
        return;
    }
    if (status < 0) {
        ctx->stats.read_errors++;
        if (as_ratelimit_ok(&ctx->rl_err, SOCK_LOG_EVERY)) {
            as_slog_warn(ctx->in->prefix, "connection from pid %lld: %s",
                         (long long) c->peer.pid, as_strerror(status));
        }
        sock_conn_end(ctx, c);
        return;
    }
    do {
        n = read(c->fd, ctx->rbuf, SOCK_CHUNK);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    if (n < 0) {
        if (errno != ECONNRESET) {
            ctx->stats.read_errors++;
            if (as_ratelimit_ok(&ctx->rl_err, SOCK_LOG_EVERY)) {
                as_slog_warn(ctx->in->prefix,
                             "read from the connection of pid %lld: %s",
                             (long long) c->peer.pid, strerror(errno));
            }
        }
        sock_conn_end(ctx, c);
        return;
    }
    if (n == 0) {
        sock_conn_end(ctx, c);
        return;
    }
    ctx->stats.bytes += (uint64_t) n;
    sock_conn_feed(ctx, c, 0, (size_t) n);
}

static void
sock_retry_cb(uv_timer_t *t)
{
    sock_listen_arm(t->data);
}

/* Accepts one connection; false when there is nothing more to accept now. */
static bool
sock_accept_one(struct sock_ctx *ctx)
{
    int fd;

    fd = accept4(ctx->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        sock_conn_add(ctx, fd);
        return true;
    }
    switch (errno) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
        return true;
    case EAGAIN:
#if EAGAIN != EWOULDBLOCK
    case EWOULDBLOCK:
#endif
        return false;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        /* Out of descriptors: try again later instead of spinning. */
        ctx->stats.accept_errors++;
        if (as_ratelimit_ok(&ctx->rl_err, SOCK_LOG_EVERY)) {
            as_slog_warn(ctx->in->prefix,
                         "accept on %s: %s (%zu connections open); "
                         "retrying in %d ms",
                         ctx->conf->path, strerror(errno), ctx->n_conns,
                         SOCK_RETRY_MS);
        }
        if (!ctx->stopping) {
            sock_listen_stop(ctx);
            uv_timer_start(&ctx->retry, sock_retry_cb, SOCK_RETRY_MS, 0);
        }
        return false;
    default:
        ctx->stats.accept_errors++;
        if (as_ratelimit_ok(&ctx->rl_err, SOCK_LOG_EVERY)) {
            as_slog_warn(ctx->in->prefix, "accept on %s: %s", ctx->conf->path,
                         strerror(errno));
        }
        return false;
    }
}

static void
sock_accept_cb(uv_poll_t *h, int status, int events)
{
    struct sock_ctx *ctx = h->data;

    (void) events;
    if (status < 0) {
        ctx->stats.accept_errors++;
        if (as_ratelimit_ok(&ctx->rl_err, SOCK_LOG_EVERY)) {
            as_slog_warn(ctx->in->prefix, "listening socket %s: %s",
                         ctx->conf->path, as_strerror(status));
        }
        return;
    }
    for (int i = 0; i < SOCK_ACCEPTS && !ctx->stopping; i++) {
        if (ctx->n_conns >= SOCK_MAX_CONNS) {
            /* Clients wait in the backlog until a connection closes. */
            sock_listen_stop(ctx);
            if (as_ratelimit_ok(&ctx->rl_err, SOCK_LOG_EVERY)) {
                as_slog_warn(ctx->in->prefix,
                             "%d connections open: not accepting more "
                             "until one closes",
                             SOCK_MAX_CONNS);
            }
            return;
        }
        if (!sock_accept_one(ctx)) {
            return;
        }
    }
}

/* ---- datagrams ---- */

static int
sock_dgram_setup(struct sock_ctx *ctx)
{
    size_t slot = ctx->max_line + 2; /* room for a trailing "\r\n" */

    slot = (slot + 63) & ~(size_t) 63;
    ctx->slot = slot;
    ctx->vlen = SOCK_DGRAM_ARENA / slot;
    ctx->vlen = ctx->vlen > SOCK_DGRAM_VLEN ? SOCK_DGRAM_VLEN : ctx->vlen;
    ctx->vlen = ctx->vlen < 1 ? 1 : ctx->vlen;
    /*
     * Only the pages datagrams are written to become resident: small
     * datagrams touch the first page of each slot.
     */
    ctx->arena = mmap(NULL, ctx->slot * ctx->vlen, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ctx->arena == MAP_FAILED) {
        ctx->arena = NULL;
        return -errno;
    }
    ctx->cspace = CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int));
    ctx->msgs = as_calloc(ctx->vlen, sizeof(*ctx->msgs));
    ctx->iovs = as_calloc(ctx->vlen, sizeof(*ctx->iovs));
    ctx->ctrl = as_calloc(ctx->vlen, ctx->cspace);
    for (size_t i = 0; i < ctx->vlen; i++) {
        ctx->iovs[i].iov_base = ctx->arena + i * ctx->slot;
        ctx->iovs[i].iov_len = ctx->slot;
    }
    ctx->dg_src.source = ctx->source;
    ctx->dg_src.has_pos = false;
    return 0;
}

/* One recvmmsg: the number of datagrams, 0 when none, or -errno. */
static int
sock_dgram_recv(struct sock_ctx *ctx)
{
    int n;

    for (size_t i = 0; i < ctx->vlen; i++) {
        struct msghdr *m = &ctx->msgs[i].msg_hdr;

        memset(m, 0, sizeof(*m));
        m->msg_iov = &ctx->iovs[i];
        m->msg_iovlen = 1;
        m->msg_control = ctx->ctrl + i * ctx->cspace;
        m->msg_controllen = ctx->cspace;
        ctx->msgs[i].msg_len = 0;
    }
    do {
        n = recvmmsg(ctx->lfd, ctx->msgs, (unsigned) ctx->vlen,
                     MSG_DONTWAIT | MSG_CMSG_CLOEXEC, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    }
    return n;
}

/*
 * The sender of datagram m (NULL when the kernel attached no credentials).
 * Descriptors a client passed (SCM_RIGHTS) are closed.
 */
static const struct as_peer *
sock_dgram_peer(struct sock_ctx *ctx, struct msghdr *m)
{
    const struct as_peer *peer = NULL;
    struct ucred uc;
    struct cmsghdr *cm;
    int fd;

    for (cm = CMSG_FIRSTHDR(m); cm != NULL; cm = CMSG_NXTHDR(m, cm)) {
        if (cm->cmsg_level != SOL_SOCKET) {
            continue;
        }
        if (cm->cmsg_type == SCM_CREDENTIALS &&
            cm->cmsg_len >= CMSG_LEN(sizeof(uc))) {
            memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
            if (uc.pid > 0) {
                ctx->stats.peer_lookups++;
                peer = as_peer_cache_get(&ctx->peers, uc.pid, uc.uid, uc.gid,
                                         uv_now(ctx->in->loop));
            }
        } else if (cm->cmsg_type == SCM_RIGHTS) {
            for (size_t off = 0; CMSG_LEN(off + sizeof(int)) <= cm->cmsg_len;
                 off += sizeof(int)) {
                memcpy(&fd, CMSG_DATA(cm) + off, sizeof(int));
                close(fd);
            }
        }
    }
    if (peer == NULL) {
        ctx->stats.no_creds++;
        if (as_ratelimit_ok(&ctx->rl_err, SOCK_LOG_EVERY)) {
            as_slog_warn(ctx->in->prefix,
                         "a datagram on %s came without sender credentials "
                         "(a socket passed by systemd needs "
                         "PassCredentials=yes): its event carries no peer",
                         ctx->conf->path);
        }
    }
    return peer;
}

/*
 * Delivers datagrams [from, n) of the last recvmmsg.  Returns false when
 * the core paused us on the way (the rest waits in dg_pend_*).
 */
static bool
sock_dgram_deliver(struct sock_ctx *ctx, size_t from, size_t n)
{
    for (size_t i = from; i < n; i++) {
        struct msghdr *m = &ctx->msgs[i].msg_hdr;
        const char *data = ctx->arena + i * ctx->slot;
        size_t len = ctx->msgs[i].msg_len;
        bool trunc = (m->msg_flags & MSG_TRUNC) != 0;

        ctx->dg_src.peer = sock_dgram_peer(ctx, m);
        ctx->stats.datagrams++;
        ctx->stats.bytes += len;
        if (!trunc) {
            if (len > 0 && data[len - 1] == '\0') {
                len--; /* Python's SysLogHandler ends messages with NUL */
            }
            if (len > 0 && data[len - 1] == '\n') {
                len--;
            }
            if (len > 0 && data[len - 1] == '\r') {
                len--;
            }
        }
        if (trunc || len > ctx->max_line) {
            len = ctx->max_line;
            trunc = true;
            ctx->stats.truncated++;
        }
        if (len == 0 && !trunc) {
            ctx->stats.empty++;
            continue;
        }
        ctx->stats.messages++;
        ctx->in->emit(ctx->in, data, len, &ctx->dg_src,
                      trunc ? AS_EMIT_TRUNCATED : 0);
        if (ctx->paused && !ctx->draining) {
            ctx->dg_pend_i = i + 1;
            ctx->dg_pend_n = i + 1 < n ? n : 0;
            return false;
        }
    }
    ctx->dg_pend_n = 0;
    return true;
}

static void
sock_dgram_cb(uv_poll_t *h, int status, int events)
{
    struct sock_ctx *ctx = h->data;
    int n;

    (void) events;
    if (!ctx->reading || ctx->stopping) {
        return;
    }
    if (status < 0) {
        ctx->stats.read_errors++;
        if (as_ratelimit_ok(&ctx->rl_err, SOCK_LOG_EVERY)) {
            as_slog_warn(ctx->in->prefix, "datagram socket %s: %s",
                         ctx->conf->path, as_strerror(status));
        }
        return;
    }
    for (int turn = 0; turn < SOCK_DGRAM_TURNS; turn++) {
        n = sock_dgram_recv(ctx);
        if (n < 0) {
            ctx->stats.read_errors++;
            if (as_ratelimit_ok(&ctx->rl_err, SOCK_LOG_EVERY)) {
                as_slog_warn(ctx->in->prefix, "recvmmsg on %s: %s",
                             ctx->conf->path, as_strerror(n));
            }
            return;
        }
        if (n == 0) {
            return;
        }
        if (!sock_dgram_deliver(ctx, 0, (size_t) n)) {
            return;
        }
        if ((size_t) n < ctx->vlen || ctx->paused || ctx->stopping) {
            return;
        }
    }
}

/* ---- lifecycle ---- */

static int
sock_start(struct as_input *in)
{
    struct sock_ctx *ctx = in->ctx;
    const struct as_conf_input_socket *c = in->conf;
    int rc, flags;

    ctx->in = in;
    ctx->conf = c;
    ctx->max_line =
        c->max_line_bytes != 0 ? (size_t) c->max_line_bytes : SOCK_DEF_MAXLINE;
    ctx->type = c->mode == AS_SOCK_DATAGRAM ? SOCK_DGRAM : SOCK_STREAM;
    ctx->lfd = -1;
    ctx->inh = sock_claim(ctx);
    if (ctx->inh >= 0) {
        ctx->lfd = sock_fds[ctx->inh].fd;
        flags = fcntl(ctx->lfd, F_GETFL);
        if (flags >= 0 && !(flags & O_NONBLOCK)) {
            (void) fcntl(ctx->lfd, F_SETFL, flags | O_NONBLOCK);
        }
        if (ctx->type == SOCK_DGRAM) {
            int one = 1;

            (void) setsockopt(ctx->lfd, SOL_SOCKET, SO_PASSCRED, &one,
                              sizeof(one));
        }
        ctx->source = sock_bound_path(ctx->lfd, c->path);
        as_slog_info(
            in->prefix, "using the %s socket %s passed by systemd (fd %d%s%s)",
            ctx->type == SOCK_STREAM ? "stream" : "datagram", ctx->source,
            ctx->lfd, sock_fds[ctx->inh].name != NULL ? ", name " : "",
            sock_fds[ctx->inh].name != NULL ? sock_fds[ctx->inh].name : "");
    } else if ((rc = sock_create(ctx)) != 0) {
        return rc;
    } else {
        ctx->source = as_strdup(c->path);
    }
    if (ctx->type == SOCK_DGRAM && (rc = sock_dgram_setup(ctx)) != 0) {
        as_slog_error(in->prefix, "cannot map the datagram slots: %s",
                      as_strerror(rc));
        goto fail;
    }
    if (ctx->type == SOCK_STREAM) {
        ctx->rbuf = as_malloc(SOCK_CHUNK);
    }
    if ((rc = uv_poll_init(in->loop, &ctx->lpoll, ctx->lfd)) != 0) {
        as_slog_error(in->prefix, "cannot watch %s: %s", c->path,
                      as_strerror(rc));
        goto fail;
    }
    ctx->lpoll.data = ctx;
    uv_idle_init(in->loop, &ctx->kick);
    ctx->kick.data = ctx;
    uv_timer_init(in->loop, &ctx->retry);
    ctx->retry.data = ctx;
    as_peer_cache_init(&ctx->peers, SOCK_PEER_TTL_MS);
    ctx->started = true;
    ctx->reading = !ctx->paused;
    sock_listen_arm(ctx);
    if (ctx->inh < 0) {
        as_slog_info(in->prefix, "listening on %s (%s, mode %04o%s%s)", c->path,
                     ctx->type == SOCK_STREAM ? "stream" : "datagram",
                     (unsigned) ctx->mode, ctx->has_gid ? ", group " : "",
                     ctx->has_gid ? c->group : "");
    }
    return 0;

fail:
    if (ctx->inh >= 0) {
        sock_fds[ctx->inh].claimed = false;
        ctx->inh = -1;
    } else {
        sock_remove_file(ctx);
        close(ctx->lfd);
    }
    ctx->lfd = -1;
    return rc;
}

static void
sock_pause(struct as_input *in)
{
    struct sock_ctx *ctx = in->ctx;

    if (ctx->paused) {
        return;
    }
    ctx->paused = true;
    ctx->reading = false;
    ctx->stats.pauses++;
    if (!ctx->started || ctx->stopping) {
        return;
    }
    uv_idle_stop(&ctx->kick);
    for (struct sock_conn *c = ctx->conns; c != NULL; c = c->next) {
        if (c->polling) {
            uv_poll_stop(&c->poll);
            c->polling = false;
        }
    }
    if (ctx->type == SOCK_DGRAM) {
        sock_listen_stop(ctx);
    }
}

static void
sock_resume(struct as_input *in)
{
    struct sock_ctx *ctx = in->ctx;

    ctx->paused = false;
    if (ctx->started && !ctx->stopping) {
        /* Not from inside the core's call: from the loop, next turn. */
        uv_idle_start(&ctx->kick, sock_kick_cb);
    }
}

/* After resume: what a pause interrupted first, then read again. */
static void
sock_kick_cb(uv_idle_t *h)
{
    struct sock_ctx *ctx = h->data;
    struct sock_conn *c;
    size_t i, n;

    uv_idle_stop(&ctx->kick);
    if (ctx->paused || ctx->stopping) {
        return;
    }
    if ((c = ctx->pend_conn) != NULL) {
        ctx->pend_conn = NULL;
        sock_conn_feed(ctx, c, ctx->pend_off, ctx->pend_len);
        if (ctx->paused) {
            return;
        }
    }
    if (ctx->dg_pend_n > 0) {
        i = ctx->dg_pend_i;
        n = ctx->dg_pend_n;
        ctx->dg_pend_n = 0;
        if (!sock_dgram_deliver(ctx, i, n)) {
            return;
        }
    }
    ctx->reading = true;
    for (c = ctx->conns; c != NULL; c = c->next) {
        if (!c->polling) {
            uv_poll_start(&c->poll, UV_READABLE, sock_conn_cb);
            c->polling = true;
        }
    }
    sock_listen_arm(ctx);
}

/* stop: reads connection c to its end (the client can write no more). */
static void
sock_conn_drain(struct sock_ctx *ctx, struct sock_conn *c)
{
    ssize_t n;

    (void) shutdown(c->fd, SHUT_RD);
    for (;;) {
        do {
            n = read(c->fd, ctx->rbuf, SOCK_CHUNK);
        } while (n < 0 && errno == EINTR);
        if (n <= 0) {
            break;
        }
        ctx->stats.bytes += (uint64_t) n;
        (void) as_sockframe_feed(&c->fr, ctx->rbuf, (size_t) n, sock_frame_emit,
                                 c);
    }
    (void) as_sockframe_eof(&c->fr, sock_frame_emit, c);
}

/* stop: emits what clients have sent that we have not read yet. */
static void
sock_drain(struct sock_ctx *ctx)
{
    struct sock_conn *c;
    size_t i, n;
    int k, total = 0;

    ctx->draining = true;
    if ((c = ctx->pend_conn) != NULL) {
        ctx->pend_conn = NULL;
        sock_conn_feed(ctx, c, ctx->pend_off, ctx->pend_len);
    }
    if (ctx->dg_pend_n > 0) {
        i = ctx->dg_pend_i;
        n = ctx->dg_pend_n;
        ctx->dg_pend_n = 0;
        (void) sock_dgram_deliver(ctx, i, n);
    }
    if (ctx->type == SOCK_STREAM) {
        if (ctx->inh < 0) {
            /* The backlog: clients that connected but were not accepted. */
            for (int a = 0; a < SOCK_MAX_CONNS && sock_accept_one(ctx); a++) {
            }
        }
        for (c = ctx->conns; c != NULL; c = c->next) {
            sock_conn_drain(ctx, c);
        }
    } else if (ctx->inh < 0) {
        (void) shutdown(ctx->lfd, SHUT_RD);
        while (total < SOCK_DRAIN_MAX && (k = sock_dgram_recv(ctx)) > 0) {
            (void) sock_dgram_deliver(ctx, 0, (size_t) k);
            total += k;
        }
    }
    ctx->draining = false;
}

static void
sock_handle_close_cb(uv_handle_t *h)
{
    struct sock_ctx *ctx = h->data;

    if (h == (uv_handle_t *) &ctx->lpoll && ctx->inh < 0 && ctx->lfd >= 0) {
        close(ctx->lfd);
        ctx->lfd = -1;
    }
    ctx->pending_closes--;
    sock_done_maybe(ctx);
}

static void
sock_stop(struct as_input *in, as_done_cb *done)
{
    struct sock_ctx *ctx = in->ctx;

    ctx->stopping = true;
    ctx->done = done;
    if (!ctx->started) {
        ctx->done = NULL;
        done(in, 0);
        return;
    }
    uv_idle_stop(&ctx->kick);
    sock_listen_stop(ctx);
    /* New clients get ENOENT from now on; then read what was sent. */
    sock_remove_file(ctx);
    sock_drain(ctx);
    if (ctx->inh >= 0) {
        sock_fds[ctx->inh].claimed = false;
    }
    as_slog_info(in->prefix,
                 "stopped: %llu events from %llu connections and %llu "
                 "datagrams (%llu truncated)",
                 (unsigned long long) ctx->stats.messages,
                 (unsigned long long) ctx->stats.accepted,
                 (unsigned long long) ctx->stats.datagrams,
                 (unsigned long long) ctx->stats.truncated);
    while (ctx->conns != NULL) {
        sock_conn_close(ctx, ctx->conns);
    }
    ctx->pending_closes += 3;
    uv_close((uv_handle_t *) &ctx->lpoll, sock_handle_close_cb);
    uv_close((uv_handle_t *) &ctx->kick, sock_handle_close_cb);
    uv_close((uv_handle_t *) &ctx->retry, sock_handle_close_cb);
}

static void
sock_destroy(struct as_input *in)
{
    struct sock_ctx *ctx = in->ctx;
    struct sock_conn *c;

    if (ctx == NULL) {
        return;
    }
    /* Only after stop's done: no handle is open any more. */
    while ((c = ctx->conns) != NULL) {
        ctx->conns = c->next;
        close(c->fd);
        as_sockframe_free(&c->fr);
        as_peer_clear(&c->peer);
        free(c);
    }
    if (ctx->started) {
        as_peer_cache_free(&ctx->peers);
    }
    if (ctx->arena != NULL) {
        munmap(ctx->arena, ctx->slot * ctx->vlen);
        ctx->arena = NULL;
    }
    free(ctx->msgs);
    free(ctx->iovs);
    free(ctx->ctrl);
    free(ctx->rbuf);
    free(ctx->source);
    ctx->source = NULL;
    ctx->msgs = NULL;
    ctx->iovs = NULL;
    ctx->ctrl = NULL;
    ctx->rbuf = NULL;
}

void
as_socket_stats(const struct as_input *in, struct as_socket_stats *out)
{
    const struct sock_ctx *ctx = in->ctx;

    *out = ctx->stats;
    out->peer_resolved = ctx->peers.lookups - ctx->peers.hits;
}

const struct as_input_ops as_input_socket_ops = {
    sizeof(struct sock_ctx),
    sock_init,
    sock_start,
    sock_pause,
    sock_resume,
    sock_stop,
    sock_destroy,
};
