/*
 * libcurl multi-socket inside the libuv loop (see curl_uv.h).
 *
 * Owns: the multi handle, its timer, and one struct curl_uv_sock per
 * socket curl watches (linked in `socks`, assigned to the socket with
 * curl_multi_assign).  A socket's poll handle is closed when curl says
 * CURL_POLL_REMOVE (before it closes the fd) and freed in its close
 * callback; cu itself is freed after the last close callback.
 *
 * curl forbids calling curl_multi_socket_action from inside its own
 * callbacks: the timer callback only (re)arms the uv timer, and a timeout
 * of 0 fires on the next loop iteration.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/log.h"
#include "core/mem.h"
#include "outputs/curl_uv.h"

struct curl_uv_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct as_curl_uv *cu;
    struct curl_uv_sock *prev, *next;
};

struct as_curl_uv {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    as_curl_done_fn *done;
    struct curl_uv_sock *socks;
    int closes; /* pending close callbacks */
    bool closing;
    void (*closed)(void *arg);
    void *closed_arg;
};

static void
curl_uv_maybe_freed(struct as_curl_uv *cu)
{
    void (*closed)(void *) = cu->closed;
    void *arg = cu->closed_arg;

    if (!cu->closing || cu->closes > 0 || cu->multi != NULL) {
        return;
    }
    free(cu);
    if (closed != NULL) {
        closed(arg);
    }
}

static void
curl_uv_sock_closed_cb(uv_handle_t *h)
{
    struct curl_uv_sock *sk = h->data;
    struct as_curl_uv *cu = sk->cu;

    free(sk);
    cu->closes--;
    curl_uv_maybe_freed(cu);
}

static void
curl_uv_sock_close(struct curl_uv_sock *sk)
{
    struct as_curl_uv *cu = sk->cu;

    if (sk->prev != NULL) {
        sk->prev->next = sk->next;
    } else {
        cu->socks = sk->next;
    }
    if (sk->next != NULL) {
        sk->next->prev = sk->prev;
    }
    uv_poll_stop(&sk->poll);
    cu->closes++;
    uv_close((uv_handle_t *) &sk->poll, curl_uv_sock_closed_cb);
}

/* Hands every finished transfer to done. */
static void
curl_uv_check_done(struct as_curl_uv *cu)
{
    CURLMsg *msg;
    int left;

    while (cu->multi != NULL &&
           (msg = curl_multi_info_read(cu->multi, &left)) != NULL) {
        CURL *easy;
        CURLcode result;
        void *priv = NULL;

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        easy = msg->easy_handle;
        result = msg->data.result;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &priv);
        curl_multi_remove_handle(cu->multi, easy);
        cu->done(easy, result, priv);
    }
}

static void
curl_uv_poll_cb(uv_poll_t *h, int status, int events)
{
    struct curl_uv_sock *sk = h->data;
    struct as_curl_uv *cu = sk->cu;
    int flags = 0, running = 0;

    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE) {
            flags |= CURL_CSELECT_IN;
        }
        if (events & UV_WRITABLE) {
            flags |= CURL_CSELECT_OUT;
        }
    }
    curl_multi_socket_action(cu->multi, sk->fd, flags, &running);
    curl_uv_check_done(cu);
}

static void
curl_uv_timer_cb(uv_timer_t *t)
{
    struct as_curl_uv *cu = t->data;
    int running = 0;

    curl_multi_socket_action(cu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    curl_uv_check_done(cu);
}

/* CURLMOPT_TIMERFUNCTION: arm (or stop) the one timer. */
static int
curl_uv_timerfunc(CURLM *multi, long timeout_ms, void *userp)
{
    struct as_curl_uv *cu = userp;

    (void) multi;
    if (cu->closing) {
        return 0;
    }
    if (timeout_ms < 0) {
        uv_timer_stop(&cu->timer);
    } else {
        uv_timer_start(&cu->timer, curl_uv_timer_cb, (uint64_t) timeout_ms, 0);
    }
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl wants, or stop. */
static int
curl_uv_sockfunc(CURL *easy, curl_socket_t s, int what, void *userp,
                 void *socketp)
{
    struct as_curl_uv *cu = userp;
    struct curl_uv_sock *sk = socketp;
    int events = 0;

    (void) easy;
    if (what == CURL_POLL_REMOVE) {
        if (sk != NULL) {
            curl_uv_sock_close(sk);
            if (!cu->closing) {
                curl_multi_assign(cu->multi, s, NULL);
            }
        }
        return 0;
    }
    if (cu->closing) {
        return 0;
    }
    if (sk == NULL) {
        sk = as_calloc(1, sizeof(*sk));
        if (uv_poll_init_socket(cu->loop, &sk->poll, s) != 0) {
            free(sk);
            return -1; /* curl fails the transfer */
        }
        sk->fd = s;
        sk->cu = cu;
        sk->poll.data = sk;
        sk->next = cu->socks;
        if (cu->socks != NULL) {
            cu->socks->prev = sk;
        }
        cu->socks = sk;
        curl_multi_assign(cu->multi, s, sk);
    }
    if (what & CURL_POLL_IN) {
        events |= UV_READABLE;
    }
    if (what & CURL_POLL_OUT) {
        events |= UV_WRITABLE;
    }
    uv_poll_start(&sk->poll, events, curl_uv_poll_cb);
    return 0;
}

int
as_curl_uv_new(uv_loop_t *loop, as_curl_done_fn *done, struct as_curl_uv **out)
{
    struct as_curl_uv *cu = as_calloc(1, sizeof(*cu));

    cu->loop = loop;
    cu->done = done;
    if ((cu->multi = curl_multi_init()) == NULL) {
        free(cu);
        *out = NULL;
        return AS_ERR_INTERNAL;
    }
    uv_timer_init(loop, &cu->timer);
    cu->timer.data = cu;
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, curl_uv_sockfunc);
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, curl_uv_timerfunc);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
    *out = cu;
    return 0;
}

CURLM *
as_curl_uv_multi(struct as_curl_uv *cu)
{
    return cu->multi;
}

int
as_curl_uv_add(struct as_curl_uv *cu, CURL *easy)
{
    if (cu->closing || curl_multi_add_handle(cu->multi, easy) != CURLM_OK) {
        return AS_ERR_INTERNAL;
    }
    return 0;
}

void
as_curl_uv_remove(struct as_curl_uv *cu, CURL *easy)
{
    if (cu->multi != NULL) {
        curl_multi_remove_handle(cu->multi, easy);
    }
}

static void
curl_uv_timer_closed_cb(uv_handle_t *h)
{
    struct as_curl_uv *cu = h->data;

    cu->closes--;
    curl_uv_maybe_freed(cu);
}

void
as_curl_uv_close(struct as_curl_uv *cu, void (*closed)(void *arg), void *arg)
{
    cu->closing = true;
    cu->closed = closed;
    cu->closed_arg = arg;
    uv_timer_stop(&cu->timer);
    /* Closes the cached connections; curl reports their sockets removed
     * (the socket callback closes their polls). */
    curl_multi_cleanup(cu->multi);
    cu->multi = NULL;
    while (cu->socks != NULL) {
        curl_uv_sock_close(cu->socks);
    }
    cu->closes++;
    uv_close((uv_handle_t *) &cu->timer, curl_uv_timer_closed_cb);
}
