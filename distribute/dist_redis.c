/*
 * dist_redis.c - one synchronous hiredis connection to the configured
 * Redis, and the relay from the store's outbox to the job stream.  The
 * relay runs on its own thread in `certgw serve`; nothing here blocks an
 * event loop.  Not here: what a job holds (dist_job.c) or pushing it
 * (the workers).
 */
#include "certgw/dist_queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "dist_int.h"

struct dist_redis {
	redisContext	*c;
	char		 prefix[DIST_KEY_MAX];	/* key_prefix */
};

/* One outbox job read for relaying (owned copies). */
struct relay_item {
	int64_t		 id;
	char		*rule;
	char		*payload;
};

struct relay_batch {
	struct relay_item items[CA_STORE_OUTBOX_BATCH];
	size_t		 n;
};

enum cg_code
dist_redis_reply_error(const redisContext *c, const redisReply *rep,
    const char *what, struct cg_err *err)
{
	if (rep == NULL)
		return cg_err_set(err, CG_EIO, "redis: cannot %s: %s", what,
		    c->err != 0 ? c->errstr : "no reply");
	if (rep->type == REDIS_REPLY_ERROR)
		return cg_err_set(err, CG_EIO, "redis: cannot %s: %.*s", what,
		    (int)(rep->len < 200 ? rep->len : 200), rep->str);
	return cg_err_set(err, CG_EIO, "redis: cannot %s: unexpected reply "
	    "type %d", what, rep->type);
}

/* Run a command whose reply must be a status or string; no logging. */
static enum cg_code
command_ok(redisContext *c, const char *what, struct cg_err *err,
    const char *fmt, ...)
{
	redisReply	*rep;
	va_list		 ap;
	enum cg_code	 rc = CG_OK;

	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (rep == NULL || (rep->type != REDIS_REPLY_STATUS &&
	    rep->type != REDIS_REPLY_STRING))
		rc = dist_redis_reply_error(c, rep, what, err);
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

enum cg_code
dist_redis_connect(const struct gw_redis_conf *conf, struct dist_redis **rp,
    struct cg_err *err)
{
	struct dist_redis	*r;
	struct timeval		 tv;
	char			*pw = NULL;
	enum cg_code		 rc;

	*rp = NULL;
	if (conf == NULL || !conf->enabled || conf->host == NULL)
		return cg_err_set(err, CG_EINVAL, "redis is not configured");
	r = cg_calloc(1, sizeof(*r));
	if (r == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	if ((size_t)snprintf(r->prefix, sizeof(r->prefix), "%s",
	    conf->key_prefix != NULL ? conf->key_prefix : "certgw:") >=
	    sizeof(r->prefix)) {
		rc = cg_err_set(err, CG_EINVAL, "redis key_prefix too long");
		goto out;
	}
	tv.tv_sec = conf->timeout_ms / 1000;
	tv.tv_usec = (conf->timeout_ms % 1000) * 1000;
	r->c = redisConnectWithTimeout(conf->host, conf->port, tv);
	if (r->c == NULL || r->c->err != 0) {
		rc = cg_err_set(err, CG_EIO, "redis: cannot connect to %s:%u: "
		    "%s", conf->host, (unsigned)conf->port, r->c != NULL ?
		    r->c->errstr : "out of memory");
		goto out;
	}
	if (redisSetTimeout(r->c, tv) != REDIS_OK) {
		rc = cg_err_set(err, CG_EIO, "redis: cannot set a timeout");
		goto out;
	}
	if (conf->password_file != NULL) {
		rc = cg_secret_load(conf->password_file, NULL, &pw, err);
		if (rc != CG_OK)
			goto out;
		rc = command_ok(r->c, "authenticate", err, "AUTH %s", pw);
		if (rc != CG_OK)
			goto out;
	}
	rc = command_ok(r->c, "select the database", err, "SELECT %u",
	    (unsigned)conf->db);
out:
	cg_secret_free(pw);
	if (rc != CG_OK) {
		dist_redis_close(r);
		return rc;
	}
	*rp = r;
	return CG_OK;
}

void
dist_redis_close(struct dist_redis *r)
{
	if (r == NULL)
		return;
	if (r->c != NULL)
		redisFree(r->c);
	cg_free(r);
}

bool
dist_redis_key(const struct dist_redis *r, const char *name, char *buf,
    size_t len)
{
	int	 n;

	n = snprintf(buf, len, "%s%s", r->prefix, name);
	return n >= 0 && (size_t)n < len;
}

enum cg_code
dist_redis_stream_len(struct dist_redis *r, const char *name, size_t *np,
    struct cg_err *err)
{
	redisReply	*rep;
	char		 key[DIST_KEY_MAX];
	enum cg_code	 rc = CG_OK;

	*np = 0;
	if (!dist_redis_key(r, name, key, sizeof(key)))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	rep = redisCommand(r->c, "XLEN %s", key);
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		rc = dist_redis_reply_error(r->c, rep, "read the stream length",
		    err);
	else
		*np = rep->integer < 0 ? 0 : (size_t)rep->integer;
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

/* ------------------------------------------------------------- relay */

static enum cg_code
collect_cb(void *arg, const struct ca_outbox_job *job)
{
	struct relay_batch	*b = arg;
	struct relay_item	*it;

	if (b->n >= CA_STORE_OUTBOX_BATCH)
		return CG_OK;
	it = &b->items[b->n];
	it->id = job->id;
	it->rule = cg_strdup(job->rule);
	it->payload = cg_strdup(job->payload);
	if (it->rule == NULL || it->payload == NULL) {
		cg_free(it->rule);
		cg_free(it->payload);
		return CG_ENOMEM;
	}
	b->n++;
	return CG_OK;
}

static void
batch_cleanup(struct relay_batch *b)
{
	size_t	 i;

	for (i = 0; i < b->n; i++) {
		cg_free(b->items[i].rule);
		cg_free(b->items[i].payload);
	}
	b->n = 0;
}

/*
 * XADD every item, pipelined; ids[] gets the outbox ids Redis took, in
 * order, up to the first refusal (a later success after a refusal would
 * still be relayed again: harmless, but the count stays simple).
 */
static enum cg_code
relay_push(struct dist_redis *r, const struct relay_batch *b, int64_t *ids,
    size_t *nok, struct cg_err *err)
{
	redisReply	*rep = NULL;
	char		 key[DIST_KEY_MAX], idtext[24];
	size_t		 i, sent = 0;
	enum cg_code	 rc = CG_OK;

	*nok = 0;
	if (!dist_redis_key(r, DIST_JOBS_KEY, key, sizeof(key)))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	for (i = 0; i < b->n; i++) {
		snprintf(idtext, sizeof(idtext), "%lld",
		    (long long)b->items[i].id);
		if (redisAppendCommand(r->c, "XADD %s * job %s rule %s "
		    "outbox %s", key, b->items[i].payload, b->items[i].rule,
		    idtext) != REDIS_OK)
			return cg_err_set(err, CG_ENOMEM, "redis: cannot "
			    "queue a command");
		sent++;
	}
	for (i = 0; i < sent; i++) {
		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK) {
			/* The connection is gone: nothing more to read. */
			return dist_redis_reply_error(r->c, NULL, "add jobs",
			    err);
		}
		if (rep == NULL || rep->type != REDIS_REPLY_STRING) {
			if (rc == CG_OK)
				rc = dist_redis_reply_error(r->c, rep,
				    "add jobs", err);
		} else if (rc == CG_OK) {
			ids[(*nok)++] = b->items[i].id;
		}
		if (rep != NULL)
			freeReplyObject(rep);
		rep = NULL;
	}
	return rc;
}

enum cg_code
dist_relay_once(struct ca_store *st, struct dist_redis *r, size_t *np,
    struct cg_err *err)
{
	struct relay_batch	*b;
	int64_t			*ids = NULL;
	size_t			 nok = 0, marked = 0;
	enum cg_code		 rc, prc;

	*np = 0;
	b = cg_calloc(1, sizeof(*b));
	if (b == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_outbox_pending(st, CA_STORE_OUTBOX_BATCH, collect_cb, b,
	    err);
	if (rc == CG_ENOMEM)
		cg_err_set(err, CG_ENOMEM, "out of memory");
	if (rc != CG_OK || b->n == 0)
		goto out;
	ids = cg_calloc(b->n, sizeof(*ids));
	if (ids == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	prc = relay_push(r, b, ids, &nok, err);
	/* Mark what Redis took, even when it refused something later. */
	rc = ca_store_outbox_relayed(st, ids, nok, cg_now(), &marked,
	    prc == CG_OK ? err : NULL);
	if (rc == CG_OK)
		rc = prc;
	*np = nok;
out:
	cg_free(ids);
	batch_cleanup(b);
	cg_free(b);
	return rc;
}

struct redisContext *
dist_redis_hiredis(struct dist_redis *r)
{
	return r->c;
}

/* -------------------------------------------------------------- admin */

enum cg_code
dist_redis_add_job(struct dist_redis *r, const char *job, const char *rule,
    struct cg_err *err)
{
	redisReply	*rep;
	char		 key[DIST_KEY_MAX];
	enum cg_code	 rc = CG_OK;

	if (!dist_redis_key(r, DIST_JOBS_KEY, key, sizeof(key)))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	rep = redisCommand(r->c, "XADD %s * job %s rule %s", key, job, rule);
	if (rep == NULL || rep->type != REDIS_REPLY_STRING)
		rc = dist_redis_reply_error(r->c, rep, "add a job", err);
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

enum cg_code
dist_redis_next_redelivery(struct dist_redis *r, const char *serial,
    const char *rule, uint32_t *np, struct cg_err *err)
{
	redisReply	*rep;
	char		 key[DIST_KEY_MAX];
	enum cg_code	 rc = CG_OK;

	*np = 0;
	if (!dist_redis_key(r, DIST_REDELIVERIES_KEY, key, sizeof(key)))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	rep = redisCommand(r->c, "HINCRBY %s %s.%s 1", key, serial, rule);
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		rc = dist_redis_reply_error(r->c, rep, "count redeliveries",
		    err);
	else if (rep->integer < 1 || rep->integer > UINT32_MAX)
		rc = cg_err_set(err, CG_EIO, "redis: redelivery counter out "
		    "of range");
	else
		*np = (uint32_t)rep->integer;
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}
