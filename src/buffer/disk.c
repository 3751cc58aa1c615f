/*
 * The disk buffer (see buffer.h for the design): segment files written by
 * group commit on the libuv thread pool, recovery from the newest intact
 * snapshot, and the readers' persisted cursors.
 *
 * Owns: the segment list (fds, sizes), two staging areas (one being filled
 * on the loop thread, one being written by the pool), the idle handle that
 * triggers a flush at the end of a loop iteration, the retry timer and the
 * open cursors.
 *
 * Invariants:
 * - Only the loop thread touches struct as_buffer, except the staging area
 *   being written (st[!cur]) and the copies in the flush job, which the
 *   worker owns while `inflight` is true.  One flush is in flight at a time,
 *   so frames reach their files in append order.
 * - For every segment: size <= end; size is the readable end (written, and
 *   synced unless fsync: never); end includes staged and in-flight bytes.
 *   Frames are written whole, so size always lies on a frame boundary.
 * - bytes is the sum of every segment's end (files plus staged).
 * - The last segment is the one appended to; it is never deleted, and a
 *   segment with unwritten bytes (size != end) is never deleted or passed
 *   by a reader.
 * - Every segment this process creates starts with the snapshot records
 *   followed by one AS__BREC_SNAPEND frame.
 * - Staged frames carry no checksum yet: the flush job fills them in
 *   (as__frames_checksum) before writing, so the CRC-32 of each record is
 *   computed on the pool, not on the loop thread.  Nothing reads staged
 *   bytes.
 *
 * buffer.type memory runs the same code over anonymous memfd segments:
 * nothing is recovered or persisted (cursors live in memory only), fsync
 * does not apply, and max_bytes bounds the memory used.
 *
 * fsync modes: `never` makes records readable after write(2); `batch`
 * fdatasyncs the segment files before records become readable; `always`
 * additionally fsyncs the buffer directory after a segment is created or
 * deleted and the cursor files and their directory after a commit (on the
 * pool, with the next flush).  The loop thread never calls fsync.
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/stage.h"
#include "buffer.h"
#include "segment.h"

#define DISK_SEG_MAX      (64ull << 20)
#define DISK_SEG_MIN      (1ull << 20)
#define DISK_FLUSH_AT     (1u << 20) /* staged bytes that start a flush */
/* Staged while a flush is in flight: just under 2 MiB, so that a staging
 * area stays in one 2 MiB allocation (as_buf doubles past it). */
#define DISK_MEM_HIGH     ((2u << 20) - (64u << 10))
#define DISK_RETRY_MS     1000
#define DISK_OLDEST_SCAN  256  /* frames scanned for oldest_ns */
#define DISK_OLDEST_CHUNK 4096 /* its reads: about a frame or a few */
#define DISK_PATH_MAX     4096

struct disk_seg {
    uint64_t id;
    int fd;                /* -1 until needed */
    uint64_t size;         /* readable end */
    uint64_t end;          /* end including staged and in-flight bytes */
    uint64_t head;         /* end of the snapshot (0 = unknown) */
    uint64_t trusted_from; /* bytes from here on were written in this run */
    /* Just past the last record of each type staged in this run (0 =
     * none); indexed by AS_BREC_EVENT and AS_BREC_DEADLETTER. */
    uint64_t type_end[AS_BREC_DEADLETTER + 1];
};

/* A run of staged bytes that goes to one segment file. */
struct disk_piece {
    int fd;
    uint64_t seg;
    uint64_t off; /* file offset of start */
    size_t start, len, done;
};

struct disk_stage {
    struct as_buf buf;
    struct disk_piece *pieces;
    size_t n, cap;
    bool new_seg;     /* a segment was created: sync the directory */
    bool summed;      /* the frames' checksums are filled in */
    int64_t first_ns; /* received_ns of the first EVENT/DEADLETTER */
};

struct as_cursor {
    struct as_buffer *b;
    char *name;
    char *path;
    struct as_bpos rpos, cpos; /* read and committed positions */
    struct as__reader rd;
    uint64_t rd_seg; /* segment rd is bound to (0 = none) */
    unsigned types;  /* as_cursor_want_types (0 = any) */
    bool sync;       /* the cursor file needs an fsync (always) */
    int fd;          /* the version 2 cursor file, once written (or -1) */
    uint64_t gen;    /* generation of the last slot written or read */
    struct as_cursor *next;
};

struct as_buffer {
    uv_loop_t *loop;
    bool mem; /* type memory: memfd segments, no files */
    char *dir;
    char *cdir;
    struct as_conf_buffer conf;
    struct as_buffer_hooks hooks;
    uint64_t seg_max;

    struct disk_seg *segs;
    size_t nsegs, segcap;
    uint64_t bytes;

    struct disk_stage st[2];
    int cur; /* st[cur] is being filled */
    bool inflight;
    bool retry_armed;
    bool in_snapshot;
    bool meta_dirty; /* always: directories / cursor files to sync */
    bool full_reported;
    bool mem_full;
    bool torn_logged;

    /* The flush job: written on the loop, read by the worker. */
    uv_work_t work;
    int w_fsync;
    bool w_sync_meta;
    char **w_paths; /* cursor files to fsync */
    size_t w_npaths;
    int w_status;

    uv_idle_t idle;
    uv_timer_t retry;
    bool idle_on;
    int handles;

    bool closing;
    bool closed;
    int close_status;
    void (*close_done)(void *arg, int status);
    void *close_arg;

    struct as_cursor *cursors;
    struct as_buffer_stats stats;
    int64_t oldest_ns;
    /*
     * The scan for oldest_ns (disk_oldest_scan): its reader, bound to
     * segment old_seg (0 = none), and what it found from old_from: the
     * first EVENT/DEADLETTER at old_at (received_ns old_ns != 0), or
     * (old_ns == 0) none in old_frames frames up to old_at, where it
     * resumes.  old_valid: that is known.
     */
    struct as__reader old_rd;
    uint64_t old_seg;
    bool old_valid;
    struct as_bpos old_from, old_at;
    int64_t old_ns;
    size_t old_frames;
    struct as_ratelimit rl_drop, rl_io, rl_corrupt;
};

static void disk_flush(struct as_buffer *b);
static void disk_close_maybe(struct as_buffer *b);
static void disk_idle_cb(uv_idle_t *h);
static void disk_retry_cb(uv_timer_t *h);

static uint64_t
disk_seg_max(const struct as_conf_buffer *conf)
{
    uint64_t m = conf->max_bytes / 8;

    if (m > DISK_SEG_MAX || conf->max_bytes == 0) {
        m = DISK_SEG_MAX;
    }
    if (m < DISK_SEG_MIN) {
        m = DISK_SEG_MIN;
    }
    return m;
}

static struct disk_seg *
disk_seg_find(struct as_buffer *b, uint64_t id)
{
    size_t lo = 0, hi = b->nsegs;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (b->segs[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < b->nsegs && b->segs[lo].id == id ? &b->segs[lo] : NULL;
}

/* The first segment with an id >= id, or NULL. */
static struct disk_seg *
disk_seg_from(struct as_buffer *b, uint64_t id)
{
    for (size_t i = 0; i < b->nsegs; i++) {
        if (b->segs[i].id >= id) {
            return &b->segs[i];
        }
    }
    return NULL;
}

static struct disk_seg *
disk_seg_last(struct as_buffer *b)
{
    return b->nsegs == 0 ? NULL : &b->segs[b->nsegs - 1];
}

static int
disk_seg_fd(struct as_buffer *b, struct disk_seg *s)
{
    char path[DISK_PATH_MAX];
    int r;

    if (s->fd >= 0) {
        return s->fd;
    }
    if ((r = as__seg_path(path, sizeof(path), b->dir, s->id)) != 0) {
        return r;
    }
    if ((s->fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
        r = -errno;
        as_log_errno(errno, "buffer: open %s", path);
        return r;
    }
    return s->fd;
}

static int
disk_mkdir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

static int
disk_pos_cmp(const struct as_bpos *a, const struct as_bpos *x)
{
    if (a->segment != x->segment) {
        return a->segment < x->segment ? -1 : 1;
    }
    if (a->offset != x->offset) {
        return a->offset < x->offset ? -1 : 1;
    }
    return 0;
}

/* ---- full state ---- */

static bool disk_min_pos(struct as_buffer *b, struct as_bpos *min);

/*
 * The bytes the slowest cursor has not passed: what max_bytes bounds.  The
 * passed bytes of the live segment do not count (a segment is deleted only
 * after the next one starts), or a max_bytes below the segment size would
 * block for good once shipped records fill the live segment.
 */
static uint64_t
disk_backlog(struct as_buffer *b)
{
    struct as_bpos min;
    uint64_t passed = 0;

    if (!disk_min_pos(b, &min)) {
        return 0;
    }
    for (size_t i = 0; i < b->nsegs && b->segs[i].id <= min.segment; i++) {
        if (b->segs[i].id < min.segment) {
            passed += b->segs[i].end;
        } else {
            passed += min.offset < b->segs[i].end ? min.offset : b->segs[i].end;
        }
    }
    return b->bytes > passed ? b->bytes - passed : 0;
}

bool
as_buffer_over_max(struct as_buffer *b)
{
    return b->conf.max_bytes > 0 && disk_backlog(b) > b->conf.max_bytes;
}

static void
disk_update_full(struct as_buffer *b)
{
    size_t staged = b->st[0].buf.len + b->st[1].buf.len;
    bool disk, want;

    if (b->inflight && b->st[b->cur].buf.len > DISK_MEM_HIGH) {
        b->mem_full = true;
    } else if (staged <= DISK_MEM_HIGH) {
        b->mem_full = false;
    }
    /* bytes bounds the backlog: the exact test runs only above it. */
    disk = b->conf.when_full == AS_WHEN_FULL_BLOCK &&
           b->bytes > b->conf.max_bytes && as_buffer_over_max(b);
    want = disk || b->mem_full;
    if (want != b->full_reported && !b->closed) {
        b->full_reported = want;
        if (b->hooks.full != NULL) {
            b->hooks.full(b->hooks.arg, want);
        }
    }
}

/* ---- oldest unshipped ---- */

/* Where the slowest open cursor (or the oldest segment) stands. */
static bool
disk_min_pos(struct as_buffer *b, struct as_bpos *min)
{
    if (b->nsegs == 0) {
        return false;
    }
    min->segment = b->segs[0].id;
    min->offset = 0;
    if (b->cursors != NULL) {
        *min = b->cursors->cpos;
        for (struct as_cursor *c = b->cursors->next; c != NULL; c = c->next) {
            if (disk_pos_cmp(&c->cpos, min) < 0) {
                *min = c->cpos;
            }
        }
    }
    if (min->segment < b->segs[0].id) {
        min->segment = b->segs[0].id;
        min->offset = 0;
    }
    return true;
}

/*
 * The received_ns of the first EVENT or DEADLETTER record at or after min
 * in the readable bytes, looking at most DISK_OLDEST_SCAN frames; 0 when
 * there is none.  Segments only grow and min only moves forward between
 * commits, so the last scan's result is kept: while min lies between the
 * last scan's start and the record it found, that record is the answer;
 * a scan that found nothing resumes where it stopped when min has not
 * moved (the frames before it stay the same); else it starts again at min.
 */
static int64_t
disk_oldest_scan(struct as_buffer *b, const struct as_bpos *min)
{
    struct as__frame f;
    struct as_brec br;
    struct as_bpos at;
    uint64_t skipped = 0, before;
    size_t frames = 0;
    int r;

    if (b->old_valid && b->old_ns != 0 &&
        disk_pos_cmp(min, &b->old_from) >= 0 &&
        disk_pos_cmp(min, &b->old_at) <= 0) {
        return b->old_ns;
    }
    at = *min;
    if (b->old_valid && b->old_ns == 0 &&
        disk_pos_cmp(min, &b->old_from) == 0) {
        at = b->old_at;
        frames = b->old_frames;
    }
    b->old_valid = false;
    b->old_from = *min;
    b->old_ns = 0;
    for (struct disk_seg *s = disk_seg_from(b, at.segment);
         s != NULL && frames < DISK_OLDEST_SCAN;) {
        if (s->id != at.segment) {
            at.segment = s->id;
            at.offset = 0;
        }
        if ((r = disk_seg_fd(b, s)) < 0) {
            return 0; /* not known: scanned again next time */
        }
        if (b->old_seg != s->id) {
            as__reader_reset(&b->old_rd, r);
            b->old_seg = s->id;
        }
        b->old_rd.limit = s->size;
        before = b->old_rd.bytes_read;
        while (frames < DISK_OLDEST_SCAN &&
               as__reader_next(&b->old_rd, &at.offset, &f, &skipped) ==
                   AS__RD_OK) {
            frames++;
            if (as__brec_decode(f.body, f.len, &br) == 0 &&
                (br.type == AS_BREC_EVENT || br.type == AS_BREC_DEADLETTER)) {
                b->old_ns = br.received_ns;
                at.offset = f.off;
                break;
            }
        }
        b->stats.read_bytes += b->old_rd.bytes_read - before;
        if (b->old_ns != 0 || s == disk_seg_last(b) || s->size != s->end) {
            break;
        }
        s++;
    }
    b->old_valid = true;
    b->old_at = at;
    b->old_frames = frames;
    return b->old_ns;
}

static void
disk_recompute_oldest(struct as_buffer *b)
{
    struct as_bpos min;
    int64_t found;

    b->oldest_ns = 0;
    if (!disk_min_pos(b, &min)) {
        return;
    }
    found = disk_oldest_scan(b, &min);
    if (found == 0) {
        found = b->st[!b->cur].first_ns;
    }
    if (found == 0) {
        found = b->st[b->cur].first_ns;
    }
    b->oldest_ns = found;
}

/* ---- staging and flushing ---- */

static void
disk_stage_reset(struct disk_stage *st)
{
    as_buf_reset(&st->buf);
    st->n = 0;
    st->new_seg = false;
    st->summed = false;
    st->first_ns = 0;
}

static void
disk_stage_free(struct disk_stage *st)
{
    free(st->buf.data);
    free(st->pieces);
    memset(st, 0, sizeof(*st));
}

/* Stages the frame for r (size bytes, from as__frame_size) in the last
 * segment. */
static void
disk_stage_put(struct as_buffer *b, const struct as_brec *r, size_t size)
{
    struct disk_stage *st = &b->st[b->cur];
    struct disk_seg *s = disk_seg_last(b);
    struct disk_piece *p;

    if (as_buf_reserve(&st->buf, size) != 0) {
        as_fatalx("buffer: staging area overflow");
    }
    as__frame_encode_nocrc(st->buf.data + st->buf.len, r, size);
    p = st->n > 0 ? &st->pieces[st->n - 1] : NULL;
    if (p != NULL && p->seg == s->id) {
        p->len += size;
    } else {
        if (st->n == st->cap) {
            st->cap = st->cap == 0 ? 4 : st->cap * 2;
            st->pieces =
                as_reallocarray(st->pieces, st->cap, sizeof(*st->pieces));
        }
        p = &st->pieces[st->n++];
        p->fd = s->fd;
        p->seg = s->id;
        p->off = s->end;
        p->start = st->buf.len;
        p->len = size;
        p->done = 0;
    }
    st->buf.len += size;
    s->end += size;
    b->bytes += size;
    if (r->type == AS_BREC_EVENT || r->type == AS_BREC_DEADLETTER) {
        s->type_end[r->type] = s->end;
        if (st->first_ns == 0) {
            st->first_ns = r->received_ns;
        }
        if (b->oldest_ns == 0) {
            b->oldest_ns = r->received_ns;
        }
    }
    if (!b->idle_on && !b->closed) {
        b->idle_on = true;
        uv_idle_start(&b->idle, disk_idle_cb);
    }
}

/* Runs on the thread pool: writes and syncs st[!cur]. */
static void
disk_work_cb(uv_work_t *req)
{
    struct as_buffer *b = req->data;
    struct disk_stage *st = &b->st[!b->cur];
    int status = 0, fd;

    /* Checksummed here, off the loop thread: nothing reads staged bytes
     * before they are written (readers stop at a segment's written size). */
    if (!st->summed) {
        as__frames_checksum(st->buf.data, st->buf.len);
        st->summed = true;
    }
    for (size_t i = 0; i < st->n; i++) {
        struct disk_piece *p = &st->pieces[i];

        while (p->done < p->len) {
            ssize_t n = pwrite(p->fd, st->buf.data + p->start + p->done,
                               p->len - p->done, (off_t) (p->off + p->done));

            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                status = -errno;
                goto out;
            }
            p->done += (size_t) n;
        }
    }
    if (b->w_fsync != AS_FSYNC_NEVER) {
        for (size_t i = 0; i < st->n; i++) {
            if (i > 0 && st->pieces[i].fd == st->pieces[i - 1].fd) {
                continue;
            }
            if (fdatasync(st->pieces[i].fd) != 0) {
                status = -errno;
                goto out;
            }
        }
    }
    if (b->w_fsync == AS_FSYNC_ALWAYS && (st->new_seg || b->w_sync_meta)) {
        for (size_t i = 0; i < b->w_npaths; i++) {
            if ((fd = open(b->w_paths[i], O_RDONLY | O_CLOEXEC)) >= 0) {
                (void) fsync(fd);
                close(fd);
            }
        }
        if ((fd = open(b->cdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
            (void) fsync(fd);
            close(fd);
        }
        if ((fd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
            fsync(fd) != 0) {
            status = -errno;
        }
        if (fd >= 0) {
            close(fd);
        }
    }
out:
    b->w_status = status;
}

static void
disk_free_paths(struct as_buffer *b)
{
    for (size_t i = 0; i < b->w_npaths; i++) {
        free(b->w_paths[i]);
    }
    free(b->w_paths);
    b->w_paths = NULL;
    b->w_npaths = 0;
}

/* Closes the segment fds and frees b (no handle may be open). */
static void
disk_release(struct as_buffer *b)
{
    for (size_t i = 0; i < b->nsegs; i++) {
        if (b->segs[i].fd >= 0) {
            close(b->segs[i].fd);
        }
    }
    free(b->segs);
    as__reader_free(&b->old_rd);
    disk_stage_free(&b->st[0]);
    disk_stage_free(&b->st[1]);
    disk_free_paths(b);
    free(b->cdir);
    free(b->dir);
    free(b);
}

static void
disk_after_work_cb(uv_work_t *req, int status)
{
    struct as_buffer *b = req->data;
    struct disk_stage *st = &b->st[!b->cur];
    struct disk_seg *s;

    b->inflight = false;
    disk_free_paths(b);
    if (status == 0) {
        status = b->w_status;
    }
    if (status != 0) {
        if (as_ratelimit_ok(&b->rl_io, 120000)) {
            as_log_error("buffer: writing %zu staged bytes failed: %s "
                         "(retrying)",
                         st->buf.len, as_strerror(status));
        }
        if (b->closing) {
            /* Give up: the records stay unwritten. */
            b->close_status = status;
            disk_stage_reset(&b->st[0]);
            disk_stage_reset(&b->st[1]);
            b->meta_dirty = false;
            disk_close_maybe(b);
            return;
        }
        b->meta_dirty = b->meta_dirty || b->w_sync_meta;
        b->retry_armed = true;
        uv_timer_start(&b->retry, disk_retry_cb, DISK_RETRY_MS, 0);
        disk_update_full(b);
        return;
    }
    for (size_t i = 0; i < st->n; i++) {
        if ((s = disk_seg_find(b, st->pieces[i].seg)) != NULL &&
            s->size < st->pieces[i].off + st->pieces[i].len) {
            s->size = st->pieces[i].off + st->pieces[i].len;
        }
    }
    disk_stage_reset(st);
    if (b->st[b->cur].buf.len > 0 || b->meta_dirty) {
        disk_flush(b);
    }
    disk_update_full(b);
    if (b->hooks.readable != NULL && !b->closed) {
        b->hooks.readable(b->hooks.arg);
    }
    disk_close_maybe(b);
}

/* Starts a flush of everything staged, unless one is in flight. */
static void
disk_flush(struct as_buffer *b)
{
    struct disk_stage *w = &b->st[!b->cur];
    size_t n = 0;
    int r;

    if (b->inflight || b->retry_armed) {
        return;
    }
    if (w->buf.len == 0) {
        if (b->st[b->cur].buf.len == 0 && !b->meta_dirty) {
            return;
        }
        b->cur = !b->cur;
        w = &b->st[!b->cur];
    }
    b->w_fsync = b->mem ? AS_FSYNC_NEVER : b->conf.fsync;
    b->w_sync_meta = b->meta_dirty;
    b->meta_dirty = false;
    if (b->w_sync_meta && b->conf.fsync == AS_FSYNC_ALWAYS) {
        for (struct as_cursor *c = b->cursors; c != NULL; c = c->next) {
            n += c->sync ? 1 : 0;
        }
        b->w_paths = as_calloc(n + 1, sizeof(char *));
        for (struct as_cursor *c = b->cursors; c != NULL; c = c->next) {
            if (c->sync) {
                b->w_paths[b->w_npaths++] = as_strdup(c->path);
                c->sync = false;
            }
        }
    }
    b->work.data = b;
    b->inflight = true;
    if ((r = uv_queue_work(b->loop, &b->work, disk_work_cb,
                           disk_after_work_cb)) != 0) {
        b->inflight = false;
        disk_free_paths(b);
        as_log_error("buffer: uv_queue_work: %s", uv_strerror(r));
    }
}

static void
disk_idle_cb(uv_idle_t *h)
{
    struct as_buffer *b = h->data;

    uv_idle_stop(h);
    b->idle_on = false;
    disk_flush(b);
}

static void
disk_retry_cb(uv_timer_t *h)
{
    struct as_buffer *b = h->data;

    b->retry_armed = false;
    disk_flush(b);
}

/* ---- segments ---- */

/* Creates the next segment file and makes it the last one. */
static int
disk_seg_create(struct as_buffer *b)
{
    struct disk_seg *last = disk_seg_last(b), *s;
    char path[DISK_PATH_MAX];
    uint64_t id = last == NULL ? 1 : last->id + 1;
    int r, fd;

    if ((r = as__seg_path(path, sizeof(path), b->dir, id)) != 0) {
        return r;
    }
    if (b->mem) {
        fd = memfd_create("auditship-buffer", MFD_CLOEXEC);
    } else {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        r = -errno;
        as_log_errno(errno, "buffer: create %s", path);
        return r;
    }
    if (b->nsegs == b->segcap) {
        b->segcap = b->segcap == 0 ? 16 : b->segcap * 2;
        b->segs = as_reallocarray(b->segs, b->segcap, sizeof(*b->segs));
    }
    s = &b->segs[b->nsegs++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->fd = fd;
    b->st[b->cur].new_seg = true;
    return 0;
}

/* Writes the snapshot at the head of the (new, empty) last segment. */
static void
disk_snapshot(struct as_buffer *b)
{
    struct disk_seg *s;
    struct as_brec end;

    b->in_snapshot = true;
    if (b->hooks.snapshot != NULL) {
        b->hooks.snapshot(b->hooks.arg, b);
    }
    b->in_snapshot = false;
    s = disk_seg_last(b);
    memset(&end, 0, sizeof(end));
    end.type = AS__BREC_SNAPEND;
    end.seq = s->id;
    end.payload = "";
    disk_stage_put(b, &end, as__frame_size(&end));
    s->head = s->end;
}

static void
disk_seg_delete(struct as_buffer *b, size_t i)
{
    struct disk_seg *s = &b->segs[i];
    char path[DISK_PATH_MAX];

    if (s->fd >= 0) {
        close(s->fd);
    }
    if (!b->mem && as__seg_path(path, sizeof(path), b->dir, s->id) == 0 &&
        unlink(path) != 0 && errno != ENOENT) {
        as_log_errno(errno, "buffer: unlink %s", path);
    }
    b->bytes -= s->end;
    memmove(&b->segs[i], &b->segs[i + 1],
            (b->nsegs - i - 1) * sizeof(*b->segs));
    b->nsegs--;
    b->meta_dirty =
        (!b->mem && b->conf.fsync == AS_FSYNC_ALWAYS) || b->meta_dirty;
}

/* Deletes the segments every open cursor has passed. */
static void
disk_gc(struct as_buffer *b)
{
    struct disk_seg *s;
    bool deleted = false;

    if (b->cursors == NULL) {
        return;
    }
    while (b->nsegs > 1) {
        s = &b->segs[0];
        if (s->size != s->end) {
            break;
        }
        for (struct as_cursor *c = b->cursors; c != NULL; c = c->next) {
            if (c->cpos.segment < s->id ||
                (c->cpos.segment == s->id && c->cpos.offset < s->size)) {
                goto out;
            }
        }
        as_log_debug("buffer: deleting segment %016" PRIx64, s->id);
        disk_seg_delete(b, 0);
        deleted = true;
    }
out:
    if (deleted && b->meta_dirty && !b->idle_on && !b->closed) {
        b->idle_on = true;
        uv_idle_start(&b->idle, disk_idle_cb);
    }
}

/* ---- recovery ---- */

/* Is segment s's snapshot intact (valid STATE frames, then SNAPEND)? */
static bool
disk_head_ok(struct as_buffer *b, struct disk_seg *s)
{
    struct as__reader rd;
    struct as__frame f;
    struct as_brec br;
    uint64_t pos = 0, skipped = 0;
    bool ok = false;
    int fd;

    if ((fd = disk_seg_fd(b, s)) < 0) {
        return false;
    }
    as__reader_init(&rd, fd, s->size);
    while (as__reader_next(&rd, &pos, &f, &skipped) == AS__RD_OK &&
           skipped == 0 && as__brec_decode(f.body, f.len, &br) == 0) {
        if (br.type == AS__BREC_SNAPEND) {
            ok = br.seq == s->id;
            s->head = f.end;
            break;
        }
        if (br.type != AS_BREC_STATE) {
            break;
        }
    }
    as__reader_free(&rd);
    return ok;
}

/* Replays segment s through hooks.recover; truncates a torn tail. */
static void
disk_replay(struct as_buffer *b, struct disk_seg *s)
{
    struct as__reader rd;
    struct as__frame f;
    struct as_brec br;
    uint64_t pos = 0, skipped = 0;
    int fd, r;

    if ((fd = disk_seg_fd(b, s)) < 0) {
        return;
    }
    as__reader_init(&rd, fd, s->size);
    while ((r = as__reader_next(&rd, &pos, &f, &skipped)) == AS__RD_OK) {
        if (as__brec_decode(f.body, f.len, &br) != 0 ||
            (br.type != AS_BREC_EVENT && br.type != AS_BREC_DEADLETTER &&
             br.type != AS_BREC_STATE && br.type != AS__BREC_SNAPEND)) {
            b->stats.corrupt_records++;
            continue;
        }
        if (br.type != AS__BREC_SNAPEND && b->hooks.recover != NULL) {
            b->hooks.recover(b->hooks.arg, &br);
        }
    }
    as__reader_free(&rd);
    if (skipped > 0) {
        b->stats.corrupt_records += skipped;
        as_log_warn("buffer: segment %016" PRIx64 ": skipped %" PRIu64
                    " damaged region(s)",
                    s->id, skipped);
    }
    if (r == AS__RD_TORN) {
        b->stats.torn_tails++;
        if (!b->torn_logged) {
            b->torn_logged = true;
            as_log_warn("buffer: segment %016" PRIx64 ": torn tail at offset "
                        "%" PRIu64 " (%" PRIu64 " bytes), truncating",
                        s->id, pos, s->size - pos);
        }
        if (ftruncate(fd, (off_t) pos) != 0) {
            as_log_errno(errno, "buffer: truncate segment %016" PRIx64, s->id);
        } else {
            b->bytes -= s->size - pos;
            s->size = s->end = pos;
        }
    } else if (r < 0) {
        as_log_error("buffer: reading segment %016" PRIx64 ": %s", s->id,
                     as_strerror(r));
    }
}

static void
disk_recover(struct as_buffer *b)
{
    size_t start = 0;
    bool found = false;

    for (size_t i = b->nsegs; i-- > 0;) {
        if (disk_head_ok(b, &b->segs[i])) {
            start = i;
            found = true;
            break;
        }
        as_log_warn("buffer: segment %016" PRIx64 " has no intact snapshot",
                    b->segs[i].id);
    }
    if (!found && b->nsegs > 0) {
        as_log_warn("buffer: no intact snapshot, replaying all %zu segments",
                    b->nsegs);
    }
    for (size_t i = start; i < b->nsegs; i++) {
        disk_replay(b, &b->segs[i]);
    }
}

static int
disk_load(struct as_buffer *b)
{
    struct as__segref *refs = NULL;
    size_t n = 0;
    char path[DISK_PATH_MAX];
    int r;

    if ((r = as__seg_list(b->dir, &refs, &n)) != 0) {
        return r;
    }
    b->segs = as_calloc(n + 16, sizeof(*b->segs));
    b->segcap = n + 16;
    for (size_t i = 0; i < n; i++) {
        if (refs[i].size == 0) {
            /* Created, then crashed before the first write. */
            if (as__seg_path(path, sizeof(path), b->dir, refs[i].id) == 0) {
                (void) unlink(path);
            }
            continue;
        }
        b->segs[b->nsegs].id = refs[i].id;
        b->segs[b->nsegs].fd = -1;
        b->segs[b->nsegs].size = refs[i].size;
        b->segs[b->nsegs].end = refs[i].size;
        b->segs[b->nsegs].trusted_from = refs[i].size;
        b->bytes += refs[i].size;
        b->nsegs++;
    }
    free(refs);
    return 0;
}

/* ---- public: lifecycle ---- */

int
as_buffer_open(uv_loop_t *loop, const char *dir,
               const struct as_conf_buffer *conf,
               const struct as_buffer_hooks *hooks, struct as_buffer **out)
{
    struct as_buffer *b;
    int r;

    *out = NULL;
    if (conf->type == AS_BUFFER_MEMORY) {
        dir = "(memory)";
    } else if ((r = disk_mkdir(dir)) != 0) {
        as_log_errno(-r, "buffer: mkdir %s", dir);
        return r;
    }
    b = as_calloc(1, sizeof(*b));
    as__reader_init(&b->old_rd, -1, 0);
    b->old_rd.chunk = DISK_OLDEST_CHUNK;
    b->loop = loop;
    b->mem = conf->type == AS_BUFFER_MEMORY;
    b->dir = as_strdup(dir);
    as_asprintf(&b->cdir, "%s/cursors", dir);
    b->conf = *conf;
    b->hooks = *hooks;
    b->seg_max = disk_seg_max(conf);
    b->stats.max_bytes = conf->max_bytes;
    if (!b->mem) {
        if ((r = disk_mkdir(b->cdir)) != 0) {
            as_log_errno(-r, "buffer: mkdir %s", b->cdir);
            goto fail;
        }
        if ((r = disk_load(b)) != 0) {
            as_log_error("buffer: listing %s: %s", dir, as_strerror(r));
            goto fail;
        }
        disk_recover(b);
    }
    if ((r = disk_seg_create(b)) != 0) {
        goto fail;
    }
    uv_idle_init(loop, &b->idle);
    uv_timer_init(loop, &b->retry);
    b->idle.data = b;
    b->retry.data = b;
    b->handles = 2;
    disk_snapshot(b);
    disk_recompute_oldest(b);
    disk_update_full(b);
    *out = b;
    return 0;
fail:
    disk_release(b);
    return r;
}

int
as_buffer_append(struct as_buffer *b, const struct as_brec *r)
{
    struct disk_seg *s = disk_seg_last(b);
    size_t size;

    if (b->closing) {
        return AS_ERR_STOPPED;
    }
    if ((size = as__frame_size(r)) == 0) {
        return AS_ERR_TOOBIG;
    }
    if (r->type != AS_BREC_STATE &&
        b->conf.when_full == AS_WHEN_FULL_DROP_NEWEST &&
        b->bytes + size > b->conf.max_bytes &&
        disk_backlog(b) + size > b->conf.max_bytes) {
        b->stats.dropped_full++;
        if (as_ratelimit_ok(&b->rl_drop, 120000)) {
            as_log_warn("buffer: full (%" PRIu64 " bytes), dropping newest "
                        "records (%" PRIu64 " so far)",
                        b->bytes, b->stats.dropped_full);
        }
        return AS_ERR_FULL;
    }
    if (!b->in_snapshot && s->end > s->head && s->end + size > b->seg_max &&
        disk_seg_create(b) == 0) {
        disk_snapshot(b);
    }
    disk_stage_put(b, r, size);
    b->stats.records_appended++;
    if (b->st[b->cur].buf.len >= DISK_FLUSH_AT) {
        disk_flush(b);
    }
    disk_update_full(b);
    return 0;
}

void
as_buffer_reconfigure(struct as_buffer *b, const struct as_conf_buffer *conf)
{
    b->conf.max_bytes = conf->max_bytes;
    b->conf.fsync = conf->fsync;
    b->conf.when_full = conf->when_full;
    b->stats.max_bytes = conf->max_bytes;
    b->seg_max = disk_seg_max(conf);
    disk_update_full(b);
}

static void
disk_handle_close_cb(uv_handle_t *h)
{
    struct as_buffer *b = h->data;

    if (--b->handles > 0) {
        return;
    }
    for (size_t i = 0; i < b->nsegs; i++) {
        if (b->segs[i].fd >= 0) {
            close(b->segs[i].fd);
            b->segs[i].fd = -1;
        }
    }
    if (b->close_done != NULL) {
        b->close_done(b->close_arg, b->close_status);
    }
}

static void
disk_close_maybe(struct as_buffer *b)
{
    if (!b->closing || b->closed || b->inflight || b->st[b->cur].buf.len > 0 ||
        b->st[!b->cur].buf.len > 0 || b->meta_dirty) {
        return;
    }
    b->closed = true;
    uv_idle_stop(&b->idle);
    uv_timer_stop(&b->retry);
    uv_close((uv_handle_t *) &b->idle, disk_handle_close_cb);
    uv_close((uv_handle_t *) &b->retry, disk_handle_close_cb);
}

void
as_buffer_close(struct as_buffer *b, void (*done)(void *arg, int status),
                void *arg)
{
    b->closing = true;
    b->close_done = done;
    b->close_arg = arg;
    if (b->retry_armed) {
        uv_timer_stop(&b->retry);
        b->retry_armed = false;
    }
    if (b->idle_on) {
        uv_idle_stop(&b->idle);
        b->idle_on = false;
    }
    disk_flush(b);
    disk_close_maybe(b);
}

void
as_buffer_free(struct as_buffer *b)
{
    struct as_cursor *c;

    if (b == NULL) {
        return;
    }
    while ((c = b->cursors) != NULL) {
        as_cursor_close(c);
    }
    disk_release(b);
}

void
as_buffer_get_stats(const struct as_buffer *b, struct as_buffer_stats *s)
{
    *s = b->stats;
    s->bytes = 0;
    for (size_t i = 0; i < b->nsegs; i++) {
        s->bytes += b->segs[i].size;
    }
    s->segments = b->nsegs;
    s->max_bytes = b->conf.max_bytes;
    s->oldest_unshipped_ns = b->oldest_ns;
}

/* ---- public: readers ---- */

void
as_rbatch_init(struct as_rbatch *rb)
{
    memset(rb, 0, sizeof(*rb));
    as_buf_init(&rb->data, 0);
    as_buf_init(&rb->raw, 0);
}

void
as_rbatch_free(struct as_rbatch *rb)
{
    free(rb->data.data);
    free(rb->raw.data);
    free(rb->recs);
    free(rb->meta);
    memset(rb, 0, sizeof(*rb));
}

/* Moves pos to a retained record boundary candidate. */
static void
disk_pos_fix(struct as_buffer *b, struct as_bpos *pos)
{
    struct disk_seg *s = disk_seg_find(b, pos->segment);

    if (s == NULL) {
        /* Deleted (or never existed): the oldest retained record. */
        s = pos->segment > disk_seg_last(b)->id
                ? &b->segs[0]
                : disk_seg_from(b, pos->segment);
        pos->segment = s->id;
        pos->offset = 0;
    } else if (pos->offset > s->end) {
        pos->offset = s->end;
    }
}

int
as_buffer_cursor_open(struct as_buffer *b, const char *name,
                      struct as_cursor **out)
{
    struct as_cursor *c;
    unsigned char raw[AS__CURSOR_SIZE + 1];
    ssize_t n = -1;
    int fd;

    *out = NULL;
    if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL ||
        strlen(name) > 200) {
        return -EINVAL;
    }
    for (c = b->cursors; c != NULL; c = c->next) {
        if (strcmp(c->name, name) == 0) {
            return -EBUSY;
        }
    }
    c = as_calloc(1, sizeof(*c));
    c->b = b;
    c->fd = -1;
    c->name = as_strdup(name);
    as_asprintf(&c->path, "%s/%s", b->cdir, name);
    as__reader_init(&c->rd, -1, 0);
    c->cpos.segment = b->segs[0].id;
    c->cpos.offset = 0;
    if (b->mem) {
        /* Nothing persisted: start at the oldest record. */
    } else if ((fd = open(c->path, O_RDONLY | O_CLOEXEC)) >= 0) {
        n = read(fd, raw, sizeof(raw));
        close(fd);
        if (n < 0 ||
            as__cursor_decode(raw, (size_t) n, &c->cpos, &c->gen) != 0) {
            as_log_warn("buffer: cursor %s is damaged; starting at the oldest "
                        "retained record",
                        name);
            c->cpos.segment = b->segs[0].id;
            c->cpos.offset = 0;
        }
    } else if (errno != ENOENT) {
        as_log_errno(errno, "buffer: open %s", c->path);
    }
    disk_pos_fix(b, &c->cpos);
    c->rpos = c->cpos;
    c->next = b->cursors;
    b->cursors = c;
    disk_recompute_oldest(b);
    *out = c;
    return 0;
}

void
as_cursor_close(struct as_cursor *c)
{
    struct as_buffer *b;
    struct as_cursor **pp;

    if (c == NULL) {
        return;
    }
    b = c->b;
    for (pp = &b->cursors; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    as__reader_free(&c->rd);
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->name);
    free(c->path);
    free(c);
}

void
as_cursor_want_types(struct as_cursor *c, unsigned types)
{
    c->types = types;
}

/*
 * Whether c wants nothing in s from off on: those bytes were written in
 * this run and hold no record of the types c takes.
 */
static bool
disk_nothing_wanted(const struct as_cursor *c, const struct disk_seg *s,
                    uint64_t off)
{
    if (c->types == 0 || off < s->trusted_from) {
        return false;
    }
    for (unsigned t = AS_BREC_EVENT; t <= AS_BREC_DEADLETTER; t++) {
        if ((c->types & 1u << t) != 0 && s->type_end[t] > off) {
            return false;
        }
    }
    return true;
}

void
as_cursor_rewind(struct as_cursor *c)
{
    c->rpos = c->cpos;
}

void
as_cursor_seek(struct as_cursor *c, const struct as_bpos *pos)
{
    c->rpos = *pos;
    if (disk_pos_cmp(&c->rpos, &c->cpos) < 0) {
        c->rpos = c->cpos;
    }
}

/* Appends record br (frame body f) to rb; fixes pointers later. */
static void
disk_rb_add(struct as_rbatch *rb, const struct as__frame *f,
            const struct as_brec *br)
{
    uint32_t len = f->len;

    if (rb->n == rb->cap) {
        rb->cap = rb->cap == 0 ? 64 : rb->cap * 2;
        rb->recs = as_reallocarray(rb->recs, rb->cap, sizeof(*rb->recs));
        rb->meta = as_reallocarray(rb->meta, rb->cap, sizeof(*rb->meta));
    }
    rb->recs[rb->n].off = rb->data.len;
    rb->recs[rb->n].len = br->payload_len;
    (void) as_buf_put(&rb->data, br->payload, br->payload_len);
    (void) as_buf_putc(&rb->data, '\n');
    (void) as_buf_put(&rb->raw, &len, sizeof(len));
    (void) as_buf_put(&rb->raw, f->body, f->len);
    rb->n++;
}

/* Points meta[] and recs[] into rb->raw once it stopped growing. */
static void
disk_rb_finish(struct as_rbatch *rb)
{
    size_t off = 0;
    uint32_t len;

    for (size_t i = 0; i < rb->n; i++) {
        memcpy(&len, rb->raw.data + off, sizeof(len));
        off += sizeof(len);
        (void) as__brec_decode(rb->raw.data + off, len, &rb->meta[i]);
        off += len;
        rb->recs[i].input = rb->meta[i].input;
        rb->recs[i].chain = rb->meta[i].chain;
        rb->recs[i].epoch = rb->meta[i].epoch != NULL ? rb->meta[i].epoch : "";
        rb->recs[i].seq = rb->meta[i].seq;
    }
}

uint64_t
as_cursor_pending_bytes(struct as_cursor *c)
{
    struct as_buffer *b = c->b;
    uint64_t n = 0;

    disk_pos_fix(b, &c->rpos);
    for (size_t i = 0; i < b->nsegs; i++) {
        const struct disk_seg *s = &b->segs[i];

        if (s->id < c->rpos.segment) {
            continue;
        }
        if (s->id == c->rpos.segment) {
            n += s->size > c->rpos.offset ? s->size - c->rpos.offset : 0;
        } else {
            n += s->size;
        }
    }
    return n;
}

/* as_cursor_read, stopping before any frame at or past upto (non-NULL). */
static int
disk_cursor_read(struct as_cursor *c, size_t max_n, size_t max_bytes,
                 const struct as_bpos *upto,
                 bool (*want)(void *arg, const struct as_brec *r), void *arg,
                 struct as_rbatch *rb)
{
    struct as_buffer *b = c->b;
    struct disk_seg *s;
    struct as__frame f;
    struct as_brec br;
    struct as_bpos pos;
    uint64_t skipped = 0, before = c->rd.bytes_read;
    size_t bytes = 0;
    int r = 0, fd;

    as_buf_reset(&rb->data);
    as_buf_reset(&rb->raw);
    rb->n = 0;
    disk_pos_fix(b, &c->rpos);
    pos = c->rpos;
    s = disk_seg_find(b, pos.segment);
    while (s != NULL && rb->n < max_n) {
        if (upto != NULL && disk_pos_cmp(&pos, upto) >= 0) {
            break;
        }
        if ((fd = disk_seg_fd(b, s)) < 0) {
            r = fd;
            break;
        }
        if (c->rd_seg != s->id) {
            as__reader_reset(&c->rd, fd);
            c->rd_seg = s->id;
        }
        c->rd.limit = s->size;
        c->rd.trusted_from = s->trusted_from;
        if (pos.offset < s->size && disk_nothing_wanted(c, s, pos.offset)) {
            pos.offset = s->size; /* passed unread */
        }
        r = as__reader_next(&c->rd, &pos.offset, &f, &skipped);
        if (r == AS__RD_OK) {
            if (as__brec_decode(f.body, f.len, &br) != 0) {
                b->stats.corrupt_records++;
                continue;
            }
            if ((br.type != AS_BREC_EVENT && br.type != AS_BREC_DEADLETTER) ||
                (want != NULL && !want(arg, &br))) {
                continue;
            }
            if (rb->n > 0 && bytes + br.payload_len > max_bytes) {
                pos.offset = f.off;
                break;
            }
            disk_rb_add(rb, &f, &br);
            bytes += br.payload_len;
            continue;
        }
        if (r < 0) {
            break;
        }
        if (r == AS__RD_TORN) {
            /* Damage at the end of the readable bytes: skip past it. */
            b->stats.corrupt_records++;
            if (s == disk_seg_last(b) || s->size != s->end) {
                pos.offset = s->size;
                break;
            }
        }
        r = 0;
        if (s == disk_seg_last(b) || s->size != s->end) {
            break;
        }
        s++;
        pos.segment = s->id;
        pos.offset = 0;
    }
    if (skipped > 0) {
        b->stats.corrupt_records += skipped;
        if (as_ratelimit_ok(&b->rl_corrupt, 120000)) {
            as_log_warn("buffer: cursor %s skipped %" PRIu64 " damaged "
                        "region(s)",
                        c->name, skipped);
        }
    }
    b->stats.read_bytes += c->rd.bytes_read - before;
    disk_rb_finish(rb);
    c->rpos = pos;
    rb->end = pos;
    if (r < 0 && rb->n == 0) {
        return r;
    }
    return (int) rb->n;
}

int
as_cursor_read(struct as_cursor *c, size_t max_n, size_t max_bytes,
               bool (*want)(void *arg, const struct as_brec *r), void *arg,
               struct as_rbatch *rb)
{
    return disk_cursor_read(c, max_n, max_bytes, NULL, want, arg, rb);
}

int
as_cursor_read_upto(struct as_cursor *c, const struct as_bpos *upto,
                    size_t max_n,
                    bool (*want)(void *arg, const struct as_brec *r), void *arg,
                    struct as_rbatch *rb)
{
    return disk_cursor_read(c, max_n, SIZE_MAX, upto, want, arg, rb);
}

void
as_cursor_committed(const struct as_cursor *c, struct as_bpos *pos)
{
    *pos = c->cpos;
}

/*
 * Writes a new cursor file holding pos in both slots (tmp file, rename) and
 * keeps it open for the in-place writes of the next commits: the first
 * commit of this process, or the one after a failed write.
 */
static int
disk_cursor_create(struct as_cursor *c, const struct as_bpos *pos)
{
    unsigned char raw[AS__CURSOR_SIZE];
    char *tmp = NULL;
    int fd = -1, r = 0;

    as__cursor_slot_encode(raw, c->gen, pos);
    as__cursor_slot_encode(raw + AS__CURSOR_SLOT, c->gen, pos);
    as_asprintf(&tmp, "%s.tmp", c->path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
        write(fd, raw, sizeof(raw)) != (ssize_t) sizeof(raw)) {
        r = errno != 0 ? -errno : -EIO;
        goto out;
    }
    if (rename(tmp, c->path) != 0) {
        r = -errno;
        goto out;
    }
    c->fd = fd;
    fd = -1;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (r != 0) {
        (void) unlink(tmp);
    }
    free(tmp);
    return r;
}

int
as_cursor_commit(struct as_cursor *c, const struct as_bpos *upto)
{
    struct as_buffer *b = c->b;
    unsigned char raw[AS__CURSOR_SLOT];
    ssize_t n;
    int r = 0;

    c->cpos = *upto;
    if (disk_pos_cmp(&c->rpos, &c->cpos) < 0) {
        c->rpos = c->cpos;
    }
    if (b->mem) {
        goto done;
    }
    /* One pwrite into the slot of the next generation; the file is made
     * (and renamed into place) only once per process. */
    c->gen++;
    if (c->fd < 0) {
        if ((r = disk_cursor_create(c, upto)) != 0) {
            goto out;
        }
    } else {
        as__cursor_slot_encode(raw, c->gen, upto);
        n = pwrite(c->fd, raw, sizeof(raw),
                   (off_t) ((c->gen % 2) * AS__CURSOR_SLOT));
        if (n != (ssize_t) sizeof(raw)) {
            r = n < 0 ? -errno : -EIO;
            close(c->fd);
            c->fd = -1;
            goto out;
        }
    }
    if (b->conf.fsync == AS_FSYNC_ALWAYS) {
        /* The flush job syncs the file and the cursors directory. */
        c->sync = true;
        b->meta_dirty = true;
        if (!b->idle_on && !b->closed) {
            b->idle_on = true;
            uv_idle_start(&b->idle, disk_idle_cb);
        }
    }
done:
    disk_gc(b);
    disk_recompute_oldest(b);
    disk_update_full(b);
out:
    if (r != 0) {
        as_log_error("buffer: persisting cursor %s: %s", c->name,
                     as_strerror(r));
    }
    return r;
}

bool
as_buffer_pending(const struct as_buffer *b)
{
    return b->inflight || b->st[0].buf.len > 0 || b->st[1].buf.len > 0;
}
