/*
 * The batch journal file (see batchlog.h for the format and its use).
 *
 * Parsing is strict: one space between fields, plain decimal numbers (no
 * sign, no leading space), '\n' line ends, nothing after the end line.  A
 * journal that fails any check is treated as absent by the caller, so a
 * damaged file costs at most duplicates under new keys, never an event.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libdeflate.h>

#include "core/batchlog.h"
#include "core/error.h"
#include "core/mem.h"

#define BATCHLOG_HEADER   "auditship-batches 1\n"
#define BATCHLOG_MAX_FILE (64u << 10)

static uint32_t
batchlog_crc(const char *p, size_t n)
{
    return libdeflate_crc32(0, p, n);
}

void
as_batchlog_encode(const struct as_batchlog_entry *e, size_t n,
                   struct as_buf *out)
{
    size_t start = out->len;
    char line[128];
    int k;

    (void) as_buf_puts(out, BATCHLOG_HEADER);
    for (size_t i = 0; i < n; i++) {
        k = snprintf(line, sizeof(line),
                     "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                     e[i].seg, e[i].off, e[i].n, e[i].bytes);
        (void) as_buf_put(out, line, (size_t) k);
    }
    k = snprintf(line, sizeof(line), "end %zu %08" PRIx32 "\n", n,
                 batchlog_crc(out->data + start, out->len - start));
    (void) as_buf_put(out, line, (size_t) k);
}

/*
 * Parses a decimal u64 at *p (up to end), followed by `sep`; advances *p
 * past the separator.  Returns 0 or -1.
 */
static int
batchlog_u64(const char **p, const char *end, char sep, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;

    if (s >= end || *s < '0' || *s > '9') {
        return -1;
    }
    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned) (*s - '0');

        if (x > (UINT64_MAX - d) / 10) {
            return -1;
        }
        x = x * 10 + d;
        s++;
    }
    if (s >= end || *s != sep) {
        return -1;
    }
    *p = s + 1;
    *v = x;
    return 0;
}

int
as_batchlog_decode(const char *data, size_t len, struct as_batchlog_entry *e,
                   size_t *n)
{
    const char *p = data, *end = data + len, *body_end;
    size_t hl = sizeof(BATCHLOG_HEADER) - 1, count = 0;
    uint64_t want_n, crc;
    char hex[9];

    *n = 0;
    if (len < hl || memcmp(data, BATCHLOG_HEADER, hl) != 0) {
        return AS_ERR_CORRUPT;
    }
    p += hl;
    while (p < end && *p != 'e') {
        struct as_batchlog_entry x;

        if (count == AS_BATCHLOG_MAX || batchlog_u64(&p, end, ' ', &x.seg) ||
            batchlog_u64(&p, end, ' ', &x.off) ||
            batchlog_u64(&p, end, ' ', &x.n) ||
            batchlog_u64(&p, end, '\n', &x.bytes) || x.n == 0 ||
            x.bytes < x.n) {
            return AS_ERR_CORRUPT;
        }
        if (count > 0 &&
            (x.seg < e[count - 1].seg ||
             (x.seg == e[count - 1].seg && x.off <= e[count - 1].off))) {
            return AS_ERR_CORRUPT;
        }
        e[count++] = x;
    }
    body_end = p;
    if ((size_t) (end - p) < 4 || memcmp(p, "end ", 4) != 0) {
        return AS_ERR_CORRUPT;
    }
    p += 4;
    if (batchlog_u64(&p, end, ' ', &want_n) != 0 || want_n != count ||
        (size_t) (end - p) != 9 || p[8] != '\n') {
        return AS_ERR_CORRUPT;
    }
    for (size_t i = 0; i < 8; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return AS_ERR_CORRUPT;
        }
        hex[i] = p[i];
    }
    hex[8] = '\0';
    crc = strtoull(hex, NULL, 16);
    if (crc != batchlog_crc(data, (size_t) (body_end - data))) {
        return AS_ERR_CORRUPT;
    }
    *n = count;
    return 0;
}

/* Syncs the directory that holds path. */
static int
batchlog_sync_dir(const char *path)
{
    char *dir = as_strdup(path);
    char *slash = strrchr(dir, '/');
    int fd, rc = 0;

    if (slash == dir) {
        slash[1] = '\0';
    } else if (slash != NULL) {
        *slash = '\0';
    } else {
        dir[0] = '.';
        dir[1] = '\0';
    }
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        fsync(fd) != 0) {
        rc = -errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    free(dir);
    return rc;
}

int
as_batchlog_write(const char *path, const void *data, size_t len, bool sync)
{
    char *tmp = NULL;
    int fd = -1, rc;

    as_asprintf(&tmp, "%s.tmp", path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
        write(fd, data, len) != (ssize_t) len || (sync && fdatasync(fd) != 0)) {
        rc = errno != 0 ? -errno : -EIO;
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = -errno;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = -errno;
        goto out;
    }
    rc = sync ? batchlog_sync_dir(path) : 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0) {
        (void) unlink(tmp);
    }
    free(tmp);
    return rc;
}

int
as_batchlog_read(const char *path, struct as_batchlog_entry *e, size_t *n)
{
    char *data = as_malloc(BATCHLOG_MAX_FILE + 1);
    size_t len = 0;
    ssize_t k;
    int fd, rc;

    *n = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = -errno;
        goto out;
    }
    while (len <= BATCHLOG_MAX_FILE &&
           (k = read(fd, data + len, BATCHLOG_MAX_FILE + 1 - len)) != 0) {
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = -errno;
            close(fd);
            goto out;
        }
        len += (size_t) k;
    }
    close(fd);
    rc = len > BATCHLOG_MAX_FILE ? AS_ERR_CORRUPT
                                 : as_batchlog_decode(data, len, e, n);
out:
    free(data);
    return rc;
}
