/*
 * dist_stream.c - the worker's side of the Redis job stream: reading jobs
 * through the consumer group, claiming the jobs of dead workers, and
 * finishing a job (delivered, delayed for a retry, dead-lettered) in one
 * MULTI/EXEC so that a job is never both acknowledged and lost.  Also the
 * delayed set, the dead stream and the counters `certgw dist` shows.
 * Synchronous hiredis on the caller's struct dist_redis; no event loop.
 * Not here: what a job holds (dist_job.c) or pushing it (the workers).
 * The delivery latency histogram is written here with each delivery and
 * read back, with the counters, for `certgw dist status|metrics`.
 *
 * Everything read from Redis is checked before it is trusted: reply
 * shapes, entry ids, and the size of every string copied out.
 */
#include "certgw/dist_queue.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "dist_int.h"

#include "certgw/dist.h"

#define REASON_MAX	512		/* bytes of a dead letter's reason */
#define TXN_ARGS	14		/* arguments of one queued command */
#define TXN_CMDS	6		/* commands in one transaction */
#define FIELD_MAX	(DIST_RULE_NAME_MAX + 32) /* "<rule>:<what>" + NUL */
#define LATENCY_CAP_MS	(UINT64_C(30) * 24 * 3600 * 1000) /* in the sum */
#define BUCKET_PREFIX	"latency_le_"

/*
 * Upper bounds (ms) of the latency buckets, shared by the writer
 * (dist_stream_delivered) and every reader.  Append only: a moved bound
 * leaves its old field unread.
 */
const uint32_t dist_latency_bounds_ms[DIST_LATENCY_NBOUNDS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000
};

/* One command of a transaction, as argv (binary-safe). */
struct txn_cmd {
	int		 argc;
	const char	*argv[TXN_ARGS];
	size_t		 argvlen[TXN_ARGS];
};

struct txn {
	struct txn_cmd	 cmd[TXN_CMDS];
	size_t		 n;
};

/* What entry_parse made of one stream entry. */
enum ent_result {
	ENT_OK,			/* *e filled */
	ENT_GONE,		/* deleted since it was read: skip */
	ENT_BAD,		/* readable id, unusable fields */
	ENT_FATAL		/* not a stream entry at all */
};

/*
 * Move due jobs from the delayed set (KEYS[1]) to the job stream
 * (KEYS[2]).  ARGV[1]: now in ms, ARGV[2]: at most this many.  The rule is
 * taken from the job itself; a member that is not a JSON object with a
 * short string "rule" still moves, with rule "", so that the worker sees
 * it and dead-letters it rather than have it sit in the set forever.
 */
static const char move_due_lua[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], "
    "'LIMIT', 0, tonumber(ARGV[2]))\n"
    "for _, m in ipairs(due) do\n"
    "  local rule = ''\n"
    "  local ok, j = pcall(cjson.decode, m)\n"
    "  if ok and type(j) == 'table' and type(j.rule) == 'string' and "
    "#j.rule <= 64 then rule = j.rule end\n"
    "  redis.call('XADD', KEYS[2], '*', 'job', m, 'rule', rule)\n"
    "  redis.call('ZREM', KEYS[1], m)\n"
    "end\n"
    "return #due\n";

/*
 * Put dead letter ARGV[1] of KEYS[1] back on KEYS[2] as job ARGV[2] with
 * its rule, and delete it; 0 when there is no such dead letter.
 */
static const char requeue_lua[] =
    "local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])\n"
    "if #e == 0 then return 0 end\n"
    "local f = e[1][2]\n"
    "local rule = ''\n"
    "for i = 1, #f - 1, 2 do\n"
    "  if f[i] == 'rule' then rule = f[i + 1] break end\n"
    "end\n"
    "redis.call('XADD', KEYS[2], '*', 'job', ARGV[2], 'rule', rule)\n"
    "redis.call('XDEL', KEYS[1], ARGV[1])\n"
    "return 1\n";

/* ----------------------------------------------------------- helpers */

static enum cg_code
shape_error(const char *what, const char *why, struct cg_err *err)
{
	return cg_err_set(err, CG_EIO, "redis: cannot %s: %s", what, why);
}

static bool
key(struct dist_redis *r, const char *name, char *buf)
{
	return dist_redis_key(r, name, buf, DIST_KEY_MAX);
}

/* A stream entry id: "<ms>-<seq>", both decimal. */
static bool
id_valid(const char *s, size_t len)
{
	size_t	 i, dash = 0, digits = 0;

	if (len == 0 || len >= sizeof(((struct dist_entry *)0)->id))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '-') {
			if (digits == 0 || dash++ != 0)
				return false;
			digits = 0;
		} else if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else
			return false;
	}
	return dash == 1 && digits > 0;
}

static bool
consumer_valid(const char *s)
{
	size_t	 len;

	if (s == NULL)
		return false;
	len = strlen(s);
	/* Printable without spaces: it shows up in XINFO and the logs. */
	if (len == 0 || len > DIST_CONSUMER_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

static bool
entry_valid(const struct dist_entry *e)
{
	return e != NULL && id_valid(e->id, strnlen(e->id, sizeof(e->id))) &&
	    e->rule != NULL && strlen(e->rule) <= DIST_RULE_NAME_MAX;
}

static void
txn_add(struct txn *t, int argc, ...)
{
	struct txn_cmd	*c = &t->cmd[t->n++];
	va_list		 ap;
	int		 i;

	va_start(ap, argc);
	c->argc = argc;
	for (i = 0; i < argc; i++) {
		c->argv[i] = va_arg(ap, const char *);
		c->argvlen[i] = strlen(c->argv[i]);
	}
	va_end(ap);
}

/* Queue MULTI, t's commands and EXEC on the connection, unsent. */
static enum cg_code
txn_queue(redisContext *c, struct txn *t, struct cg_err *err)
{
	size_t	 i;

	if (redisAppendCommand(c, "MULTI") != REDIS_OK)
		return cg_err_set(err, CG_ENOMEM, "redis: cannot queue a "
		    "command");
	for (i = 0; i < t->n; i++)
		if (redisAppendCommandArgv(c, t->cmd[i].argc, t->cmd[i].argv,
		    t->cmd[i].argvlen) != REDIS_OK)
			return cg_err_set(err, CG_ENOMEM, "redis: cannot "
			    "queue a command");
	if (redisAppendCommand(c, "EXEC") != REDIS_OK)
		return cg_err_set(err, CG_ENOMEM, "redis: cannot queue a "
		    "command");
	return CG_OK;
}

/*
 * Read the replies of one queued transaction of ncmds commands; every
 * reply is read even after a failure so that the connection stays in
 * step.  Any refusal (at queueing or inside EXEC) is an error; the other
 * commands of an EXEC did run, as Redis has no rollback, but each of them
 * is safe to run again.
 */
static enum cg_code
txn_collect(redisContext *c, size_t ncmds, const char *what,
    struct cg_err *err)
{
	redisReply	*rep;
	size_t		 i, k;
	enum cg_code	 rc = CG_OK;

	for (i = 0; i < ncmds + 2; i++) {
		rep = NULL;
		if (redisGetReply(c, (void **)&rep) != REDIS_OK)
			return dist_redis_reply_error(c, NULL, what, err);
		if (rep == NULL)
			rc = dist_redis_reply_error(c, NULL, what, err);
		else if (i < ncmds + 1) {
			/* MULTI's OK, then QUEUED for each command. */
			if (rep->type != REDIS_REPLY_STATUS && rc == CG_OK)
				rc = dist_redis_reply_error(c, rep, what, err);
		} else if (rep->type != REDIS_REPLY_ARRAY ||
		    rep->elements != ncmds) {
			if (rc == CG_OK)
				rc = dist_redis_reply_error(c, rep, what, err);
		} else {
			for (k = 0; k < rep->elements && rc == CG_OK; k++)
				if (rep->element[k] == NULL ||
				    rep->element[k]->type ==
				    REDIS_REPLY_ERROR)
					rc = dist_redis_reply_error(c,
					    rep->element[k], what, err);
		}
		if (rep != NULL)
			freeReplyObject(rep);
	}
	return rc;
}

/* MULTI, t's commands, EXEC, pipelined: one round trip. */
static enum cg_code
txn_run(struct dist_redis *r, struct txn *t, const char *what,
    struct cg_err *err)
{
	redisContext	*c = dist_redis_hiredis(r);
	enum cg_code	 rc;

	if ((rc = txn_queue(c, t, err)) != CG_OK)
		return rc;
	return txn_collect(c, t->n, what, err);
}

void
dist_entries_free(struct dist_entry *v, size_t n)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		cg_free(v[i].job);
		cg_free(v[i].rule);
		cg_free(v[i].reason);
	}
	cg_free(v);
}

/* ------------------------------------------------------ reading entries */

/*
 * One entry, [id, [field, value, ...]], into e.  With lenient (the dead
 * stream, read by an operator), a missing or oversized job or rule is
 * listed as "" rather than refused.  *whyp says what made it ENT_BAD.
 */
static enum ent_result
entry_parse(const redisReply *ent, bool lenient, struct dist_entry *e,
    const char **whyp)
{
	const redisReply	*f, *k, *val, *job = NULL, *rule = NULL;
	const redisReply	*reason = NULL;
	size_t			 i;

	*whyp = "not a stream entry";
	memset(e, 0, sizeof(*e));
	if (ent == NULL || ent->type != REDIS_REPLY_ARRAY ||
	    ent->elements != 2 || ent->element[0] == NULL ||
	    ent->element[0]->type != REDIS_REPLY_STRING ||
	    !id_valid(ent->element[0]->str, ent->element[0]->len))
		return ENT_FATAL;
	memcpy(e->id, ent->element[0]->str, ent->element[0]->len);
	e->id[ent->element[0]->len] = '\0';
	f = ent->element[1];
	if (f == NULL || f->type == REDIS_REPLY_NIL)
		return ENT_GONE;
	if (f->type != REDIS_REPLY_ARRAY)
		return ENT_FATAL;
	if (f->elements % 2 != 0) {
		*whyp = "fields are not pairs";
		return ENT_BAD;
	}
	for (i = 0; i < f->elements; i += 2) {
		k = f->element[i];
		val = f->element[i + 1];
		if (k == NULL || val == NULL || k->type != REDIS_REPLY_STRING ||
		    val->type != REDIS_REPLY_STRING) {
			*whyp = "a field is not a string";
			return ENT_BAD;
		}
		if (job == NULL && k->len == 3 && memcmp(k->str, "job", 3) == 0)
			job = val;
		else if (rule == NULL && k->len == 4 &&
		    memcmp(k->str, "rule", 4) == 0)
			rule = val;
		else if (reason == NULL && k->len == 6 &&
		    memcmp(k->str, "reason", 6) == 0 &&
		    val->len <= REASON_MAX)
			reason = val;
	}
	if (!lenient) {
		*whyp = "no job field";
		if (job == NULL)
			return ENT_BAD;
		*whyp = "empty or oversized job";
		if (job->len == 0 || job->len > CA_STORE_PAYLOAD_MAX ||
		    memchr(job->str, '\0', job->len) != NULL)
			return ENT_BAD;
		*whyp = "no rule field";
		if (rule == NULL)
			return ENT_BAD;
		/* "" is allowed: jobs back from the delayed set may have it. */
		*whyp = "oversized rule";
		if (rule->len > DIST_RULE_NAME_MAX ||
		    memchr(rule->str, '\0', rule->len) != NULL)
			return ENT_BAD;
	} else {
		if (job != NULL && (job->len > CA_STORE_PAYLOAD_MAX ||
		    memchr(job->str, '\0', job->len) != NULL))
			job = NULL;
		if (rule != NULL && (rule->len > DIST_RULE_NAME_MAX ||
		    memchr(rule->str, '\0', rule->len) != NULL))
			rule = NULL;
	}
	e->job = job != NULL ? cg_strndup(job->str, job->len) : cg_strdup("");
	e->len = job != NULL ? job->len : 0;
	e->rule = rule != NULL ? cg_strndup(rule->str, rule->len) :
	    cg_strdup("");
	e->reason = reason != NULL ? cg_strndup(reason->str, reason->len) :
	    NULL;
	*whyp = "out of memory";
	if (e->job == NULL || e->rule == NULL ||
	    (reason != NULL && e->reason == NULL)) {
		cg_free(e->job);
		cg_free(e->rule);
		cg_free(e->reason);
		e->job = e->rule = e->reason = NULL;
		return ENT_FATAL;
	}
	return ENT_OK;
}

/*
 * A malformed job-stream entry: copy what it had to the dead stream and
 * take it out of the group and the stream, so that it is neither read
 * again nor lost.  Only strings of acceptable size are kept.
 */
static enum cg_code
quarantine(struct dist_redis *r, const redisReply *ent, const char *why,
    struct cg_err *err)
{
	const redisReply	*f, *k, *val;
	struct txn		 t = { .n = 0 };
	char			 jobs[DIST_KEY_MAX], dead[DIST_KEY_MAX];
	char			 id[64], reason[96], now[24];
	const char		*job = "", *rule = "";
	size_t			 i, joblen = 0, rulelen = 0;

	if (!key(r, DIST_JOBS_KEY, jobs) || !key(r, DIST_DEAD_KEY, dead))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	/* entry_parse checked the id and that the fields are an array. */
	snprintf(id, sizeof(id), "%.*s", (int)ent->element[0]->len,
	    ent->element[0]->str);
	f = ent->element[1];
	for (i = 0; i + 1 < f->elements; i += 2) {
		k = f->element[i];
		val = f->element[i + 1];
		if (k == NULL || val == NULL || k->type != REDIS_REPLY_STRING ||
		    val->type != REDIS_REPLY_STRING)
			continue;
		if (k->len == 3 && memcmp(k->str, "job", 3) == 0 &&
		    val->len <= CA_STORE_PAYLOAD_MAX) {
			job = val->str;
			joblen = val->len;
		} else if (k->len == 4 && memcmp(k->str, "rule", 4) == 0 &&
		    val->len <= DIST_RULE_NAME_MAX) {
			rule = val->str;
			rulelen = val->len;
		}
	}
	snprintf(reason, sizeof(reason), "malformed entry: %s", why);
	snprintf(now, sizeof(now), "%lld", (long long)cg_now());
	txn_add(&t, 11, "XADD", dead, "*", "job", job, "rule", rule,
	    "reason", reason, "time", now);
	t.cmd[0].argvlen[4] = joblen;
	t.cmd[0].argvlen[6] = rulelen;
	txn_add(&t, 4, "XACK", jobs, DIST_GROUP, id);
	txn_add(&t, 3, "XDEL", jobs, id);
	cg_log_warn("event=job_malformed id=%s reason=\"%s\" action=dead",
	    id, why);
	return txn_run(r, &t, "dead-letter a malformed entry", err);
}

/*
 * The entries array of an XREADGROUP or XAUTOCLAIM reply into *vp and
 * *np.  Nil elements and entries deleted since (nil fields) are skipped;
 * malformed ones are quarantined.  The reply must be complete before
 * quarantine() issues commands: it is, hiredis read it whole.
 */
static enum cg_code
entries_take(struct dist_redis *r, const redisReply *arr, size_t max,
    bool job_stream, const char *what, struct dist_entry **vp, size_t *np,
    struct cg_err *err)
{
	struct dist_entry	*v;
	const char		*why;
	size_t			 i, n = 0;
	enum cg_code		 rc;

	if (arr->type != REDIS_REPLY_ARRAY)
		return shape_error(what, "entries are not an array", err);
	if (arr->elements > max)
		return shape_error(what, "more entries than asked for", err);
	v = cg_calloc(arr->elements > 0 ? arr->elements : 1, sizeof(*v));
	if (v == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 0; i < arr->elements; i++) {
		if (arr->element[i] == NULL ||
		    arr->element[i]->type == REDIS_REPLY_NIL)
			continue;
		switch (entry_parse(arr->element[i], !job_stream, &v[n],
		    &why)) {
		case ENT_OK:
			n++;
			break;
		case ENT_GONE:
			break;
		case ENT_BAD:
			/*
			 * Only the job stream's entries are dead-lettered:
			 * the dead stream's own are shown as they are, and
			 * Redis never sends fields that are not string pairs.
			 */
			if (!job_stream) {
				dist_entries_free(v, n);
				return shape_error(what, why, err);
			}
			rc = quarantine(r, arr->element[i], why, err);
			if (rc != CG_OK) {
				dist_entries_free(v, n);
				return rc;
			}
			break;
		case ENT_FATAL:
			dist_entries_free(v, n);
			if (strcmp(why, "out of memory") == 0)
				return cg_err_set(err, CG_ENOMEM,
				    "out of memory");
			return shape_error(what, why, err);
		}
	}
	*vp = v;
	*np = n;
	return CG_OK;
}

/* An empty, allocated result, so that callers always have *vp to free. */
static enum cg_code
entries_none(struct dist_entry **vp, struct cg_err *err)
{
	*vp = cg_calloc(1, sizeof(**vp));
	if (*vp == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

/* ----------------------------------------------------------- the API */

enum cg_code
dist_stream_group_ensure(struct dist_redis *r, struct cg_err *err)
{
	redisContext	*c = dist_redis_hiredis(r);
	redisReply	*rep;
	char		 jobs[DIST_KEY_MAX];
	enum cg_code	 rc = CG_OK;

	if (!key(r, DIST_JOBS_KEY, jobs))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	/* From 0, not $: jobs relayed before the first worker count too. */
	rep = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", jobs,
	    DIST_GROUP);
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "BUSYGROUP", 9) == 0)
		rc = CG_OK;
	else if (rep == NULL || rep->type != REDIS_REPLY_STATUS)
		rc = dist_redis_reply_error(c, rep,
		    "create the consumer group", err);
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

/*
 * The socket's receive timeout (what redisSetTimeout set), so that a
 * blocking read can lengthen it and put it back.  false if unknown.
 */
static bool
read_timeout(redisContext *c, struct timeval *tv)
{
	socklen_t	 len = sizeof(*tv);

	return c->fd >= 0 && getsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, tv,
	    &len) == 0 && len == sizeof(*tv);
}

enum cg_code
dist_stream_read(struct dist_redis *r, const char *consumer, size_t max,
    uint32_t block_ms, struct dist_entry **vp, size_t *np,
    struct cg_err *err)
{
	redisContext	*c = dist_redis_hiredis(r);
	redisReply	*rep, *s;
	struct timeval	 old, tv;
	char		 jobs[DIST_KEY_MAX];
	bool		 stretched = false;
	enum cg_code	 rc;

	*vp = NULL;
	*np = 0;
	if (!consumer_valid(consumer) || max == 0 || max > DIST_BATCH_MAX ||
	    block_ms > DIST_BLOCK_MAX_MS)
		return cg_err_set(err, CG_EINVAL, "bad stream read arguments");
	if (!key(r, DIST_JOBS_KEY, jobs))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	/*
	 * The command timeout must outlast the BLOCK, or hiredis gives up on
	 * an empty stream before Redis answers and the connection is lost.
	 */
	if (block_ms > 0 && read_timeout(c, &old) &&
	    (old.tv_sec != 0 || old.tv_usec != 0)) {
		tv = old;
		tv.tv_sec += block_ms / 1000;
		tv.tv_usec += (block_ms % 1000) * 1000;
		if (tv.tv_usec >= 1000000) {
			tv.tv_sec++;
			tv.tv_usec -= 1000000;
		}
		if (redisSetTimeout(c, tv) != REDIS_OK)
			return cg_err_set(err, CG_EIO, "redis: cannot set a "
			    "timeout");
		stretched = true;
	}
	if (block_ms > 0)
		rep = redisCommand(c, "XREADGROUP GROUP %s %s COUNT %u BLOCK "
		    "%u STREAMS %s >", DIST_GROUP, consumer, (unsigned)max,
		    (unsigned)block_ms, jobs);
	else
		rep = redisCommand(c, "XREADGROUP GROUP %s %s COUNT %u "
		    "STREAMS %s >", DIST_GROUP, consumer, (unsigned)max, jobs);
	if (stretched && c->err == 0 && redisSetTimeout(c, old) != REDIS_OK) {
		if (rep != NULL)
			freeReplyObject(rep);
		return cg_err_set(err, CG_EIO, "redis: cannot set a timeout");
	}
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		rc = dist_redis_reply_error(c, rep, "read jobs", err);
	} else if (rep->type == REDIS_REPLY_NIL) {
		rc = entries_none(vp, err);	/* nothing within block_ms */
	} else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 ||
	    (s = rep->element[0]) == NULL || s->type != REDIS_REPLY_ARRAY ||
	    s->elements != 2 || s->element[1] == NULL) {
		rc = shape_error("read jobs", "not a stream reply", err);
	} else {
		rc = entries_take(r, s->element[1], max, true, "read jobs", vp,
		    np, err);
	}
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

enum cg_code
dist_stream_claim(struct dist_redis *r, const char *consumer,
    uint64_t min_idle_ms, size_t max, struct dist_entry **vp, size_t *np,
    struct cg_err *err)
{
	redisContext	*c = dist_redis_hiredis(r);
	redisReply	*rep;
	char		 jobs[DIST_KEY_MAX];
	enum cg_code	 rc;

	*vp = NULL;
	*np = 0;
	if (!consumer_valid(consumer) || max == 0 || max > DIST_BATCH_MAX ||
	    min_idle_ms > INT64_MAX)
		return cg_err_set(err, CG_EINVAL, "bad stream claim arguments");
	if (!key(r, DIST_JOBS_KEY, jobs))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	rep = redisCommand(c, "XAUTOCLAIM %s %s %s %llu 0-0 COUNT %u", jobs,
	    DIST_GROUP, consumer, (unsigned long long)min_idle_ms,
	    (unsigned)max);
	/*
	 * [next cursor, entries] (Redis 6.2, deleted entries as nil) or
	 * [next cursor, entries, deleted ids] (7.0, which drops those from
	 * the pending list itself).
	 */
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		rc = dist_redis_reply_error(c, rep, "claim jobs", err);
	else if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
	    rep->elements > 3 || rep->element[1] == NULL)
		rc = shape_error("claim jobs", "not an XAUTOCLAIM reply", err);
	else
		rc = entries_take(r, rep->element[1], max, true, "claim jobs",
		    vp, np, err);
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

/* "<rule>:<what>", the stats hash field. */
static void
stat_field(char *buf, size_t len, const struct dist_entry *e,
    const char *what)
{
	snprintf(buf, len, "%s:%s", e->rule, what);
}

/* The ms part of a valid entry id; false when it does not fit. */
static bool
id_ms(const char *id, uint64_t *msp)
{
	uint64_t	 ms = 0;

	for (; *id >= '0' && *id <= '9'; id++) {
		if (ms > (UINT64_MAX - 9) / 10)
			return false;
		ms = ms * 10 + (uint64_t)(*id - '0');
	}
	*msp = ms;
	return true;
}

/* The histogram bucket of a latency: index into the bounds, or the last. */
static size_t
latency_bucket(uint64_t ms)
{
	size_t	 i;

	for (i = 0; i < DIST_LATENCY_NBOUNDS; i++)
		if (ms <= dist_latency_bounds_ms[i])
			break;
	return i;
}

/* The field name of bucket i after "<rule>:". */
static void
bucket_name(size_t i, char *buf, size_t len)
{
	if (i < DIST_LATENCY_NBOUNDS)
		snprintf(buf, len, BUCKET_PREFIX "%" PRIu32,
		    dist_latency_bounds_ms[i]);
	else
		snprintf(buf, len, BUCKET_PREFIX "inf");
}

/* Queue the transaction that settles one delivered entry: 5 commands. */
#define DELIVERED_CMDS	5
static enum cg_code
delivered_queue(struct dist_redis *r, const struct dist_entry *e,
    uint64_t now, struct cg_err *err)
{
	struct txn	 t = { .n = 0 };
	char		 jobs[DIST_KEY_MAX], stats[DIST_KEY_MAX];
	char		 field[FIELD_MAX], bucket[FIELD_MAX], sum[FIELD_MAX];
	char		 name[32], lat[24];
	uint64_t	 sent, ms = 0;

	if (!entry_valid(e))
		return cg_err_set(err, CG_EINVAL, "bad stream entry");
	if (!key(r, DIST_JOBS_KEY, jobs) || !key(r, DIST_STATS_KEY, stats))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	/*
	 * The entry id holds Redis' clock when the job entered the stream;
	 * now is this worker's.  A worker whose clock is behind Redis' would
	 * see a negative latency: count it as 0 rather than as a huge one.
	 */
	if (id_ms(e->id, &sent) && now > sent)
		ms = now - sent;
	bucket_name(latency_bucket(ms), name, sizeof(name));
	/* Only hand-made ids are this old; keep the sum far from overflow. */
	if (ms > LATENCY_CAP_MS)
		ms = LATENCY_CAP_MS;
	snprintf(lat, sizeof(lat), "%" PRIu64, ms);
	stat_field(field, sizeof(field), e, "delivered");
	stat_field(bucket, sizeof(bucket), e, name);
	stat_field(sum, sizeof(sum), e, "latency_sum_ms");
	txn_add(&t, 4, "XACK", jobs, DIST_GROUP, e->id);
	txn_add(&t, 3, "XDEL", jobs, e->id);
	txn_add(&t, 4, "HINCRBY", stats, field, "1");
	txn_add(&t, 4, "HINCRBY", stats, bucket, "1");
	txn_add(&t, 4, "HINCRBY", stats, sum, lat);
	/* hiredis copies the arguments: the buffers may go now. */
	return txn_queue(dist_redis_hiredis(r), &t, err);
}

enum cg_code
dist_stream_delivered(struct dist_redis *r, const struct dist_entry *e,
    struct cg_err *err)
{
	return dist_stream_delivered_many(r, &e, 1, err);
}

enum cg_code
dist_stream_delivered_many(struct dist_redis *r,
    const struct dist_entry *const *v, size_t n, struct cg_err *err)
{
	redisContext	*c = dist_redis_hiredis(r);
	uint64_t	 now = cg_wall_ms();
	size_t		 i;
	enum cg_code	 rc;

	for (i = 0; i < n; i++)
		if (!entry_valid(v[i]))
			return cg_err_set(err, CG_EINVAL, "bad stream entry");
	for (i = 0; i < n; i++)
		if ((rc = delivered_queue(r, v[i], now, err)) != CG_OK)
			return rc;	/* the caller drops the connection */
	rc = CG_OK;
	for (i = 0; i < n; i++)
		if (txn_collect(c, DELIVERED_CMDS, "acknowledge a job",
		    err) != CG_OK && rc == CG_OK)
			rc = err->code;
	return rc;
}

enum cg_code
dist_stream_delay(struct dist_redis *r, const struct dist_entry *e,
    const char *new_job, uint64_t due_ms, struct cg_err *err)
{
	struct txn	 t = { .n = 0 };
	char		 jobs[DIST_KEY_MAX], stats[DIST_KEY_MAX];
	char		 delayed[DIST_KEY_MAX], due[24];
	char		 field[FIELD_MAX];
	size_t		 len;

	if (!entry_valid(e) || new_job == NULL)
		return cg_err_set(err, CG_EINVAL, "bad stream entry");
	len = strlen(new_job);
	if (len == 0)
		return cg_err_set(err, CG_EINVAL, "empty job to delay");
	if (len > CA_STORE_PAYLOAD_MAX)
		return cg_err_set(err, CG_ETOOBIG, "job too large to delay");
	if (!key(r, DIST_JOBS_KEY, jobs) || !key(r, DIST_STATS_KEY, stats) ||
	    !key(r, DIST_DELAYED_KEY, delayed))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	/* A double holds integers exactly up to 2^53: year 287396. */
	if (due_ms > (UINT64_C(1) << 53))
		return cg_err_set(err, CG_EINVAL, "due time out of range");
	snprintf(due, sizeof(due), "%" PRIu64, due_ms);
	stat_field(field, sizeof(field), e, "retried");
	txn_add(&t, 4, "ZADD", delayed, due, new_job);
	txn_add(&t, 4, "XACK", jobs, DIST_GROUP, e->id);
	txn_add(&t, 3, "XDEL", jobs, e->id);
	txn_add(&t, 4, "HINCRBY", stats, field, "1");
	return txn_run(r, &t, "delay a job", err);
}

enum cg_code
dist_stream_dead(struct dist_redis *r, const struct dist_entry *e,
    const char *job, const char *reason, struct cg_err *err)
{
	struct txn	 t = { .n = 0 };
	char		 jobs[DIST_KEY_MAX], stats[DIST_KEY_MAX];
	char		 dead[DIST_KEY_MAX], now[24];
	char		 field[FIELD_MAX];
	size_t		 len;

	if (!entry_valid(e) || job == NULL || reason == NULL)
		return cg_err_set(err, CG_EINVAL, "bad stream entry");
	len = strlen(job);
	if (len > CA_STORE_PAYLOAD_MAX)
		return cg_err_set(err, CG_ETOOBIG, "job too large to "
		    "dead-letter");
	if (!key(r, DIST_JOBS_KEY, jobs) || !key(r, DIST_STATS_KEY, stats) ||
	    !key(r, DIST_DEAD_KEY, dead))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	snprintf(now, sizeof(now), "%lld", (long long)cg_now());
	stat_field(field, sizeof(field), e, "dead");
	txn_add(&t, 11, "XADD", dead, "*", "job", job, "rule", e->rule,
	    "reason", reason, "time", now);
	/* A reason is for people: keep the first REASON_MAX bytes. */
	if (t.cmd[0].argvlen[8] > REASON_MAX)
		t.cmd[0].argvlen[8] = REASON_MAX;
	txn_add(&t, 4, "XACK", jobs, DIST_GROUP, e->id);
	txn_add(&t, 3, "XDEL", jobs, e->id);
	txn_add(&t, 4, "HINCRBY", stats, field, "1");
	return txn_run(r, &t, "dead-letter a job", err);
}

enum cg_code
dist_delayed_move_due(struct dist_redis *r, uint64_t now_ms, size_t max,
    size_t *movedp, struct cg_err *err)
{
	redisContext	*c = dist_redis_hiredis(r);
	redisReply	*rep;
	char		 jobs[DIST_KEY_MAX], delayed[DIST_KEY_MAX];
	enum cg_code	 rc = CG_OK;

	*movedp = 0;
	if (max == 0 || max > DIST_BATCH_MAX || now_ms > (UINT64_C(1) << 53))
		return cg_err_set(err, CG_EINVAL, "bad delayed move arguments");
	if (!key(r, DIST_JOBS_KEY, jobs) || !key(r, DIST_DELAYED_KEY, delayed))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	rep = redisCommand(c, "EVAL %s 2 %s %s %llu %u", move_due_lua,
	    delayed, jobs, (unsigned long long)now_ms, (unsigned)max);
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		rc = dist_redis_reply_error(c, rep, "move delayed jobs", err);
	else if (rep->integer < 0 || (unsigned long long)rep->integer > max)
		rc = shape_error("move delayed jobs", "count out of range",
		    err);
	else
		*movedp = (size_t)rep->integer;
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

/* An integer reply >= 0 into *np; what names it in the error. */
static enum cg_code
count_reply(redisContext *c, const redisReply *rep, const char *what,
    size_t *np, struct cg_err *err)
{
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		return dist_redis_reply_error(c, rep, what, err);
	if (rep->integer < 0)
		return shape_error(what, "negative count", err);
	*np = (size_t)rep->integer;
	return CG_OK;
}

/* The pending count from an XPENDING summary [count, min, max, owners]. */
static enum cg_code
pending_reply(redisContext *c, const redisReply *rep, size_t *np,
    struct cg_err *err)
{
	const char	*what = "count pending jobs";

	/* No stream or no group yet (no worker ever started): nothing. */
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "NOGROUP", 7) == 0) {
		*np = 0;
		return CG_OK;
	}
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		return dist_redis_reply_error(c, rep, what, err);
	if (rep->elements < 1 || rep->element[0] == NULL)
		return shape_error(what, "not an XPENDING summary", err);
	return count_reply(c, rep->element[0], what, np, err);
}

/* now_ms minus the time in the first entry's id, from XRANGE COUNT 1. */
static enum cg_code
oldest_reply(redisContext *c, const redisReply *rep, uint64_t now_ms,
    uint64_t *agep, struct cg_err *err)
{
	const redisReply	*id;
	const char		*what = "read the oldest job";
	uint64_t		 ms = 0;
	size_t			 i;

	*agep = 0;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		return dist_redis_reply_error(c, rep, what, err);
	if (rep->elements == 0)
		return CG_OK;
	if (rep->element[0] == NULL ||
	    rep->element[0]->type != REDIS_REPLY_ARRAY ||
	    rep->element[0]->elements < 1 ||
	    (id = rep->element[0]->element[0]) == NULL ||
	    id->type != REDIS_REPLY_STRING || !id_valid(id->str, id->len))
		return shape_error(what, "not a stream entry", err);
	for (i = 0; i < id->len && id->str[i] != '-'; i++) {
		if (ms > (UINT64_MAX - 9) / 10)
			return shape_error(what, "entry id out of range", err);
		ms = ms * 10 + (uint64_t)(id->str[i] - '0');
	}
	*agep = now_ms > ms ? now_ms - ms : 0;
	return CG_OK;
}

enum cg_code
dist_queue_stats(struct dist_redis *r, uint64_t now_ms,
    struct dist_queue_stats *st, struct cg_err *err)
{
	redisContext	*c = dist_redis_hiredis(r);
	redisReply	*rep[5] = { NULL };
	char		 jobs[DIST_KEY_MAX], delayed[DIST_KEY_MAX];
	char		 dead[DIST_KEY_MAX];
	size_t		 i;
	enum cg_code	 rc = CG_OK;

	memset(st, 0, sizeof(*st));
	if (!key(r, DIST_JOBS_KEY, jobs) || !key(r, DIST_DELAYED_KEY,
	    delayed) || !key(r, DIST_DEAD_KEY, dead))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	if (redisAppendCommand(c, "XLEN %s", jobs) != REDIS_OK ||
	    redisAppendCommand(c, "XPENDING %s %s", jobs, DIST_GROUP) !=
	    REDIS_OK ||
	    redisAppendCommand(c, "ZCARD %s", delayed) != REDIS_OK ||
	    redisAppendCommand(c, "XLEN %s", dead) != REDIS_OK ||
	    redisAppendCommand(c, "XRANGE %s - + COUNT 1", jobs) != REDIS_OK)
		return cg_err_set(err, CG_ENOMEM, "redis: cannot queue a "
		    "command");
	for (i = 0; i < 5; i++) {
		if (redisGetReply(c, (void **)&rep[i]) != REDIS_OK) {
			rc = dist_redis_reply_error(c, NULL,
			    "read queue counts", err);
			goto out;
		}
	}
	rc = count_reply(c, rep[0], "count jobs", &st->jobs, err);
	if (rc == CG_OK)
		rc = pending_reply(c, rep[1], &st->pending, err);
	if (rc == CG_OK)
		rc = count_reply(c, rep[2], "count delayed jobs",
		    &st->delayed, err);
	if (rc == CG_OK)
		rc = count_reply(c, rep[3], "count dead letters", &st->dead,
		    err);
	if (rc == CG_OK)
		rc = oldest_reply(c, rep[4], now_ms, &st->oldest_ms, err);
out:
	for (i = 0; i < 5; i++)
		if (rep[i] != NULL)
			freeReplyObject(rep[i]);
	if (rc != CG_OK)
		memset(st, 0, sizeof(*st));
	return rc;
}

enum cg_code
dist_dead_list(struct dist_redis *r, size_t max, struct dist_entry **vp,
    size_t *np, struct cg_err *err)
{
	redisContext	*c = dist_redis_hiredis(r);
	redisReply	*rep;
	char		 dead[DIST_KEY_MAX];
	enum cg_code	 rc;

	*vp = NULL;
	*np = 0;
	if (max == 0 || max > DIST_BATCH_MAX)
		return cg_err_set(err, CG_EINVAL, "bad dead letter count");
	if (!key(r, DIST_DEAD_KEY, dead))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	rep = redisCommand(c, "XRANGE %s - + COUNT %u", dead, (unsigned)max);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		rc = dist_redis_reply_error(c, rep, "list dead letters", err);
	else
		rc = entries_take(r, rep, max, false, "list dead letters", vp,
		    np, err);
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

enum cg_code
dist_dead_requeue(struct dist_redis *r, const char *dead_id, const char *job,
    struct cg_err *err)
{
	redisContext	*c = dist_redis_hiredis(r);
	redisReply	*rep;
	char		 jobs[DIST_KEY_MAX], dead[DIST_KEY_MAX];
	size_t		 len;
	enum cg_code	 rc = CG_OK;

	/* An exact id: "-" or "+" would make the XRANGE a range. */
	if (dead_id == NULL || !id_valid(dead_id, strlen(dead_id)))
		return cg_err_set(err, CG_EINVAL, "not a dead letter id");
	if (job == NULL || (len = strlen(job)) == 0 ||
	    len > CA_STORE_PAYLOAD_MAX)
		return cg_err_set(err, CG_EINVAL, "bad job to requeue");
	if (!key(r, DIST_JOBS_KEY, jobs) || !key(r, DIST_DEAD_KEY, dead))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	rep = redisCommand(c, "EVAL %s 2 %s %s %s %s", requeue_lua, dead,
	    jobs, dead_id, job);
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		rc = dist_redis_reply_error(c, rep,
		    "requeue a dead letter", err);
	else if (rep->integer == 0)
		rc = cg_err_set(err, CG_ENOTFOUND, "no dead letter %s",
		    dead_id);
	else if (rep->integer != 1)
		rc = shape_error("requeue a dead letter", "unexpected count",
		    err);
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

/* ------------------------------------------------------------ metrics */

/* Which counter of a rule a field names, after "<rule>:". */
enum metric {
	M_DELIVERED,
	M_RETRIED,
	M_DEAD,
	M_SUM,
	M_BUCKET,		/* M_BUCKET + i: bucket i, the last is inf */
	M_NONE = -1
};

static bool
name_is(const char *s, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

/*
 * The metric a field name (after the ':') stands for.  A bucket must be
 * spelled exactly as bucket_name() spells it, so that "latency_le_05"
 * cannot count twice next to "latency_le_5".
 */
static int
metric_of(const char *s, size_t len)
{
	char	 name[32];
	size_t	 i;

	if (name_is(s, len, "delivered"))
		return M_DELIVERED;
	if (name_is(s, len, "retried"))
		return M_RETRIED;
	if (name_is(s, len, "dead"))
		return M_DEAD;
	if (name_is(s, len, "latency_sum_ms"))
		return M_SUM;
	if (len <= strlen(BUCKET_PREFIX) ||
	    memcmp(s, BUCKET_PREFIX, strlen(BUCKET_PREFIX)) != 0)
		return M_NONE;
	for (i = 0; i < DIST_LATENCY_NBUCKETS; i++) {
		bucket_name(i, name, sizeof(name));
		if (name_is(s, len, name))
			return M_BUCKET + (int)i;
	}
	return M_NONE;
}

/* [A-Za-z0-9_.-]{0,DIST_RULE_NAME_MAX}: what the config allows, or "". */
static bool
rule_name_ok(const char *s, size_t len)
{
	size_t	 i;
	char	 c;

	if (len > DIST_RULE_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-'))
			return false;
	}
	return true;
}

/* A HINCRBY result: 1 to 19 decimal digits, at most INT64_MAX. */
static bool
counter_value(const char *s, size_t len, uint64_t *vp)
{
	uint64_t	 v = 0;
	size_t		 i;

	if (len == 0 || len > 19)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');	/* < 10^19 < 2^64 */
	}
	if (v > INT64_MAX)
		return false;
	*vp = v;
	return true;
}

/* The entry of rule (len bytes) in m, made if new; NULL when m is full. */
static struct dist_rule_metrics *
rule_slot(struct dist_metrics *m, const char *rule, size_t len)
{
	struct dist_rule_metrics	*rm;
	size_t				 i;

	for (i = 0; i < m->n; i++)
		if (strlen(m->rules[i].rule) == len &&
		    memcmp(m->rules[i].rule, rule, len) == 0)
			return &m->rules[i];
	if (m->n == DIST_METRICS_RULES_MAX)
		return NULL;
	rm = &m->rules[m->n++];
	memset(rm, 0, sizeof(*rm));
	memcpy(rm->rule, rule, len);
	rm->rule[len] = '\0';
	return rm;
}

enum cg_code
dist_metrics_add(struct dist_metrics *m, const char *field, size_t flen,
    const char *val, size_t vlen)
{
	struct dist_rule_metrics	*rm;
	const char			*colon;
	size_t				 rlen;
	uint64_t			 v;
	int				 which;

	if (m == NULL)
		return CG_EINVAL;
	if (field == NULL || val == NULL ||
	    (colon = memchr(field, ':', flen)) == NULL)
		goto ignore;
	rlen = (size_t)(colon - field);
	which = metric_of(colon + 1, flen - rlen - 1);
	if (which == M_NONE || !rule_name_ok(field, rlen) ||
	    !counter_value(val, vlen, &v))
		goto ignore;
	if ((rm = rule_slot(m, field, rlen)) == NULL) {
		m->truncated = true;
		return CG_ETOOBIG;
	}
	switch (which) {
	case M_DELIVERED:
		rm->delivered = v;
		break;
	case M_RETRIED:
		rm->retried = v;
		break;
	case M_DEAD:
		rm->dead = v;
		break;
	case M_SUM:
		rm->sum_ms = v;
		break;
	default:
		rm->buckets[which - M_BUCKET] = v;
		break;
	}
	return CG_OK;
ignore:
	m->ignored++;
	return CG_EINVAL;
}

static int
rule_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dist_rule_metrics *)a)->rule,
	    ((const struct dist_rule_metrics *)b)->rule);
}

enum cg_code
dist_metrics_read(struct dist_redis *r, struct dist_metrics *m,
    struct cg_err *err)
{
	redisContext	*c = dist_redis_hiredis(r);
	redisReply	*rep, *k, *v;
	char		 stats[DIST_KEY_MAX];
	size_t		 i;
	enum cg_code	 rc = CG_OK;

	memset(m, 0, sizeof(*m));
	if (!key(r, DIST_STATS_KEY, stats))
		return cg_err_set(err, CG_EINVAL, "redis key too long");
	rep = redisCommand(c, "HGETALL %s", stats);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		rc = dist_redis_reply_error(c, rep, "read counters", err);
	else if (rep->elements % 2 != 0)
		rc = shape_error("read counters", "not field-value pairs",
		    err);
	for (i = 0; rc == CG_OK && i < rep->elements; i += 2) {
		k = rep->element[i];
		v = rep->element[i + 1];
		if (k == NULL || v == NULL || k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING) {
			m->ignored++;
			continue;
		}
		/* Ignored fields are counted in m; the rest still count. */
		(void)dist_metrics_add(m, k->str, k->len, v->str, v->len);
	}
	if (rep != NULL)
		freeReplyObject(rep);
	if (rc != CG_OK) {
		memset(m, 0, sizeof(*m));
		return rc;
	}
	qsort(m->rules, m->n, sizeof(m->rules[0]), rule_cmp);
	return CG_OK;
}

/* a + b, stuck at UINT64_MAX rather than wrapping. */
static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t
dist_latency_count(const struct dist_rule_metrics *rm)
{
	uint64_t	 n = 0;
	size_t		 i;

	for (i = 0; i < DIST_LATENCY_NBUCKETS; i++)
		n = sat_add(n, rm->buckets[i]);
	return n;
}

bool
dist_latency_quantile(const struct dist_rule_metrics *rm, double q,
    uint64_t *msp)
{
	uint64_t	 total, cum = 0, rank;
	double		 want;
	size_t		 i;

	total = dist_latency_count(rm);
	if (total == 0 || !(q > 0.0 && q <= 1.0))
		return false;
	/*
	 * The 1-based rank of the q-quantile among total values: q * total
	 * rounded up.  The tolerance keeps 0.9 * 10, should it come out as
	 * 9.000000001, from meaning the 10th value.
	 */
	want = q * (double)total;
	rank = want >= (double)total ? total : (uint64_t)want;
	if ((double)rank < want - 1e-9 && rank < total)
		rank++;
	if (rank == 0)
		rank = 1;
	for (i = 0; i < DIST_LATENCY_NBUCKETS; i++) {
		cum = sat_add(cum, rm->buckets[i]);
		if (cum >= rank)
			break;
	}
	*msp = i < DIST_LATENCY_NBOUNDS ? dist_latency_bounds_ms[i] :
	    DIST_LATENCY_INF;
	return true;
}
