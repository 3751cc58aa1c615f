/*
 * The batch journal of an output: the boundaries of the batches it has in
 * flight (sent, or about to be sent, and not yet passed by its cursor),
 * kept in a small file (state_dir/outputs/ID.batches) so that after a
 * restart the same batches are formed again, in order, and carry the same
 * Idempotency-Key (pipeline.c, "batch journal").
 *
 * The file is text, replaced whole (write to ID.batches.tmp, rename):
 *
 *     auditship-batches 1
 *     SEG OFF N BYTES          one line per batch, oldest first
 *     end COUNT CRC
 *
 * SEG OFF is the buffer position just past the batch, N its records, BYTES
 * its lines' bytes (newlines included), COUNT the number of batch lines and
 * CRC the CRC-32 of gzip and zlib (8 lowercase hex digits) of every byte
 * before "end".
 * Positions increase strictly from line to line.
 */
#ifndef AS_BATCHLOG_H
#define AS_BATCHLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Most batches a journal holds (an output's largest concurrency). */
#define AS_BATCHLOG_MAX 64

struct as_batchlog_entry {
    uint64_t seg, off; /* buffer position just past the batch */
    uint64_t n;        /* records */
    uint64_t bytes;    /* bytes of its lines, newlines included */
};

/* Appends the file form of e[0..n) (n <= AS_BATCHLOG_MAX) to out. */
void as_batchlog_encode(const struct as_batchlog_entry *e, size_t n,
                        struct as_buf *out);

/*
 * Parses the file form in data[0..len) into e (room for AS_BATCHLOG_MAX)
 * and *n.  Returns 0, or AS_ERR_CORRUPT when anything is off (header,
 * syntax, count, CRC, positions not increasing, N of 0, trailing bytes);
 * *n is then 0.
 */
int as_batchlog_decode(const char *data, size_t len,
                       struct as_batchlog_entry *e, size_t *n);

/*
 * Replaces path with data[0..len) (path.tmp, then rename); with sync, the
 * file is fdatasync'ed before the rename and its directory fsync'ed after
 * (buffer.fsync: always).  Blocking: call it from the thread pool when
 * sync is true.  Returns 0 or -errno.
 */
int as_batchlog_write(const char *path, const void *data, size_t len,
                      bool sync);

/*
 * Reads and parses path (at most 64 KiB) into e (room for
 * AS_BATCHLOG_MAX) and *n.  Returns 0, -ENOENT when there is no journal,
 * AS_ERR_CORRUPT, or another -errno.
 */
int as_batchlog_read(const char *path, struct as_batchlog_entry *e, size_t *n);

#endif
