/*
 * struct as_buf: see buf.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "mem.h"

void
as_buf_init(struct as_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
as_buf_free(struct as_buf *b)
{
    as_freezero(b->data, b->cap);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
as_buf_reset(struct as_buf *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

int
as__buf_grow(struct as_buf *b, size_t extra)
{
    size_t need, ncap;

    if (extra > (size_t) -1 - b->len - 1) {
        return AS_ERR_TOOBIG;
    }
    need = b->len + extra + 1;
    if (b->max != 0 && need - 1 > b->max) {
        return AS_ERR_TOOBIG;
    }
    if (need <= b->cap) {
        return 0;
    }
    ncap = b->cap < 256 ? 256 : b->cap;
    while (ncap < need) {
        ncap = ncap > ((size_t) -1) / 2 ? need : ncap * 2;
    }
    b->data = as_realloc(b->data, ncap);
    b->cap = ncap;
    return 0;
}

int
as_buf_puts(struct as_buf *b, const char *s)
{
    return as_buf_put(b, s, strlen(s));
}

int
as_buf_printf(struct as_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, r;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return AS_ERR_INTERNAL;
    }
    if ((r = as_buf_reserve(b, (size_t) n)) != 0) {
        return r;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
    return 0;
}

int
as_buf_put_u32(struct as_buf *b, uint32_t v)
{
    unsigned char p[4];

    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char) (v >> (8 * i));
    }
    return as_buf_put(b, p, sizeof(p));
}

int
as_buf_put_u64(struct as_buf *b, uint64_t v)
{
    unsigned char p[8];

    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char) (v >> (8 * i));
    }
    return as_buf_put(b, p, sizeof(p));
}

void
as_buf_consume(struct as_buf *b, size_t n)
{
    if (n >= b->len) {
        as_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *
as_buf_steal(struct as_buf *b, size_t *len)
{
    char *p = b->data;

    if (len != NULL) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

uint32_t
as_le32(const void *p)
{
    const unsigned char *c = p;

    return (uint32_t) c[0] | (uint32_t) c[1] << 8 | (uint32_t) c[2] << 16 |
           (uint32_t) c[3] << 24;
}

uint64_t
as_le64(const void *p)
{
    const unsigned char *c = p;

    return (uint64_t) as_le32(c) | (uint64_t) as_le32(c + 4) << 32;
}
