/*
 * gw_relay.c - the outbox relay thread of `certgw serve`: it moves the
 * distribution jobs that issuance wrote into the store's outbox to the
 * Redis job stream (dist_relay_once), as soon as the committer says there
 * is something new and every GW_RELAY_TICK_MS anyway (for jobs written by
 * the CLI).  Redis being down never stops issuance: the relay logs it,
 * retries with a growing pause, and drains the outbox once Redis is back.
 */
#include "gw_int.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

#include "certgw/dist_queue.h"

#define GW_RELAY_TICK_MS	200	/* poll the outbox at least this often */
#define GW_RELAY_BACKOFF_MIN_MS	250	/* first pause after a failure */
#define GW_RELAY_BACKOFF_MAX_MS	30000	/* longest pause */
#define GW_RELAY_LOG_EVERY_MS	60000	/* repeat "unavailable" this often */

/* Wait for a kick, a stop or ms; true when stopping. */
static bool
relay_wait(struct gw_relay *rl, uint64_t ms)
{
	struct timespec	 ts;
	bool		 stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rl->mu);
	while (!rl->stop && !rl->kick)
		if (pthread_cond_timedwait(&rl->cv, &rl->mu, &ts) == ETIMEDOUT)
			break;
	rl->kick = false;
	stop = rl->stop;
	pthread_mutex_unlock(&rl->mu);
	return stop;
}

/* Say once, then every GW_RELAY_LOG_EVERY_MS, that Redis is unavailable. */
static void
relay_unavailable(struct gw_relay *rl, const struct cg_err *err)
{
	size_t		 pending = 0;
	struct cg_err	 cerr = { 0 };
	uint64_t	 now = cg_mono_ms();

	if (rl->down && now - rl->logged_ms < GW_RELAY_LOG_EVERY_MS)
		return;
	ca_store_outbox_count(rl->st, &pending, &cerr);
	cg_log_warn("event=redis_unavailable outbox=%zu retry_ms=%llu "
	    "reason=\"%s\"", pending, (unsigned long long)rl->backoff_ms,
	    err->msg);
	rl->down = true;
	rl->logged_ms = now;
}

static void *
relay_main(void *arg)
{
	struct gw_relay		*rl = arg;
	struct dist_redis	*r = NULL;
	struct cg_err		 err;
	uint64_t		 next_try = 0;
	size_t			 n;
	bool			 stopping = false;
	enum cg_code		 rc;

	for (;;) {
		if (r == NULL && cg_mono_ms() >= next_try) {
			memset(&err, 0, sizeof(err));
			if (dist_redis_connect(rl->conf, &r, &err) != CG_OK) {
				rl->backoff_ms = rl->backoff_ms == 0 ?
				    GW_RELAY_BACKOFF_MIN_MS : rl->backoff_ms * 2;
				if (rl->backoff_ms > GW_RELAY_BACKOFF_MAX_MS)
					rl->backoff_ms =
					    GW_RELAY_BACKOFF_MAX_MS;
				next_try = cg_mono_ms() + rl->backoff_ms;
				relay_unavailable(rl, &err);
			} else if (rl->down) {
				cg_log_info("event=redis_available");
				rl->down = false;
			}
		}
		while (r != NULL) {
			memset(&err, 0, sizeof(err));
			rc = dist_relay_once(rl->st, r, &n, &err);
			rl->moved += n;
			if (rc != CG_OK) {
				dist_redis_close(r);
				r = NULL;
				rl->backoff_ms = GW_RELAY_BACKOFF_MIN_MS;
				next_try = cg_mono_ms() + rl->backoff_ms;
				relay_unavailable(rl, &err);
				break;
			}
			rl->backoff_ms = 0;
			if (n < CA_STORE_OUTBOX_BATCH)
				break;
		}
		if (stopping)
			break;
		/* On a stop, one more pass moves what the last commits made. */
		stopping = relay_wait(rl, GW_RELAY_TICK_MS);
	}
	dist_redis_close(r);
	return NULL;
}

enum cg_code
gw_relay_start(struct gw_server *srv, struct cg_err *err)
{
	struct gw_relay		*rl = &srv->relay;
	const struct gw_config	*conf = srv->boot->conf;
	sigset_t		 all, old;
	enum cg_code		 rc;
	int			 e;

	if (!conf->redis.enabled || conf->dist.nrules == 0)
		return CG_OK;
	if (pthread_mutex_init(&rl->mu, NULL) != 0 ||
	    pthread_cond_init(&rl->cv, NULL) != 0)
		return cg_err_set(err, CG_ENOMEM, "cannot create the relay's "
		    "lock");
	rl->inited = true;
	rl->conf = &conf->redis;
	rc = ca_store_open(conf->store_path, &rl->st, err);
	if (rc != CG_OK)
		return rc;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&rl->tid, NULL, relay_main, rl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		errno = e;
		return cg_err_errno(err, CG_EIO, "cannot start the relay");
	}
	rl->started = true;
	return CG_OK;
}

void
gw_relay_kick(struct gw_server *srv)
{
	struct gw_relay	*rl = &srv->relay;

	if (!rl->started)
		return;
	pthread_mutex_lock(&rl->mu);
	rl->kick = true;
	pthread_cond_signal(&rl->cv);
	pthread_mutex_unlock(&rl->mu);
}

void
gw_relay_stop(struct gw_server *srv)
{
	struct gw_relay	*rl = &srv->relay;

	if (rl->started) {
		pthread_mutex_lock(&rl->mu);
		rl->stop = true;
		pthread_cond_signal(&rl->cv);
		pthread_mutex_unlock(&rl->mu);
		pthread_join(rl->tid, NULL);
		rl->started = false;
		cg_log_info("event=relay_stop relayed=%llu",
		    (unsigned long long)rl->moved);
	}
	ca_store_close(rl->st);
	rl->st = NULL;
	if (rl->inited) {
		pthread_cond_destroy(&rl->cv);
		pthread_mutex_destroy(&rl->mu);
		rl->inited = false;
	}
}
