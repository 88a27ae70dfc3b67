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
 *			outbox (the outbox row id)
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

#endif /* CERTGW_DIST_QUEUE_H */
