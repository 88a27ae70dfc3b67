/*
 * gw_admin_dist.c - admin API resources about distribution and
 * notifications: the outbox and queue status as `certgw dist status
 * --json` shows it (plus the dead letters), retrying dead letters, and
 * the expiry notifications sent (newest first).
 *
 * These are the admin API's only blocking calls: each asks Redis a few
 * questions on the loop thread, on a connection of its own with the
 * timeout cut to ADMIN_REDIS_MS, so a dead Redis costs a caller (and the
 * thread's other requests) at most that per command.  docs/admin-api.md
 * says so.
 */
#include "gw_admin.h"

#include <string.h>

#include "certgw/dist.h"
#include "certgw/dist_queue.h"

#define ADMIN_DEAD_SHOWN	100	/* dead letters in the status */

/* Connect with the config's Redis and a short timeout; false after 503. */
static bool
redis_open(struct admin_call *call, struct dist_redis **rp)
{
	const struct gw_config	*conf = gw_req_config(call->req);
	struct gw_redis_conf	 rc;
	struct cg_err		 err = { 0 };

	rc = conf->redis;
	if (rc.timeout_ms == 0 || rc.timeout_ms > ADMIN_REDIS_MS)
		rc.timeout_ms = ADMIN_REDIS_MS;
	if (dist_redis_connect(&rc, rp, &err) != CG_OK) {
		cg_log_warn("event=admin_redis msg=\"%s\"", err.msg);
		admin_error(call, 503, "redis_unavailable", "cannot reach "
		    "Redis: %s", err.msg);
		return false;
	}
	return true;
}

/* The serial in a job's JSON, or "". */
static json_t *
job_serial(const struct dist_entry *e)
{
	struct dist_job	*job = NULL;
	json_t		*j;

	if (e->job == NULL || dist_job_parse(e->job, e->len, &job, NULL) !=
	    CG_OK)
		return json_string("");
	j = admin_jtext(job->serial);
	dist_job_free(job);
	return j;
}

/*
 * The status of `certgw dist status --json`, with the first dead letters
 * when Redis is configured; NULL after answering.
 */
static json_t *
status_read(struct admin_call *call, size_t outbox, int64_t age)
{
	struct dist_queue_stats	 qs;
	struct dist_metrics	*m = NULL;
	struct dist_entry	*v = NULL;
	struct dist_redis	*r = NULL;
	struct cg_err		 err = { 0 };
	json_t			*o = NULL, *dead = NULL;
	size_t			 n = 0, i;

	if (!gw_req_config(call->req)->redis.enabled) {
		if ((o = dist_status_json(outbox, age, NULL, NULL)) == NULL)
			admin_error(call, 500, "internal", "out of memory");
		return o;
	}
	if (!redis_open(call, &r))
		return NULL;
	if ((m = cg_calloc(1, sizeof(*m))) == NULL) {
		admin_error(call, 500, "internal", "out of memory");
		goto out;
	}
	if (dist_queue_stats(r, cg_wall_ms(), &qs, &err) != CG_OK ||
	    dist_metrics_read(r, m, &err) != CG_OK ||
	    dist_dead_list(r, ADMIN_DEAD_SHOWN, &v, &n, &err) != CG_OK) {
		cg_log_warn("event=admin_redis msg=\"%s\"", err.msg);
		admin_error(call, 503, "redis_unavailable", "cannot read the "
		    "queue: %s", err.msg);
		goto out;
	}
	o = dist_status_json(outbox, age, &qs, m);
	dead = json_array();
	for (i = 0; o != NULL && dead != NULL && i < n; i++)
		if (!admin_append(dead, json_pack("{s:s, s:o, s:o, s:o}",
		    "id", v[i].id, "rule", admin_jtext(v[i].rule), "serial",
		    job_serial(&v[i]), "reason", admin_jtext(v[i].reason)))) {
			json_decref(dead);
			dead = NULL;
		}
	/* json_object_set_new() takes dead even when it fails. */
	if (o == NULL || dead == NULL ||
	    json_object_set_new(o, "dead_letters", dead) != 0) {
		if (o == NULL)
			json_decref(dead);
		json_decref(o);
		o = NULL;
		admin_error(call, 500, "internal", "out of memory");
	}
out:
	dist_entries_free(v, n);
	cg_free(m);
	dist_redis_close(r);
	return o;
}

void
admin_dist_status(struct admin_call *call)
{
	struct cg_err	 err = { 0 };
	int64_t		 age = 0;
	size_t		 outbox = 0;
	json_t		*o;

	if (ca_store_outbox_count(call->st, &outbox, &err) != CG_OK ||
	    ca_store_outbox_oldest(call->st, cg_now(), &age, &err) != CG_OK) {
		admin_fail(call, "cannot read the outbox", &err);
		return;
	}
	if ((o = status_read(call, outbox, age)) != NULL)
		admin_reply(call, 200, o);
}

void
admin_dist_retry(struct admin_call *call)
{
	static const char *const keys[] = { "id", "all_dead", NULL };
	struct dist_entry	*v = NULL;
	struct dist_redis	*r = NULL;
	struct cg_err		 err = { 0 };
	const char		*id;
	json_t			*all, *done = NULL, *failed = NULL;
	size_t			 n = 0, i;
	bool			 found = false;

	if (!admin_body(call, keys) || !admin_body_str(call, "id", 63, &id))
		return;
	all = json_object_get(call->body, "all_dead");
	if (all != NULL && !json_is_boolean(all)) {
		admin_error(call, 400, "bad_request", "'all_dead' must be true "
		    "or false");
		return;
	}
	if ((id == NULL) == !json_is_true(all)) {
		admin_error(call, 400, "bad_request", "give 'id' (a dead "
		    "letter) or \"all_dead\": true, not both");
		return;
	}
	if (!gw_req_config(call->req)->redis.enabled) {
		admin_error(call, 409, "conflict", "the config has no redis "
		    "section");
		return;
	}
	if (id != NULL)
		snprintf(call->target, sizeof(call->target), "%s", id);
	if (!redis_open(call, &r))
		return;
	if (dist_dead_list(r, DIST_BATCH_MAX, &v, &n, &err) != CG_OK) {
		admin_error(call, 503, "redis_unavailable", "cannot list dead "
		    "letters: %s", err.msg);
		goto out;
	}
	done = json_array();
	failed = json_array();
	if (done == NULL || failed == NULL) {
		admin_error(call, 500, "internal", "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (id != NULL && strcmp(v[i].id, id) != 0)
			continue;
		found = true;
		cg_err_clear(&err);
		if (dist_dead_retry(r, &v[i], NULL, 0, &err) == CG_OK)
			admin_append(done, json_string(v[i].id));
		else
			admin_append(failed, json_pack("{s:s, s:o}", "id",
			    v[i].id, "error", admin_jtext(err.msg)));
	}
	if (id != NULL && !found) {
		admin_error(call, 404, "not_found", "no dead letter %.63s",
		    id);
		goto out;
	}
	admin_note(call, "requeued=%zu failed=%zu", json_array_size(done),
	    json_array_size(failed));
	admin_reply(call, 200, json_pack("{s:O, s:O}", "requeued", done,
	    "failed", failed));
out:
	json_decref(done);
	json_decref(failed);
	dist_entries_free(v, n);
	dist_redis_close(r);
}

/* --------------------------------------------------------- notifications */

static enum cg_code
notify_row(void *arg, const struct ca_notify_rec *r)
{
	return admin_append(arg, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:o}", "id", (json_int_t)r->id, "holder",
	    admin_jtext(r->holder), "channel", admin_jtext(r->channel),
	    "serial", admin_jtext(r->serial), "not_after",
	    admin_jtime(r->not_after), "sent_at", admin_jtime(r->sent_at),
	    "status", admin_jtext(r->status), "detail",
	    admin_jtext(r->detail))) ? CG_OK : CG_ENOMEM;
}

void
admin_notify_list(struct admin_call *call)
{
	struct cg_err	 err = { 0 };
	size_t		 limit;
	json_t		*arr;

	if (!admin_limit(call, &limit))
		return;
	if ((arr = json_array()) == NULL) {
		admin_error(call, 500, "internal", "out of memory");
		return;
	}
	if (ca_store_notify_list(call->st, limit, notify_row, arr, &err) !=
	    CG_OK) {
		json_decref(arr);
		admin_fail(call, "cannot list notifications", &err);
		return;
	}
	admin_reply(call, 200, json_pack("{s:o}", "notifications", arr));
}
