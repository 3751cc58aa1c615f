/*
 * The `file` input: tails the files matched by the configured glob patterns
 * and hands each complete line to the core with its source position.
 *
 * Owns (all in struct tail_ctx, which the core callocs and frees): one
 * struct tail_file per followed file (its fd, path, fingerprint head and
 * carry buffer for a partial last line), one uv_fs_event_t per watched
 * directory, the rescan timer, the idle handle that drives reading, and one
 * spare read buffer of TAIL_CHUNK bytes, lent to a file that was paused
 * in the middle of a chunk until it has split the rest.
 *
 * Invariants:
 * - A file is followed by its fd and identified by dev + inode (+ the
 *   fingerprint of its first bytes across restarts, see tail_offset.c), never
 *   by its name: a renamed or deleted file keeps being read through its fd
 *   (state TAIL_ROTATED) until it has been idle at EOF for two rescan
 *   intervals; then it is closed and in->forget is called.
 * - For each file, emit_off <= offset: emit_off is just past the last
 *   delivered line, offset is the next byte to read; the bytes between are
 *   in the carry (at most max_line_bytes + 1 of them are kept: the extra one
 *   lets a line of exactly max_line_bytes end in "\r\n").
 * - Reading happens only in the idle callback, one chunk per file per loop
 *   turn, so the loop is never starved; rotated files are drained before
 *   active ones so that older lines go first.  pause stops delivery after
 *   the current line; the rest of the chunk stays with its file (pend) and
 *   is split on resume, so no byte of a file is read twice while its
 *   offset only moves forward.  The pending bytes are [offset, offset +
 *   pend_len); they are dropped whenever offset is moved (truncation, new
 *   contents) or the file shrank below their end, and are then read again.
 * - stop closes every handle and fd; done runs after the last close_cb.
 * - Positions carry the file's current name as source.  A file renamed
 *   within its directory is followed under its new name (found by inode), so
 *   it does not share a source name with the new file at the old path.  When
 *   a file is forgotten, every name it had is forgotten with its dev+inode:
 *   the core must drop a source's position only when they match.  A drained
 *   copy also forgets the truncated file's position from before the
 *   truncation, but only if that file delivered no line since (else the
 *   core already holds its new position under that name and inode).
 * - Copytruncate loses nothing that reached the copy: lines written
 *   between our last read and the truncation are only in the copy (e.g.
 *   audit.log.1), which the patterns usually do not match.  So when a file
 *   is found truncated (or its first bytes replaced), or a recovered
 *   position finds its file truncated, the file's directory is searched for
 *   its copy: another regular file whose first fp_len bytes hash to the
 *   file's fingerprint, that is long enough and, while running, holds the
 *   last bytes we read just before our offset.  The copy is drained as a
 *   rotated file under its own name and inode, before the truncated file is
 *   read again from 0, then forgotten.  Lines written to the original after
 *   logrotate's copy and before its truncation are lost: that is inherent to
 *   copytruncate.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/carry.h"
#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "tail.h"
#include "tail_offset.h"

#define TAIL_CHUNK       (512 * 1024) /* bytes read per file per turn */
#define TAIL_MAX_ALIASES 4            /* old names remembered per file */
#define TAIL_DEF_MAXLINE (256 * 1024)
#define TAIL_DEF_RESCAN  10000
#define TAIL_CARRY_KEEP  (64 * 1024) /* carry capacity kept between lines */
#define TAIL_LOG_EVERY   120000      /* ms between repeated error lines */
#define TAIL_WIN         AS_FP_MAX   /* last bytes read, kept to find a copy */
#define TAIL_SCAN_MAX    10000       /* directory entries searched for a copy */

enum tail_state {
    TAIL_ACTIVE,  /* found at a path matched by the patterns */
    TAIL_ROTATED, /* renamed away or deleted: drain, then forget */
};

struct tail_file {
    struct tail_file *next;
    char *path;                      /* name it was last seen under */
    char *aliases[TAIL_MAX_ALIASES]; /* earlier names, forgotten too */
    size_t n_aliases;
    int fd;
    uint64_t dev, ino;
    uint64_t offset;   /* next byte to read */
    uint64_t emit_off; /* just past the last delivered line */
    unsigned char head[AS_FP_MAX];
    size_t head_len;       /* known first bytes of the file */
    uint64_t fp;           /* as_tail_fp(head, head_len) */
    struct as_carry carry; /* the partial line: max_line + 1 bytes kept */
    /* Read but not split yet (pause): pend_len bytes at pbuf + pend_pos,
     * the file's bytes from offset on.  pbuf (TAIL_CHUNK bytes) is NULL
     * unless some are pending. */
    char *pbuf;
    size_t pend_pos, pend_len;
    unsigned char win[TAIL_WIN];
    size_t win_len; /* the bytes [offset - win_len, offset) */
    /*
     * A copy being drained: the name and last position of the truncated
     * file it was copied from.  When the copy is forgotten and that file
     * has delivered nothing since, its old position is forgotten too (it
     * would make a restart drain the copy again).
     */
    char *origin;
    struct as_srcpos origin_pos;
    enum tail_state state;
    bool emitted;        /* delivered a line since opened or truncated */
    bool dirty;          /* may have unread bytes */
    bool want_check;     /* stat it (growth, truncation) on the next turn */
    bool seen;           /* rescan mark */
    uint64_t changed_ms; /* last growth or state change */
};

struct tail_ctx;

struct tail_dir {
    struct tail_dir *next;
    struct tail_ctx *ctx;
    char *path;
    uv_fs_event_t ev;
};

struct tail_ctx {
    struct as_input *in;
    const struct as_conf_input_file *conf;
    size_t max_line;
    uint64_t interval_ms;
    struct tail_file *files;
    struct tail_dir *dirs;
    uv_timer_t timer;
    uv_idle_t idle;
    char *rbuf;
    bool started, paused, stopping, idle_on, want_rescan;
    unsigned pending_closes;
    as_done_cb *done;
    struct as_tail_stats stats;
    struct as_ratelimit rl_err; /* open/read/stat failures */
    /* Only during start: paths whose recovered position did not match. */
    char **stale;
    size_t n_stale;
    bool first_scan;
};

struct tail_cand {
    char *path;
    uint64_t dev, ino;
};

/* What the copy of a truncated file looks like (see tail_find_copy). */
struct tail_copyq {
    const char *path;         /* the truncated file's name */
    uint64_t dev, ino;        /* and inode: both skipped */
    uint64_t fp;              /* fingerprint of the first fp_len bytes */
    size_t fp_len;            /* > 0 */
    uint64_t end;             /* the copy holds at least end bytes */
    uint64_t from;            /* and more than from */
    const unsigned char *win; /* the bytes [end - win_len, end), or NULL */
    size_t win_len;
};

static void tail_idle_cb(uv_idle_t *h);
static struct tail_file *tail_add(struct tail_ctx *ctx, const char *path,
                                  int fd, const struct stat *st,
                                  uint64_t offset, const unsigned char *head,
                                  size_t head_len, enum tail_state state);

/* Appends a located error (as as_conf_errors_add does). */
static void
tail_conf_error(struct as_conf_errors *errs, const struct as_conf_stage *cs,
                const char *msg)
{
    struct as_error *e;

    errs->v = as_reallocarray(errs->v, errs->n + 1, sizeof(*errs->v));
    e = &errs->v[errs->n++];
    memset(e, 0, sizeof(*e));
    e->file = NULL;
    e->line = cs != NULL ? cs->line : 0;
    e->col = cs != NULL ? cs->col : 0;
    snprintf(e->msg, sizeof(e->msg), "%s", msg);
}

static int
tail_init(struct as_input *in, const struct as_conf_stage *cs,
          struct as_conf_errors *errs)
{
    const struct as_conf_input_file *c = in->conf;
    int r = 0;

    if (c == NULL || c->paths.n == 0) {
        tail_conf_error(errs, cs,
                        "file input: paths needs at least one "
                        "glob pattern");
        return AS_ERR_CONFIG;
    }
    for (size_t i = 0; i < c->paths.n; i++) {
        if (c->paths.v[i] == NULL || c->paths.v[i][0] == '\0') {
            tail_conf_error(errs, cs, "file input: empty pattern in paths");
            r = AS_ERR_CONFIG;
        }
    }
    if (c->max_line_bytes > ((uint64_t) 1 << 30)) {
        tail_conf_error(errs, cs,
                        "file input: max_line_bytes is larger "
                        "than 1GiB");
        r = AS_ERR_CONFIG;
    }
    return r;
}

/* ---- small helpers ---- */

static void
tail_kick(struct tail_ctx *ctx)
{
    if (ctx->started && !ctx->stopping && !ctx->idle_on) {
        uv_idle_start(&ctx->idle, tail_idle_cb);
        ctx->idle_on = true;
    }
}

static void
tail_srcpos(const struct tail_file *f, uint64_t offset, struct as_srcpos *pos)
{
    pos->dev = f->dev;
    pos->ino = f->ino;
    pos->fp = f->fp;
    pos->fp_len = (uint32_t) f->head_len;
    pos->offset = offset;
}

static char *
tail_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        return as_strdup(".");
    }
    if (slash == path) {
        return as_strdup("/");
    }
    return as_strndup(path, (size_t) (slash - path));
}

static bool
tail_excluded(const struct tail_ctx *ctx, const char *path)
{
    const char *base = strrchr(path, '/');

    base = base != NULL ? base + 1 : path;
    for (size_t i = 0; i < ctx->conf->exclude.n; i++) {
        const char *pat = ctx->conf->exclude.v[i];

        if (fnmatch(pat, base, 0) == 0 || fnmatch(pat, path, 0) == 0) {
            return true;
        }
    }
    return false;
}

static bool
tail_matches_pattern(const struct tail_ctx *ctx, const char *path)
{
    for (size_t i = 0; i < ctx->conf->paths.n; i++) {
        if (fnmatch(ctx->conf->paths.v[i], path, FNM_PATHNAME) == 0) {
            return true;
        }
    }
    return false;
}

static struct tail_file *
tail_find_ino(struct tail_ctx *ctx, uint64_t dev, uint64_t ino)
{
    for (struct tail_file *f = ctx->files; f != NULL; f = f->next) {
        if (f->fd >= 0 && f->dev == dev && f->ino == ino) {
            return f;
        }
    }
    return NULL;
}

/* Drops f's pending bytes (they are read again from offset). */
static void
tail_pend_drop(struct tail_ctx *ctx, struct tail_file *f)
{
    if (f->pbuf == NULL) {
        return;
    }
    if (ctx->rbuf == NULL) {
        ctx->rbuf = f->pbuf;
    } else {
        free(f->pbuf);
    }
    f->pbuf = NULL;
    f->pend_pos = f->pend_len = 0;
}

/* Recomputes the fingerprint after head grew. */
static void
tail_head_extend(struct tail_file *f, const char *p, uint64_t off, size_t n)
{
    size_t upto;

    if (f->head_len >= AS_FP_MAX || off > f->head_len ||
        off + n <= f->head_len) {
        return;
    }
    upto = off + n < AS_FP_MAX ? (size_t) (off + n) : AS_FP_MAX;
    memcpy(f->head + f->head_len, p + (f->head_len - off), upto - f->head_len);
    f->head_len = upto;
    f->fp = as_tail_fp(f->head, f->head_len);
}

/*
 * Delivers one line: data holds its first kept bytes (without the newline)
 * out of total; end is the file offset just past its newline.
 */
static void
tail_deliver(struct tail_ctx *ctx, struct tail_file *f, const char *data,
             size_t kept, uint64_t total, uint64_t end)
{
    struct as_srcinfo src;
    unsigned flags = 0;
    size_t len = kept;

    if (total == kept && len > 0 && data[len - 1] == '\r') {
        len--;
    }
    if (total != kept || len > ctx->max_line) {
        len = ctx->max_line;
        flags |= AS_EMIT_TRUNCATED;
        ctx->stats.truncated_lines++;
    }
    memset(&src, 0, sizeof(src));
    src.source = f->path;
    src.has_pos = true;
    tail_srcpos(f, end, &src.pos);
    ctx->stats.lines++;
    ctx->stats.bytes += end - f->emit_off;
    f->emit_off = end;
    f->emitted = true;
    ctx->in->emit(ctx->in, data, len, &src, flags);
}

/*
 * Splits n bytes read at f->offset into lines.  Stops after the line during
 * which the core paused or stopped us; offset then points just past it.
 */
static void
tail_split(struct tail_ctx *ctx, struct tail_file *f, const char *p, size_t n)
{
    uint64_t base = f->offset, end;
    size_t pos = 0, seg;
    const char *nl;

    while (pos < n) {
        nl = memchr(p + pos, '\n', n - pos);
        if (nl == NULL) {
            as_carry_add(&f->carry, p + pos, n - pos, ctx->max_line + 1);
            break;
        }
        seg = (size_t) (nl - (p + pos));
        end = base + (uint64_t) (nl - p) + 1;
        if (f->carry.total == 0) {
            tail_deliver(ctx, f, p + pos, seg, seg, end);
        } else {
            as_carry_add(&f->carry, p + pos, seg, ctx->max_line + 1);
            tail_deliver(ctx, f, f->carry.data, f->carry.len, f->carry.total,
                         end);
            as_carry_reset(&f->carry, TAIL_CARRY_KEEP);
        }
        pos = (size_t) (nl - p) + 1;
        if ((ctx->paused || ctx->stopping) && pos < n) {
            f->offset = end;
            f->dirty = true;
            return;
        }
    }
    f->offset = base + n;
}

/*
 * Keeps the last TAIL_WIN bytes before f->offset in f->win, after the
 * consumed bytes p[0..n) (ending at f->offset) were split.
 */
static void
tail_win_add(struct tail_file *f, const char *p, size_t n)
{
    size_t keep;

    if (n >= TAIL_WIN) {
        memcpy(f->win, p + (n - TAIL_WIN), TAIL_WIN);
        f->win_len = TAIL_WIN;
        return;
    }
    keep = f->win_len < TAIL_WIN - n ? f->win_len : TAIL_WIN - n;
    memmove(f->win, f->win + (f->win_len - keep), keep);
    memcpy(f->win + keep, p, n);
    f->win_len = keep + n;
}

/*
 * Splits the rest of the chunk read before a pause, or keeps it pending
 * again (with its buffer) when the core paused once more.
 */
static void
tail_split_pending(struct tail_ctx *ctx, struct tail_file *f)
{
    const char *p = f->pbuf + f->pend_pos;
    uint64_t base = f->offset;
    size_t used;

    tail_split(ctx, f, p, f->pend_len);
    used = (size_t) (f->offset - base);
    tail_win_add(f, p, used);
    f->pend_pos += used;
    f->pend_len -= used;
    if (f->pend_len == 0) {
        tail_pend_drop(ctx, f);
    }
    /* Whether more follows is known only by reading on. */
    f->dirty = true;
}

/* Reads and splits one chunk of f. */
static void
tail_read_chunk(struct tail_ctx *ctx, struct tail_file *f)
{
    uint64_t base = f->offset;
    size_t used;
    ssize_t n;

    if (f->pend_len > 0) {
        tail_split_pending(ctx, f);
        return;
    }
    if (ctx->rbuf == NULL) {
        ctx->rbuf = as_malloc(TAIL_CHUNK);
    }
    do {
        n = pread(f->fd, ctx->rbuf, TAIL_CHUNK, (off_t) f->offset);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        ctx->stats.read_errors++;
        if (as_ratelimit_ok(&ctx->rl_err, TAIL_LOG_EVERY)) {
            as_slog_warn(ctx->in->prefix, "read %s at offset %llu: %s", f->path,
                         (unsigned long long) f->offset, strerror(errno));
        }
        f->dirty = false;
        return;
    }
    if (n == 0) {
        f->dirty = false;
        return;
    }
    ctx->stats.bytes_read += (uint64_t) n;
    f->changed_ms = uv_now(ctx->in->loop);
    f->dirty = (size_t) n == TAIL_CHUNK;
    tail_head_extend(f, ctx->rbuf, f->offset, (size_t) n);
    tail_split(ctx, f, ctx->rbuf, (size_t) n);
    used = (size_t) (f->offset - base);
    tail_win_add(f, ctx->rbuf, used);
    if (used < (size_t) n) {
        /* Paused mid-chunk: the file keeps the rest and the buffer. */
        f->pbuf = ctx->rbuf;
        f->pend_pos = used;
        f->pend_len = (size_t) n - used;
        ctx->rbuf = NULL;
    }
}

/*
 * Whether the open regular file fd (lstat'ed as *lst) is a copy as q
 * describes.  Fills head with its first min(size, AS_FP_MAX) bytes.
 */
static bool
tail_copy_matches(int fd, const struct stat *lst, const struct tail_copyq *q,
                  unsigned char head[AS_FP_MAX], size_t *head_len)
{
    unsigned char win[TAIL_WIN];
    struct stat st;
    size_t want, got;
    ssize_t n;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_dev != lst->st_dev || st.st_ino != lst->st_ino ||
        (uint64_t) st.st_size < q->end || (uint64_t) st.st_size <= q->from) {
        return false;
    }
    want = (uint64_t) st.st_size < AS_FP_MAX ? (size_t) st.st_size : AS_FP_MAX;
    if (as_tail_read_head(fd, head, want, &got) != 0 || got < q->fp_len ||
        as_tail_fp(head, q->fp_len) != q->fp) {
        return false;
    }
    *head_len = got;
    if (q->win == NULL || q->win_len == 0) {
        return true;
    }
    do {
        n = pread(fd, win, q->win_len, (off_t) (q->end - q->win_len));
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t) q->win_len && memcmp(win, q->win, q->win_len) == 0;
}

/*
 * Searches the directory of q->path (at most TAIL_SCAN_MAX entries) for the
 * copy of a truncated file: a regular file (not a symlink) with another
 * inode, not followed already, that q describes; the most recently modified
 * one if several do.  Returns its fd (the caller owns it and *path_out) and
 * fills *st_out and head, or returns -1 when there is none.
 */
static int
tail_find_copy(struct tail_ctx *ctx, const struct tail_copyq *q,
               char **path_out, struct stat *st_out,
               unsigned char head[AS_FP_MAX], size_t *head_len)
{
    unsigned char h[AS_FP_MAX];
    char *dir = tail_dirname(q->path), *p;
    struct dirent *de;
    struct stat st;
    size_t seen = 0, hl = 0;
    int fd, best = -1;
    DIR *dp;

    *path_out = NULL;
    if ((dp = opendir(dir)) == NULL) {
        goto out;
    }
    while (seen++ < TAIL_SCAN_MAX && (de = readdir(dp)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        as_asprintf(&p, "%s/%s", dir, de->d_name);
        if (strcmp(p, q->path) == 0 || lstat(p, &st) != 0 ||
            !S_ISREG(st.st_mode) ||
            ((uint64_t) st.st_dev == q->dev &&
             (uint64_t) st.st_ino == q->ino) ||
            (uint64_t) st.st_size < q->end ||
            (uint64_t) st.st_size <= q->from ||
            tail_find_ino(ctx, (uint64_t) st.st_dev, (uint64_t) st.st_ino) !=
                NULL ||
            (best >= 0 && (st.st_mtim.tv_sec < st_out->st_mtim.tv_sec ||
                           (st.st_mtim.tv_sec == st_out->st_mtim.tv_sec &&
                            st.st_mtim.tv_nsec <= st_out->st_mtim.tv_nsec)))) {
            free(p);
            continue;
        }
        fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
        if (fd < 0 || !tail_copy_matches(fd, &st, q, h, &hl)) {
            if (fd >= 0) {
                close(fd);
            }
            free(p);
            continue;
        }
        if (best >= 0) {
            close(best);
            free(*path_out);
        }
        best = fd;
        *path_out = p;
        *st_out = st;
        memcpy(head, h, hl);
        *head_len = hl;
    }
    closedir(dp);
out:
    free(dir);
    return best;
}

/*
 * f (at offset, delivered up to emit_off) was found truncated: if its copy
 * is in the same directory, follows the copy from emit_off as a rotated
 * file, so that it is drained (before f, see tail_idle_cb) and forgotten.
 */
static void
tail_drain_copy(struct tail_ctx *ctx, struct tail_file *f)
{
    unsigned char head[AS_FP_MAX];
    struct tail_copyq q;
    struct tail_file *c;
    struct stat st;
    size_t head_len = 0;
    char *path;
    int fd;

    if (f->head_len == 0) {
        return; /* nothing was read, so nothing can be missing */
    }
    memset(&q, 0, sizeof(q));
    q.path = f->path;
    q.dev = f->dev;
    q.ino = f->ino;
    q.fp = f->fp;
    q.fp_len = f->head_len;
    q.end = f->offset;
    q.from = f->emit_off;
    q.win = f->win;
    q.win_len = f->win_len;
    if ((fd = tail_find_copy(ctx, &q, &path, &st, head, &head_len)) < 0) {
        return;
    }
    ctx->stats.copies++;
    as_slog_info(ctx->in->prefix,
                 "copytruncate of %s: draining its copy %s "
                 "from offset %llu",
                 f->path, path, (unsigned long long) f->emit_off);
    c = tail_add(ctx, path, fd, &st, f->emit_off, head, head_len, TAIL_ROTATED);
    c->origin = as_strdup(f->path);
    tail_srcpos(f, f->emit_off, &c->origin_pos);
    free(path);
}

/* The file was truncated or its first bytes replaced: read it from 0. */
static void
tail_restart_file(struct tail_ctx *ctx, struct tail_file *f, const char *why)
{
    size_t got = 0;

    ctx->stats.truncations++;
    as_slog_info(ctx->in->prefix,
                 "%s %s (was at offset %llu): reading "
                 "from the beginning",
                 why, f->path, (unsigned long long) f->offset);
    tail_drain_copy(ctx, f);
    tail_pend_drop(ctx, f);
    f->offset = 0;
    f->emit_off = 0;
    f->win_len = 0;
    f->emitted = false;
    as_carry_reset(&f->carry, TAIL_CARRY_KEEP);
    (void) as_tail_read_head(f->fd, f->head, AS_FP_MAX, &got);
    f->head_len = got;
    f->fp = as_tail_fp(f->head, f->head_len);
    f->dirty = true;
    f->changed_ms = uv_now(ctx->in->loop);
}

/* Stats an open file: detects growth, truncation and replaced contents. */
static void
tail_check(struct tail_ctx *ctx, struct tail_file *f)
{
    unsigned char now[AS_FP_MAX];
    struct stat st;
    size_t got = 0;

    if (f->fd < 0) {
        return;
    }
    if (fstat(f->fd, &st) != 0) {
        ctx->stats.read_errors++;
        if (as_ratelimit_ok(&ctx->rl_err, TAIL_LOG_EVERY)) {
            as_slog_warn(ctx->in->prefix, "fstat %s: %s", f->path,
                         strerror(errno));
        }
        return;
    }
    if ((uint64_t) st.st_size < f->offset) {
        tail_restart_file(ctx, f, "truncation of");
        return;
    }
    if ((uint64_t) st.st_size < f->offset + f->pend_len) {
        /* Shrank below what was read ahead: read it again. */
        tail_pend_drop(ctx, f);
    }
    if (f->head_len > 0) {
        if (as_tail_read_head(f->fd, now, f->head_len, &got) != 0 ||
            got < f->head_len || memcmp(now, f->head, f->head_len) != 0) {
            tail_restart_file(ctx, f, "new contents in");
            return;
        }
    }
    if (st.st_nlink == 0 && f->state == TAIL_ACTIVE) {
        ctx->want_rescan = true;
    }
    if ((uint64_t) st.st_size > f->offset) {
        f->dirty = true;
    }
}

/* ---- directories ---- */

static void
tail_fs_event_cb(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct tail_dir *d = h->data;
    struct tail_ctx *ctx = d->ctx;
    struct tail_file *f;
    char *full = NULL;
    bool known = false;

    if (ctx->stopping) {
        return;
    }
    if (status < 0) {
        as_slog_warn(ctx->in->prefix, "watching %s: %s", d->path,
                     uv_strerror(status));
        ctx->want_rescan = true;
        tail_kick(ctx);
        return;
    }
    if (name == NULL) {
        ctx->want_rescan = true;
        tail_kick(ctx);
        return;
    }
    if (strcmp(d->path, ".") == 0) {
        full = as_strdup(name);
    } else {
        as_asprintf(&full, "%s/%s", d->path, name);
    }
    for (f = ctx->files; f != NULL; f = f->next) {
        if (strcmp(f->path, full) == 0) {
            f->want_check = true;
            known = true;
        }
    }
    if (((events & UV_RENAME) != 0 && known) ||
        (!known && tail_matches_pattern(ctx, full))) {
        ctx->want_rescan = true;
    }
    free(full);
    tail_kick(ctx);
}

static void
tail_watch_dir(struct tail_ctx *ctx, const char *dir)
{
    struct tail_dir *d;
    int r;

    for (d = ctx->dirs; d != NULL; d = d->next) {
        if (strcmp(d->path, dir) == 0) {
            return;
        }
    }
    d = as_calloc(1, sizeof(*d));
    d->ctx = ctx;
    d->path = as_strdup(dir);
    uv_fs_event_init(ctx->in->loop, &d->ev);
    d->ev.data = d;
    d->next = ctx->dirs;
    ctx->dirs = d;
    if ((r = uv_fs_event_start(&d->ev, tail_fs_event_cb, dir, 0)) != 0) {
        as_slog_warn(ctx->in->prefix,
                     "cannot watch %s (%s); relying on "
                     "the rescan timer",
                     dir, uv_strerror(r));
    }
}

/* ---- files ---- */

static void
tail_file_free(struct tail_file *f)
{
    free(f->pbuf);
    free(f->path);
    free(f->origin);
    for (size_t i = 0; i < f->n_aliases; i++) {
        free(f->aliases[i]);
    }
    as_carry_free(&f->carry);
    free(f);
}

/*
 * Follows an already open fd as path from offset.  Takes ownership of fd.
 * head holds the file's first head_len bytes.
 */
static struct tail_file *
tail_add(struct tail_ctx *ctx, const char *path, int fd, const struct stat *st,
         uint64_t offset, const unsigned char *head, size_t head_len,
         enum tail_state state)
{
    struct tail_file *f = as_calloc(1, sizeof(*f));
    size_t want;
    ssize_t n;
    char *dir;

    f->path = as_strdup(path);
    f->fd = fd;
    f->dev = (uint64_t) st->st_dev;
    f->ino = (uint64_t) st->st_ino;
    f->offset = offset;
    f->emit_off = offset;
    memcpy(f->head, head, head_len);
    f->head_len = head_len;
    f->fp = as_tail_fp(f->head, f->head_len);
    want = offset < TAIL_WIN ? (size_t) offset : TAIL_WIN;
    do {
        n = pread(fd, f->win, want, (off_t) (offset - want));
    } while (n < 0 && errno == EINTR);
    f->win_len = n == (ssize_t) want ? want : 0;
    f->state = state;
    f->dirty = true;
    f->seen = true; /* a rescan must not take it for rotated away */
    f->changed_ms = uv_now(ctx->in->loop);
    f->next = ctx->files;
    ctx->files = f;
    ctx->stats.files_open++;
    dir = tail_dirname(path);
    tail_watch_dir(ctx, dir);
    free(dir);
    as_slog_info(ctx->in->prefix,
                 "following %s (dev %llu inode %llu) from "
                 "offset %llu%s",
                 path, (unsigned long long) f->dev, (unsigned long long) f->ino,
                 (unsigned long long) offset,
                 state == TAIL_ROTATED ? ", draining" : "");
    return f;
}

static bool
tail_is_stale(const struct tail_ctx *ctx, const char *path)
{
    for (size_t i = 0; i < ctx->n_stale; i++) {
        if (strcmp(ctx->stale[i], path) == 0) {
            return true;
        }
    }
    return false;
}

/* Opens a newly found file; where to start depends on when it was found. */
static void
tail_open_new(struct tail_ctx *ctx, const struct tail_cand *c)
{
    unsigned char head[AS_FP_MAX];
    struct stat st;
    uint64_t offset = 0;
    size_t got = 0;
    int fd;

    fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        ctx->stats.read_errors++;
        if (as_ratelimit_ok(&ctx->rl_err, TAIL_LOG_EVERY)) {
            as_slog_warn(ctx->in->prefix,
                         "open %s: %s (retried every "
                         "rescan)",
                         c->path, strerror(errno));
        }
        return;
    }
    if (fstat(fd, &st) != 0 || (uint64_t) st.st_dev != c->dev ||
        (uint64_t) st.st_ino != c->ino || !S_ISREG(st.st_mode)) {
        /* Replaced between stat and open: the next rescan sees it. */
        close(fd);
        ctx->want_rescan = true;
        return;
    }
    if (as_tail_read_head(fd, head, AS_FP_MAX, &got) != 0) {
        got = 0;
    }
    if (ctx->first_scan && ctx->conf->start_at == AS_START_END &&
        !tail_is_stale(ctx, c->path)) {
        offset = (uint64_t) st.st_size;
    }
    tail_add(ctx, c->path, fd, &st, offset, head, got, TAIL_ACTIVE);
}

/* Collects the files the patterns match now, minus excludes, by inode. */
static void
tail_glob(struct tail_ctx *ctx, struct tail_cand **out, size_t *n_out)
{
    struct tail_cand *v = NULL;
    struct stat st;
    size_t n = 0, j;
    glob_t g;
    int r;

    for (size_t i = 0; i < ctx->conf->paths.n; i++) {
        memset(&g, 0, sizeof(g));
        r = glob(ctx->conf->paths.v[i], 0, NULL, &g);
        if (r != 0) {
            if (r != GLOB_NOMATCH) {
                as_slog_warn(ctx->in->prefix, "glob %s failed (%d)",
                             ctx->conf->paths.v[i], r);
            }
            globfree(&g);
            continue;
        }
        for (size_t k = 0; k < g.gl_pathc; k++) {
            const char *p = g.gl_pathv[k];

            if (tail_excluded(ctx, p) || stat(p, &st) != 0 ||
                !S_ISREG(st.st_mode)) {
                continue;
            }
            for (j = 0; j < n; j++) {
                if (v[j].dev == (uint64_t) st.st_dev &&
                    v[j].ino == (uint64_t) st.st_ino) {
                    break;
                }
            }
            if (j < n) {
                continue;
            }
            v = as_reallocarray(v, n + 1, sizeof(*v));
            v[n].path = as_strdup(p);
            v[n].dev = (uint64_t) st.st_dev;
            v[n].ino = (uint64_t) st.st_ino;
            n++;
        }
        globfree(&g);
    }
    *out = v;
    *n_out = n;
}

/*
 * Looks in the directory of path for another name of inode dev/ino; returns
 * it (the caller frees it) or NULL.
 */
static char *
tail_find_name(const char *path, uint64_t dev, uint64_t ino)
{
    char *dir = tail_dirname(path), *p = NULL;
    struct dirent *de;
    struct stat st;
    DIR *dp;

    if ((dp = opendir(dir)) == NULL) {
        goto out;
    }
    while ((de = readdir(dp)) != NULL) {
        if ((uint64_t) de->d_ino != ino) {
            continue;
        }
        free(p);
        as_asprintf(&p, "%s/%s", dir, de->d_name);
        if (strcmp(p, path) != 0 && stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
            (uint64_t) st.st_dev == dev && (uint64_t) st.st_ino == ino) {
            break;
        }
        free(p);
        p = NULL;
    }
    closedir(dp);
out:
    free(dir);
    return p;
}

static void
tail_set_path(struct tail_ctx *ctx, struct tail_file *f, const char *path)
{
    char *dir;

    if (f->n_aliases == TAIL_MAX_ALIASES) {
        free(f->aliases[0]);
        memmove(f->aliases, f->aliases + 1,
                (TAIL_MAX_ALIASES - 1) * sizeof(f->aliases[0]));
        f->n_aliases--;
    }
    f->aliases[f->n_aliases++] = f->path;
    f->path = as_strdup(path);
    dir = tail_dirname(path);
    tail_watch_dir(ctx, dir);
    free(dir);
}

/*
 * Reconciles the followed files with what the patterns match now, by inode:
 * a followed inode found under another name was renamed; one found nowhere
 * was rotated away or deleted and is drained; an unknown one is new.
 */
static void
tail_rescan(struct tail_ctx *ctx)
{
    struct tail_cand *cands = NULL;
    struct tail_file *f;
    char *name;
    size_t n = 0;

    ctx->want_rescan = false;
    tail_glob(ctx, &cands, &n);
    for (f = ctx->files; f != NULL; f = f->next) {
        f->seen = false;
    }
    for (size_t i = 0; i < n; i++) {
        f = tail_find_ino(ctx, cands[i].dev, cands[i].ino);
        if (f == NULL) {
            tail_open_new(ctx, &cands[i]);
            continue;
        }
        f->seen = true;
        if (strcmp(f->path, cands[i].path) != 0) {
            ctx->stats.rotations++;
            as_slog_info(ctx->in->prefix,
                         "rotation: %s is now %s "
                         "(inode %llu, offset %llu)",
                         f->path, cands[i].path, (unsigned long long) f->ino,
                         (unsigned long long) f->offset);
            tail_set_path(ctx, f, cands[i].path);
        }
        f->state = TAIL_ACTIVE;
        f->want_check = true;
    }
    for (f = ctx->files; f != NULL; f = f->next) {
        if (!f->seen && f->state == TAIL_ACTIVE && f->fd >= 0) {
            /*
             * Renamed within its directory (audit.log -> audit.log.1, not
             * matched by the patterns): follow the new name, so that its
             * positions never share a source name with the new file.
             */
            if ((name = tail_find_name(f->path, f->dev, f->ino)) != NULL) {
                as_slog_info(ctx->in->prefix, "rotation: %s is now %s", f->path,
                             name);
                tail_set_path(ctx, f, name);
                free(name);
            }
            ctx->stats.rotations++;
            as_slog_info(ctx->in->prefix,
                         "rotation: %s (inode %llu) was "
                         "renamed away or deleted; draining from offset "
                         "%llu",
                         f->path, (unsigned long long) f->ino,
                         (unsigned long long) f->offset);
            f->state = TAIL_ROTATED;
            f->changed_ms = uv_now(ctx->in->loop);
            f->want_check = true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(cands[i].path);
    }
    free(cands);
}

/* Closes f, tells the core its position is gone, frees it. */
static void
tail_forget(struct tail_ctx *ctx, struct tail_file *f)
{
    struct tail_file **pp, *o;
    struct as_srcpos pos;

    for (pp = &ctx->files; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
        ctx->stats.files_open--;
    }
    as_slog_info(ctx->in->prefix, "closed %s (inode %llu) at offset %llu",
                 f->path, (unsigned long long) f->ino,
                 (unsigned long long) f->emit_off);
    tail_srcpos(f, f->emit_off, &pos);
    ctx->in->forget(ctx->in, f->path, &pos);
    for (size_t i = 0; i < f->n_aliases; i++) {
        ctx->in->forget(ctx->in, f->aliases[i], &pos);
    }
    if (f->origin != NULL) {
        /*
         * A drained copy: the truncated file's last position still names
         * the copied bytes unless that file delivered a line since.  The
         * core drops it only if it still has the same dev+inode.
         */
        o = tail_find_ino(ctx, f->origin_pos.dev, f->origin_pos.ino);
        if (o == NULL || !o->emitted) {
            ctx->in->forget(ctx->in, f->origin, &f->origin_pos);
        }
    }
    tail_file_free(f);
}

/*
 * Closes rotated files that are at EOF and have not grown for two rescan
 * intervals.  A last line without newline is delivered first: nobody will
 * complete it.
 */
static void
tail_drain_rotated(struct tail_ctx *ctx)
{
    struct tail_file *f, *next;
    uint64_t now = uv_now(ctx->in->loop);
    struct stat st;

    if (ctx->paused) {
        return;
    }
    for (f = ctx->files; f != NULL; f = next) {
        next = f->next;
        if (f->state != TAIL_ROTATED || f->dirty ||
            now - f->changed_ms < 2 * ctx->interval_ms) {
            continue;
        }
        if (fstat(f->fd, &st) != 0 || (uint64_t) st.st_size > f->offset) {
            f->dirty = true;
            continue;
        }
        if (f->carry.total > 0) {
            tail_deliver(ctx, f, f->carry.data, f->carry.len, f->carry.total,
                         f->offset);
            as_carry_reset(&f->carry, TAIL_CARRY_KEEP);
            if (ctx->stopping) {
                return;
            }
        }
        tail_forget(ctx, f);
        if (ctx->paused || ctx->stopping) {
            return;
        }
    }
}

/* ---- loop callbacks ---- */

static void
tail_idle_cb(uv_idle_t *h)
{
    struct tail_ctx *ctx = h->data;
    struct tail_file *f;
    bool rot_first = false, busy = false;

    if (ctx->want_rescan && !ctx->stopping) {
        tail_rescan(ctx);
    }
    for (f = ctx->files; f != NULL && !ctx->stopping; f = f->next) {
        if (f->want_check) {
            f->want_check = false;
            tail_check(ctx, f);
        }
    }
    /* After the checks: one may have added the copy of a truncated file. */
    for (f = ctx->files; f != NULL; f = f->next) {
        if (f->dirty && f->state == TAIL_ROTATED) {
            rot_first = true;
        }
    }
    if (ctx->paused || ctx->stopping) {
        uv_idle_stop(&ctx->idle);
        ctx->idle_on = false;
        return;
    }
    for (f = ctx->files; f != NULL; f = f->next) {
        if (f->dirty && f->fd >= 0 &&
            (!rot_first || f->state == TAIL_ROTATED)) {
            tail_read_chunk(ctx, f);
            if (ctx->paused || ctx->stopping) {
                break;
            }
        }
    }
    for (f = ctx->files; f != NULL; f = f->next) {
        busy = busy || f->dirty || f->want_check;
    }
    if (ctx->stopping || ctx->paused || (!busy && !ctx->want_rescan)) {
        uv_idle_stop(&ctx->idle);
        ctx->idle_on = false;
    }
}

static void
tail_timer_cb(uv_timer_t *h)
{
    struct tail_ctx *ctx = h->data;

    tail_rescan(ctx);
    for (struct tail_file *f = ctx->files; f != NULL; f = f->next) {
        tail_check(ctx, f);
    }
    tail_drain_rotated(ctx);
    tail_kick(ctx);
}

/* ---- recovery ---- */

/*
 * A recovered position s whose file is gone or truncated (copytruncate
 * while we were down): drains its copy from s's offset if the directory
 * holds one that is not followed yet (a recovered position of the copy
 * itself wins, so this runs after every position was resumed); else
 * forgets s.
 */
static void
tail_recover_copy(struct tail_ctx *ctx, const struct as_srcstate *s)
{
    unsigned char head[AS_FP_MAX];
    struct tail_copyq q;
    struct tail_file *c;
    struct stat st;
    size_t head_len = 0;
    char *path = NULL;
    int fd = -1;

    memset(&q, 0, sizeof(q));
    q.path = s->source;
    q.dev = s->pos.dev;
    q.ino = s->pos.ino;
    q.fp = s->pos.fp;
    q.fp_len = s->pos.fp_len;
    q.end = s->pos.offset;
    q.from = s->pos.offset;
    if (q.fp_len > 0 && q.fp_len <= AS_FP_MAX) {
        fd = tail_find_copy(ctx, &q, &path, &st, head, &head_len);
    }
    if (fd < 0) {
        as_slog_info(ctx->in->prefix,
                     "recovered position for %s (inode "
                     "%llu) matches no file; forgetting it",
                     s->source, (unsigned long long) s->pos.ino);
        ctx->in->forget(ctx->in, s->source, &s->pos);
        return;
    }
    ctx->stats.copies++;
    ctx->stats.truncations++;
    as_slog_info(ctx->in->prefix,
                 "%s was truncated while stopped; draining "
                 "its copy %s from offset %llu",
                 s->source, path, (unsigned long long) s->pos.offset);
    c = tail_add(ctx, path, fd, &st, s->pos.offset, head, head_len,
                 TAIL_ROTATED);
    c->origin = as_strdup(s->source);
    c->origin_pos = s->pos;
    free(path);
}

/*
 * Resumes each recovered position: at its path when the identity matches,
 * else in a file of the same directory that has it (rotated while we were
 * down; drained, then forgotten), else in a copy of it (tail_recover_copy).
 * The path of a position that does not match its file is marked so the
 * file there is read from 0.
 */
static void
tail_recover(struct tail_ctx *ctx)
{
    unsigned char head[AS_FP_MAX];
    const struct as_srcstate *s;
    struct tail_file *f;
    struct stat st;
    size_t head_len, *lost, n_lost = 0;
    char *found;
    int fd;

    lost = as_calloc(ctx->in->n_recovered + 1, sizeof(*lost));

    for (size_t i = 0; i < ctx->in->n_recovered; i++) {
        s = &ctx->in->recovered[i];
        if (s->source == NULL) {
            continue;
        }
        f = tail_find_ino(ctx, s->pos.dev, s->pos.ino);
        if (f != NULL) {
            /* Another name of a file already resumed. */
            if (s->pos.fp_len <= f->head_len &&
                as_tail_fp(f->head, s->pos.fp_len) == s->pos.fp &&
                s->pos.offset > f->offset) {
                tail_pend_drop(ctx, f);
                f->offset = f->emit_off = s->pos.offset;
            }
            if (strcmp(f->path, s->source) != 0 &&
                f->n_aliases < TAIL_MAX_ALIASES) {
                f->aliases[f->n_aliases++] = as_strdup(s->source);
            }
            continue;
        }
        found = NULL;
        fd = open(s->source, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd >= 0 && as_tail_pos_matches(fd, &s->pos, head, &head_len) == 1) {
            (void) fstat(fd, &st);
            tail_add(ctx, s->source, fd, &st, s->pos.offset, head, head_len,
                     TAIL_ACTIVE);
            continue;
        }
        if (fd >= 0) {
            close(fd);
        }
        ctx->stale =
            as_reallocarray(ctx->stale, ctx->n_stale + 1, sizeof(*ctx->stale));
        ctx->stale[ctx->n_stale++] = as_strdup(s->source);
        fd = -1;
        if ((found = tail_find_name(s->source, s->pos.dev, s->pos.ino)) !=
            NULL) {
            fd = open(found, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
            if (fd >= 0 &&
                as_tail_pos_matches(fd, &s->pos, head, &head_len) != 1) {
                close(fd);
                fd = -1;
            }
        }
        if (fd >= 0) {
            (void) fstat(fd, &st);
            as_slog_info(ctx->in->prefix,
                         "%s was rotated to %s while "
                         "stopped; draining it from offset %llu",
                         s->source, found, (unsigned long long) s->pos.offset);
            ctx->stats.rotations++;
            f = tail_add(ctx, found, fd, &st, s->pos.offset, head, head_len,
                         TAIL_ROTATED);
            f->aliases[f->n_aliases++] = as_strdup(s->source);
            free(found);
            continue;
        }
        free(found);
        lost[n_lost++] = i;
    }
    for (size_t i = 0; i < n_lost; i++) {
        tail_recover_copy(ctx, &ctx->in->recovered[lost[i]]);
    }
    free(lost);
}

/* ---- lifecycle ---- */

static int
tail_start(struct as_input *in)
{
    struct tail_ctx *ctx = in->ctx;
    const struct as_conf_input_file *c = in->conf;
    char *dir;

    ctx->in = in;
    ctx->conf = c;
    ctx->max_line =
        c->max_line_bytes != 0 ? (size_t) c->max_line_bytes : TAIL_DEF_MAXLINE;
    ctx->interval_ms =
        c->rescan_interval_ms != 0 ? c->rescan_interval_ms : TAIL_DEF_RESCAN;
    ctx->rbuf = as_malloc(TAIL_CHUNK);
    uv_timer_init(in->loop, &ctx->timer);
    ctx->timer.data = ctx;
    uv_idle_init(in->loop, &ctx->idle);
    ctx->idle.data = ctx;
    ctx->started = true;

    for (size_t i = 0; i < c->paths.n; i++) {
        dir = tail_dirname(c->paths.v[i]);
        if (strpbrk(dir, "*?[") == NULL) {
            tail_watch_dir(ctx, dir);
        }
        free(dir);
    }
    tail_recover(ctx);
    ctx->first_scan = true;
    tail_rescan(ctx);
    ctx->first_scan = false;
    for (size_t i = 0; i < ctx->n_stale; i++) {
        free(ctx->stale[i]);
    }
    free(ctx->stale);
    ctx->stale = NULL;
    ctx->n_stale = 0;

    uv_timer_start(&ctx->timer, tail_timer_cb, ctx->interval_ms,
                   ctx->interval_ms);
    tail_kick(ctx);
    return 0;
}

static void
tail_pause(struct as_input *in)
{
    struct tail_ctx *ctx = in->ctx;

    ctx->paused = true;
}

static void
tail_resume(struct as_input *in)
{
    struct tail_ctx *ctx = in->ctx;

    ctx->paused = false;
    tail_kick(ctx);
}

static void
tail_close_cb(uv_handle_t *h)
{
    struct tail_ctx *ctx = h->data;

    if (h->type == UV_FS_EVENT) {
        ctx = ((struct tail_dir *) h->data)->ctx;
    }
    if (--ctx->pending_closes == 0 && ctx->done != NULL) {
        ctx->done(ctx->in, 0);
    }
}

static void
tail_stop(struct as_input *in, as_done_cb *done)
{
    struct tail_ctx *ctx = in->ctx;

    ctx->stopping = true;
    ctx->done = done;
    if (!ctx->started) {
        done(in, 0);
        return;
    }
    for (struct tail_file *f = ctx->files; f != NULL; f = f->next) {
        if (f->fd >= 0) {
            close(f->fd);
            f->fd = -1;
            ctx->stats.files_open--;
        }
    }
    ctx->pending_closes = 2;
    for (struct tail_dir *d = ctx->dirs; d != NULL; d = d->next) {
        ctx->pending_closes++;
    }
    uv_close((uv_handle_t *) &ctx->timer, tail_close_cb);
    uv_close((uv_handle_t *) &ctx->idle, tail_close_cb);
    for (struct tail_dir *d = ctx->dirs; d != NULL; d = d->next) {
        uv_close((uv_handle_t *) &d->ev, tail_close_cb);
    }
}

static void
tail_destroy(struct as_input *in)
{
    struct tail_ctx *ctx = in->ctx;
    struct tail_file *f;
    struct tail_dir *d;

    if (ctx == NULL) {
        return;
    }
    while ((f = ctx->files) != NULL) {
        ctx->files = f->next;
        if (f->fd >= 0) {
            close(f->fd);
        }
        tail_file_free(f);
    }
    while ((d = ctx->dirs) != NULL) {
        ctx->dirs = d->next;
        free(d->path);
        free(d);
    }
    free(ctx->rbuf);
    ctx->rbuf = NULL;
}

void
as_tail_stats(const struct as_input *in, struct as_tail_stats *out)
{
    const struct tail_ctx *ctx = in->ctx;

    *out = ctx->stats;
}

const struct as_input_ops as_input_tail_ops = {
    sizeof(struct tail_ctx),
    tail_init,
    tail_start,
    tail_pause,
    tail_resume,
    tail_stop,
    tail_destroy,
};
