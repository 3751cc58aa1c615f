/*
 * Peer identity for the socket input (see socket_peer.h).
 *
 * Owns, per cache slot, one resolved struct as_peer (its exe and unit
 * strings).  Nothing here trusts what a client sends: pid, uid and gid come
 * from the kernel, the rest from /proc and the cgroup the kernel placed the
 * process in.  The unit is the system unit only (sd_pid_get_unit): a user
 * unit (sd_pid_get_user_unit) is named by the user and could pose as a
 * system service, so it is not reported; uid says whose it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-login.h>

#include "core/mem.h"
#include "core/utf8.h"
#include "socket_peer.h"

void
as_peer_utf8_fix(char *s, size_t len)
{
    unsigned char *u = (unsigned char *) s;
    size_t i = 0, k;

    while (i < len) {
        if ((k = as_utf8_seq(u + i, len - i)) == 0) {
            u[i] = '?';
            k = 1;
        }
        i += k;
    }
}

/* Reads /proc/PID/comm into out (NUL-terminated, without the newline). */
static void
peer_comm(pid_t pid, char *out, size_t size)
{
    char path[64];
    ssize_t n;
    int fd;

    out[0] = '\0';
    snprintf(path, sizeof(path), "/proc/%ld/comm", (long) pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return;
    }
    do {
        n = read(fd, out, size - 1);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) {
        out[0] = '\0';
        return;
    }
    if (out[n - 1] == '\n') {
        n--;
    }
    out[n] = '\0';
    as_peer_utf8_fix(out, (size_t) n);
}

static char *
peer_exe(pid_t pid)
{
    char path[64], buf[PATH_MAX];
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%ld/exe", (long) pid);
    n = readlink(path, buf, sizeof(buf) - 1);
    if (n <= 0) {
        return NULL; /* exited, a kernel thread, or not ours to read */
    }
    buf[n] = '\0';
    as_peer_utf8_fix(buf, (size_t) n);
    return as_strdup(buf);
}

static char *
peer_unit(pid_t pid)
{
    char *unit = NULL;

    if (sd_pid_get_unit(pid, &unit) < 0 || unit == NULL) {
        free(unit);
        return NULL;
    }
    as_peer_utf8_fix(unit, strlen(unit));
    return unit; /* malloc'ed by libsystemd: freed with free() */
}

void
as_peer_resolve(struct as_peer *p, pid_t pid, uid_t uid, gid_t gid)
{
    memset(p, 0, sizeof(*p));
    p->valid = true;
    p->pid = (int64_t) pid;
    p->uid = (int64_t) uid;
    p->gid = (int64_t) gid;
    if (pid <= 0) {
        return;
    }
    peer_comm(pid, p->comm, sizeof(p->comm));
    p->exe = peer_exe(pid);
    p->unit = peer_unit(pid);
}

void
as_peer_clear(struct as_peer *p)
{
    free(p->exe);
    free(p->unit);
    memset(p, 0, sizeof(*p));
}

void
as_peer_copy(struct as_peer *dst, const struct as_peer *src)
{
    *dst = *src;
    dst->exe = src->exe != NULL ? as_strdup(src->exe) : NULL;
    dst->unit = src->unit != NULL ? as_strdup(src->unit) : NULL;
}

void
as_peer_cache_init(struct as_peer_cache *c, uint64_t ttl_ms)
{
    memset(c, 0, sizeof(*c));
    c->ttl_ms = ttl_ms;
}

void
as_peer_cache_free(struct as_peer_cache *c)
{
    for (size_t i = 0; i < AS_PEER_CACHE_SLOTS; i++) {
        as_peer_clear(&c->slot[i].peer);
    }
}

const struct as_peer *
as_peer_cache_get(struct as_peer_cache *c, pid_t pid, uid_t uid, gid_t gid,
                  uint64_t now_ms)
{
    struct as_peer_cache_slot *s =
        &c->slot[(unsigned long) pid % AS_PEER_CACHE_SLOTS];

    c->lookups++;
    if (s->peer.valid && s->peer.pid == (int64_t) pid &&
        s->peer.uid == (int64_t) uid && s->peer.gid == (int64_t) gid &&
        now_ms - s->at_ms < c->ttl_ms) {
        c->hits++;
        return &s->peer;
    }
    as_peer_clear(&s->peer);
    as_peer_resolve(&s->peer, pid, uid, gid);
    s->at_ms = now_ms;
    return &s->peer;
}
