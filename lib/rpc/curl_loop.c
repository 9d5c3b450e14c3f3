/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl multi on libevent: one persistent event per socket libcurl watches, one timer, completion dispatch. */
#include "curl_loop.h"

#include <event2/event_struct.h>
#include <pthread.h>
#include <stdlib.h>

/*
 * libcurl's global state must be set up once per process before any handle
 * exists, and loops may be created from any thread: pthread_once makes the
 * first caller do it. The result is written once and only read afterwards.
 * We never call curl_global_cleanup: the process may still hold handles
 * elsewhere, and process exit releases everything anyway.
 */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

err_t curl_loop_global_init(void)
{
	pthread_once(&curl_once, curl_init_once);
	return curl_init_rc == CURLE_OK ? ERR_OK : ERR_INTERNAL;
}

/* One socket libcurl asked us to watch; allocated in on_curl_socket, freed on CURL_POLL_REMOVE or loop teardown. */
struct loop_sock {
	struct event ev;
	struct curl_loop *l;
	struct loop_sock *prev, *next;
};

struct curl_loop {
	struct event_base *base;           /* borrowed */
	CURLM *multi;
	struct event timer;                /* libcurl's single timeout */
	struct loop_sock *socks;
	struct curl_loop_xfer *xfers;      /* active transfers */
	unsigned busy;                     /* depth of loop callbacks that may run owners' callbacks */
	int closing;                       /* curl_loop_free was called; destroy when busy drops to 0 */
};

static void xfer_unlink(struct curl_loop *l, struct curl_loop_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else if (l->xfers == x)
		l->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
}

static void sock_free(struct curl_loop *l, struct loop_sock *sk)
{
	event_del(&sk->ev);
	if (sk->prev)
		sk->prev->next = sk->next;
	else
		l->socks = sk->next;
	if (sk->next)
		sk->next->prev = sk->prev;
	free(sk);
}

static void loop_destroy(struct curl_loop *l)
{
	while (l->xfers) {
		struct curl_loop_xfer *x = l->xfers;
		curl_multi_remove_handle(l->multi, x->easy);
		x->active = 0;
		xfer_unlink(l, x);
	}
	if (l->multi)
		curl_multi_cleanup(l->multi);   /* may report CURL_POLL_REMOVE for open sockets */
	while (l->socks)
		sock_free(l, l->socks);
	evtimer_del(&l->timer);
	free(l);
}

static void loop_leave(struct curl_loop *l)
{
	if (--l->busy == 0 && l->closing)
		loop_destroy(l);
}

/* Hand every finished transfer to its owner. An owner's callback may free the loop: stop as soon as it did. */
static void process_done(struct curl_loop *l)
{
	CURLMsg *m;
	int left = 0;

	while (!l->closing && (m = curl_multi_info_read(l->multi, &left)) != NULL) {
		CURL *e = m->easy_handle;
		CURLcode rc = m->data.result;
		char *priv = NULL;
		struct curl_loop_xfer *x;

		if (m->msg != CURLMSG_DONE)
			continue;
		if (curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv)
			continue;
		x = (struct curl_loop_xfer *)(void *)priv;
		/* m is invalid after remove_handle; everything needed was copied above. */
		curl_multi_remove_handle(l->multi, e);
		x->active = 0;
		xfer_unlink(l, x);
		x->done(x->arg, e, rc);
	}
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct loop_sock *sk = arg;
	struct curl_loop *l = sk->l;   /* sk may be freed inside socket_action */
	int flags = 0, running = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	l->busy++;
	curl_multi_socket_action(l->multi, fd, flags, &running);
	process_done(l);
	loop_leave(l);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct curl_loop *l = arg;
	int running = 0;

	(void)fd;
	(void)what;
	l->busy++;
	curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	process_done(l);
	loop_leave(l);
}

/* CURLMOPT_SOCKETFUNCTION: (re)arm one persistent event per socket with the interest libcurl asks for. */
static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curl_loop *l = userp;
	struct loop_sock *sk = socketp;
	short kind = EV_PERSIST;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (sk) {
			curl_multi_assign(l->multi, s, NULL);
			sock_free(l, sk);
		}
		return 0;
	}
	if (!sk) {
		sk = calloc(1, sizeof(*sk));
		if (!sk)
			return -1;
		sk->l = l;
		sk->next = l->socks;
		if (l->socks)
			l->socks->prev = sk;
		l->socks = sk;
		curl_multi_assign(l->multi, s, sk);
	} else {
		event_del(&sk->ev);
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (event_assign(&sk->ev, l->base, s, kind, on_sock_event, sk) != 0 || event_add(&sk->ev, NULL) != 0)
		return -1;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: libcurl wants one timeout; a 0 ms one fires on the next loop pass, never inline. */
static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct curl_loop *l = userp;
	struct timeval tv;

	(void)m;
	if (timeout_ms < 0) {
		evtimer_del(&l->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(&l->timer, &tv) == 0 ? 0 : -1;
}

struct curl_loop *curl_loop_new(struct event_base *base, err_t *err)
{
	struct curl_loop *l;

	*err = ERR_INVALID_ARG;
	if (!base)
		return NULL;
	if ((*err = curl_loop_global_init()) != ERR_OK)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l) {
		*err = ERR_NOMEM;
		return NULL;
	}
	l->base = base;
	evtimer_assign(&l->timer, base, on_timer, l);
	l->multi = curl_multi_init();
	if (!l->multi) {
		*err = ERR_NOMEM;
		goto fail;
	}
	if (curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, (void *)l) != CURLM_OK ||
	    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, (void *)l) != CURLM_OK ||
	    curl_multi_setopt(l->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX) != CURLM_OK) {
		*err = ERR_INTERNAL;
		goto fail;
	}
	*err = ERR_OK;
	return l;
fail:
	loop_destroy(l);
	return NULL;
}

CURLM *curl_loop_multi(struct curl_loop *l)
{
	return l->multi;
}

err_t curl_loop_add(struct curl_loop *l, struct curl_loop_xfer *x)
{
	if (!l || !x || !x->easy || !x->done || x->active)
		return ERR_INVALID_ARG;
	if (l->closing)
		return ERR_SHUTTING_DOWN;
	if (curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (void *)x) != CURLE_OK)
		return ERR_INTERNAL;
	/* Nothing here completes the transfer synchronously: libcurl only arms a timer in add_handle. */
	if (curl_multi_add_handle(l->multi, x->easy) != CURLM_OK)
		return ERR_INTERNAL;
	x->active = 1;
	x->prev = NULL;
	x->next = l->xfers;
	if (l->xfers)
		l->xfers->prev = x;
	l->xfers = x;
	return ERR_OK;
}

void curl_loop_remove(struct curl_loop *l, struct curl_loop_xfer *x)
{
	if (!l || !x || !x->active)
		return;
	curl_multi_remove_handle(l->multi, x->easy);
	x->active = 0;
	xfer_unlink(l, x);
}

void curl_loop_free(struct curl_loop *l)
{
	if (!l || l->closing)
		return;
	l->closing = 1;
	l->busy++;
	loop_leave(l);
}
