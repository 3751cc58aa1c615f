/*
 * Internals shared by the disk buffer (disk.c) and its offline tools
 * (offline.c): the record frame format, segment file naming and a
 * sequential frame reader that skips damage.  Not for use outside
 * src/buffer and src/ctl/bufctl.c.
 *
 * Frame (all integers little-endian):
 *   [u32 magic][u32 body length][u32 CRC-32 of body][body]
 * Body, version 1:
 *   u8 version, u8 type, u8 flags (bit 0: has_pos), u8 reserved,
 *   u64 seq, i64 received_ns,
 *   if has_pos: u64 dev, u64 ino, u64 fp, u32 fp_len, u64 offset,
 *   strings input, source, chain, epoch, hash: u16 length, bytes, NUL,
 *   payload: u32 length, bytes, NUL.
 * The NULs let a decoded struct as_brec point straight into the body.
 */
#ifndef AS_BUFFER_SEGMENT_H
#define AS_BUFFER_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "buffer.h"

#define AS__FRAME_MAGIC  0x31574241u /* "ABW1" */
#define AS__FRAME_HDR    12
#define AS__FRAME_MAX    (64u << 20) /* bound on a body length */
#define AS__BREC_VERSION 1
/* Internal record type: ends the snapshot at the head of a segment.  Its
 * seq holds the segment id.  Never given to readers or to recover(). */
#define AS__BREC_SNAPEND 0x7f

/* Bytes the frame for r takes, or 0 when a field exceeds the format. */
size_t as__frame_size(const struct as_brec *r);
/* Encodes r as one frame at p (as__frame_size(r) bytes). */
void as__frame_encode(char *p, const struct as_brec *r, size_t size);
/*
 * as__frame_encode without the checksum (left 0): the disk buffer encodes on
 * the loop thread and checksums a whole staged area on the thread pool just
 * before writing it, with as__frames_checksum.
 */
void as__frame_encode_nocrc(char *p, const struct as_brec *r, size_t size);
/* Fills in the checksum of every frame in p[0..len), a run of whole frames. */
void as__frames_checksum(char *p, size_t len);
/* Decodes a body; pointers in out point into body.  AS_ERR_CORRUPT. */
int as__brec_decode(const char *body, size_t len, struct as_brec *out);

/* "DIR/seg-%016llx.log" */
int as__seg_path(char *out, size_t size, const char *dir, uint64_t id);
/* Parses a segment file name; 0 when name is one. */
int as__seg_name_parse(const char *name, uint64_t *id);

struct as__segref {
    uint64_t id;
    uint64_t size;
};
/* Lists the segment files of dir sorted by id.  *out is as_malloc'ed. */
int as__seg_list(const char *dir, struct as__segref **out, size_t *n);

/*
 * Cursor file, version 2: two slots of
 *   [u32 magic][u32 version 2][u64 gen][u64 segment][u64 offset][u32 crc]
 * (CRC-32 of the 32 bytes before it).  A commit writes the next gen into
 * slot gen % 2 in place (one pwrite); a reader takes the valid slot with
 * the higher gen, so a torn write leaves the previous position.  Version 1
 * (one [magic][1][segment][offset][crc] record of 28 bytes, replaced by a
 * rename at every commit) is still read, as gen 0.
 */
#define AS__CURSOR_MAGIC   0x31434241u /* "ABC1" */
#define AS__CURSOR_V1_SIZE 28
#define AS__CURSOR_SLOT    36
#define AS__CURSOR_SIZE    (2 * AS__CURSOR_SLOT) /* a version 2 file */
void as__cursor_slot_encode(unsigned char out[AS__CURSOR_SLOT], uint64_t gen,
                            const struct as_bpos *pos);
/* Decodes a cursor file of either version; gen may be NULL.  Returns 0 or
 * AS_ERR_CORRUPT (no valid slot). */
int as__cursor_decode(const unsigned char *p, size_t len, struct as_bpos *pos,
                      uint64_t *gen);

#define AS__READ_CHUNK (256u << 10) /* as__reader's default chunk */

/*
 * A sequential reader over one segment file: a window of bytes read with
 * pread, never past limit (the readable end).  fd is borrowed.  When a
 * frame is not wholly in the window, the window's bytes from the frame on
 * are kept and only the rest is read (at least chunk bytes in all), so a
 * reader that moves forward reads each byte of the file once.
 */
struct as__reader {
    int fd;
    uint64_t limit;
    /* Frames at or past this offset were written by this process in this
     * run and are not checksummed again on read (UINT64_MAX = check all). */
    uint64_t trusted_from;
    size_t chunk; /* bytes read at least per refill (> 0) */
    struct as_buf win;
    uint64_t win_off;
    uint64_t bytes_read; /* bytes pread so far (for tests and stats) */
};

struct as__frame {
    uint64_t off, end; /* the frame's bytes in the file */
    const char *body;  /* valid until the next call */
    uint32_t len;
};

#define AS__RD_END  0 /* no more bytes before limit */
#define AS__RD_OK   1 /* f holds a frame with a valid checksum */
#define AS__RD_TORN 2 /* the bytes from *pos to limit hold no valid frame */

void as__reader_init(struct as__reader *rd, int fd, uint64_t limit);
void as__reader_free(struct as__reader *rd);
/* Drops the window (new fd or bytes changed under it). */
void as__reader_reset(struct as__reader *rd, int fd);
/*
 * Reads the frame at *pos.  On a damaged frame it resynchronizes on the
 * next magic whose checksum verifies and adds one to *skipped.  Returns
 * AS__RD_OK (with *pos = f->end), AS__RD_END, AS__RD_TORN (*pos unchanged)
 * or -errno.
 */
int as__reader_next(struct as__reader *rd, uint64_t *pos, struct as__frame *f,
                    uint64_t *skipped);

#endif
