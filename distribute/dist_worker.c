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

#define WORKER_BLOCK_MS		500	/* XREADGROUP BLOCK, nothing in flight */
#define WORKER_POLL_MS		10	/* wait on pushes in flight */
#define WORKER_REREAD_MS	5	/* an empty read, pushes in flight:
					   look again after this at most */
#define WORKER_DUE_EVERY_MS	250	/* move due delayed jobs */
#define WORKER_DUE_MAX		256	/* moved at once */
#define WORKER_CLAIM_EVERY_MS	1000	/* look for abandoned entries */
#define WORKER_AUDIT_MAX	64	/* audit rows in one transaction */
#define WORKER_AUDIT_EVERY_MS	100	/* flush at least this often */
#define WORKER_BACKOFF_MIN_MS	250	/* Redis reconnect pauses */
#define WORKER_BACKOFF_MAX_MS	30000

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
		r = (uint64_t)cg_wall_ms() * 2654435761u;
	return r;
}

/*
 * The audit rows of recent deliveries, written in one store transaction:
 * one flush for up to WORKER_AUDIT_MAX rows.
 */
struct audit_batch {
	char	 serial[WORKER_AUDIT_MAX][48];
	char	 detail[WORKER_AUDIT_MAX][256];
	size_t	 n;
	uint64_t last;			/* mono ms of the last flush */
};

/* A stream entry whose push is in flight. */
struct slot {
	struct dist_entry e;		/* owned */
	struct dist_job	*job;		/* owned */
	struct slot	*next;		/* free list */
};

/* Everything one run of the loop holds. */
struct loop {
	struct dist_worker *w;
	struct dist_pusher *p;
	struct slot	*slots;		/* in_flight of them */
	struct slot	*free;
	struct audit_batch *ab;
	struct slot	**acked;	/* delivered, not yet acknowledged */
	const struct dist_entry **ackv;	/* their entries, for one call */
	size_t		 nacked;
	bool		 redis_ok;	/* false: reconnect before more */
	size_t		 settled;	/* since the last read */
	bool		 more;		/* the stream may hold more now */
	uint64_t	 last_due;	/* mono ms of the last delayed move */
	uint64_t	 last_claim;	/* ... of the last claim */
	uint64_t	 last_read;	/* ... of the last read */
};

static void
audit_flush(struct dist_worker *w, struct audit_batch *ab)
{
	struct cg_err	 err = { 0 };
	char		 actor[96];
	size_t		 i;
	enum cg_code	 rc;

	ab->last = cg_mono_ms();
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

static void
audit_add(struct dist_worker *w, struct audit_batch *ab,
    const struct dist_job *job, const struct dist_result *res)
{
	if (w->st == NULL)
		return;
	if (ab->n >= WORKER_AUDIT_MAX)
		audit_flush(w, ab);
	snprintf(ab->serial[ab->n], sizeof(ab->serial[0]), "%s",
	    job->serial);
	snprintf(ab->detail[ab->n], sizeof(ab->detail[0]), "rule=%s "
	    "status=%ld ms=%.1f attempt=%u id=%s", job->rule, res->status,
	    res->duration_ms, job->attempt + 1, job->id);
	ab->n++;
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

/* Settle the entry of a finished push; false on a Redis error. */
static bool
settle(struct loop *l, const struct dist_entry *e, struct dist_job *job,
    const struct dist_result *res)
{
	struct dist_worker	*w = l->w;
	const struct gw_dist_rule *rule;
	struct cg_err		 err = { 0 };
	char			*next = NULL, reason[400], q[300];
	uint64_t		 pause;
	bool			 ok = true;

	rule = rule_find(w->conf, job->rule);
	switch (res->outcome) {
	case DIST_RETRY:
		if (rule == NULL || dist_job_retry(job, res->reason, &next,
		    &err) != CG_OK) {
			ok = settle_dead(w, e, e->job, job->rule, res->reason);
			break;
		}
		if (dist_retry_exhausted(rule, job, cg_now())) {
			snprintf(reason, sizeof(reason), "gave up after %u "
			    "attempts: %s", job->attempt, res->reason);
			ok = settle_dead(w, e, next, job->rule, reason);
			break;
		}
		pause = dist_backoff_ms(rule, job->attempt,
		    res->retry_after_s, random64());
		cg_log_info("event=retry rule=%s serial=%s attempt=%u "
		    "in_ms=%llu reason=%s", job->rule, job->serial,
		    job->attempt, (unsigned long long)pause,
		    cg_logfmt_quote(res->reason, q, sizeof(q)));
		w->retried++;
		if (dist_stream_delay(w->r, e, next, cg_wall_ms() + pause,
		    &err) != CG_OK) {
			cg_log_err_struct(__func__, "delay", &err);
			ok = false;
		}
		break;
	default:
		ok = settle_dead(w, e, e->job, job->rule, res->reason);
		break;
	}
	cg_free(next);
	return ok;
}

static void
slot_release(struct loop *l, struct slot *s)
{
	cg_free(s->e.job);
	cg_free(s->e.rule);
	cg_free(s->e.reason);
	memset(&s->e, 0, sizeof(s->e));
	dist_job_free(s->job);
	s->job = NULL;
	s->next = l->free;
	l->free = s;
}

/*
 * Acknowledge the delivered entries collected since the last call, all
 * in one round trip, and free their slots.
 */
static void
ack_flush(struct loop *l)
{
	struct cg_err	 err = { 0 };
	size_t		 i;

	if (l->nacked == 0)
		return;
	for (i = 0; i < l->nacked; i++)
		l->ackv[i] = &l->acked[i]->e;
	if (l->redis_ok && l->w->r != NULL &&
	    dist_stream_delivered_many(l->w->r, l->ackv, l->nacked, &err) !=
	    CG_OK) {
		/* Still pending in the group: claimed and pushed again. */
		cg_log_err_struct(__func__, "acknowledge", &err);
		l->redis_ok = false;
	}
	for (i = 0; i < l->nacked; i++)
		slot_release(l, l->acked[i]);
	l->nacked = 0;
}

/*
 * A push came back.  A delivery is acknowledged with the others of this
 * round (ack_flush); any other outcome is settled at once.  Without
 * Redis, the entry stays pending in the group; it is pushed again when
 * claimed, after claim_after_ms (at least once).
 */
static void
on_done(void *arg, void *tag, const struct dist_result *res)
{
	struct loop		*l = arg;
	struct slot		*s = tag;
	struct dist_worker	*w = l->w;
	const struct dist_job	*job = s->job;

	l->settled++;
	if (res->outcome == DIST_DELIVERED) {
		w->delivered++;
		cg_log_info("event=delivered rule=%s serial=%s status=%ld "
		    "ms=%.1f attempt=%u", job->rule, job->serial, res->status,
		    res->duration_ms, job->attempt + 1);
		audit_add(w, l->ab, job, res);
		l->acked[l->nacked++] = s;
		return;
	}
	if (l->redis_ok && w->r != NULL && !settle(l, &s->e, s->job, res))
		l->redis_ok = false;
	slot_release(l, s);
}

/*
 * Start the pushes of v[0..n) (entries from a read or a claim; the array
 * is freed here).  An entry whose job cannot be read is dead-lettered at
 * once.  false on a Redis error.
 */
static bool
start_all(struct loop *l, struct dist_entry *v, size_t n)
{
	struct dist_worker	*w = l->w;
	struct dist_job		*job;
	struct slot		*s;
	struct cg_err		 err = { 0 };
	char			 reason[400];
	size_t			 i;
	bool			 ok = true;

	for (i = 0; i < n; i++) {
		cg_err_clear(&err);
		if (!ok)
			break;	/* left pending: claimed again later */
		if (dist_job_parse(v[i].job, v[i].len, &job, &err) != CG_OK) {
			snprintf(reason, sizeof(reason), "unreadable job: %s",
			    err.msg);
			ok = settle_dead(w, &v[i], v[i].job, "-", reason);
			continue;
		}
		s = l->free;
		if (s == NULL) {
			/* More entries than room: never asked for. */
			dist_job_free(job);
			break;
		}
		l->free = s->next;
		s->e = v[i];
		memset(&v[i], 0, sizeof(v[i]));	/* moved into the slot */
		s->job = job;
		cg_err_clear(&err);
		if (dist_push_start(l->p, job, s, &err) != CG_OK) {
			/* Out of memory: the entry stays pending for later. */
			cg_log_err_struct(__func__, "start a push", &err);
			slot_release(l, s);
		}
	}
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

/* Connect to Redis when there is no connection; false when it failed. */
static bool
redis_up(struct loop *l, uint64_t *backoff)
{
	struct dist_worker	*w = l->w;
	struct cg_err		 err = { 0 };

	if (w->r != NULL && l->redis_ok)
		return true;
	dist_redis_close(w->r);
	w->r = NULL;
	if (dist_redis_connect(&w->conf->redis, &w->r, &err) != CG_OK ||
	    dist_stream_group_ensure(w->r, &err) != CG_OK) {
		dist_redis_close(w->r);
		w->r = NULL;
		*backoff = *backoff == 0 ? WORKER_BACKOFF_MIN_MS :
		    *backoff * 2;
		if (*backoff > WORKER_BACKOFF_MAX_MS)
			*backoff = WORKER_BACKOFF_MAX_MS;
		cg_log_warn("event=worker_redis_unavailable consumer=%s "
		    "retry_ms=%llu reason=\"%s\"", w->consumer,
		    (unsigned long long)*backoff, err.msg);
		return false;
	}
	*backoff = 0;
	l->redis_ok = true;
	return true;
}

/* Read or claim what there is room for; false on a Redis error. */
static bool
feed(struct loop *l)
{
	struct dist_worker	*w = l->w;
	struct dist_entry	*v;
	struct cg_err		 err = { 0 };
	size_t			 n, moved, room;
	uint32_t		 block;
	uint64_t		 now = cg_mono_ms();

	if (now - l->last_due >= WORKER_DUE_EVERY_MS) {
		l->last_due = now;
		if (dist_delayed_move_due(w->r, cg_wall_ms(), WORKER_DUE_MAX,
		    &moved, &err) != CG_OK)
			goto fail;
		if (moved > 0)
			l->more = true;
	}
	room = dist_push_room(l->p);
	if (room > 0 && now - l->last_claim >= WORKER_CLAIM_EVERY_MS) {
		l->last_claim = now;
		v = NULL;
		n = 0;
		if (dist_stream_claim(w->r, w->consumer,
		    w->conf->dist.claim_after_ms, room, &v, &n, &err) != CG_OK)
			goto fail;
		if (n > 0)
			cg_log_info("event=claimed consumer=%s entries=%zu",
			    w->consumer, n);
		if (!start_all(l, v, n))
			return false;
		room = dist_push_room(l->p);
	}
	if (room == 0)
		return true;
	/*
	 * With nothing in flight, block on the stream.  With pushes in
	 * flight, look again without blocking when the last read filled up,
	 * a push finished since, or a little time went by.
	 */
	if (dist_push_in_flight(l->p) > 0 && !l->more && l->settled == 0 &&
	    now - l->last_read < WORKER_REREAD_MS)
		return true;
	block = dist_push_in_flight(l->p) > 0 ? 0 : WORKER_BLOCK_MS;
	/* Audit rows waiting: wake up in time to write them. */
	if (block > 0 && l->ab->n > 0)
		block = WORKER_AUDIT_EVERY_MS;
	v = NULL;
	n = 0;
	if (dist_stream_read(w->r, w->consumer, room, block, &v, &n, &err) !=
	    CG_OK)
		goto fail;
	l->last_read = cg_mono_ms();
	l->settled = 0;
	l->more = n == room;
	return start_all(l, v, n);
fail:
	cg_log_err_struct(__func__, "push worker", &err);
	return false;
}

void
dist_worker_run(struct dist_worker *w)
{
	struct loop	 l = { .w = w };
	struct cg_err	 err = { 0 };
	uint64_t	 backoff = 0;
	size_t		 i, nslots;

	if (dist_pusher_new(&w->conf->dist, &l.p, &err) != CG_OK) {
		cg_log_err_struct(__func__, "push worker", &err);
		return;
	}
	nslots = dist_push_room(l.p);
	l.slots = cg_calloc(nslots, sizeof(*l.slots));
	l.acked = cg_calloc(nslots, sizeof(*l.acked));
	l.ackv = cg_calloc(nslots, sizeof(*l.ackv));
	l.ab = cg_calloc(1, sizeof(*l.ab));
	if (l.slots == NULL || l.acked == NULL || l.ackv == NULL ||
	    l.ab == NULL) {
		cg_log_err("event=worker_fail consumer=%s reason=\"out of "
		    "memory\"", w->consumer);
		goto out;
	}
	for (i = nslots; i-- > 0;) {
		l.slots[i].next = l.free;
		l.free = &l.slots[i];
	}
	/* On stop: no more reads, but the pushes in flight are settled. */
	while (!atomic_load(w->stop) || dist_push_in_flight(l.p) > 0) {
		if (!atomic_load(w->stop)) {
			if (!redis_up(&l, &backoff)) {
				/* Pushes in flight finish meanwhile. */
				if (dist_push_in_flight(l.p) > 0) {
					(void)dist_push_run(l.p, WORKER_POLL_MS,
					    on_done, &l, NULL, &err);
					ack_flush(&l);
				} else
					nap(w, backoff);
				continue;
			}
			if (!feed(&l))
				l.redis_ok = false;
		}
		cg_err_clear(&err);
		if (dist_push_run(l.p, l.more ? 0 : WORKER_POLL_MS, on_done,
		    &l, NULL, &err) != CG_OK) {
			cg_log_err_struct(__func__, "push worker", &err);
			break;
		}
		ack_flush(&l);
		/*
		 * Each flush is a store commit (an fsync): at most one per
		 * WORKER_AUDIT_EVERY_MS, so a steady trickle of deliveries
		 * does not make every push wait for the disk.
		 */
		if (l.ab->n >= WORKER_AUDIT_MAX / 2 || (l.ab->n > 0 &&
		    cg_mono_ms() - l.ab->last >= WORKER_AUDIT_EVERY_MS))
			audit_flush(w, l.ab);
	}
out:
	if (l.acked != NULL)
		ack_flush(&l);
	if (l.ab != NULL)
		audit_flush(w, l.ab);
	/* Whatever is still in flight stays pending in Redis. */
	dist_pusher_free(l.p);
	if (l.slots != NULL)
		for (i = 0; i < nslots; i++)
			if (l.slots[i].job != NULL || l.slots[i].e.job != NULL)
				slot_release(&l, &l.slots[i]);
	cg_free(l.slots);
	cg_free(l.acked);
	cg_free(l.ackv);
	cg_free(l.ab);
	dist_redis_close(w->r);
	w->r = NULL;
}
