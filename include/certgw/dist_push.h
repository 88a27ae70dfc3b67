/*
 * dist_push.h - the HTTPS pushes of distribution jobs to their rules'
 * endpoints (libcurl multi, client certificate, basic auth), how an
 * answer is classified (delivered, try again, give up), and the retry
 * policy the worker applies between attempts.  Nothing here reads or
 * writes Redis: the worker loop takes jobs from the queue, starts their
 * pushes, and settles each one when its outcome comes back.
 *
 * Several pushes are in flight at once (distribution.in_flight per
 * worker), each on its own easy handle of the rule, all driven by one
 * curl multi handle whose connection cache keeps the connections to each
 * endpoint open from push to push.
 *
 * Threads: a struct dist_pusher belongs to one thread (one per push
 * worker).  curl_global_init() is the caller's, once, before the first
 * dist_pusher_new().
 */
#ifndef CERTGW_DIST_PUSH_H
#define CERTGW_DIST_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "certgw/config.h"
#include "certgw/core.h"
#include "certgw/dist.h"

#define DIST_PUSH_BODY_MAX	(64 * 1024)	/* response bytes read */
#define DIST_PUSH_CONNECT_MS	5000	/* connect timeout ceiling */
#define DIST_REASON_MAX		256	/* sizeof(dist_result.reason) */

/*
 * One per worker thread: a multi handle, a pool of easy handles per rule
 * (set up once, reused from push to push), and the rules' secrets
 * (PKCS#12 and basic-auth passwords) read once at creation.
 */
struct dist_pusher;

/*
 * Prepare a pusher for every rule of conf (borrowed: conf must outlive
 * the pusher), for up to conf->in_flight pushes at once (0 counts as 1).
 * Reads the password files (CG_EIO, CG_EINVAL naming the rule when one
 * cannot be read).  Every fixed option of a rule's handles: TLS
 * verification, client identity, auth, timeouts, HTTPS only, no
 * redirects.  At most conf->in_flight connections per endpoint.  *pp is
 * the caller's (dist_pusher_free).
 */
enum cg_code	 dist_pusher_new(const struct gw_dist_conf *conf,
		    struct dist_pusher **pp, struct cg_err *err);
/*
 * Abandon the pushes in flight (they are never reported), close the
 * connections and wipe the passwords.  NULL is a no-op.
 */
void		 dist_pusher_free(struct dist_pusher *p);

/* What a push came to. */
enum dist_outcome {
	DIST_DELIVERED = 0,	/* 2xx: the receiver has it */
	DIST_RETRY,		/* network, TLS, timeout, 408, 429, 5xx */
	DIST_DEAD,		/* other 4xx, 1xx, 3xx, bad rule or job */
	DIST_OUTCOME__MAX
};

struct dist_result {
	enum dist_outcome outcome;
	long		 status;	/* HTTP status, 0 when none */
	uint32_t	 retry_after_s;	/* from Retry-After (seconds or HTTP
					   date), 0 if none */
	double		 duration_ms;	/* the whole push, wall clock */
	char		 reason[DIST_REASON_MAX]; /* "HTTP 503", "TLS: ...",
					   "connect: ..."; printable ASCII,
					   no secrets: safe to log and to
					   keep as the job's last_error */
};

/*
 * Start to POST job to the URL of its rule (found by job->rule), with the
 * rule's payload, Idempotency-Key: job->id, the rule's extra headers and
 * its credentials.  The pusher keeps its own copies of what it sends: job
 * may be freed at once.  tag is the caller's and comes back with the
 * outcome from dist_push_run(), exactly once.  A job that cannot be sent
 * at all (unknown rule, a URL that does not expand, a payload that cannot
 * be built) is DIST_DEAD with the reason, reported the same way.
 * CG_ECONFLICT when in_flight pushes are already under way, CG_ENOMEM: then
 * nothing was started and tag is never reported.
 */
enum cg_code	 dist_push_start(struct dist_pusher *p,
		    const struct dist_job *job, void *tag, struct cg_err *err);

/* Pushes started and not yet reported. */
size_t		 dist_push_in_flight(const struct dist_pusher *p);
/* How many more may start now. */
size_t		 dist_push_room(const struct dist_pusher *p);

/*
 * Called once per finished push; res is valid during the call only.
 * The callback must not start pushes or run the pusher itself.
 */
typedef void	 dist_push_done_fn(void *arg, void *tag,
		    const struct dist_result *res);

/*
 * Move every push on as far as the network allows; when none has
 * finished yet, wait up to wait_ms for one to make progress (0: do not
 * wait; no wait either when nothing is in flight).  Report each finished
 * push through fn.  *np (may be NULL) is how many were reported.  Every
 * network and HTTP outcome is a result, never an error; an error only
 * when the multi handle itself fails.
 */
enum cg_code	 dist_push_run(struct dist_pusher *p, uint32_t wait_ms,
		    dist_push_done_fn *fn, void *arg, size_t *np,
		    struct cg_err *err);

/* New connections opened so far (the rest of the pushes reused one). */
uint64_t	 dist_pusher_connects(const struct dist_pusher *p);

/*
 * One push from start to outcome, for callers with nothing else in
 * flight (tests, one-off tools).  Returns CG_OK with *res filled for
 * every network and HTTP outcome; an error code only for internal
 * failures (out of memory, a pusher with pushes in flight), *res then
 * says DIST_RETRY.
 */
enum cg_code	 dist_push(struct dist_pusher *p, const struct dist_job *job,
		    struct dist_result *res, struct cg_err *err);

/*
 * The pause before the next attempt, in ms: initial_backoff_ms doubled
 * per failed attempt so far (attempt >= 1; 0 counts as 1), capped at
 * max_backoff_ms, then jittered uniformly in [cap/2, cap] by r (a random
 * 64-bit value, passed in so tests are deterministic).  A Retry-After of
 * retry_after_s seconds raises the pause to at least that, still capped
 * at max_backoff_ms.
 */
uint64_t	 dist_backoff_ms(const struct gw_dist_rule *rule,
		    uint32_t attempt, uint32_t retry_after_s, uint64_t r);

/*
 * True when the job may not be tried again: job->attempt (failed tries
 * so far) has reached rule->max_attempts (tries in all), or the job is
 * older than rule->max_age_s at now (unix seconds) counted from
 * job->created_at.
 */
bool		 dist_retry_exhausted(const struct gw_dist_rule *rule,
		    const struct dist_job *job, int64_t now);

/*
 * The TLS options of rule r on an easy handle: TLS 1.2 at least, peer and
 * host verification unless r->insecure_skip_verify, r->ca_file as the
 * trust, and the client identity (r->client_p12 opened with p12_pass, or
 * r->client_cert and r->client_key).  Shared by the pushes and by the
 * expiry notifications (gateway/gw_notify.c), whose channels take the
 * same "tls" object, so both connect the same way.  CG_EINTERNAL naming
 * r->name when libcurl refuses an option.
 */
enum cg_code	 dist_push_tls_setopt(CURL *curl,
		    const struct gw_dist_rule *r, const char *p12_pass,
		    struct cg_err *err);

/* "delivered", "retry", "dead"; "?" out of range. */
const char	*dist_outcome_str(enum dist_outcome o);

#endif /* CERTGW_DIST_PUSH_H */
