/*
 * dist_status.c - what an admin sees of distribution and may do to it,
 * the same from `certgw dist` and the admin API: the status as JSON
 * (outbox, queue, per-rule counters and latency) and a dead letter put
 * back with its attempts reset.  Reading the numbers is dist_stream.c's.
 */
#include "certgw/dist.h"
#include "certgw/dist_queue.h"

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* A counter as a JSON integer; jansson's are signed. */
static json_t *
jint(uint64_t n)
{
	return json_integer(n > INT64_MAX ? INT64_MAX : (json_int_t)n);
}

/* A bound or quantile in ms: "+Inf" past the last bound, null unknown. */
static json_t *
jms(bool known, uint64_t ms)
{
	if (!known)
		return json_null();
	return ms == DIST_LATENCY_INF ? json_string("+Inf") : jint(ms);
}

static json_t *
rule_json(const struct dist_rule_metrics *rm)
{
	json_t		*b, *arr;
	uint64_t	 p50 = 0, p90 = 0, p99 = 0;
	bool		 k50, k90, k99;
	size_t		 i;

	if ((arr = json_array()) == NULL)
		return NULL;
	for (i = 0; i < DIST_LATENCY_NBUCKETS; i++) {
		b = json_pack("{s:o, s:o}", "le_ms", jms(true,
		    i < DIST_LATENCY_NBOUNDS ? dist_latency_bounds_ms[i] :
		    DIST_LATENCY_INF), "count", jint(rm->buckets[i]));
		if (b == NULL || json_array_append_new(arr, b) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	/* Apart: each call sets its own quantile. */
	k50 = dist_latency_quantile(rm, 0.5, &p50);
	k90 = dist_latency_quantile(rm, 0.9, &p90);
	k99 = dist_latency_quantile(rm, 0.99, &p99);
	/* Rule names are [A-Za-z0-9_.-] (dist_metrics_add). */
	return json_pack("{s:s, s:o, s:o, s:o, s:{s:o, s:o, s:o, s:o, s:o, "
	    "s:o}}", "rule", rm->rule, "delivered", jint(rm->delivered),
	    "retried", jint(rm->retried), "dead", jint(rm->dead), "latency",
	    "count", jint(dist_latency_count(rm)), "sum_ms", jint(rm->sum_ms),
	    "buckets", arr, "p50_ms", jms(k50, p50), "p90_ms", jms(k90, p90),
	    "p99_ms", jms(k99, p99));
}

json_t *
dist_status_json(size_t outbox, int64_t outbox_age_s,
    const struct dist_queue_stats *qs, const struct dist_metrics *m)
{
	json_t	*o, *rules, *ro;
	size_t	 i;

	if ((rules = json_array()) == NULL)
		return NULL;
	for (i = 0; m != NULL && i < m->n; i++) {
		ro = rule_json(&m->rules[i]);
		if (ro == NULL || json_array_append_new(rules, ro) != 0) {
			json_decref(rules);
			return NULL;
		}
	}
	o = json_pack("{s:{s:o, s:o}, s:o}", "outbox", "jobs", jint(outbox),
	    "oldest_s", jint(outbox_age_s > 0 ? (uint64_t)outbox_age_s : 0),
	    "rules", rules);
	if (o == NULL)
		return NULL;
	if (qs == NULL || m == NULL) {
		/* No Redis configured: the outbox is all there is. */
		if (json_object_set_new(o, "queue", json_null()) == 0)
			return o;
	} else if (json_object_set_new(o, "queue", json_pack("{s:o, s:o, "
	    "s:o, s:o, s:o}", "jobs", jint(qs->jobs), "pending",
	    jint(qs->pending), "delayed", jint(qs->delayed), "dead",
	    jint(qs->dead), "oldest_ms", jint(qs->oldest_ms))) == 0 &&
	    json_object_set_new(o, "ignored_fields", jint(m->ignored)) == 0 &&
	    json_object_set_new(o, "rules_truncated",
	    json_boolean(m->truncated)) == 0)
		return o;
	json_decref(o);
	return NULL;
}

enum cg_code
dist_dead_retry(struct dist_redis *r, const struct dist_entry *e,
    char *rule, size_t rulelen, struct cg_err *err)
{
	struct dist_job	*job = NULL;
	struct cg_err	 perr = { 0 };
	char		*json = NULL;
	enum cg_code	 rc;

	rc = dist_job_parse(e->job, e->len, &job, &perr);
	if (rc != CG_OK)
		return cg_err_set(err, rc, "unreadable job: %s", perr.msg);
	if (rule != NULL && rulelen > 0)
		snprintf(rule, rulelen, "%s", job->rule);
	job->attempt = 0;
	cg_free(job->last_error);
	job->last_error = NULL;
	job->created_at = cg_now();
	rc = dist_job_to_json(job, &json, err);
	if (rc == CG_OK)
		rc = dist_dead_requeue(r, e->id, json, err);
	cg_free(json);
	dist_job_free(job);
	return rc;
}
