/*
 * File identity for the tail input: the fingerprint of a file's first bytes
 * and the check that a recovered position still belongs to an open file.
 */
#ifndef AS_TAIL_OFFSET_H
#define AS_TAIL_OFFSET_H

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"

/*
 * The fingerprint of the first len bytes of a file: the first 8 bytes of
 * SHA-256(p[0..len)) read as a big-endian integer.
 */
uint64_t as_tail_fp(const void *p, size_t len);

/*
 * Reads up to want bytes from offset 0 of fd into head (retrying short
 * reads); stores the count in *got.  Returns 0 or -errno.
 */
int as_tail_read_head(int fd, unsigned char *head, size_t want, size_t *got);

/*
 * Whether the open file fd is the one pos was recorded for: same dev and
 * inode, at least max(offset, fp_len) bytes long, and its first fp_len bytes
 * hash to fp.  On a match fills head with the file's first min(size,
 * AS_FP_MAX) bytes (*head_len).  Returns 1 on a match, 0 when it is another
 * file, -errno when fd cannot be read.
 */
int as_tail_pos_matches(int fd, const struct as_srcpos *pos,
                        unsigned char head[AS_FP_MAX], size_t *head_len);

#endif
