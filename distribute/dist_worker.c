/*
 * dist_worker.c - one push worker: read jobs from the Redis stream as a
 * member of the "workers" consumer group, push each to its rule's
 * endpoint, and settle it: delivered (acknowledged, counted, audited when
 * a store is at hand), retried later (the delayed set, with backoff), or
 * dead-lettered.  It also moves due delayed jobs back to the stream and
 * claims the entries of workers that died mid-push.  The same loop runs
 * as threads of `certgw serve` and in `certgw worker` on other machines.
 */
#include "certgw/dist_worker.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "certgw/dist.h"
#include "certgw/dist_push.h"
#include "certgw/dist_queue.h"

#define WORKER_READ_MAX		16	/* entries per XREADGROUP */
#define WORKER_BLOCK_MS		500	/* XREADGROUP BLOCK */
#define WORKER_DUE_EVERY_MS	250	/* move due delayed jobs */
#define WORKER_CLAIM_EVERY_MS	1000	/* look for abandoned entries */
#define WORKER_BACKOFF_MIN_MS	250	/* Redis reconnect pauses */
#define WORKER_BACKOFF_MAX_MS	30000

static uint64_t
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const struct gw_dist_rule *
rule_find(const struct gw_config *conf, const char *name)
{
	size_t	 i;

	for (i = 0; i < conf->dist.nrules; i++)
		if (strcmp(conf->dist.rules[i].name, name) == 0)
			return &conf->dist.rules[i];
	return NULL;
}

static uint64_t
random64(void)
{
	uint64_t	 r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint64_t)wall_ms() * 2654435761u;
	return r;
}

/*
 * The audit rows of one read batch's deliveries, written in one store
 * transaction after the batch: one flush for up to WORKER_READ_MAX rows.
 */
struct audit_batch {
	char	 serial[WORKER_READ_MAX][48];
	char	 detail[WORKER_READ_MAX][256];
	size_t	 n;
};

static void
audit_add(struct audit_batch *ab, const struct dist_job *job,
    const struct dist_result *res)
{
	if (ab->n >= WORKER_READ_MAX)
		return;
	snprintf(ab->serial[ab->n], sizeof(ab->serial[0]), "%s",
	    job->serial);
	snprintf(ab->detail[ab->n], sizeof(ab->detail[0]), "rule=%s "
	    "status=%ld ms=%.1f attempt=%u id=%s", job->rule, res->status,
	    res->duration_ms, job->attempt + 1, job->id);
	ab->n++;
}

static void
audit_flush(struct dist_worker *w, struct audit_batch *ab)
{
	struct cg_err	 err = { 0 };
	char		 actor[96];
	size_t		 i;
	enum cg_code	 rc;

	if (w->st == NULL || ab->n == 0)
		goto out;
	snprintf(actor, sizeof(actor), "dist:%s", w->consumer);
	rc = ca_store_begin(w->st, &err);
	for (i = 0; rc == CG_OK && i < ab->n; i++)
		rc = ca_store_audit_add(w->st, actor, "deliver",
		    ab->serial[i], "ok", ab->detail[i], &err);
	if (rc == CG_OK)
		rc = ca_store_commit(w->st, &err);
	if (rc != CG_OK) {
		ca_store_rollback(w->st);
		cg_log_err_struct(__func__, "audit of deliveries", &err);
	}
out:
	ab->n = 0;
}

/* Dead-letter e with reason; false on a Redis error. */
static bool
settle_dead(struct dist_worker *w, const struct dist_entry *e,
    const char *job, const char *rule, const char *reason)
{
	struct cg_err	 err = { 0 };
	char		 q[300];

	cg_log_warn("event=dead_letter rule=%s entry=%s reason=%s",
	    rule, e->id, cg_logfmt_quote(reason, q, sizeof(q)));
	w->dead++;
	if (dist_stream_dead(w->r, e, job, reason, &err) != CG_OK) {
		cg_log_err_struct(__func__, "dead letter", &err);
		return false;
	}
	return true;
}

/* Push one entry and settle it; false on a Redis error. */
static bool
process(struct dist_worker *w, struct dist_pusher *p,
    const struct dist_entry *e, struct audit_batch *ab)
{
	const struct gw_dist_rule *rule;
	struct dist_job		*job = NULL;
	struct dist_result	 res;
	struct cg_err		 err = { 0 };
	char			*next = NULL, reason[400], q[300];
	uint64_t		 pause;
	bool			 ok = true;

	if (dist_job_parse(e->job, e->len, &job, &err) != CG_OK) {
		snprintf(reason, sizeof(reason), "unreadable job: %s",
		    err.msg);
		return settle_dead(w, e, e->job, "-", reason);
	}
	memset(&res, 0, sizeof(res));
	cg_err_clear(&err);
	if (dist_push(p, job, &res, &err) != CG_OK) {
		/* Ours, not the endpoint's (out of memory): try again. */
		res.outcome = DIST_RETRY;
		snprintf(res.reason, sizeof(res.reason), "%s", err.msg);
	}
	rule = rule_find(w->conf, job->rule);
	switch (res.outcome) {
	case DIST_DELIVERED:
		cg_err_clear(&err);
		if (dist_stream_delivered(w->r, e, &err) != CG_OK) {
			cg_log_err_struct(__func__, "acknowledge", &err);
			ok = false;
		}
		w->delivered++;
		cg_log_info("event=delivered rule=%s serial=%s status=%ld "
		    "ms=%.1f attempt=%u", job->rule, job->serial, res.status,
		    res.duration_ms, job->attempt + 1);
		audit_add(ab, job, &res);
		break;
	case DIST_RETRY:
		cg_err_clear(&err);
		if (rule == NULL || dist_job_retry(job, res.reason, &next,
		    &err) != CG_OK) {
			ok = settle_dead(w, e, e->job, job->rule, res.reason);
			break;
		}
		if (dist_retry_exhausted(rule, job, cg_now())) {
			snprintf(reason, sizeof(reason), "gave up after %u "
			    "attempts: %s", job->attempt, res.reason);
			ok = settle_dead(w, e, next, job->rule, reason);
			break;
		}
		pause = dist_backoff_ms(rule, job->attempt, res.retry_after_s,
		    random64());
		cg_log_info("event=retry rule=%s serial=%s attempt=%u "
		    "in_ms=%llu reason=%s", job->rule, job->serial,
		    job->attempt, (unsigned long long)pause,
		    cg_logfmt_quote(res.reason, q, sizeof(q)));
		w->retried++;
		if (dist_stream_delay(w->r, e, next, wall_ms() + pause,
		    &err) != CG_OK) {
			cg_log_err_struct(__func__, "delay", &err);
			ok = false;
		}
		break;
	default:
		ok = settle_dead(w, e, e->job, job->rule, res.reason);
		break;
	}
	cg_free(next);
	dist_job_free(job);
	return ok;
}

static bool
process_all(struct dist_worker *w, struct dist_pusher *p,
    struct dist_entry *v, size_t n)
{
	struct audit_batch	*ab;
	size_t			 i;
	bool			 ok = true;

	ab = cg_calloc(1, sizeof(*ab));
	if (ab == NULL) {
		dist_entries_free(v, n);
		return false;
	}
	for (i = 0; i < n && ok; i++)
		ok = process(w, p, &v[i], ab);
	audit_flush(w, ab);
	cg_free(ab);
	dist_entries_free(v, n);
	return ok;
}

/* Sleep up to ms, in steps, returning early on stop. */
static void
nap(struct dist_worker *w, uint64_t ms)
{
	struct timespec	 ts = { 0, 50 * 1000000L };
	uint64_t	 until = cg_mono_ms() + ms;

	while (!atomic_load(w->stop) && cg_mono_ms() < until)
		nanosleep(&ts, NULL);
}

void
dist_worker_run(struct dist_worker *w)
{
	struct dist_pusher	*p = NULL;
	struct dist_entry	*v;
	struct cg_err		 err = { 0 };
	uint64_t		 backoff = 0, last_due = 0, last_claim = 0;
	size_t			 n, moved;
	bool			 ok;

	if (dist_pusher_new(&w->conf->dist, &p, &err) != CG_OK) {
		cg_log_err_struct(__func__, "push worker", &err);
		return;
	}
	while (!atomic_load(w->stop)) {
		if (w->r == NULL) {
			cg_err_clear(&err);
			if (dist_redis_connect(&w->conf->redis, &w->r, &err) !=
			    CG_OK || dist_stream_group_ensure(w->r, &err) !=
			    CG_OK) {
				dist_redis_close(w->r);
				w->r = NULL;
				backoff = backoff == 0 ? WORKER_BACKOFF_MIN_MS :
				    backoff * 2;
				if (backoff > WORKER_BACKOFF_MAX_MS)
					backoff = WORKER_BACKOFF_MAX_MS;
				cg_log_warn("event=worker_redis_unavailable "
				    "consumer=%s retry_ms=%llu reason=\"%s\"",
				    w->consumer, (unsigned long long)backoff,
				    err.msg);
				nap(w, backoff);
				continue;
			}
			backoff = 0;
		}
		ok = true;
		cg_err_clear(&err);
		if (cg_mono_ms() - last_due >= WORKER_DUE_EVERY_MS) {
			last_due = cg_mono_ms();
			ok = dist_delayed_move_due(w->r, wall_ms(),
			    WORKER_READ_MAX * 16, &moved, &err) == CG_OK;
		}
		if (ok && cg_mono_ms() - last_claim >= WORKER_CLAIM_EVERY_MS) {
			last_claim = cg_mono_ms();
			v = NULL;
			n = 0;
			ok = dist_stream_claim(w->r, w->consumer,
			    w->conf->dist.claim_after_ms, WORKER_READ_MAX,
			    &v, &n, &err) == CG_OK;
			if (ok && n > 0)
				cg_log_info("event=claimed consumer=%s "
				    "entries=%zu", w->consumer, n);
			if (ok)
				ok = process_all(w, p, v, n);
		}
		if (ok) {
			v = NULL;
			n = 0;
			ok = dist_stream_read(w->r, w->consumer,
			    WORKER_READ_MAX, WORKER_BLOCK_MS, &v, &n, &err) ==
			    CG_OK;
			if (ok)
				ok = process_all(w, p, v, n);
		}
		if (!ok) {
			if (err.code != CG_OK)
				cg_log_err_struct(__func__, "push worker",
				    &err);
			dist_redis_close(w->r);
			w->r = NULL;
		}
	}
	dist_redis_close(w->r);
	w->r = NULL;
	dist_pusher_free(p);
}
