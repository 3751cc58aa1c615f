/* struct as_carry: see carry.h. */
#include <string.h>

#include "carry.h"
#include "mem.h"

void
as_carry_add(struct as_carry *c, const char *p, size_t n, size_t limit)
{
    size_t keep, ncap;

    c->total += n;
    keep = c->len < limit ? limit - c->len : 0;
    keep = n < keep ? n : keep;
    if (keep == 0) {
        return;
    }
    if (c->len + keep > c->cap) {
        ncap = c->cap < 256 ? 256 : c->cap;
        while (ncap < c->len + keep) {
            ncap *= 2;
        }
        ncap = ncap > limit ? limit : ncap;
        c->data = as_realloc(c->data, ncap);
        c->cap = ncap;
    }
    memcpy(c->data + c->len, p, keep);
    c->len += keep;
}

void
as_carry_reset(struct as_carry *c, size_t keep)
{
    c->len = 0;
    c->total = 0;
    if (c->cap > keep) {
        as_carry_free(c);
    }
}

void
as_carry_free(struct as_carry *c)
{
    as_freezero(c->data, c->cap);
    c->data = NULL;
    c->cap = 0;
    c->len = 0;
    c->total = 0;
}
