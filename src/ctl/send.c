/*
 * `auditshipctl send`: writes events to the agent's Unix socket, the way an
 * application would.  Stream mode (the default) sends every event as one
 * line over a single connection; --datagram sends one datagram per event.
 * The socket is blocking: when the agent applies backpressure (its buffer
 * is full), send waits, as any well-behaved client does.
 *
 * Exit codes: 0 every event was handed to the agent's socket; 1 the agent
 * is not reachable or a write failed (a message says how many events were
 * sent before); 2 usage.  Event contents are never printed.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "send.h"

#define SEND_BUF (64 * 1024) /* stream: bytes gathered per write */

struct send_state {
    const char *path;
    bool datagram;
    int fd;
    char *buf; /* stream: pending bytes */
    size_t len;
    unsigned long long queued; /* events in buf */
    unsigned long long sent;   /* events written to the socket */
};

static void
send_usage(void)
{
    fprintf(stderr,
            "usage: auditshipctl send [--socket PATH] [--datagram] "
            "[EVENT_JSON | -]\n"
            "  --socket PATH  the agent's socket (default %s)\n"
            "  --datagram     one datagram per event (the input's mode: "
            "datagram)\n"
            "  EVENT_JSON     one event; - reads one event per line from "
            "stdin\n",
            AS_CTL_SEND_SOCKET);
}

static int
send_connect(struct send_state *s)
{
    struct sockaddr_un sa;
    int e;

    if (strlen(s->path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "auditshipctl send: socket path too long: %s\n",
                s->path);
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, s->path, strlen(s->path));
    s->fd = socket(AF_UNIX,
                   (s->datagram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        fprintf(stderr, "auditshipctl send: socket: %s\n", strerror(errno));
        return -1;
    }
    if (connect(s->fd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
        return 0;
    }
    e = errno;
    if (e == EPROTOTYPE) {
        fprintf(stderr, "auditshipctl send: %s is a %s socket: %s\n", s->path,
                s->datagram ? "stream" : "datagram",
                s->datagram ? "leave out --datagram" : "add --datagram");
    } else {
        fprintf(stderr,
                "auditshipctl send: cannot connect to %s: %s (is auditshipd "
                "running with a socket input on this path?)\n",
                s->path, strerror(e));
    }
    return -1;
}

static int
send_write_all(struct send_state *s, const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = send(s->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static int
send_flush(struct send_state *s)
{
    if (s->len == 0) {
        return 0;
    }
    if (send_write_all(s, s->buf, s->len) != 0) {
        return -1;
    }
    s->len = 0;
    s->sent += s->queued;
    s->queued = 0;
    return 0;
}

/* Hands one event (without its newline) to the socket. */
static int
send_event(struct send_state *s, const char *ev, size_t n)
{
    ssize_t w;

    if (s->datagram) {
        do {
            w = send(s->fd, ev, n, MSG_NOSIGNAL);
        } while (w < 0 && errno == EINTR);
        if (w < 0) {
            return -1;
        }
        s->sent++;
        return 0;
    }
    if (s->len + n + 1 > SEND_BUF && send_flush(s) != 0) {
        return -1;
    }
    if (n + 1 > SEND_BUF) {
        if (send_write_all(s, ev, n) != 0 || send_write_all(s, "\n", 1) != 0) {
            return -1;
        }
        s->sent++;
        return 0;
    }
    memcpy(s->buf + s->len, ev, n);
    s->buf[s->len + n] = '\n';
    s->len += n + 1;
    s->queued++;
    return 0;
}

static void
send_failed(const struct send_state *s)
{
    int e = errno;

    fprintf(stderr,
            "auditshipctl send: writing to %s failed after %llu events: %s%s\n",
            s->path, s->sent, strerror(e),
            e == EPIPE || e == ECONNRESET
                ? " (the agent closed the connection: stopping or reloading)"
                : (e == EMSGSIZE ? " (an event is larger than a datagram "
                                   "may be: use the stream mode)"
                                 : ""));
}

int
as_ctl_send(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"datagram", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct send_state s;
    const char *arg;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int c, rc = 1;

    memset(&s, 0, sizeof(s));
    s.path = AS_CTL_SEND_SOCKET;
    s.fd = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:dh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            s.path = optarg;
            break;
        case 'd':
            s.datagram = true;
            break;
        case 'h':
            send_usage();
            return 0;
        default:
            send_usage();
            return 2;
        }
    }
    if (argc - optind != 1) {
        send_usage();
        return 2;
    }
    arg = argv[optind];
    if (strcmp(arg, "-") != 0 && !s.datagram && strchr(arg, '\n') != NULL) {
        fprintf(stderr, "auditshipctl send: EVENT_JSON must be a single line "
                        "(the stream mode ends an event at a newline)\n");
        return 2;
    }
    if (send_connect(&s) != 0) {
        goto out;
    }
    s.buf = malloc(SEND_BUF);
    if (s.buf == NULL) {
        fprintf(stderr, "auditshipctl send: out of memory\n");
        goto out;
    }
    if (strcmp(arg, "-") != 0) {
        if (send_event(&s, arg, strlen(arg)) != 0 || send_flush(&s) != 0) {
            send_failed(&s);
            goto out;
        }
        rc = 0;
        goto out;
    }
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') {
            n--;
        }
        if (n == 0) {
            continue;
        }
        if (send_event(&s, line, (size_t) n) != 0) {
            send_failed(&s);
            goto out;
        }
    }
    if (ferror(stdin)) {
        fprintf(stderr, "auditshipctl send: reading stdin: %s\n",
                strerror(errno));
        (void) send_flush(&s);
        goto out;
    }
    if (send_flush(&s) != 0) {
        send_failed(&s);
        goto out;
    }
    rc = 0;
out:
    free(line);
    free(s.buf);
    if (s.fd >= 0) {
        close(s.fd);
    }
    return rc;
}
