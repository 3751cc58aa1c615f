/*
 * bench/http-sink: a lean HTTP collector for bench/tail-to-http.sh.
 *
 * The benchmark's collector runs on the same 2 cores as the agent, so its
 * CPU is taken from the agent.  tests/tools/collector.py (Python, zlib)
 * spent about 4 us per event decompressing and counting; this one does the
 * same work in C: libmicrohttpd, one polling thread, libdeflate's gzip
 * decompressor.  What it does per POST: reads the body, gunzips it when
 * Content-Encoding is gzip, counts the NDJSON lines, drops a request whose
 * Idempotency-Key it has already accepted (counted as a duplicate) and
 * answers 200.  GET /_stats answers the counters as JSON, with the names
 * collector.py uses.  Anything it cannot decode gets a 400 and a count.
 * With --expect N it also notes the time (CLOCK_REALTIME, `done_at` in
 * seconds, 0 before) of the request that brought the lines counted once
 * to N, so that a benchmark's end is exact however seldom it polls.
 *
 * usage: bench/http-sink [--port N] [--port-file FILE] [--expect N]
 * Listens on 127.0.0.1 (port 0: any free port, written to FILE); stops on
 * SIGTERM or SIGINT.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <search.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libdeflate.h>
#include <microhttpd.h>

struct sink_stats {
    uint64_t requests;      /* POSTs answered */
    uint64_t accepted;      /* answered 200 */
    uint64_t rejected;      /* answered 400: undecodable body */
    uint64_t bytes;         /* request bodies as sent */
    uint64_t decoded_bytes; /* after gunzip */
    uint64_t lines;         /* NDJSON lines in accepted requests */
    uint64_t dedup_lines;   /* the same, less the duplicates */
    uint64_t dups;          /* requests with a key already accepted */
    uint64_t expect;        /* --expect */
    double done_at;         /* when dedup_lines reached expect, or 0 */
};

/* One request being read. */
struct sink_req {
    char *body;
    size_t len, cap;
};

/* Only the daemon's one polling thread touches these. */
static struct sink_stats sink_st;
static struct libdeflate_decompressor *sink_dec;
static char *sink_out;
static size_t sink_out_cap;
static void *sink_keys; /* tsearch tree of accepted Idempotency-Keys */

static void *
sink_xrealloc(void *p, size_t n)
{
    if ((p = realloc(p, n)) == NULL) {
        fprintf(stderr, "http-sink: out of memory\n");
        exit(1);
    }
    return p;
}

static int
sink_keycmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Gunzips in into sink_out; returns the decoded length or -1. */
static long
sink_gunzip(const char *in, size_t len)
{
    size_t want, got;
    enum libdeflate_result r;

    if (len < 18) {
        return -1;
    }
    /* ISIZE, the trailer's size mod 2^32: right for any batch here. */
    want = (size_t) (unsigned char) in[len - 4] |
           (size_t) (unsigned char) in[len - 3] << 8 |
           (size_t) (unsigned char) in[len - 2] << 16 |
           (size_t) (unsigned char) in[len - 1] << 24;
    for (;;) {
        if (sink_out_cap < want + 1) {
            sink_out_cap = want + 1;
            sink_out = sink_xrealloc(sink_out, sink_out_cap);
        }
        r = libdeflate_gzip_decompress(sink_dec, in, len, sink_out,
                                       sink_out_cap, &got);
        if (r == LIBDEFLATE_SUCCESS) {
            return (long) got;
        }
        if (r != LIBDEFLATE_INSUFFICIENT_SPACE || want > (1u << 30)) {
            return -1;
        }
        want = 2 * sink_out_cap;
    }
}

static uint64_t
sink_count_lines(const char *p, size_t len)
{
    const char *end = p + len, *nl;
    uint64_t n = 0;

    while (p < end && (nl = memchr(p, '\n', (size_t) (end - p))) != NULL) {
        n++;
        p = nl + 1;
    }
    return n + (p < end ? 1 : 0);
}

static enum MHD_Result
sink_reply(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *resp;
    enum MHD_Result rc;

    resp = MHD_create_response_from_buffer(strlen(text), (void *) text,
                                           MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return MHD_NO;
    }
    (void) MHD_add_response_header(resp, "Content-Type", "application/json");
    rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result
sink_stats_reply(struct MHD_Connection *c)
{
    char text[512];

    snprintf(text, sizeof(text),
             "{\"requests\":%" PRIu64 ",\"accepted\":%" PRIu64
             ",\"rejected\":%" PRIu64 ",\"bytes\":%" PRIu64
             ",\"decoded_bytes\":%" PRIu64 ",\"lines\":%" PRIu64
             ",\"dedup_lines\":%" PRIu64 ",\"dups\":%" PRIu64
             ",\"done_at\":%.6f}\n",
             sink_st.requests, sink_st.accepted, sink_st.rejected,
             sink_st.bytes, sink_st.decoded_bytes, sink_st.lines,
             sink_st.dedup_lines, sink_st.dups, sink_st.done_at);
    return sink_reply(c, MHD_HTTP_OK, text);
}

/* The whole body of a POST is in r: count it and answer. */
static enum MHD_Result
sink_post(struct MHD_Connection *c, struct sink_req *r)
{
    const char *enc, *key;
    const char *data = r->body;
    long len = (long) r->len;
    uint64_t n;
    char *k;

    sink_st.requests++;
    sink_st.bytes += r->len;
    enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                      MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (enc != NULL && strcmp(enc, "gzip") == 0) {
        if ((len = sink_gunzip(r->body, r->len)) < 0) {
            sink_st.rejected++;
            return sink_reply(c, MHD_HTTP_BAD_REQUEST,
                              "{\"error\":\"bad gzip\"}\n");
        }
        data = sink_out;
    }
    sink_st.decoded_bytes += (uint64_t) len;
    n = sink_count_lines(data, (size_t) len);
    sink_st.accepted++;
    sink_st.lines += n;
    key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    if (key != NULL && tfind(key, &sink_keys, sink_keycmp) != NULL) {
        sink_st.dups++;
    } else {
        sink_st.dedup_lines += n;
        if (sink_st.expect > 0 && sink_st.done_at == 0 &&
            sink_st.dedup_lines >= sink_st.expect) {
            struct timespec ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            sink_st.done_at = (double) ts.tv_sec + ts.tv_nsec / 1e9;
        }
        if (key != NULL) {
            if ((k = strdup(key)) == NULL ||
                tsearch(k, &sink_keys, sink_keycmp) == NULL) {
                fprintf(stderr, "http-sink: out of memory\n");
                exit(1);
            }
        }
    }
    return sink_reply(c, MHD_HTTP_OK, "{}\n");
}

static enum MHD_Result
sink_access(void *cls, struct MHD_Connection *c, const char *url,
            const char *method, const char *version, const char *upload,
            size_t *upload_size, void **req_cls)
{
    struct sink_req *r = *req_cls;

    (void) cls;
    (void) version;
    if (strcmp(method, "GET") == 0) {
        if (strcmp(url, "/_stats") == 0) {
            return sink_stats_reply(c);
        }
        return sink_reply(c, MHD_HTTP_NOT_FOUND, "{}\n");
    }
    if (strcmp(method, "POST") != 0) {
        return sink_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "{}\n");
    }
    if (r == NULL) {
        *req_cls = r = sink_xrealloc(NULL, sizeof(*r));
        memset(r, 0, sizeof(*r));
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (r->len + *upload_size > r->cap) {
            r->cap = 2 * r->cap > r->len + *upload_size ? 2 * r->cap
                                                        : r->len + *upload_size;
            r->body = sink_xrealloc(r->body, r->cap);
        }
        memcpy(r->body + r->len, upload, *upload_size);
        r->len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    return sink_post(c, r);
}

static void
sink_completed(void *cls, struct MHD_Connection *c, void **req_cls,
               enum MHD_RequestTerminationCode toe)
{
    struct sink_req *r = *req_cls;

    (void) cls;
    (void) c;
    (void) toe;
    if (r != NULL) {
        free(r->body);
        free(r);
        *req_cls = NULL;
    }
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"port-file", required_argument, NULL, 'f'},
        {"expect", required_argument, NULL, 'e'},
        {NULL, 0, NULL, 0},
    };
    const char *port_file = NULL;
    const union MHD_DaemonInfo *info;
    struct sockaddr_in sa;
    struct MHD_Daemon *d;
    sigset_t set;
    long port = 0;
    int c, sig;
    FILE *f;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            port = strtol(optarg, NULL, 10);
            break;
        case 'f':
            port_file = optarg;
            break;
        case 'e':
            sink_st.expect = strtoull(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: http-sink [--port N] [--port-file FILE] "
                            "[--expect N]\n");
            return 2;
        }
    }
    if (port < 0 || port > 65535) {
        fprintf(stderr, "http-sink: bad port %ld\n", port);
        return 2;
    }
    if ((sink_dec = libdeflate_alloc_decompressor()) == NULL) {
        fprintf(stderr, "http-sink: out of memory\n");
        return 1;
    }
    /* The daemon's thread inherits the mask: only sigwait sees these. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0,
                         NULL, NULL, sink_access, NULL, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *) &sa, MHD_OPTION_NOTIFY_COMPLETED,
                         sink_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
                         0u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "http-sink: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (port_file != NULL) {
        /* Written whole, then renamed: a reader never sees half a port. */
        char tmp[4096];

        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        if ((f = fopen(tmp, "w")) == NULL ||
            fprintf(f, "%u\n", (unsigned) info->port) < 0 || fclose(f) != 0 ||
            rename(tmp, port_file) != 0) {
            fprintf(stderr, "http-sink: %s: %s\n", port_file, strerror(errno));
            MHD_stop_daemon(d);
            return 1;
        }
    }
    do {
        if (sigwait(&set, &sig) != 0) {
            sig = 0;
        }
    } while (sig != SIGTERM && sig != SIGINT);
    MHD_stop_daemon(d);
    libdeflate_free_decompressor(sink_dec);
    free(sink_out);
    fprintf(stderr,
            "http-sink: %" PRIu64 " requests, %" PRIu64 " lines, %" PRIu64
            " duplicates\n",
            sink_st.requests, sink_st.lines, sink_st.dups);
    return 0;
}
