/*
 * dist_push.h - the HTTPS push of one distribution job to its rule's
 * endpoint (libcurl, client certificate, basic auth), how its answer is
 * classified (delivered, try again, give up), and the retry policy the
 * worker applies between attempts.  Nothing here reads or writes Redis:
 * the worker loop takes a job from the queue, calls dist_push() and acts
 * on the outcome.
 *
 * Threads: a struct dist_pusher belongs to one thread (one per push
 * worker).  curl_global_init() is the caller's, once, before the first
 * dist_pusher_new().
 */
#ifndef CERTGW_DIST_PUSH_H
#define CERTGW_DIST_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "certgw/config.h"
#include "certgw/core.h"
#include "certgw/dist.h"

#define DIST_PUSH_BODY_MAX	(64 * 1024)	/* response bytes read */
#define DIST_PUSH_CONNECT_MS	5000	/* connect timeout ceiling */
#define DIST_REASON_MAX		256	/* sizeof(dist_result.reason) */

/*
 * One per worker thread: a CURL easy handle per rule, reused from push to
 * push so the connection to each endpoint is kept alive, and the rule's
 * secrets (PKCS#12 and basic-auth passwords) read once at creation.
 */
struct dist_pusher;

/*
 * Prepare a pusher for every rule of conf (borrowed: conf must outlive
 * the pusher).  Reads the password files (CG_EIO, CG_EINVAL naming the
 * rule when one cannot be read) and sets every fixed option of the
 * rule's handle: TLS verification, client identity, auth, timeouts,
 * HTTPS only, no redirects.  *pp is the caller's (dist_pusher_free).
 */
enum cg_code	 dist_pusher_new(const struct gw_dist_conf *conf,
		    struct dist_pusher **pp, struct cg_err *err);
/* Close the connections and wipe the passwords.  NULL is a no-op. */
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
 * POST job to the URL of its rule (found by job->rule; an unknown rule,
 * a URL that does not expand or a payload that cannot be built is
 * DIST_DEAD with the reason), with the rule's payload, Idempotency-Key:
 * job->id, the rule's extra headers and its credentials.  Returns CG_OK
 * with *res filled for every network and HTTP outcome; an error code only
 * for internal failures (out of memory), *res then says DIST_RETRY.
 * The response body is dropped; past DIST_PUSH_BODY_MAX bytes of it the
 * connection is closed, the status still counts.
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

/* "delivered", "retry", "dead"; "?" out of range. */
const char	*dist_outcome_str(enum dist_outcome o);

#endif /* CERTGW_DIST_PUSH_H */
