/*
 * Frame encoding, segment file naming and the damage-skipping frame reader
 * (see segment.h for the format).  Pure functions plus pread(2); owns no
 * state beyond a reader's window.  Invariant: every length read from disk is
 * checked against AS__FRAME_MAX and the reader's limit before it is used.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>

#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "segment.h"

#define SEGMENT_FIXED 20 /* version..received_ns */
#define SEGMENT_POS   36

static uint32_t
segment_crc(const void *p, size_t n)
{
    return libdeflate_crc32(0, p, n);
}

static char *
segment_put32(char *p, uint32_t v)
{
    p[0] = (char) v;
    p[1] = (char) (v >> 8);
    p[2] = (char) (v >> 16);
    p[3] = (char) (v >> 24);
    return p + 4;
}

static char *
segment_put64(char *p, uint64_t v)
{
    p = segment_put32(p, (uint32_t) v);
    return segment_put32(p, (uint32_t) (v >> 32));
}

static char *
segment_putstr(char *p, const char *s, size_t n)
{
    p[0] = (char) n;
    p[1] = (char) (n >> 8);
    if (n > 0) {
        memcpy(p + 2, s, n);
    }
    p[2 + n] = '\0';
    return p + 3 + n;
}

static size_t
segment_slen(const char *s)
{
    return s == NULL ? 0 : strlen(s);
}

size_t
as__frame_size(const struct as_brec *r)
{
    const char *strs[5] = {r->input, r->source, r->chain, r->epoch, r->hash};
    size_t n = AS__FRAME_HDR + SEGMENT_FIXED + 4 + r->payload_len + 1;

    if (r->has_pos) {
        n += SEGMENT_POS;
    }
    for (size_t i = 0; i < 5; i++) {
        size_t l = segment_slen(strs[i]);

        if (l > 0xffff) {
            return 0;
        }
        n += 3 + l;
    }
    if (n - AS__FRAME_HDR > AS__FRAME_MAX) {
        return 0;
    }
    return n;
}

void
as__frame_encode_nocrc(char *out, const struct as_brec *r, size_t size)
{
    const char *strs[5] = {r->input, r->source, r->chain, r->epoch, r->hash};
    char *p = out + AS__FRAME_HDR;

    *p++ = AS__BREC_VERSION;
    *p++ = (char) r->type;
    *p++ = r->has_pos ? 1 : 0;
    *p++ = 0;
    p = segment_put64(p, r->seq);
    p = segment_put64(p, (uint64_t) r->received_ns);
    if (r->has_pos) {
        p = segment_put64(p, r->pos.dev);
        p = segment_put64(p, r->pos.ino);
        p = segment_put64(p, r->pos.fp);
        p = segment_put32(p, r->pos.fp_len);
        p = segment_put64(p, r->pos.offset);
    }
    for (size_t i = 0; i < 5; i++) {
        p = segment_putstr(p, strs[i], segment_slen(strs[i]));
    }
    p = segment_put32(p, (uint32_t) r->payload_len);
    if (r->payload_len > 0) {
        memcpy(p, r->payload, r->payload_len);
    }
    p[r->payload_len] = '\0';
    segment_put32(out, AS__FRAME_MAGIC);
    segment_put32(out + 4, (uint32_t) (size - AS__FRAME_HDR));
    segment_put32(out + 8, 0);
}

void
as__frames_checksum(char *p, size_t len)
{
    char *end = p + len;

    while (end - p >= AS__FRAME_HDR) {
        uint32_t blen = as_le32(p + 4);

        if (blen > (size_t) (end - p) - AS__FRAME_HDR) {
            as_fatalx("buffer: staged frames overrun their area");
        }
        segment_put32(p + 8, segment_crc(p + AS__FRAME_HDR, blen));
        p += AS__FRAME_HDR + blen;
    }
}

void
as__frame_encode(char *out, const struct as_brec *r, size_t size)
{
    as__frame_encode_nocrc(out, r, size);
    as__frames_checksum(out, size);
}

int
as__brec_decode(const char *body, size_t len, struct as_brec *out)
{
    const char **strs[5];
    const char *p = body, *end = body + len;
    uint32_t plen;

    strs[0] = &out->input;
    strs[1] = &out->source;
    strs[2] = &out->chain;
    strs[3] = &out->epoch;
    strs[4] = &out->hash;
    memset(out, 0, sizeof(*out));
    if (len < SEGMENT_FIXED || (uint8_t) p[0] != AS__BREC_VERSION) {
        return AS_ERR_CORRUPT;
    }
    out->type = (uint8_t) p[1];
    if ((p[2] & ~1) != 0) {
        return AS_ERR_CORRUPT;
    }
    out->has_pos = p[2] & 1;
    out->seq = as_le64(p + 4);
    out->received_ns = (int64_t) as_le64(p + 12);
    p += SEGMENT_FIXED;
    if (out->has_pos) {
        if ((size_t) (end - p) < SEGMENT_POS) {
            return AS_ERR_CORRUPT;
        }
        out->pos.dev = as_le64(p);
        out->pos.ino = as_le64(p + 8);
        out->pos.fp = as_le64(p + 16);
        out->pos.fp_len = as_le32(p + 24);
        out->pos.offset = as_le64(p + 28);
        p += SEGMENT_POS;
    }
    for (size_t i = 0; i < 5; i++) {
        size_t l;

        if (end - p < 3) {
            return AS_ERR_CORRUPT;
        }
        l = (uint8_t) p[0] | (size_t) (uint8_t) p[1] << 8;
        if ((size_t) (end - p) < 3 + l || p[2 + l] != '\0') {
            return AS_ERR_CORRUPT;
        }
        *strs[i] = p + 2;
        p += 3 + l;
    }
    if (end - p < 5) {
        return AS_ERR_CORRUPT;
    }
    plen = as_le32(p);
    p += 4;
    if ((size_t) (end - p) != (size_t) plen + 1 || p[plen] != '\0') {
        return AS_ERR_CORRUPT;
    }
    out->payload = p;
    out->payload_len = plen;
    return 0;
}

int
as__seg_path(char *out, size_t size, const char *dir, uint64_t id)
{
    int n = snprintf(out, size, "%s/seg-%016" PRIx64 ".log", dir, id);

    if (n < 0 || (size_t) n >= size) {
        return -ENAMETOOLONG;
    }
    return 0;
}

int
as__seg_name_parse(const char *name, uint64_t *id)
{
    uint64_t v = 0;

    if (strncmp(name, "seg-", 4) != 0 || strlen(name) != 4 + 16 + 4 ||
        strcmp(name + 20, ".log") != 0) {
        return -EINVAL;
    }
    for (size_t i = 4; i < 20; i++) {
        char c = name[i];
        int d;

        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else {
            return -EINVAL;
        }
        v = v << 4 | (uint64_t) d;
    }
    *id = v;
    return 0;
}

static int
segment_cmp(const void *a, const void *b)
{
    const struct as__segref *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

int
as__seg_list(const char *dir, struct as__segref **out, size_t *n)
{
    DIR *d;
    struct dirent *de;
    struct as__segref *v = NULL;
    size_t cnt = 0, cap = 0;
    char path[4096];
    struct stat st;
    uint64_t id;

    *out = NULL;
    *n = 0;
    if ((d = opendir(dir)) == NULL) {
        return -errno;
    }
    while ((de = readdir(d)) != NULL) {
        if (as__seg_name_parse(de->d_name, &id) != 0) {
            continue;
        }
        if (as__seg_path(path, sizeof(path), dir, id) != 0 ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (cnt == cap) {
            cap = cap == 0 ? 16 : cap * 2;
            v = as_reallocarray(v, cap, sizeof(*v));
        }
        v[cnt].id = id;
        v[cnt].size = (uint64_t) st.st_size;
        cnt++;
    }
    closedir(d);
    if (cnt > 1) {
        qsort(v, cnt, sizeof(*v), segment_cmp);
    }
    *out = v;
    *n = cnt;
    return 0;
}

void
as__cursor_slot_encode(unsigned char out[AS__CURSOR_SLOT], uint64_t gen,
                       const struct as_bpos *pos)
{
    char *p = (char *) out;

    p = segment_put32(p, AS__CURSOR_MAGIC);
    p = segment_put32(p, 2);
    p = segment_put64(p, gen);
    p = segment_put64(p, pos->segment);
    p = segment_put64(p, pos->offset);
    segment_put32(p, segment_crc(out, AS__CURSOR_SLOT - 4));
}

static bool
segment_cursor_slot(const unsigned char *p, uint64_t *gen, struct as_bpos *pos)
{
    if (as_le32(p) != AS__CURSOR_MAGIC || as_le32(p + 4) != 2 ||
        as_le32(p + 32) != segment_crc(p, AS__CURSOR_SLOT - 4)) {
        return false;
    }
    *gen = as_le64(p + 8);
    pos->segment = as_le64(p + 16);
    pos->offset = as_le64(p + 24);
    return true;
}

int
as__cursor_decode(const unsigned char *p, size_t len, struct as_bpos *pos,
                  uint64_t *gen)
{
    struct as_bpos a, b;
    uint64_t ga = 0, gb = 0;
    bool va, vb;

    if (len == AS__CURSOR_V1_SIZE) {
        if (as_le32(p) != AS__CURSOR_MAGIC || as_le32(p + 4) != 1 ||
            as_le32(p + 24) != segment_crc(p, AS__CURSOR_V1_SIZE - 4)) {
            return AS_ERR_CORRUPT;
        }
        pos->segment = as_le64(p + 8);
        pos->offset = as_le64(p + 16);
        ga = 0;
    } else if (len == AS__CURSOR_SIZE) {
        va = segment_cursor_slot(p, &ga, &a);
        vb = segment_cursor_slot(p + AS__CURSOR_SLOT, &gb, &b);
        if (!va && !vb) {
            return AS_ERR_CORRUPT;
        }
        if (!va || (vb && gb > ga)) {
            a = b;
            ga = gb;
        }
        *pos = a;
    } else {
        return AS_ERR_CORRUPT;
    }
    if (gen != NULL) {
        *gen = ga;
    }
    return 0;
}

void
as__reader_init(struct as__reader *rd, int fd, uint64_t limit)
{
    rd->fd = fd;
    rd->limit = limit;
    rd->trusted_from = UINT64_MAX;
    rd->chunk = AS__READ_CHUNK;
    as_buf_init(&rd->win, 0);
    rd->win_off = 0;
    rd->bytes_read = 0;
}

void
as__reader_free(struct as__reader *rd)
{
    free(rd->win.data);
    rd->win.data = NULL;
    rd->win.len = rd->win.cap = 0;
}

void
as__reader_reset(struct as__reader *rd, int fd)
{
    rd->fd = fd;
    rd->win.len = 0;
    rd->win_off = 0;
}

/*
 * Makes [off, off + n) available in the window; returns a pointer to off,
 * or NULL with *err = 0 when those bytes lie past limit, or -errno.
 */
static const char *
segment_window(struct as__reader *rd, uint64_t off, size_t n, int *err)
{
    uint64_t want, wend = rd->win_off + rd->win.len;
    size_t keep = 0;
    ssize_t got;
    int r;

    *err = 0;
    if (off > rd->limit || n > rd->limit - off) {
        return NULL;
    }
    if (off >= rd->win_off && off + n <= wend) {
        return rd->win.data + (off - rd->win_off);
    }
    /*
     * Refill from off, to at least a chunk (never past limit).  The bytes
     * of the window from off on are moved to its front and not read again:
     * here off + n > wend, so keep < n <= want.
     */
    want = n < rd->chunk ? rd->chunk : n;
    if (want > rd->limit - off) {
        want = rd->limit - off;
    }
    if (off >= rd->win_off && off < wend) {
        keep = (size_t) (wend - off);
        memmove(rd->win.data, rd->win.data + (off - rd->win_off), keep);
    }
    rd->win.len = keep;
    rd->win_off = off;
    if ((r = as_buf_reserve(&rd->win, (size_t) want - keep)) != 0) {
        rd->win.len = 0;
        *err = r;
        return NULL;
    }
    while (rd->win.len < want) {
        got = pread(rd->fd, rd->win.data + rd->win.len,
                    (size_t) want - rd->win.len, (off_t) (off + rd->win.len));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            *err = -errno;
            rd->win.len = 0;
            return NULL;
        }
        if (got == 0) {
            break; /* file shorter than limit: treat as the end */
        }
        rd->win.len += (size_t) got;
        rd->bytes_read += (uint64_t) got;
    }
    if (rd->win.len < n) {
        return NULL;
    }
    return rd->win.data;
}

/* Checks the frame at off.  1 = valid, 0 = not, -errno. */
static int
segment_check(struct as__reader *rd, uint64_t off, struct as__frame *f)
{
    const char *h, *body;
    uint32_t len, crc;
    int err;

    if ((h = segment_window(rd, off, AS__FRAME_HDR, &err)) == NULL) {
        return err;
    }
    if (as_le32(h) != AS__FRAME_MAGIC) {
        return 0;
    }
    len = as_le32(h + 4);
    crc = as_le32(h + 8);
    if (len > AS__FRAME_MAX) {
        return 0;
    }
    /* The whole frame, so that the window keeps its header: a resync
     * after a bad checksum starts inside it, at off + 1. */
    if ((h = segment_window(rd, off, AS__FRAME_HDR + (size_t) len, &err)) ==
        NULL) {
        return err;
    }
    body = h + AS__FRAME_HDR;
    if (off < rd->trusted_from && segment_crc(body, len) != crc) {
        return 0;
    }
    f->off = off;
    f->end = off + AS__FRAME_HDR + len;
    f->body = body;
    f->len = len;
    return 1;
}

int
as__reader_next(struct as__reader *rd, uint64_t *pos, struct as__frame *f,
                uint64_t *skipped)
{
    static const unsigned char magic[4] = {
        AS__FRAME_MAGIC & 0xff, (AS__FRAME_MAGIC >> 8) & 0xff,
        (AS__FRAME_MAGIC >> 16) & 0xff, AS__FRAME_MAGIC >> 24};
    uint64_t off;
    size_t step;
    int r;

    if (*pos >= rd->limit) {
        return AS__RD_END;
    }
    if ((r = segment_check(rd, *pos, f)) != 0) {
        if (r < 0) {
            return r;
        }
        *pos = f->end;
        return AS__RD_OK;
    }
    /* Damaged: look for the next magic whose frame verifies. */
    step = rd->chunk > AS__FRAME_HDR ? rd->chunk : AS__FRAME_HDR;
    off = *pos + 1;
    while (off + AS__FRAME_HDR <= rd->limit) {
        const char *w, *hit;
        size_t avail;
        int err;

        avail = (size_t) (rd->limit - off < step ? rd->limit - off : step);
        if ((w = segment_window(rd, off, avail, &err)) == NULL) {
            return err < 0 ? err : AS__RD_TORN;
        }
        hit = memmem(w, avail, magic, sizeof(magic));
        if (hit == NULL) {
            off += avail > 3 ? avail - 3 : 1;
            continue;
        }
        off += (uint64_t) (hit - w);
        if ((r = segment_check(rd, off, f)) < 0) {
            return r;
        }
        if (r == 1) {
            (*skipped)++;
            *pos = f->end;
            return AS__RD_OK;
        }
        off++;
    }
    return AS__RD_TORN;
}
