/*
 * The `file` output: appends NDJSON lines to a local file, with size-based
 * rotation (path -> path.1 -> ... -> path.KEEP).
 *
 * Exactly once across crashes: after each batch it writes (and syncs, unless
 * buffer.fsync is never) a small state file, state_dir/outputs/ID.state,
 * holding the file's identity, its size after the batch and the buffer
 * position just past the batch.  At start the file is cut back to that size
 * (lines written after the last state update are sent again) and the
 * pipeline moves the cursor up to that position (a batch written but not yet
 * committed is not sent again).
 *
 * Owns: the output fd and the state file.  The write, sync and rotation run
 * on the libuv thread pool; at most one batch is in flight.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/stage.h"
#include "file.h"

struct file_ctx {
    const struct as_conf_output_file *conf;
    struct as_output *o;
    char *state_path;
    int fd;
    uint64_t dev, ino, size;
    bool have_acked;
    uint64_t acked_seg, acked_off;
    uv_work_t work;
    bool busy;
    const struct as_batch *batch;
    as_send_cb *done;
    int status;
    as_done_cb *stop_done;
};

static int
file_init(struct as_output *o, const struct as_conf_stage *cs,
          struct as_conf_errors *errs)
{
    const struct as_conf_output_file *conf = o->conf;

    if (conf->path == NULL || conf->path[0] == '\0') {
        as_conf_errors_add(errs, NULL, cs != NULL ? cs->line : 0,
                           cs != NULL ? cs->col : 0,
                           "output '%s': path must not be empty", o->id);
        return AS_ERR_CONFIG;
    }
    return 0;
}

/* Reads "dev ino size seg off" from the state file. */
static int
file_state_read(struct file_ctx *c, uint64_t v[5])
{
    FILE *f = fopen(c->state_path, "re");
    int n;

    if (f == NULL) {
        return -errno;
    }
    n = fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
               &v[0], &v[1], &v[2], &v[3], &v[4]);
    fclose(f);
    return n == 5 ? 0 : AS_ERR_CORRUPT;
}

static int
file_state_write(struct file_ctx *c, uint64_t seg, uint64_t off)
{
    char *tmp = NULL;
    char line[128];
    int fd = -1, n, rc;

    n = snprintf(line, sizeof(line),
                 "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                 "\n",
                 c->dev, c->ino, c->size, seg, off);
    as_asprintf(&tmp, "%s.tmp", c->state_path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || write(fd, line, (size_t) n) != n ||
        (c->o->fsync != AS_FSYNC_NEVER && fdatasync(fd) != 0)) {
        rc = -errno;
        goto out;
    }
    if (rename(tmp, c->state_path) != 0) {
        rc = -errno;
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    free(tmp);
    return rc;
}

static int
file_open(struct file_ctx *c)
{
    struct stat sb;

    c->fd =
        open(c->conf->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (c->fd < 0 || fstat(c->fd, &sb) != 0) {
        return -errno;
    }
    c->dev = (uint64_t) sb.st_dev;
    c->ino = (uint64_t) sb.st_ino;
    c->size = (uint64_t) sb.st_size;
    return 0;
}

/* Cuts back what was written after the last state update (see top). */
static void
file_reconcile(struct file_ctx *c)
{
    uint64_t v[5];
    struct stat sb;
    char *rotated = NULL;

    if (file_state_read(c, v) != 0) {
        return;
    }
    as_asprintf(&rotated, "%s.1", c->conf->path);
    if (stat(c->conf->path, &sb) == 0 && (uint64_t) sb.st_dev == v[0] &&
        (uint64_t) sb.st_ino == v[1]) {
        if ((uint64_t) sb.st_size > v[2]) {
            as_slog_info(c->o->prefix,
                         "cutting %" PRIu64 " unacknowledged bytes",
                         (uint64_t) sb.st_size - v[2]);
            if (truncate(c->conf->path, (off_t) v[2]) != 0) {
                as_log_errno(errno, "%s: truncate", c->o->prefix);
            }
        }
    } else if (stat(rotated, &sb) == 0 && (uint64_t) sb.st_dev == v[0] &&
               (uint64_t) sb.st_ino == v[1]) {
        /* Rotated after the last state update: the new file holds only
         * unacknowledged lines. */
        if ((uint64_t) sb.st_size > v[2] &&
            truncate(rotated, (off_t) v[2]) != 0) {
            as_log_errno(errno, "%s: truncate", c->o->prefix);
        }
        if (truncate(c->conf->path, 0) != 0 && errno != ENOENT) {
            as_log_errno(errno, "%s: truncate", c->o->prefix);
        }
    } else {
        free(rotated);
        return;
    }
    c->have_acked = true;
    c->acked_seg = v[3];
    c->acked_off = v[4];
    free(rotated);
}

static int
file_start(struct as_output *o)
{
    struct file_ctx *c = o->ctx;
    int rc;

    c->conf = o->conf;
    c->o = o;
    c->fd = -1;
    c->work.data = c;
    as_asprintf(&c->state_path, "%s/outputs/%s.state", o->state_dir, o->id);
    if ((rc = as_mkdirs(c->state_path, true)) != 0 ||
        (rc = as_mkdirs(c->conf->path, true)) != 0) {
        as_slog_error(o->prefix, "cannot create directories: %s",
                      as_strerror(rc));
        return rc;
    }
    file_reconcile(c);
    if ((rc = file_open(c)) != 0) {
        as_slog_error(o->prefix, "cannot open %s: %s", c->conf->path,
                      as_strerror(rc));
        return rc;
    }
    as_slog_info(o->prefix, "writing to %s", c->conf->path);
    return 0;
}

static int
file_acked(struct as_output *o, uint64_t *seg, uint64_t *off)
{
    struct file_ctx *c = o->ctx;

    if (!c->have_acked) {
        return AS_ERR_NOTIMPL;
    }
    *seg = c->acked_seg;
    *off = c->acked_off;
    return 0;
}

/* Thread pool: path -> path.1 -> ... -> path.keep, then a new path. */
static int
file_rotate(struct file_ctx *c)
{
    char from[4096], to[4096];
    int64_t keep = c->conf->rotate.keep;

    close(c->fd);
    c->fd = -1;
    if (keep <= 0) {
        if (unlink(c->conf->path) != 0 && errno != ENOENT) {
            return -errno;
        }
        return file_open(c);
    }
    for (int64_t k = keep - 1; k >= 1; k--) {
        snprintf(from, sizeof(from), "%s.%" PRId64, c->conf->path, k);
        snprintf(to, sizeof(to), "%s.%" PRId64, c->conf->path, k + 1);
        if (rename(from, to) != 0 && errno != ENOENT) {
            return -errno;
        }
    }
    snprintf(to, sizeof(to), "%s.1", c->conf->path);
    if (rename(c->conf->path, to) != 0) {
        return -errno;
    }
    return file_open(c);
}

static void
file_work_cb(uv_work_t *w)
{
    struct file_ctx *c = w->data;
    const struct as_batch *b = c->batch;
    size_t done = 0;
    ssize_t n;
    int rc;

    c->status = 0;
    if (c->fd < 0 && (rc = file_open(c)) != 0) {
        c->status = rc;
        return;
    }
    if (c->conf->rotate.max_bytes > 0 && c->size > 0 &&
        c->size + b->len > c->conf->rotate.max_bytes) {
        if ((rc = file_rotate(c)) != 0) {
            c->status = rc;
            return;
        }
    }
    while (done < b->len) {
        n = write(c->fd, b->data + done, b->len - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            c->status = -errno;
            break;
        }
        done += (size_t) n;
    }
    if (c->status != 0) {
        /* Cut a partial batch so a retry does not duplicate its head. */
        if (ftruncate(c->fd, (off_t) c->size) != 0) {
            c->status = -errno;
        }
        return;
    }
    c->size += b->len;
    if (c->o->fsync != AS_FSYNC_NEVER && fdatasync(c->fd) != 0) {
        c->status = -errno;
        return;
    }
    c->status = file_state_write(c, b->end_seg, b->end_off);
}

static void
file_after_work_cb(uv_work_t *w, int status)
{
    struct file_ctx *c = w->data;
    as_send_cb *done = c->done;

    c->busy = false;
    if (status != 0) {
        c->status = status;
    }
    if (c->status != 0) {
        as_slog_error(c->o->prefix, "write to %s failed: %s", c->conf->path,
                      as_strerror(c->status));
    }
    done(c->o, c->batch, c->status == 0 ? 0 : AS_ERR_RETRY);
    if (c->stop_done != NULL) {
        as_done_cb *sd = c->stop_done;

        c->stop_done = NULL;
        sd(c->o, 0);
    }
}

static void
file_send(struct as_output *o, const struct as_batch *b, as_send_cb *done)
{
    struct file_ctx *c = o->ctx;
    int rc;

    c->batch = b;
    c->done = done;
    c->busy = true;
    if ((rc = uv_queue_work(o->loop, &c->work, file_work_cb,
                            file_after_work_cb)) != 0) {
        c->status = rc;
        file_after_work_cb(&c->work, rc);
    }
}

static void
file_stop(struct as_output *o, as_done_cb *done)
{
    struct file_ctx *c = o->ctx;

    if (c->busy) {
        c->stop_done = done;
        return;
    }
    done(o, 0);
}

static void
file_destroy(struct as_output *o)
{
    struct file_ctx *c = o->ctx;

    if (c->o == NULL) {
        return; /* never started */
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    free(c->state_path);
    c->state_path = NULL;
}

const struct as_output_ops as_output_file_ops = {
    sizeof(struct file_ctx),
    file_init,
    file_start,
    file_send,
    file_stop,
    file_destroy,
    file_acked,
};
