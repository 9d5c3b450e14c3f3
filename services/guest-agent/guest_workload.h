/* SPDX-License-Identifier: Apache-2.0 */
/* The local demo's workload: the compose's bash runner as a child process with the agent's socket and the decrypted env. */
#ifndef DS_GUEST_WORKLOAD_H
#define DS_GUEST_WORKLOAD_H

#include "err.h"

struct guest_env;

/*
 * Schedule the workload (app.run = true): once the listeners are open (the
 * first loop iteration), run the compose's `bash_script` (runner "bash")
 * with /bin/sh in app.dir, in its own process group, its environment the
 * agent's PATH/HOME plus DSTACK_SIMULATOR_ENDPOINT / TAPPD_SIMULATOR_ENDPOINT
 * = app.socket and the allowed decrypted variables. Its exit is logged; the
 * agent keeps serving. ERR_UNIMPLEMENTED for other runners (docker-compose
 * needs a container runtime), ERR_CONFIG without app.socket.
 */
err_t guest_workload_start(struct guest_env *g, const char **detail) MUST_CHECK;

/* SIGTERM to the workload's process group, up to 5 s, then SIGKILL; reap. No-op when none. */
void guest_workload_stop(struct guest_env *g);

#endif
