/*
 * The `socket` input: a Unix socket that applications write events to,
 * newline-delimited over SOCK_STREAM connections or one event per
 * SOCK_DGRAM datagram, each event stamped with the sender's kernel-attested
 * identity.  See socket.c.
 */
#ifndef AS_SOCKET_H
#define AS_SOCKET_H

#include <stdint.h>

#include "core/stage.h"

extern const struct as_input_ops as_input_socket_ops;

/* Per-input counters, for the metrics endpoint and the tests. */
struct as_socket_stats {
    uint64_t messages;       /* events handed to the core (emit calls) */
    uint64_t bytes;          /* bytes read from clients */
    uint64_t truncated;      /* messages longer than max_line_bytes */
    uint64_t empty;          /* empty lines or datagrams skipped */
    uint64_t accepted;       /* stream connections accepted */
    uint64_t conns_open;     /* stream connections open now (gauge) */
    uint64_t framing_errors; /* bad octet-counting headers */
    uint64_t incomplete;     /* messages cut short by a closed connection */
    uint64_t datagrams;      /* datagrams received */
    uint64_t no_creds;       /* datagrams without credentials (no peer) */
    uint64_t read_errors;    /* failed read/recvmmsg calls */
    uint64_t accept_errors;  /* failed accept calls */
    uint64_t peer_lookups;   /* peer identities asked of the cache */
    uint64_t peer_resolved;  /* of which looked up in /proc */
    uint64_t pauses;         /* times reading was paused (backpressure) */
};

/* Copies the counters of a started socket input into *out. */
void as_socket_stats(const struct as_input *in, struct as_socket_stats *out);

#endif
