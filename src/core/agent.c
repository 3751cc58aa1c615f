/*
 * The agent's main loop.  Owns the loop's signal and watchdog handles, the
 * current config and, during a reload, the candidate config.
 *
 * Invariant: at most one reload is in flight; a SIGHUP that arrives during
 * one is remembered and served after it.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <uv.h>

#include "agent.h"
#include "log.h"
#include "mem.h"
#include "pipeline.h"

struct agent {
    uv_loop_t *loop;
    const char *config_path;
    struct as_config *conf;
    struct as_config *next;
    struct as_pipeline *pipe;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t watchdog;
    bool watchdog_on;
    bool reloading;
    bool reload_again;
    bool stopping;
    int exit_code;
};

static void agent_reload(struct agent *a);

static void
agent_close_cb(uv_handle_t *h)
{
    (void) h;
}

static void
agent_stopped_cb(void *arg, int status)
{
    struct agent *a = arg;

    (void) status;
    uv_close((uv_handle_t *) &a->sigterm, agent_close_cb);
    uv_close((uv_handle_t *) &a->sigint, agent_close_cb);
    uv_close((uv_handle_t *) &a->sighup, agent_close_cb);
    if (a->watchdog_on) {
        uv_close((uv_handle_t *) &a->watchdog, agent_close_cb);
    }
    as_log_info("stopped");
}

static void
agent_stop(struct agent *a)
{
    if (a->stopping) {
        return;
    }
    a->stopping = true;
    sd_notify(0, "STOPPING=1");
    as_log_info("stopping: flushing within %llu ms",
                (unsigned long long) a->conf->agent.shutdown_timeout_ms);
    as_pipeline_stop(a->pipe, agent_stopped_cb, a);
}

static void
agent_reload_done_cb(void *arg, int status)
{
    struct agent *a = arg;

    a->reloading = false;
    if (status == 0) {
        as_config_free(a->conf);
        a->conf = a->next;
        as_log_set_level((enum as_log_level) a->conf->agent.log_level);
        as_log_info("configuration reloaded from %s", a->config_path);
    } else {
        as_log_error("reload failed (%s): keeping the running configuration",
                     as_strerror(status));
        as_config_free(a->next);
    }
    a->next = NULL;
    sd_notify(0, "READY=1");
    if (a->reload_again && !a->stopping) {
        a->reload_again = false;
        agent_reload(a);
    }
}

static void
agent_reload(struct agent *a)
{
    struct as_conf_errors errs = {NULL, 0};
    struct as_config *next = NULL;

    if (a->stopping) {
        return;
    }
    if (a->reloading) {
        a->reload_again = true;
        return;
    }
    sd_notify(0, "RELOADING=1");
    if (as_config_load(a->config_path, &next, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++) {
            as_log_error("reload rejected: %s:%d:%d: %s",
                         errs.v[i].file != NULL ? errs.v[i].file
                                                : a->config_path,
                         errs.v[i].line, errs.v[i].col, errs.v[i].msg);
        }
        as_conf_errors_free(&errs);
        as_log_error("keeping the running configuration");
        sd_notify(0, "READY=1");
        return;
    }
    if (strcmp(next->agent.state_dir, a->conf->agent.state_dir) != 0) {
        as_log_error("reload rejected: agent.state_dir cannot change while "
                     "running (restart the agent instead)");
        as_config_free(next);
        sd_notify(0, "READY=1");
        return;
    }
    a->next = next;
    a->reloading = true;
    as_pipeline_reload(a->pipe, next, agent_reload_done_cb, a);
}

static void
agent_signal_cb(uv_signal_t *h, int signum)
{
    struct agent *a = h->data;

    if (signum == SIGHUP) {
        as_log_info("SIGHUP: reloading %s", a->config_path);
        agent_reload(a);
        return;
    }
    as_log_info("%s received", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    agent_stop(a);
}

static void
agent_watchdog_cb(uv_timer_t *t)
{
    (void) t;
    sd_notify(0, "WATCHDOG=1");
}

int
as_agent_run(const char *config_path, struct as_config *conf)
{
    struct agent a;
    struct as_error err;
    uint64_t usec = 0;
    int rc;

    memset(&a, 0, sizeof(a));
    a.loop = uv_default_loop();
    a.config_path = config_path;
    a.conf = conf;
    as_log_set_level((enum as_log_level) conf->agent.log_level);
    signal(SIGPIPE, SIG_IGN);
    as_error_clear(&err);
    if ((rc = as_pipeline_new(a.loop, conf, &a.pipe, &err)) != 0) {
        as_log_error("cannot start: %s",
                     err.msg[0] ? err.msg : as_strerror(rc));
        as_config_free(conf);
        uv_loop_close(a.loop);
        return 1;
    }
    uv_signal_init(a.loop, &a.sigterm);
    uv_signal_init(a.loop, &a.sigint);
    uv_signal_init(a.loop, &a.sighup);
    a.sigterm.data = a.sigint.data = a.sighup.data = &a;
    uv_signal_start(&a.sigterm, agent_signal_cb, SIGTERM);
    uv_signal_start(&a.sigint, agent_signal_cb, SIGINT);
    uv_signal_start(&a.sighup, agent_signal_cb, SIGHUP);
    if ((rc = as_pipeline_start(a.pipe)) != 0) {
        as_log_error("cannot start: %s", as_strerror(rc));
        a.exit_code = 1;
        agent_stop(&a);
    } else {
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
            uv_timer_init(a.loop, &a.watchdog);
            uv_timer_start(&a.watchdog, agent_watchdog_cb, usec / 2000,
                           usec / 2000);
            a.watchdog_on = true;
        }
        sd_notify(0, "READY=1");
        if (conf->agent.http.listen[0] != '\0') {
            as_log_warn("agent.http.listen %s: /health and /metrics are not "
                        "implemented yet; nothing listens there",
                        conf->agent.http.listen);
        }
        as_log_info("started (pid %d, %zu inputs, %zu outputs, state in %s)",
                    (int) getpid(), conf->n_inputs, conf->n_outputs,
                    conf->agent.state_dir);
    }
    uv_run(a.loop, UV_RUN_DEFAULT);
    as_pipeline_free(a.pipe);
    if (uv_loop_close(a.loop) != 0) {
        as_log_warn("loop closed with handles still open");
    }
    as_config_free(a.conf);
    return a.exit_code;
}
