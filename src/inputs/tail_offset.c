/*
 * File identity for the tail input (see tail_offset.h).
 *
 * A file is device + inode + fingerprint, where the fingerprint is the first
 * 8 bytes (big-endian) of the SHA-256 of the file's first fp_len =
 * min(size, AS_FP_MAX) bytes.  The fingerprint grows with the file until
 * AS_FP_MAX bytes; a position records the fp_len it was computed over, so it
 * can be checked later against a file that has grown since.  Owns nothing:
 * pure helpers over caller-owned fds and buffers.
 */
#include <sys/stat.h>
#include <errno.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "tail_offset.h"

uint64_t
as_tail_fp(const void *p, size_t len)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    uint64_t v = 0;

    SHA256((const unsigned char *) p, len, md);
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | md[i];
    }
    return v;
}

int
as_tail_read_head(int fd, unsigned char *head, size_t want, size_t *got)
{
    size_t n = 0;
    ssize_t r;

    while (n < want) {
        r = pread(fd, head + n, want - n, (off_t) n);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            *got = n;
            return -errno;
        }
        if (r == 0) {
            break;
        }
        n += (size_t) r;
    }
    *got = n;
    return 0;
}

int
as_tail_pos_matches(int fd, const struct as_srcpos *pos,
                    unsigned char head[AS_FP_MAX], size_t *head_len)
{
    struct stat st;
    uint64_t need;
    size_t want, got;
    int r;

    *head_len = 0;
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    if ((uint64_t) st.st_dev != pos->dev || (uint64_t) st.st_ino != pos->ino) {
        return 0;
    }
    if (pos->fp_len > AS_FP_MAX) {
        return 0;
    }
    need = pos->offset > pos->fp_len ? pos->offset : pos->fp_len;
    if ((uint64_t) st.st_size < need) {
        return 0;
    }
    want = (uint64_t) st.st_size < AS_FP_MAX ? (size_t) st.st_size : AS_FP_MAX;
    if ((r = as_tail_read_head(fd, head, want, &got)) != 0) {
        return r;
    }
    if (got < pos->fp_len || as_tail_fp(head, pos->fp_len) != pos->fp) {
        return 0;
    }
    *head_len = got;
    return 1;
}
