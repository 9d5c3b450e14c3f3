/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl's multi interface driven by a libevent loop: socket and timer glue plus per-transfer completion. */
#ifndef DS_CURL_LOOP_H
#define DS_CURL_LOOP_H

#include <curl/curl.h>
#include <event2/event.h>
#include "base.h"
#include "err.h"

/*
 * One CURLM per loop object. libcurl tells us which sockets to watch and
 * when to time out; we arm libevent events for them and feed readiness back
 * with curl_multi_socket_action. When a transfer ends, its easy handle is
 * taken out of the multi handle and the owner's `done` runs, from the event
 * loop, exactly once per curl_loop_add.
 *
 * Owners embed a struct curl_loop_xfer in their per-transfer state. The loop
 * owns CURLOPT_PRIVATE of every easy handle it runs (curl_loop_add sets it),
 * so owners must not use it.
 */

struct curl_loop;

/* A transfer ended with `rc`; `x` is no longer in the loop and may be freed or re-added. */
typedef void (*curl_loop_done_fn)(void *arg, CURL *easy, CURLcode rc);

struct curl_loop_xfer {
	CURL *easy;                 /* the owner's handle; the owner creates and cleans it up */
	curl_loop_done_fn done;
	void *arg;                  /* handed to done; borrowed */
	int active;                 /* set while in the multi handle (read-only for owners) */
	struct curl_loop_xfer *prev, *next;  /* the loop's list of active transfers */
};

/*
 * libcurl's process-wide init (curl_global_init), done once by the first
 * caller from any thread. curl_loop_new calls it; call it yourself before
 * using other libcurl functions that need it (curl_version_info does not).
 */
err_t curl_loop_global_init(void) MUST_CHECK;

/*
 * A loop on `base` (borrowed; must outlive the loop) with HTTP/2
 * multiplexing enabled. NULL on failure with *err set (ERR_NOMEM,
 * ERR_INTERNAL when libcurl cannot be initialised).
 */
struct curl_loop *curl_loop_new(struct event_base *base, err_t *err);

/* The multi handle, for extra curl_multi_setopt calls; borrowed. */
CURLM *curl_loop_multi(struct curl_loop *l);

/*
 * Start x->easy (configured by the owner). `done` is never called from
 * inside this function. ERR_INTERNAL when libcurl refuses the handle (then
 * no callback), ERR_SHUTTING_DOWN after curl_loop_free.
 */
err_t curl_loop_add(struct curl_loop *l, struct curl_loop_xfer *x) MUST_CHECK;

/* Take a transfer out without a callback (cancellation). A no-op when x is not active. */
void curl_loop_remove(struct curl_loop *l, struct curl_loop_xfer *x);

/*
 * Free the loop. Transfers still active are taken out of the multi handle
 * and dropped without a callback (x->active becomes 0; the owner still
 * owns its easy handles). May be called from a `done`
 * callback: no further completions are dispatched and the memory goes once
 * the outermost loop callback returns. NULL is a no-op.
 */
void curl_loop_free(struct curl_loop *l);

#endif
