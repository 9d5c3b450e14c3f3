/* SPDX-License-Identifier: Apache-2.0 */
/* Worker threads with a bounded queue; completions return to the loop through one event per job. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "guest_worker.h"

#define MAX_THREADS 16

struct guest_worker {
	struct event_base *base;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct guest_job *head, *tail;   /* not started */
	struct guest_job *all;           /* every job whose done has not run (mu) */
	unsigned queued, pending, max_queue;
	int stopping;
	pthread_t threads[MAX_THREADS];
	unsigned nthreads;
};

static void all_remove(struct guest_worker *w, struct guest_job *j)
{
	if (j->all_prev)
		j->all_prev->all_next = j->all_next;
	else
		w->all = j->all_next;
	if (j->all_next)
		j->all_next->all_prev = j->all_prev;
	j->all_prev = j->all_next = NULL;
}

static void *thread_main(void *arg)
{
	struct guest_worker *w = arg;

	for (;;) {
		struct guest_job *j;

		pthread_mutex_lock(&w->mu);
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stopping) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		j = w->head;
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		w->queued--;
		pthread_mutex_unlock(&w->mu);
		j->run(j);
		/* Thread-safe with evthread: the loop runs `done` on its next iteration. */
		event_active(j->ev, EV_READ, 0);
	}
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct guest_job *j = arg;
	struct guest_worker *w = j->w;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->mu);
	all_remove(w, j);
	w->pending--;
	pthread_mutex_unlock(&w->mu);
	event_free(j->ev);
	j->ev = NULL;
	j->done(j);
}

struct guest_worker *guest_worker_new(struct event_base *base, unsigned nthreads, unsigned max_queue)
{
	struct guest_worker *w;

	if (nthreads < 1 || nthreads > MAX_THREADS || max_queue < 1 || !(w = calloc(1, sizeof(*w))))
		return NULL;
	w->base = base;
	w->max_queue = max_queue;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_create(&w->threads[i], NULL, thread_main, w) != 0) {
			guest_worker_free(w, NULL);
			return NULL;
		}
		w->nthreads++;
	}
	return w;
}

err_t guest_worker_submit(struct guest_worker *w, struct guest_job *j)
{
	err_t err = ERR_OK;

	j->w = w;
	j->next = NULL;
	if (!(j->ev = event_new(w->base, -1, 0, on_done, j)))
		return ERR_NOMEM;
	pthread_mutex_lock(&w->mu);
	if (w->stopping)
		err = ERR_SHUTTING_DOWN;
	else if (w->queued >= w->max_queue)
		err = ERR_OVERLOADED;
	if (err == ERR_OK) {
		if (w->tail)
			w->tail->next = j;
		else
			w->head = j;
		w->tail = j;
		w->queued++;
		w->pending++;
		j->all_prev = NULL;
		j->all_next = w->all;
		if (w->all)
			w->all->all_prev = j;
		w->all = j;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	if (err != ERR_OK) {
		event_free(j->ev);
		j->ev = NULL;
	}
	return err;
}

unsigned guest_worker_pending(const struct guest_worker *w)
{
	unsigned n;

	pthread_mutex_lock(UNCONST(&w->mu));
	n = w->pending;
	pthread_mutex_unlock(UNCONST(&w->mu));
	return n;
}

void guest_worker_free(struct guest_worker *w, void (*drop)(struct guest_job *j))
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	while (w->all) {
		struct guest_job *j = w->all;

		all_remove(w, j);
		if (j->ev)
			event_free(j->ev);
		j->ev = NULL;
		if (drop)
			drop(j);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
