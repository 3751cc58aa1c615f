/*
 * A work queue with its own threads, for CPU-bound work that must not wait
 * behind (or hold up) the libuv thread pool, which the buffer and the
 * outputs use for disk I/O.
 *
 * Items run in submission order on any of the threads (so they may finish
 * out of order); each item's done callback runs on the loop thread.  The
 * queue owns no item: the caller embeds struct as_work in its own object,
 * which must live until done ran.
 */
#ifndef AS_WORKQ_H
#define AS_WORKQ_H

#include <uv.h>

struct as_work {
    void (*work)(struct as_work *w); /* on a worker thread */
    void (*done)(struct as_work *w); /* on the loop thread */
    struct as_work *next;
};

struct as_workq;

/* nthreads 0 = one per available CPU, at most 4. */
struct as_workq *as_workq_new(uv_loop_t *loop, unsigned nthreads);
void as_workq_submit(struct as_workq *q, struct as_work *w);
/*
 * Joins the threads once the queue is empty (call when nothing more is
 * submitted and every done ran), then closes the loop handle; closed runs
 * on the loop thread and q is freed after it.
 */
void as_workq_close(struct as_workq *q, void (*closed)(void *arg), void *arg);

#endif
