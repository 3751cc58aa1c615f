/*
 * Identity of a socket peer for auditship.peer: the kernel-attested pid,
 * uid and gid (SO_PEERCRED, SCM_CREDENTIALS) completed from /proc (comm,
 * exe) and the process's systemd unit (libsystemd, from /proc/PID/cgroup).
 * A cache keeps the /proc lookups of busy datagram senders to one per pid
 * and second.
 */
#ifndef AS_SOCKET_PEER_H
#define AS_SOCKET_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "core/record.h"

/*
 * Fills p (valid) for pid, uid and gid: comm from /proc/PID/comm, exe from
 * readlink(/proc/PID/exe) and unit from sd_pid_get_unit().  A part that
 * cannot be read (the process exited, no permission, not in a unit) is left
 * empty (comm "") or NULL.  Each text is made valid UTF-8 (other bytes
 * become '?') so that the record can always be canonicalized.  pid 0 (a
 * peer in another pid namespace) gets no /proc lookups.  p's old exe and
 * unit must have been freed.
 */
void as_peer_resolve(struct as_peer *p, pid_t pid, uid_t uid, gid_t gid);
/* Frees exe and unit and zeroes p. */
void as_peer_clear(struct as_peer *p);
/* dst = a deep copy of src; dst's old exe and unit must have been freed. */
void as_peer_copy(struct as_peer *dst, const struct as_peer *src);

/* Replaces each byte that is not part of valid UTF-8 by '?'. */
void as_peer_utf8_fix(char *s, size_t len);

#define AS_PEER_CACHE_SLOTS 64

struct as_peer_cache_slot {
    struct as_peer peer;
    uint64_t at_ms; /* when resolved */
};

/* Direct-mapped by pid; an entry is used for ttl_ms after its lookup. */
struct as_peer_cache {
    struct as_peer_cache_slot slot[AS_PEER_CACHE_SLOTS];
    uint64_t ttl_ms;
    uint64_t lookups, hits;
};

void as_peer_cache_init(struct as_peer_cache *c, uint64_t ttl_ms);
void as_peer_cache_free(struct as_peer_cache *c);
/*
 * The peer for (pid, uid, gid) at now_ms, resolved again when its entry is
 * older than the ttl or names another process.  The pointer is valid until
 * the next call.
 */
const struct as_peer *as_peer_cache_get(struct as_peer_cache *c, pid_t pid,
                                        uid_t uid, gid_t gid, uint64_t now_ms);

#endif
