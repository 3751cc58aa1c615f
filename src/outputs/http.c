/*
 * The `http` output: POSTs batches to a collector (DESIGN section 4).
 *
 * One send is one request (struct http_req, reused from a free list): the
 * Idempotency-Key is derived from the batch (batch.c), the body is the
 * batch itself (ndjson, no compression: no copy) or is encoded and/or
 * gzipped on the libuv thread pool, then handed to libcurl's multi handle,
 * which runs inside the loop (curl_uv.c) and keeps connections alive.  The
 * response is classified (as_http_classify, with response_actions) into
 * the core's results: 0, AS_ERR_RETRY (with the Retry-After hint),
 * AS_ERR_TOOBIG (413: the core splits the batch) or AS_ERR_REJECT (the
 * core dead-letters it with the status and the start of the body).  The
 * core bounds the requests in flight by `concurrency` and does retries,
 * backoff, splitting and cursor commits (pipeline.c, output runners).
 *
 * Timeouts: connect_timeout (default 10 s) bounds TCP and TLS set-up,
 * request_timeout (default 30 s) the whole request; a request past either
 * is retried.  TLS verification is on unless tls.verify is false; a
 * failed verification sends nothing (it is retried, so fixing the CA or
 * the certificate resumes shipping) and is logged once per two minutes.
 * Proxies: curl's http_proxy / https_proxy / no_proxy environment
 * variables apply (no proxy option is set here).  Credentials go to curl
 * only (CURLOPT_XOAUTH2_BEARER, CURLOPT_USERNAME/PASSWORD) and are never
 * logged; log lines name the collector as scheme://host:port only.
 *
 * Owns: the curl_uv context, the requests (easy handles, header lists,
 * gzip states, body buffers) and the deferral timer that reports sends
 * that could not start (done must never run inside send).  stop aborts
 * the transfers in flight (done with AS_ERR_RETRY), waits for compression
 * work on the thread pool to return, then closes the handles.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/log.h"
#include "core/mem.h"
#include "outputs/batch.h"
#include "outputs/curl_uv.h"
#include "outputs/http.h"

/* Bytes of a response body kept for dead-letter reasons (the rest is
 * read and discarded). */
#define HTTP_RESP_KEEP 512

struct http_ctx;

struct http_req {
    struct http_ctx *c;
    struct http_req *next;     /* free list, or the deferred list */
    struct http_req *all_next; /* every request, for stop and destroy */
    CURL *easy;
    struct curl_slist *hdrs;
    const struct as_batch *b;
    as_send_cb *done;
    uv_work_t work;
    struct as_gzip gz;
    struct as_buf enc;  /* json_array form */
    struct as_buf body; /* gzip member */
    const char *post;
    size_t post_len;
    int work_status;
    int deferred_status;
    bool active;  /* between send and done */
    bool in_curl; /* added to the multi handle */
    bool in_work; /* on the thread pool */
    char key[AS_IDEM_KEY_LEN + 1];
    char errbuf[CURL_ERROR_SIZE];
    char resp[HTTP_RESP_KEEP];
    size_t resp_len;
    char retry_after[64];
};

struct http_ctx {
    const struct as_conf_output_http *conf;
    struct as_output *o;
    struct as_curl_uv *cu;
    struct http_req *free_reqs;
    struct http_req *all;
    struct http_req *deferred, **deferred_tail;
    size_t active;
    struct as_http_actions actions;
    char *where; /* scheme://host:port, for logs */
    const char *content_type;
    bool user_content_type;
    uv_timer_t defer;
    bool defer_init;
    bool started;
    bool stopping;
    bool closing;
    int closes;
    as_done_cb *stop_done;
    struct as_ratelimit rl_tls;
};

static const char *const http_reserved_headers[] = {
    "Content-Length",
    "Content-Encoding",
    "Transfer-Encoding",
    "Idempotency-Key",
    "Host",
    "Expect",
    NULL,
};

/* ---- pure parts ---- */

int
as_http_actions_parse(const struct as_kvlist *kv, struct as_http_actions *a,
                      const struct as_kv **bad)
{
    memset(a->cls, -1, sizeof(a->cls));
    for (size_t i = 0; kv != NULL && i < kv->n; i++) {
        const struct as_kv *e = &kv->v[i];
        char *end = NULL;
        long st = strtol(e->key, &end, 10);
        int cls;

        if (end == e->key || *end != '\0' || st < 100 || st > 599) {
            goto fail;
        }
        if (strcmp(e->val, "ack") == 0) {
            cls = AS_HTTP_ACK;
        } else if (strcmp(e->val, "retry") == 0) {
            cls = AS_HTTP_RETRY;
        } else if (strcmp(e->val, "reject") == 0 ||
                   strcmp(e->val, "deadletter") == 0) {
            cls = AS_HTTP_REJECT;
        } else {
            goto fail;
        }
        a->cls[st] = (signed char) cls;
        continue;
    fail:
        if (bad != NULL) {
            *bad = e;
        }
        return AS_ERR_CONFIG;
    }
    return 0;
}

enum as_http_class
as_http_classify(long status, const struct as_http_actions *a)
{
    if (a != NULL && status >= 0 && status < (long) sizeof(a->cls) &&
        a->cls[status] >= 0) {
        return (enum as_http_class) a->cls[status];
    }
    if (status >= 200 && status <= 299) {
        return AS_HTTP_ACK;
    }
    if (status == 413) {
        return AS_HTTP_SPLIT;
    }
    if (status == 408 || status == 425 || status == 429) {
        return AS_HTTP_RETRY;
    }
    if (status >= 400 && status <= 499) {
        return AS_HTTP_REJECT;
    }
    return AS_HTTP_RETRY;
}

int
as_http_retry_after(const char *value, time_t now, uint64_t *ms)
{
    char buf[64];
    size_t n;
    time_t when;

    while (*value == ' ' || *value == '\t') {
        value++;
    }
    n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t' ||
                     value[n - 1] == '\r' || value[n - 1] == '\n')) {
        n--;
    }
    if (n == 0 || n >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, value, n);
    buf[n] = '\0';
    if (strspn(buf, "0123456789") == n) {
        uint64_t secs = 0;

        for (size_t i = 0; i < n; i++) {
            secs = secs * 10 + (uint64_t) (buf[i] - '0');
            if (secs > AS_RETRY_AFTER_MAX_MS / 1000) {
                secs = AS_RETRY_AFTER_MAX_MS / 1000;
                break;
            }
        }
        *ms = secs * 1000;
        return 0;
    }
    /* An HTTP-date names its weekday first: "Sun, 06 Nov 1994 ...",
     * "Sunday, 06-Nov-94 ...", "Sun Nov  6 08:49:37 1994". */
    if (!isalpha((unsigned char) buf[0]) ||
        (when = curl_getdate(buf, NULL)) == -1) {
        return -1;
    }
    if (when <= now) {
        *ms = 0;
    } else if ((uint64_t) (when - now) > AS_RETRY_AFTER_MAX_MS / 1000) {
        *ms = AS_RETRY_AFTER_MAX_MS;
    } else {
        *ms = (uint64_t) (when - now) * 1000;
    }
    return 0;
}

void
as_http_excerpt(const char *body, size_t len, char *out, size_t cap)
{
    size_t n = 0;

    if (cap == 0) {
        return;
    }
    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        unsigned char ch = (unsigned char) body[i];

        if (ch == '\r' || ch == '\n' || ch == '\t') {
            ch = ' ';
        } else if (ch < 0x20 || ch > 0x7e) {
            ch = '?';
        }
        out[n++] = (char) ch;
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
}

/* ---- init: cross-key checks ---- */

static bool
http_token(const char *s)
{
    /* RFC 9110 token characters. */
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char) *s) &&
            strchr("!#$%&'*+-.^_`|~", *s) == NULL) {
            return false;
        }
    }
    return true;
}

static bool
http_header_value_ok(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\r' || *s == '\n') {
            return false;
        }
    }
    return true;
}

/* scheme://host[:port] of url into *where (for logs), or an error. */
static int
http_url_parts(const char *url, char **where, const char **why)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = AS_ERR_CONFIG;

    *why = "is not a valid URL";
    if (u == NULL ||
        curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
            CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        goto out;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        *why = "must start with http:// or https://";
        goto out;
    }
    if (host[0] == '\0') {
        goto out;
    }
    (void) curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (where != NULL) {
        as_asprintf(where, "%s://%s:%s", scheme, host,
                    port != NULL ? port : "?");
    }
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static int
http_init(struct as_output *o, const struct as_conf_stage *cs,
          struct as_conf_errors *errs)
{
    const struct as_conf_output_http *conf = o->conf;
    struct http_ctx *c = o->ctx;
    const struct as_kv *bad = NULL;
    int line = cs != NULL ? cs->line : 0, col = cs != NULL ? cs->col : 0;
    const char *why = NULL;
    int rc = 0;
    const struct {
        const char *key, *path;
    } files[] = {
        {"tls.ca_file", conf->tls.ca_file},
        {"tls.cert_file", conf->tls.cert_file},
        {"tls.key_file", conf->tls.key_file},
    };

#define HTTP_ERR(l, cl, ...)                                                   \
    do {                                                                       \
        as_conf_errors_add(errs, NULL, (l), (cl), __VA_ARGS__);                \
        rc = AS_ERR_CONFIG;                                                    \
    } while (0)

    c->conf = conf;
    c->o = o;
    if (conf->url == NULL || http_url_parts(conf->url, NULL, &why) != 0) {
        HTTP_ERR(line, col, "output '%s': url %s", o->id,
                 why != NULL ? why : "must not be empty");
    }
    if (conf->compression_level < 1 || conf->compression_level > 9) {
        HTTP_ERR(line, col,
                 "output '%s': compression_level must be 1 to 9, not %lld",
                 o->id, (long long) conf->compression_level);
    }
    if (conf->concurrency < 1 || conf->concurrency > 64) {
        HTTP_ERR(line, col,
                 "output '%s': concurrency must be 1 to 64, not %lld", o->id,
                 (long long) conf->concurrency);
    }
    if (conf->batch.max_events < 1) {
        HTTP_ERR(line, col, "output '%s': batch.max_events must be >= 1",
                 o->id);
    }
    if (conf->request_timeout_ms == 0 || conf->connect_timeout_ms == 0) {
        HTTP_ERR(line, col,
                 "output '%s': connect_timeout and request_timeout must "
                 "not be 0",
                 o->id);
    }
    if (conf->auth.bearer_token[0] != '\0' &&
        (conf->auth.basic_user[0] != '\0' ||
         conf->auth.basic_password[0] != '\0')) {
        HTTP_ERR(line, col,
                 "output '%s': set auth.bearer_token or auth.basic_*, not "
                 "both",
                 o->id);
    }
    if (conf->auth.basic_password[0] != '\0' &&
        conf->auth.basic_user[0] == '\0') {
        HTTP_ERR(line, col,
                 "output '%s': auth.basic_password needs auth.basic_user",
                 o->id);
    }
    if (conf->tls.key_file[0] != '\0' && conf->tls.cert_file[0] == '\0') {
        HTTP_ERR(line, col, "output '%s': tls.key_file needs tls.cert_file",
                 o->id);
    }
    for (size_t i = 0; i < AS_ARRAY_SIZE(files); i++) {
        if (files[i].path[0] != '\0' && access(files[i].path, R_OK) != 0) {
            HTTP_ERR(line, col, "output '%s': %s: %s: %s", o->id, files[i].key,
                     files[i].path, strerror(errno));
        }
    }
    c->content_type = conf->format == AS_ENC_JSON_ARRAY
                          ? "application/json"
                          : "application/x-ndjson";
    for (size_t i = 0; i < conf->headers.n; i++) {
        const struct as_kv *h = &conf->headers.v[i];

        if (!http_token(h->key) || !http_header_value_ok(h->val)) {
            HTTP_ERR(h->line, h->col,
                     "output '%s': invalid header '%s' (a token name and a "
                     "one-line value)",
                     o->id, h->key);
            continue;
        }
        for (size_t k = 0; http_reserved_headers[k] != NULL; k++) {
            if (strcasecmp(h->key, http_reserved_headers[k]) == 0) {
                HTTP_ERR(h->line, h->col,
                         "output '%s': header '%s' is set by the agent", o->id,
                         h->key);
            }
        }
        if (strcasecmp(h->key, "Content-Type") == 0) {
            c->user_content_type = true;
        }
    }
    if (as_http_actions_parse(&conf->response_actions, &c->actions, &bad) !=
        0) {
        HTTP_ERR(bad->line, bad->col,
                 "output '%s': invalid response_actions entry %s: %s", o->id,
                 bad->key, bad->val);
    }
#undef HTTP_ERR
    return rc;
}

/* ---- requests ---- */

static void http_finish(struct http_req *r, int status);
static void http_maybe_closed(struct http_ctx *c);

static size_t
http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct http_req *r = userdata;
    size_t n = size * nmemb;
    size_t room = sizeof(r->resp) - r->resp_len;

    memcpy(r->resp + r->resp_len, ptr, n < room ? n : room);
    r->resp_len += n < room ? n : room;
    return n;
}

static size_t
http_header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct http_req *r = userdata;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";

    if (n > 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue): forget the last one's. */
        r->retry_after[0] = '\0';
        r->resp_len = 0;
    } else if (n > sizeof(name) - 1 &&
               strncasecmp(buf, name, sizeof(name) - 1) == 0) {
        size_t vlen = n - (sizeof(name) - 1);

        if (vlen >= sizeof(r->retry_after)) {
            vlen = sizeof(r->retry_after) - 1;
        }
        memcpy(r->retry_after, buf + sizeof(name) - 1, vlen);
        r->retry_after[vlen] = '\0';
    }
    return n;
}

/* An easy handle with every option that does not change per request. */
static CURL *
http_easy_new(struct http_ctx *c, struct http_req *r)
{
    const struct as_conf_output_http *conf = c->conf;
    CURL *e = curl_easy_init();

    if (e == NULL) {
        as_fatalx("curl_easy_init failed");
    }
    curl_easy_setopt(e, CURLOPT_URL, conf->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "auditship/" PACKAGE_VERSION);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) conf->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) conf->request_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, conf->tls.verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, conf->tls.verify ? 2L : 0L);
    if (conf->tls.ca_file[0] != '\0') {
        curl_easy_setopt(e, CURLOPT_CAINFO, conf->tls.ca_file);
    }
    if (conf->tls.cert_file[0] != '\0') {
        curl_easy_setopt(e, CURLOPT_SSLCERT, conf->tls.cert_file);
    }
    if (conf->tls.key_file[0] != '\0') {
        curl_easy_setopt(e, CURLOPT_SSLKEY, conf->tls.key_file);
    }
    if (conf->auth.bearer_token[0] != '\0') {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
        curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, conf->auth.bearer_token);
    } else if (conf->auth.basic_user[0] != '\0') {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, conf->auth.basic_user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, conf->auth.basic_password);
    }
    return e;
}

static struct http_req *
http_req_get(struct http_ctx *c)
{
    struct http_req *r = c->free_reqs;

    if (r != NULL) {
        c->free_reqs = r->next;
        r->next = NULL;
        return r;
    }
    r = as_calloc(1, sizeof(*r));
    r->c = c;
    r->work.data = r;
    r->easy = http_easy_new(c, r);
    r->all_next = c->all;
    c->all = r;
    return r;
}

static void
http_defer_cb(uv_timer_t *t)
{
    struct http_ctx *c = t->data;
    struct http_req *r;

    while ((r = c->deferred) != NULL) {
        c->deferred = r->next;
        if (c->deferred == NULL) {
            c->deferred_tail = &c->deferred;
        }
        r->next = NULL;
        http_finish(r, r->deferred_status);
    }
}

/* Reports a send that could not start, from the loop, not from send. */
static void
http_defer(struct http_req *r, int status, const char *why)
{
    struct http_ctx *c = r->c;

    snprintf(r->errbuf, sizeof(r->errbuf), "%s", why);
    r->deferred_status = status;
    r->next = NULL;
    *c->deferred_tail = r;
    c->deferred_tail = &r->next;
    uv_timer_start(&c->defer, http_defer_cb, 0, 0);
}

static void
http_start_transfer(struct http_req *r)
{
    struct http_ctx *c = r->c;
    const struct as_conf_output_http *conf = c->conf;
    char line[128];

    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
    for (size_t i = 0; i < conf->headers.n; i++) {
        char *h = NULL;

        as_asprintf(&h, "%s: %s", conf->headers.v[i].key,
                    conf->headers.v[i].val);
        r->hdrs = curl_slist_append(r->hdrs, h);
        as_freezero(h, strlen(h));
    }
    if (!c->user_content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", c->content_type);
        r->hdrs = curl_slist_append(r->hdrs, line);
    }
    if (conf->compression == AS_COMPRESS_GZIP) {
        r->hdrs = curl_slist_append(r->hdrs, "Content-Encoding: gzip");
    }
    snprintf(line, sizeof(line), "Idempotency-Key: %s", r->key);
    r->hdrs = curl_slist_append(r->hdrs, line);
    /* No 100-continue round trip before large bodies. */
    r->hdrs = curl_slist_append(r->hdrs, "Expect:");
    if (r->hdrs == NULL) {
        as_fatalx("curl_slist_append: out of memory");
    }
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t) r->post_len);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->post);
    r->errbuf[0] = '\0';
    r->resp_len = 0;
    r->retry_after[0] = '\0';
    if (as_curl_uv_add(c->cu, r->easy) != 0) {
        http_defer(r, AS_ERR_RETRY, "cannot start the request");
        return;
    }
    r->in_curl = true;
}

/* Thread pool: encode and/or compress the body. */
static void
http_work_cb(uv_work_t *w)
{
    struct http_req *r = w->data;
    const struct as_conf_output_http *conf = r->c->conf;
    const char *src = r->b->data;
    size_t len = r->b->len;

    r->work_status = 0;
    if (conf->format == AS_ENC_JSON_ARRAY) {
        as_buf_reset(&r->enc);
        as_batch_json_array(r->b, &r->enc);
        src = r->enc.data;
        len = r->enc.len;
    }
    if (conf->compression == AS_COMPRESS_GZIP) {
        if (!as_gzip_ready(&r->gz) &&
            as_gzip_init(&r->gz, (int) conf->compression_level) != 0) {
            r->work_status = AS_ERR_INTERNAL;
            return;
        }
        r->work_status = as_gzip_compress(&r->gz, src, len, &r->body);
        src = r->body.data;
        len = r->body.len;
    }
    r->post = src;
    r->post_len = len;
}

static void
http_after_work_cb(uv_work_t *w, int status)
{
    struct http_req *r = w->data;

    r->in_work = false;
    if (status != 0 || r->c->stopping) {
        snprintf(r->errbuf, sizeof(r->errbuf), "stopped");
        http_finish(r, AS_ERR_RETRY);
        return;
    }
    if (r->work_status != 0) {
        snprintf(r->errbuf, sizeof(r->errbuf), "gzip failed");
        http_finish(r, AS_ERR_RETRY);
        return;
    }
    http_start_transfer(r);
}

static void
http_send(struct as_output *o, const struct as_batch *b, as_send_cb *done)
{
    struct http_ctx *c = o->ctx;
    const struct as_conf_output_http *conf = c->conf;
    struct http_req *r = http_req_get(c);
    int rc;

    r->b = b;
    r->done = done;
    r->active = true;
    c->active++;
    as_batch_idem_key(b, r->key);
    if (c->stopping) {
        http_defer(r, AS_ERR_RETRY, "stopped");
        return;
    }
    if (conf->format == AS_ENC_NDJSON &&
        conf->compression == AS_COMPRESS_NONE) {
        r->post = b->data;
        r->post_len = b->len;
        http_start_transfer(r);
        return;
    }
    r->in_work = true;
    if ((rc = uv_queue_work(o->loop, &r->work, http_work_cb,
                            http_after_work_cb)) != 0) {
        r->in_work = false;
        http_defer(r, AS_ERR_RETRY, "cannot queue compression");
    }
}

/* Hands the result of r to the core and recycles r. */
static void
http_finish(struct http_req *r, int status)
{
    struct http_ctx *c = r->c;
    struct as_output *o = c->o;
    const struct as_batch *b = r->b;
    as_send_cb *done = r->done;

    if (status != 0 && o->reason[0] == '\0') {
        as_http_excerpt(r->errbuf, strlen(r->errbuf), o->reason,
                        sizeof(o->reason));
    }
    r->active = false;
    r->in_curl = false;
    r->b = NULL;
    r->done = NULL;
    r->next = c->free_reqs;
    c->free_reqs = r;
    c->active--;
    done(o, b, status);
    http_maybe_closed(c);
}

static bool
http_tls_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
        return true;
    default:
        return false;
    }
}

/* curl_uv: a transfer ended. */
static void
http_transfer_done(CURL *easy, CURLcode result, void *priv)
{
    struct http_req *r = priv;
    struct http_ctx *c = r->c;
    struct as_output *o = c->o;
    long code = 0;
    uint64_t ms = 0;
    int status;

    (void) easy;
    r->in_curl = false;
    if (result != CURLE_OK) {
        char msg[CURL_ERROR_SIZE - 8];

        snprintf(msg, sizeof(msg), "%.*s", (int) sizeof(msg) - 1,
                 r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(result));
        if (http_tls_error(result)) {
            snprintf(r->errbuf, sizeof(r->errbuf), "TLS: %s", msg);
            if (as_ratelimit_ok(&c->rl_tls, 120000)) {
                char why[AS_OUTPUT_REASON_MAX];

                as_http_excerpt(msg, strlen(msg), why, sizeof(why));
                as_slog_error(o->prefix,
                              "TLS with %s failed: %s; nothing is sent until "
                              "it succeeds (check tls.ca_file, tls.cert_file "
                              "and the server's certificate)",
                              c->where, why);
            }
        } else {
            snprintf(r->errbuf, sizeof(r->errbuf), "%s", msg);
        }
        http_finish(r, AS_ERR_RETRY);
        return;
    }
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    switch (as_http_classify(code, &c->actions)) {
    case AS_HTTP_ACK:
        status = 0;
        break;
    case AS_HTTP_SPLIT:
        status = AS_ERR_TOOBIG;
        break;
    case AS_HTTP_REJECT:
        status = AS_ERR_REJECT;
        break;
    case AS_HTTP_RETRY:
    default:
        status = AS_ERR_RETRY;
        if (r->retry_after[0] != '\0' &&
            as_http_retry_after(r->retry_after, time(NULL), &ms) == 0) {
            o->retry_after_ms = ms > 0 ? ms : 1;
        }
        break;
    }
    if (status != 0) {
        snprintf(o->reason, sizeof(o->reason), "HTTP %ld%s", code,
                 code >= 300 && code <= 399
                     ? " (redirects are not followed: check url)"
                     : "");
        if (status != AS_ERR_RETRY) {
            as_http_excerpt(r->resp, r->resp_len, o->detail, sizeof(o->detail));
        }
    }
    http_finish(r, status);
}

/* ---- lifecycle ---- */

static int
http_start(struct as_output *o)
{
    struct http_ctx *c = o->ctx;
    const struct as_conf_output_http *conf = c->conf;
    const char *why = NULL;
    char level[32];
    int rc;

    if ((rc = http_url_parts(conf->url, &c->where, &why)) != 0) {
        as_slog_error(o->prefix, "url %s", why);
        return rc;
    }
    if ((rc = as_curl_uv_new(o->loop, http_transfer_done, &c->cu)) != 0) {
        as_slog_error(o->prefix, "cannot create a curl multi handle");
        return rc;
    }
    /* Keep-alive: the multi handle caches connections; allow one per
     * request in flight (HTTP/2 multiplexes them on one). */
    curl_multi_setopt(as_curl_uv_multi(c->cu), CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long) conf->concurrency);
    curl_multi_setopt(as_curl_uv_multi(c->cu), CURLMOPT_MAXCONNECTS,
                      (long) conf->concurrency + 1);
    uv_timer_init(o->loop, &c->defer);
    c->defer.data = c;
    c->defer_init = true;
    c->deferred = NULL;
    c->deferred_tail = &c->deferred;
    c->started = true;
    if (conf->compression == AS_COMPRESS_GZIP) {
        snprintf(level, sizeof(level), "gzip level %d",
                 (int) conf->compression_level);
    } else {
        snprintf(level, sizeof(level), "uncompressed");
    }
    as_slog_info(
        o->prefix, "sending to %s (%s, %s, concurrency %lld, tls verify %s)",
        c->where, conf->format == AS_ENC_JSON_ARRAY ? "json_array" : "ndjson",
        level, (long long) conf->concurrency, conf->tls.verify ? "on" : "off");
    return 0;
}

static void
http_handle_closed(struct http_ctx *c)
{
    as_done_cb *done = c->stop_done;

    if (--c->closes > 0) {
        return;
    }
    c->stop_done = NULL;
    c->closing = false;
    c->started = false;
    if (done != NULL) {
        done(c->o, 0);
    }
}

static void
http_cu_closed_cb(void *arg)
{
    struct http_ctx *c = arg;

    c->cu = NULL;
    http_handle_closed(c);
}

static void
http_defer_closed_cb(uv_handle_t *h)
{
    struct http_ctx *c = h->data;

    c->defer_init = false;
    http_handle_closed(c);
}

/* Once stopping and nothing is in flight: close the handles. */
static void
http_maybe_closed(struct http_ctx *c)
{
    if (!c->stopping || c->closing || c->active > 0 || !c->started) {
        return;
    }
    c->closing = true;
    c->closes = 2;
    as_curl_uv_close(c->cu, http_cu_closed_cb, c);
    uv_close((uv_handle_t *) &c->defer, http_defer_closed_cb);
}

static void
http_stop(struct as_output *o, as_done_cb *done)
{
    struct http_ctx *c = o->ctx;

    if (!c->started) {
        done(o, 0);
        return;
    }
    c->stopping = true;
    c->stop_done = done;
    /* Abort the transfers in flight; compression work finishes by itself
     * (http_after_work_cb) and deferred results by their timer. */
    for (struct http_req *r = c->all; r != NULL; r = r->all_next) {
        if (r->active && r->in_curl) {
            as_curl_uv_remove(c->cu, r->easy);
            r->in_curl = false;
            snprintf(r->errbuf, sizeof(r->errbuf), "stopped");
            http_finish(r, AS_ERR_RETRY);
        }
    }
    http_maybe_closed(c);
}

static void
http_destroy(struct as_output *o)
{
    struct http_ctx *c = o->ctx;
    struct http_req *r;

    while ((r = c->all) != NULL) {
        c->all = r->all_next;
        if (r->easy != NULL) {
            curl_easy_cleanup(r->easy);
        }
        curl_slist_free_all(r->hdrs);
        as_gzip_close(&r->gz);
        as_buf_free(&r->enc);
        as_buf_free(&r->body);
        free(r);
    }
    c->free_reqs = NULL;
    free(c->where);
    c->where = NULL;
}

const struct as_output_ops as_output_http_ops = {
    sizeof(struct http_ctx),
    http_init,
    http_start,
    http_send,
    http_stop,
    http_destroy,
    NULL,
};
