/*
 * dist_worker.h - the push worker loop (distribute/dist_worker.c), run as
 * threads of `certgw serve` (distribution.workers) or by
 * `certgw worker --config FILE` on any machine that reaches the Redis.
 *
 * Per job: 2xx -> acknowledged, counted, audited (when a store is given);
 * network or TLS error, 408, 429, 5xx -> retried after an exponential,
 * jittered pause (at least Retry-After) through the delayed set; other
 * answers, or the rule's attempts or age exhausted -> the dead-letter
 * stream, logged with the reason.  Entries a dead worker read but never
 * settled are claimed after distribution.claim_after_ms.  Delivery is at least
 * once; every push carries the job id as Idempotency-Key.
 */
#ifndef CERTGW_DIST_WORKER_H
#define CERTGW_DIST_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "certgw/config.h"
#include "certgw/store.h"

struct dist_redis;

struct dist_worker {
	const struct gw_config	*conf;		/* redis and distribution */
	struct ca_store		*st;		/* for audit rows, or NULL */
	char			 consumer[64];	/* unique consumer name */
	atomic_bool		*stop;		/* set to end the loop */
	struct dist_redis	*r;		/* owned by the loop */
	uint64_t		 delivered;	/* counters, loop thread only */
	uint64_t		 retried;
	uint64_t		 dead;
};

/* Run until *w->stop; settles the pushes in flight before returning. */
void		 dist_worker_run(struct dist_worker *w);

#endif /* CERTGW_DIST_WORKER_H */
