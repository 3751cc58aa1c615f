/*
 * Eight bytes at a time, in portable C (SIMD within a register): the test
 * string scanners use to skip runs of bytes that need no attention.
 */
#ifndef AS_SWAR_H
#define AS_SWAR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * True when none of the 8 bytes at p is a control character (< 0x20), '"',
 * '\\' or a non-ASCII byte (>= 0x80): the bytes a JSON string holds as they
 * are.  Exact: each test below is non-zero iff some byte matches.
 */
static inline bool
as_swar_plain8(const unsigned char *p)
{
    const uint64_t ones = UINT64_C(0x0101010101010101);
    const uint64_t high = UINT64_C(0x8080808080808080);
    uint64_t v, quote, bslash, ctl;

    memcpy(&v, p, 8);
    ctl = (v - ones * 0x20) & ~v;
    quote = v ^ (ones * '"');
    quote = (quote - ones) & ~quote;
    bslash = v ^ (ones * '\\');
    bslash = (bslash - ones) & ~bslash;
    return ((ctl | quote | bslash | v) & high) == 0;
}

/*
 * How many of the 8 bytes at p are plain (see as_swar_plain8) before the
 * first that is not: 8 when all are.  The subtraction tricks can flag a
 * byte above a flagged one by their borrow, never one below it, so the
 * lowest flag is exact.  The load is little-endian on every target we
 * build for; a big-endian host takes the bytewise path.
 */
static inline unsigned
as_swar_plain_run8(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = UINT64_C(0x0101010101010101);
    const uint64_t high = UINT64_C(0x8080808080808080);
    uint64_t v, quote, bslash, ctl, m;

    memcpy(&v, p, 8);
    ctl = (v - ones * 0x20) & ~v;
    quote = v ^ (ones * '"');
    quote = (quote - ones) & ~quote;
    bslash = v ^ (ones * '\\');
    bslash = (bslash - ones) & ~bslash;
    m = (ctl | quote | bslash | v) & high;
    return m == 0 ? 8 : (unsigned) __builtin_ctzll(m) / 8;
#else
    unsigned i = 0;

    while (i < 8 && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' &&
           p[i] != '\\') {
        i++;
    }
    return i;
#endif
}

#endif
