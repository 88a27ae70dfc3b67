/*
 * gw_workers.c - the push workers of `certgw serve`: distribution.workers
 * threads, each running dist_worker_run() with its own Redis connection
 * and its own store handle (for the audit rows of deliveries).  Started
 * when Redis and rules are configured; stopped after the relay on
 * shutdown (Redis keeps whatever they did not take).
 */
#include "gw_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static void *
worker_main(void *arg)
{
	dist_worker_run(arg);
	return NULL;
}

enum cg_code
gw_workers_start(struct gw_server *srv, struct cg_err *err)
{
	const struct gw_config	*conf = srv->boot->conf;
	struct gw_workers	*ws = &srv->workers;
	struct dist_worker	*w;
	sigset_t		 all, old;
	char			 host[64];
	enum cg_code		 rc;
	unsigned		 i;
	int			 e;

	if (!conf->redis.enabled || conf->dist.nrules == 0 ||
	    conf->dist.workers == 0)
		return CG_OK;
	ws->w = cg_calloc(conf->dist.workers, sizeof(*ws->w));
	ws->tid = cg_calloc(conf->dist.workers, sizeof(*ws->tid));
	if (ws->w == NULL || ws->tid == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	atomic_init(&ws->stop, false);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	for (i = 0; i < conf->dist.workers; i++) {
		w = &ws->w[i];
		w->conf = conf;
		w->stop = &ws->stop;
		snprintf(w->consumer, sizeof(w->consumer), "%.24s-%ld-%u",
		    host, (long)getpid(), i);
		rc = ca_store_open(conf->store_path, &w->st, err);
		if (rc != CG_OK)
			return rc;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < conf->dist.workers; i++) {
		e = pthread_create(&ws->tid[i], NULL, worker_main, &ws->w[i]);
		if (e != 0)
			break;
		ws->n++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ws->n < conf->dist.workers) {
		errno = e;
		return cg_err_errno(err, CG_EIO, "cannot start push workers");
	}
	return CG_OK;
}

void
gw_workers_stop(struct gw_server *srv)
{
	struct gw_workers	*ws = &srv->workers;
	const struct gw_config	*conf;
	uint64_t		 d = 0, r = 0, x = 0;
	unsigned		 i;

	if (ws->w == NULL)
		return;
	atomic_store(&ws->stop, true);
	for (i = 0; i < ws->n; i++)
		pthread_join(ws->tid[i], NULL);
	conf = srv->boot->conf;
	for (i = 0; i < conf->dist.workers; i++) {
		d += ws->w[i].delivered;
		r += ws->w[i].retried;
		x += ws->w[i].dead;
		ca_store_close(ws->w[i].st);
	}
	if (ws->n > 0)
		cg_log_info("event=workers_stop workers=%u delivered=%llu "
		    "retried=%llu dead=%llu", ws->n, (unsigned long long)d,
		    (unsigned long long)r, (unsigned long long)x);
	cg_free(ws->w);
	cg_free(ws->tid);
	ws->w = NULL;
	ws->tid = NULL;
	ws->n = 0;
}
