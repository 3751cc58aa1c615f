/*
 * Growable byte buffer modeled on openssh's sshbuf.  `max` (0 = unbounded)
 * caps growth: a put that would exceed it fails with AS_ERR_TOOBIG and leaves
 * the buffer unchanged.  data is always NUL-terminated past len (for
 * convenience; the NUL is not counted).
 */
#ifndef AS_BUF_H
#define AS_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct as_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

#define AS_BUF_INIT                                                            \
    {                                                                          \
        NULL, 0, 0, 0                                                          \
    }

void as_buf_init(struct as_buf *b, size_t max);
/* Frees the storage (cleansed) and resets to empty. */
void as_buf_free(struct as_buf *b);
void as_buf_reset(struct as_buf *b);
/* as_buf_reserve's slow path: checks the bounds, grows the storage. */
int as__buf_grow(struct as_buf *b, size_t extra);

/*
 * Makes room for extra more bytes (and the NUL): 0, or AS_ERR_TOOBIG when
 * len + extra would exceed max.  The common case (the room is there) is
 * inline, as the canonical writer reserves once per value; growing and
 * every failure go through as__buf_grow.  cap >= len always, and
 * extra < cap - len bounds extra, so len + extra cannot overflow here.
 */
static inline int
as_buf_reserve(struct as_buf *b, size_t extra)
{
    if (extra < b->cap - b->len && (b->max == 0 || b->len + extra <= b->max)) {
        return 0;
    }
    return as__buf_grow(b, extra);
}

static inline int
as_buf_put(struct as_buf *b, const void *p, size_t n)
{
    int r;

    if ((r = as_buf_reserve(b, n)) != 0) {
        return r;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static inline int
as_buf_putc(struct as_buf *b, char c)
{
    int r;

    if ((r = as_buf_reserve(b, 1)) != 0) {
        return r;
    }
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

int as_buf_puts(struct as_buf *b, const char *s);
int as_buf_printf(struct as_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Little-endian fixed-width integers. */
int as_buf_put_u32(struct as_buf *b, uint32_t v);
int as_buf_put_u64(struct as_buf *b, uint64_t v);
/* Removes the first n bytes. */
void as_buf_consume(struct as_buf *b, size_t n);
/* Detaches the storage; the caller frees it. */
char *as_buf_steal(struct as_buf *b, size_t *len);

uint32_t as_le32(const void *p);
uint64_t as_le64(const void *p);

#endif
