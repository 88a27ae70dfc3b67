/*
 * dist_queue.h - the Redis side of distribution: a connection to the
 * configured Redis, and the relay that moves jobs from the store's outbox
 * to the job stream.  The outbox is written in the issuance transaction
 * (dist.h); the relay makes Redis an optional, late participant: while
 * Redis is down, issuance goes on and the outbox grows, and the relay
 * drains it when Redis is back.
 *
 * Redis keys, under the configured key_prefix P:
 *	P "jobs"	stream of jobs to push; fields: job (JSON), rule,
 *			outbox (the outbox row id; absent on jobs that came
 *			back from "delayed" or "dead"); consumer group
 *			"workers"
 *	P "delayed"	sorted set of jobs waiting for a retry; score: when
 *			it is due (ms since the epoch), member: the job JSON
 *			(attempt already counted up)
 *	P "dead"	stream of dead letters; fields: job, rule, reason,
 *			time (unix seconds)
 *	P "stats"	hash of counters; fields "<rule>:delivered",
 *			"<rule>:retried", "<rule>:dead", and the delivery
 *			latency histogram "<rule>:latency_le_<ms>",
 *			"<rule>:latency_le_inf", "<rule>:latency_sum_ms"
 *			(see "metrics" below)
 *
 * Delivery is at-least-once: a job added to the stream whose outbox row
 * could not be marked relayed (crash, store error) is added again later,
 * and receivers drop the duplicate by its Idempotency-Key.
 *
 * Threads: a struct dist_redis is one connection for one thread.
 */
#ifndef CERTGW_DIST_QUEUE_H
#define CERTGW_DIST_QUEUE_H

#include <stddef.h>

#include "certgw/config.h"
#include "certgw/core.h"
#include "certgw/dist.h"
#include "certgw/store.h"

#define DIST_KEY_MAX		128	/* prefix + key name */
#define DIST_JOBS_KEY		"jobs"

struct dist_redis;

/*
 * Connect to conf's Redis (TCP, timeout conf->timeout_ms), AUTH with the
 * password from conf->password_file when set, SELECT conf->db.  CG_EIO
 * with the reason (never the password) when Redis cannot be reached or
 * refuses.
 */
enum cg_code	 dist_redis_connect(const struct gw_redis_conf *conf,
		    struct dist_redis **rp, struct cg_err *err);
void		 dist_redis_close(struct dist_redis *r);
/* conf->key_prefix + name into buf (DIST_KEY_MAX); false if too long. */
bool		 dist_redis_key(const struct dist_redis *r, const char *name,
		    char *buf, size_t len);
/* Entries in the job stream (XLEN), for status and tests. */
enum cg_code	 dist_redis_stream_len(struct dist_redis *r, const char *name,
		    size_t *np, struct cg_err *err);

/*
 * Move up to CA_STORE_OUTBOX_BATCH pending outbox jobs to the job stream
 * (XADD, pipelined), then mark those Redis took as relayed, in one store
 * transaction.  *np is how many moved.  On a Redis error nothing that
 * Redis refused is marked, and the connection should be closed and made
 * again.
 */
enum cg_code	 dist_relay_once(struct ca_store *st, struct dist_redis *r,
		    size_t *np, struct cg_err *err);

/* --------------------------------------------------- the job stream */

#define DIST_DELAYED_KEY	"delayed"
#define DIST_DEAD_KEY		"dead"
#define DIST_STATS_KEY		"stats"
#define DIST_GROUP		"workers"
#define DIST_BATCH_MAX		1024	/* entries per call, at most */
#define DIST_CONSUMER_MAX	64	/* bytes of a consumer name */
#define DIST_BLOCK_MAX_MS	60000	/* longest blocking read */

struct redisContext;

/*
 * The hiredis connection under r, for callers that need a command this
 * API does not have (tests, mostly).  Still r's: do not free it.
 */
struct redisContext *dist_redis_hiredis(struct dist_redis *r);

/*
 * One stream entry, as the worker or `certgw dist dead` sees it.  id is
 * the stream entry id ("<ms>-<seq>"); job (len bytes, NUL-terminated, at
 * most CA_STORE_PAYLOAD_MAX) and rule (at most DIST_RULE_NAME_MAX) are
 * owned copies.  rule may be "" for a job whose rule could not be read.
 */
struct dist_entry {
	char		 id[64];
	char		*job;
	size_t		 len;
	char		*rule;
	char		*reason;	/* dead letters: why; else NULL */
};

/* Free n entries and the array itself; NULL is fine. */
void		 dist_entries_free(struct dist_entry *v, size_t n);

/*
 * Create the consumer group "workers" on the job stream, reading from its
 * start, and the stream if there is none yet.  A group that exists is not
 * an error, so every worker calls this when it starts.
 */
enum cg_code	 dist_stream_group_ensure(struct dist_redis *r,
		    struct cg_err *err);

/*
 * Up to max (1..DIST_BATCH_MAX) entries never delivered to any consumer
 * of the group, waiting up to block_ms (0: do not wait, at most
 * DIST_BLOCK_MAX_MS) for the first one.  The entries become pending
 * under consumer until acknowledged by dist_stream_delivered, _delay or
 * _dead.  *vp is allocated even when *np is 0 (nothing came in time);
 * free it with dist_entries_free.
 *
 * An entry the relay could not have written (no job field, an empty or
 * oversized job or rule, fields that are not pairs of strings) would come
 * back forever; it is moved to the dead stream with the reason
 * "malformed entry: ..." and whatever job and rule it had, and left out
 * of *vp.  A reply whose shape is not a stream reply at all is CG_EIO.
 */
enum cg_code	 dist_stream_read(struct dist_redis *r, const char *consumer,
		    size_t max, uint32_t block_ms, struct dist_entry **vp,
		    size_t *np, struct cg_err *err);

/*
 * Take over up to max (1..DIST_BATCH_MAX) entries that other consumers of
 * the group read but did not acknowledge for at least min_idle_ms (their
 * worker died), XAUTOCLAIM from the start of the stream.  Entries that
 * were deleted meanwhile are skipped; malformed ones are dead-lettered as
 * in dist_stream_read.  *vp as for dist_stream_read.
 */
enum cg_code	 dist_stream_claim(struct dist_redis *r, const char *consumer,
		    uint64_t min_idle_ms, size_t max, struct dist_entry **vp,
		    size_t *np, struct cg_err *err);

/*
 * e was pushed: acknowledge it, delete it from the stream and count
 * "<rule>:delivered", in one MULTI/EXEC.  The same transaction records the
 * delivery latency: now (CLOCK_REALTIME) minus the time in e's entry id,
 * in one bucket of the histogram and in the sum (see "metrics" below).
 */
enum cg_code	 dist_stream_delivered(struct dist_redis *r,
		    const struct dist_entry *e, struct cg_err *err);
/*
 * The same for n entries in one round trip: n transactions, pipelined,
 * each one atomic on its own.  On an error some may have run; each is
 * safe to run again.  Every entry is checked before anything is sent.
 */
enum cg_code	 dist_stream_delivered_many(struct dist_redis *r,
		    const struct dist_entry *const *v, size_t n,
		    struct cg_err *err);

/*
 * e failed and is retried at due_ms (ms since the epoch): new_job (the
 * job with its attempt counted up, built by the caller) goes to the
 * delayed set, e is acknowledged and deleted, "<rule>:retried" counted,
 * in one MULTI/EXEC.
 */
enum cg_code	 dist_stream_delay(struct dist_redis *r,
		    const struct dist_entry *e, const char *new_job,
		    uint64_t due_ms, struct cg_err *err);

/*
 * e gave up for reason (at most 512 bytes are kept): job goes to the dead
 * stream with e's rule, reason and the time, e is acknowledged and
 * deleted, "<rule>:dead" counted, in one MULTI/EXEC.
 */
enum cg_code	 dist_stream_dead(struct dist_redis *r,
		    const struct dist_entry *e, const char *job,
		    const char *reason, struct cg_err *err);

/*
 * Move up to max (1..DIST_BATCH_MAX) delayed jobs due at now_ms back to
 * the job stream, oldest due first, in one Lua script so that a job is
 * never in both or in neither.  The rule field is read from the job's
 * "rule" ("" when the member is not a JSON object with one).  *movedp is
 * how many moved.
 */
enum cg_code	 dist_delayed_move_due(struct dist_redis *r, uint64_t now_ms,
		    size_t max, size_t *movedp, struct cg_err *err);

/* What `certgw dist status` shows. */
struct dist_queue_stats {
	size_t		 jobs;		/* entries in the job stream */
	size_t		 pending;	/* read by a worker, not acknowledged */
	size_t		 delayed;	/* waiting for a retry */
	size_t		 dead;		/* dead letters */
	uint64_t	 oldest_ms;	/* age of the oldest job; 0: none */
};

/*
 * Fill *st.  A job stream or group that does not exist yet counts as
 * empty.  oldest_ms is now_ms minus the time in the first entry's id.
 */
enum cg_code	 dist_queue_stats(struct dist_redis *r, uint64_t now_ms,
		    struct dist_queue_stats *st, struct cg_err *err);

/*
 * The first max (1..DIST_BATCH_MAX) dead letters, oldest first; e->job
 * and e->rule from their fields.  Dead letters without a job field are
 * listed with job "".  *vp as for dist_stream_read.
 */
enum cg_code	 dist_dead_list(struct dist_redis *r, size_t max,
		    struct dist_entry **vp, size_t *np, struct cg_err *err);

/*
 * Put dead letter dead_id back on the job stream as job (the caller
 * resets its attempt), with the dead letter's rule, and delete the dead
 * letter, atomically (Lua).  CG_ENOTFOUND when there is no such dead
 * letter; CG_EINVAL when dead_id is not an entry id.
 */
enum cg_code	 dist_dead_requeue(struct dist_redis *r, const char *dead_id,
		    const char *job, struct cg_err *err);

/* ----------------------------------------------------- admin (certgw dist) */

#define DIST_REDELIVERIES_KEY	"redeliveries"	/* hash "<serial>.<rule>" -> n */

/* XADD a job straight to the job stream (redeliveries, retries by hand). */
enum cg_code	 dist_redis_add_job(struct dist_redis *r, const char *job,
		    const char *rule, struct cg_err *err);
/* The next redelivery number of (serial, rule): 1, 2, ... (HINCRBY). */
enum cg_code	 dist_redis_next_redelivery(struct dist_redis *r,
		    const char *serial, const char *rule, uint32_t *np,
		    struct cg_err *err);
/*
 * Put dead letter e back on the job stream with its attempts reset
 * (distribute/dist_status.c); its rule into rule (may be NULL).
 */
enum cg_code	 dist_dead_retry(struct dist_redis *r,
		    const struct dist_entry *e, char *rule, size_t rulelen,
		    struct cg_err *err);

/* ------------------------------------------------------------ metrics */

/*
 * The delivery latency histogram in P"stats", per rule.  A delivery's
 * latency is the time from its job entering the job stream (the ms part of
 * its entry id, Redis' clock) to the receiver's 2xx (the worker's clock),
 * 0 when the worker's clock is behind Redis'.  It counts in exactly one
 * field: "<rule>:latency_le_<B>" for the first bound B (ms) of
 * dist_latency_bounds_ms it does not exceed, else "<rule>:latency_le_inf".
 * The fields are therefore not cumulative; readers add them up.
 * "<rule>:latency_sum_ms" adds the latencies.  Changing the bounds makes
 * the fields of the old ones unread: add bounds, do not move them.
 */
#define DIST_LATENCY_NBOUNDS	13
#define DIST_LATENCY_NBUCKETS	(DIST_LATENCY_NBOUNDS + 1)	/* + inf */
#define DIST_LATENCY_INF	UINT64_MAX	/* a quantile past the bounds */
extern const uint32_t dist_latency_bounds_ms[DIST_LATENCY_NBOUNDS];

#define DIST_METRICS_RULES_MAX	256	/* rules read from P"stats" */

/* What P"stats" holds about one rule. */
struct dist_rule_metrics {
	char		 rule[DIST_RULE_NAME_MAX + 1];
	uint64_t	 delivered;
	uint64_t	 retried;
	uint64_t	 dead;
	/* Per bucket, as stored: not cumulative. */
	uint64_t	 buckets[DIST_LATENCY_NBUCKETS];
	uint64_t	 sum_ms;
};

/* Every rule of P"stats", sorted by name after dist_metrics_read. */
struct dist_metrics {
	struct dist_rule_metrics rules[DIST_METRICS_RULES_MAX];
	size_t		 n;
	size_t		 ignored;	/* fields not understood, see below */
	bool		 truncated;	/* rules past DIST_METRICS_RULES_MAX */
};

/*
 * One field of P"stats" (flen bytes, then its value, vlen bytes) into m.
 * The field is "<rule>:<name>": rule is everything before the first ':',
 * 0 to DIST_RULE_NAME_MAX of [A-Za-z0-9_.-] ("" is the rule of jobs whose
 * rule could not be read), name one of delivered, retried, dead,
 * latency_sum_ms, latency_le_inf or latency_le_<B> with B a bound of
 * dist_latency_bounds_ms written as the writer writes it.  The value is
 * what HINCRBY leaves: decimal digits, 0 to INT64_MAX.
 *
 * Anything else (an unknown name, a bad rule name, a value that is not
 * such an integer) is ignored and counted in m->ignored, CG_EINVAL: one
 * foreign field must not hide every other counter.  A rule past
 * DIST_METRICS_RULES_MAX sets m->truncated, CG_ETOOBIG.  Pure: no I/O.
 */
enum cg_code	 dist_metrics_add(struct dist_metrics *m, const char *field,
		    size_t flen, const char *val, size_t vlen);

/* Clear *m, then every field of P"stats" into it (HGETALL), sorted. */
enum cg_code	 dist_metrics_read(struct dist_redis *r,
		    struct dist_metrics *m, struct cg_err *err);

/* The deliveries in the histogram of rm (the sum of its buckets). */
uint64_t	 dist_latency_count(const struct dist_rule_metrics *rm);

/*
 * Estimate quantile q (0 < q <= 1) of rm's latency: the upper bound (ms)
 * of the first bucket where the cumulative count reaches q of all, so the
 * true value is at most that.  DIST_LATENCY_INF when that is the last,
 * unbounded bucket.  false when the histogram is empty or q is out of
 * range.
 */
bool		 dist_latency_quantile(const struct dist_rule_metrics *rm,
		    double q, uint64_t *msp);

/*
 * What `certgw dist status --json` and GET /admin/v1/distribution show
 * (distribute/dist_status.c): {"outbox": {"jobs", "oldest_s"}, "queue":
 * {"jobs", "pending", "delayed", "dead", "oldest_ms"}, "rules": [{"rule",
 * "delivered", "retried", "dead", "latency": {...}}], "ignored_fields",
 * "rules_truncated"}.  qs and m NULL (no Redis): "queue" null, no rules.
 * A new reference, or NULL when out of memory.
 */
struct json_t;
struct json_t	*dist_status_json(size_t outbox, int64_t outbox_age_s,
		    const struct dist_queue_stats *qs,
		    const struct dist_metrics *m);

#endif /* CERTGW_DIST_QUEUE_H */
