/*
 * libcurl's multi-socket API driven by the libuv loop: one uv_poll_t per
 * socket curl asks to watch (CURLMOPT_SOCKETFUNCTION) and one uv_timer_t
 * for curl's timeout (CURLMOPT_TIMERFUNCTION).  Transfers, DNS (curl's
 * threaded resolver) and TLS all progress from loop callbacks; nothing
 * here blocks.  The multi handle keeps its connection cache, so
 * consecutive requests to one collector reuse a kept-alive connection.
 */
#ifndef AS_CURL_UV_H
#define AS_CURL_UV_H

#include <curl/curl.h>
#include <uv.h>

struct as_curl_uv;

/*
 * A transfer ended: easy (already removed from the multi handle) with
 * curl's result; priv is its CURLOPT_PRIVATE.  Runs on the loop thread,
 * outside any curl callback, so it may add and remove handles.
 */
typedef void as_curl_done_fn(CURL *easy, CURLcode result, void *priv);

/* Creates the multi handle.  Returns 0 or AS_ERR_INTERNAL. */
int as_curl_uv_new(uv_loop_t *loop, as_curl_done_fn *done,
                   struct as_curl_uv **out);
CURLM *as_curl_uv_multi(struct as_curl_uv *cu);
/* Starts a transfer.  Returns 0 or AS_ERR_INTERNAL (not added). */
int as_curl_uv_add(struct as_curl_uv *cu, CURL *easy);
/* Aborts a transfer that has not ended; done is not called for it. */
void as_curl_uv_remove(struct as_curl_uv *cu, CURL *easy);
/*
 * Every transfer must have ended or been removed.  Closes the cached
 * connections and the uv handles, frees cu, then calls closed(arg).
 */
void as_curl_uv_close(struct as_curl_uv *cu, void (*closed)(void *arg),
                      void *arg);

#endif
