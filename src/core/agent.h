/*
 * The running agent: the libuv loop, signals (SIGTERM/SIGINT stop, SIGHUP
 * reload), systemd notification (READY, WATCHDOG, RELOADING, STOPPING) and
 * the pipeline's lifetime.
 */
#ifndef AS_AGENT_H
#define AS_AGENT_H

#include "conf.h"

/*
 * Runs until stopped by a signal.  Takes ownership of conf (loaded from
 * config_path, which SIGHUP reloads).  Returns the process exit code.
 */
int as_agent_run(const char *config_path, struct as_config *conf);

#endif
