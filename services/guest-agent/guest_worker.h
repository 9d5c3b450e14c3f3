/* SPDX-License-Identifier: Apache-2.0 */
/* A few threads for the blocking TEE work (quotes, RTMR3 extension) so the event loop never waits on the kernel. */
#ifndef DS_GUEST_WORKER_H
#define DS_GUEST_WORKER_H

#include <event2/event.h>

#include "err.h"

struct guest_job;
struct guest_worker;

/*
 * A unit of work. `run` executes on a worker thread and must touch only the
 * job (and thread-safe things like the struct tee); `done` then runs on the
 * loop thread, where it may answer an RPC and must free the job. The job
 * memory is the submitter's (usually a struct embedding this one, malloc'd).
 */
struct guest_job {
	void (*run)(struct guest_job *j);
	void (*done)(struct guest_job *j);
	/* private */
	struct event *ev;
	struct guest_job *next;                 /* queue */
	struct guest_job *all_prev, *all_next;  /* every job whose `done` has not run */
	struct guest_worker *w;
};

/*
 * `nthreads` threads (1..16) and a queue of at most `max_queue` jobs on the
 * loop `base` (borrowed; libevent threading must be enabled, as svc does).
 * NULL on failure.
 */
struct guest_worker *guest_worker_new(struct event_base *base, unsigned nthreads, unsigned max_queue);

/*
 * Queue a job. ERR_OVERLOADED when the queue is full, ERR_SHUTTING_DOWN after
 * guest_worker_free began, ERR_NOMEM. On error the job is not queued and
 * `done` will not run.
 */
err_t guest_worker_submit(struct guest_worker *w, struct guest_job *j) MUST_CHECK;

/* Jobs queued or running. */
unsigned guest_worker_pending(const struct guest_worker *w);

/*
 * Stop: running jobs finish, threads are joined, and every job whose `done`
 * has not run (not started, or finished after the loop stopped) is handed to
 * `drop`, which must free it without touching the loop. NULL is a no-op.
 */
void guest_worker_free(struct guest_worker *w, void (*drop)(struct guest_job *j));

#endif
