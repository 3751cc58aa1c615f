/*
 * as_workq: N threads popping a mutex-protected FIFO; finished items go to a
 * second list and one uv_async_t wakes the loop, which runs their done
 * callbacks in the order they finished.
 */
#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"
#include "mem.h"
#include "workq.h"

#define WORKQ_MAX_THREADS 4

struct as_workq {
    uv_loop_t *loop;
    uv_async_t async;
    uv_mutex_t mu;
    uv_cond_t cv;
    struct as_work *head, *tail;           /* waiting */
    struct as_work *done_head, *done_tail; /* finished */
    uv_thread_t threads[WORKQ_MAX_THREADS];
    unsigned n_threads;
    bool quit;
    void (*closed)(void *arg);
    void *closed_arg;
};

static void
workq_thread(void *arg)
{
    struct as_workq *q = arg;
    struct as_work *w;
    locale_t c_loc;

    /* Named for top -H and perf: "auditship-work" is 14 chars + NUL. */
    (void) pthread_setname_np(pthread_self(), "auditship-work");
    /* The static C locale object: json-c switches the calling thread to a
     * copy of its locale for every document it parses, and glibc copies
     * any other locale under one process-wide lock, which the workers
     * would take turns at.  Copying this one is free.  Nothing here
     * depends on a locale (the agent never calls setlocale). */
    c_loc = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
    if (c_loc != (locale_t) 0) {
        (void) uselocale(c_loc);
    }
    uv_mutex_lock(&q->mu);
    for (;;) {
        while (q->head == NULL && !q->quit) {
            uv_cond_wait(&q->cv, &q->mu);
        }
        if (q->head == NULL) {
            break;
        }
        w = q->head;
        q->head = w->next;
        if (q->head == NULL) {
            q->tail = NULL;
        }
        uv_mutex_unlock(&q->mu);
        w->work(w);
        uv_mutex_lock(&q->mu);
        w->next = NULL;
        if (q->done_tail != NULL) {
            q->done_tail->next = w;
        } else {
            q->done_head = w;
        }
        q->done_tail = w;
        uv_async_send(&q->async);
    }
    uv_mutex_unlock(&q->mu);
    if (c_loc != (locale_t) 0) {
        (void) uselocale(LC_GLOBAL_LOCALE);
        freelocale(c_loc);
    }
}

static void
workq_async_cb(uv_async_t *h)
{
    struct as_workq *q = h->data;
    struct as_work *w, *next;

    uv_mutex_lock(&q->mu);
    w = q->done_head;
    q->done_head = q->done_tail = NULL;
    uv_mutex_unlock(&q->mu);
    for (; w != NULL; w = next) {
        next = w->next;
        w->done(w);
    }
}

struct as_workq *
as_workq_new(uv_loop_t *loop, unsigned nthreads)
{
    struct as_workq *q = as_calloc(1, sizeof(*q));

    if (nthreads == 0) {
        nthreads = uv_available_parallelism();
    }
    if (nthreads < 1) {
        nthreads = 1;
    } else if (nthreads > WORKQ_MAX_THREADS) {
        nthreads = WORKQ_MAX_THREADS;
    }
    q->loop = loop;
    if (uv_mutex_init(&q->mu) != 0 || uv_cond_init(&q->cv) != 0 ||
        uv_async_init(loop, &q->async, workq_async_cb) != 0) {
        as_fatalx("workq: cannot initialize");
    }
    q->async.data = q;
    for (unsigned i = 0; i < nthreads; i++) {
        if (uv_thread_create(&q->threads[i], workq_thread, q) != 0) {
            as_fatalx("workq: cannot create a thread");
        }
        q->n_threads++;
    }
    return q;
}

void
as_workq_submit(struct as_workq *q, struct as_work *w)
{
    w->next = NULL;
    uv_mutex_lock(&q->mu);
    if (q->tail != NULL) {
        q->tail->next = w;
    } else {
        q->head = w;
    }
    q->tail = w;
    uv_cond_signal(&q->cv);
    uv_mutex_unlock(&q->mu);
}

static void
workq_closed_cb(uv_handle_t *h)
{
    struct as_workq *q = h->data;
    void (*closed)(void *) = q->closed;
    void *arg = q->closed_arg;

    uv_mutex_destroy(&q->mu);
    uv_cond_destroy(&q->cv);
    free(q);
    if (closed != NULL) {
        closed(arg);
    }
}

void
as_workq_close(struct as_workq *q, void (*closed)(void *arg), void *arg)
{
    uv_mutex_lock(&q->mu);
    q->quit = true;
    uv_cond_broadcast(&q->cv);
    uv_mutex_unlock(&q->mu);
    for (unsigned i = 0; i < q->n_threads; i++) {
        uv_thread_join(&q->threads[i]);
    }
    q->closed = closed;
    q->closed_arg = arg;
    uv_close((uv_handle_t *) &q->async, workq_closed_cb);
}
