/*
 * ca_store_log.c - the append-only tables: the distribution outbox (jobs
 * written in the issuance transaction, relayed later by distribute/) and
 * the audit log.  Relaying and retry bookkeeping belong to distribute/;
 * this file only records and counts.
 */
#include "certgw/store.h"

#include <assert.h>
#include <string.h>

#include <sqlite3.h>

#include "ca_store_int.h"

/* Audit result columns, in order. */
enum audit_col {
	ACOL_ID = 0,
	ACOL_AT,
	ACOL_ACTOR,
	ACOL_ACTION,
	ACOL_TARGET,
	ACOL_OUTCOME,
	ACOL_DETAIL,
	ACOL__MAX
};

static bool
text_fits(const char *s, size_t max)
{
	return s == NULL || strnlen(s, max + 1) <= max;
}

/* ------------------------------------------------------------- outbox */

static enum cg_code
outbox_insert(struct ca_store *st, const char *rule, const char *serial,
    const char *payload, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	bool		 fresh = err != NULL && err->code == CG_OK;
	enum cg_code	 rc;
	int		 src;

	rc = ca_store_prepare(st, "INSERT INTO outbox (rule, serial, payload, "
	    "created_at) VALUES (?1, ?2, ?3, ?4)", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, rule);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, serial);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 3, payload);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 4, cg_now());
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src == SQLITE_CONSTRAINT_FOREIGNKEY) {
		rc = cg_err_set(err, CG_ECONFLICT,
		    "store: outbox job for an unrecorded certificate");
		if (fresh)
			cg_err_detail(err, "serial=%s", serial);
		goto out;
	}
	if (src != SQLITE_DONE) {
		rc = ca_store_fail(st, src, "queue a distribution job", err);
		goto out;
	}
	rc = CG_OK;
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_outbox_add(struct ca_store *st, const char *rule, const char *serial,
    const char *payload, struct cg_err *err)
{
	struct ca_store_id	 id;
	enum cg_code		 rc;

	if (rule == NULL || *rule == '\0' || payload == NULL)
		return cg_err_set(err, CG_EINVAL,
		    "store: outbox job needs a rule and a payload");
	if (!text_fits(rule, CA_STORE_TEXT_MAX))
		return cg_err_set(err, CG_ETOOBIG, "store: rule name too long");
	if (!text_fits(payload, CA_STORE_PAYLOAD_MAX))
		return cg_err_set(err, CG_ETOOBIG,
		    "store: outbox payload too large");
	if (serial == NULL)
		return outbox_insert(st, rule, NULL, payload, err);
	rc = ca_store_id_parse(serial, strnlen(serial, CA_STORE_ID_MAX + 1),
	    &id, err);
	if (rc != CG_OK)
		return rc;
	return outbox_insert(st, rule, id.serial, payload, err);
}

enum cg_code
ca_store_outbox_count(struct ca_store *st, size_t *np, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	*np = 0;
	rc = ca_store_prepare(st, "SELECT count(*) FROM outbox "
	    "WHERE relayed_at IS NULL", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_step(stmt);
	if (src != SQLITE_ROW) {
		rc = ca_store_fail(st, src, "count distribution jobs", err);
		goto out;
	}
	*np = (size_t)sqlite3_column_int64(stmt, 0);
	rc = CG_OK;
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_outbox_pending(struct ca_store *st, size_t limit, ca_outbox_cb *cb,
    void *arg, struct cg_err *err)
{
	struct ca_outbox_job	 job;
	sqlite3_stmt		*stmt = NULL;
	const unsigned char	*t;
	enum cg_code		 rc;
	int			 src;

	if (limit == 0 || limit > CA_STORE_OUTBOX_BATCH || cb == NULL)
		return cg_err_set(err, CG_EINVAL, "store: bad outbox limit");
	rc = ca_store_prepare(st, "SELECT id, rule, coalesce(serial, ''), "
	    "payload, created_at FROM outbox WHERE relayed_at IS NULL "
	    "ORDER BY id LIMIT ?1", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_int64(stmt, 1, (sqlite3_int64)limit);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "list distribution jobs", err);
		goto out;
	}
	while ((src = sqlite3_step(stmt)) == SQLITE_ROW) {
		memset(&job, 0, sizeof(job));
		job.id = sqlite3_column_int64(stmt, 0);
		t = sqlite3_column_text(stmt, 1);
		job.rule = t != NULL ? (const char *)t : "";
		t = sqlite3_column_text(stmt, 2);
		job.serial = t != NULL ? (const char *)t : "";
		t = sqlite3_column_text(stmt, 3);
		job.payload = t != NULL ? (const char *)t : "";
		job.created_at = sqlite3_column_int64(stmt, 4);
		rc = cb(arg, &job);
		if (rc != CG_OK)
			goto out;
	}
	if (src != SQLITE_DONE) {
		rc = ca_store_fail(st, src, "list distribution jobs", err);
		goto out;
	}
	rc = CG_OK;
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_outbox_relayed(struct ca_store *st, const int64_t *ids, size_t n,
    int64_t when, size_t *np, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	size_t		 i, changed = 0;
	int		 src;

	if (np != NULL)
		*np = 0;
	if (n == 0)
		return CG_OK;
	if (ids == NULL || n > CA_STORE_OUTBOX_BATCH)
		return cg_err_set(err, CG_EINVAL, "store: bad outbox ids");
	rc = ca_store_begin(st, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "UPDATE outbox SET relayed_at = ?1 "
	    "WHERE id = ?2 AND relayed_at IS NULL", &stmt, err);
	for (i = 0; rc == CG_OK && i < n; i++) {
		sqlite3_reset(stmt);
		src = sqlite3_bind_int64(stmt, 1, when);
		if (src == SQLITE_OK)
			src = sqlite3_bind_int64(stmt, 2, ids[i]);
		if (src == SQLITE_OK)
			src = sqlite3_step(stmt);
		if (src != SQLITE_DONE)
			rc = ca_store_fail(st, src, "mark jobs relayed", err);
		else
			changed += (size_t)sqlite3_changes(st->db);
	}
	ca_store_release(st, stmt);
	if (rc == CG_OK)
		rc = ca_store_commit(st, err);
	if (rc != CG_OK) {
		ca_store_rollback(st);
		return rc;
	}
	if (np != NULL)
		*np = changed;
	return CG_OK;
}

enum cg_code
ca_store_outbox_oldest(struct ca_store *st, int64_t now, int64_t *agep,
    struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	*agep = 0;
	rc = ca_store_prepare(st, "SELECT min(created_at) FROM outbox "
	    "WHERE relayed_at IS NULL", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_step(stmt);
	if (src != SQLITE_ROW) {
		rc = ca_store_fail(st, src, "read the outbox age", err);
		goto out;
	}
	if (sqlite3_column_type(stmt, 0) != SQLITE_NULL &&
	    now > sqlite3_column_int64(stmt, 0))
		*agep = now - sqlite3_column_int64(stmt, 0);
	rc = CG_OK;
out:
	ca_store_release(st, stmt);
	return rc;
}

/* -------------------------------------------------------------- audit */

enum cg_code
ca_store_audit_add(struct ca_store *st, const char *actor, const char *action,
    const char *target, const char *outcome, const char *detail,
    struct cg_err *err)
{
	const char	*texts[] = { actor, action,
			    target == NULL ? "" : target, outcome,
			    detail == NULL ? "" : detail };
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	size_t		 i;
	int		 src = SQLITE_OK;

	if (actor == NULL || action == NULL || outcome == NULL)
		return cg_err_set(err, CG_EINVAL,
		    "store: audit row needs an actor, action and outcome");
	for (i = 0; i < sizeof(texts) / sizeof(*texts); i++)
		if (!text_fits(texts[i], CA_STORE_TEXT_MAX))
			return cg_err_set(err, CG_ETOOBIG,
			    "store: audit field too long");
	rc = ca_store_prepare(st, "INSERT INTO audit (at, actor, action, "
	    "target, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &stmt,
	    err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_int64(stmt, 1, cg_now());
	for (i = 0; src == SQLITE_OK && i < sizeof(texts) / sizeof(*texts);
	    i++)
		src = sqlite3_bind_text(stmt, (int)i + 2, texts[i], -1,
		    SQLITE_STATIC);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "write the audit log", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "write the audit log", err);
out:
	ca_store_release(st, stmt);
	return rc;
}

/* Point rec at the current row's text; valid until the next step. */
static enum cg_code
audit_row(sqlite3_stmt *stmt, struct ca_audit_rec *rec, struct cg_err *err)
{
	const char	**fields[] = { &rec->actor, &rec->action, &rec->target,
			    &rec->outcome, &rec->detail };
	size_t		  i;

	rec->id = sqlite3_column_int64(stmt, ACOL_ID);
	rec->at = sqlite3_column_int64(stmt, ACOL_AT);
	for (i = 0; i < sizeof(fields) / sizeof(*fields); i++) {
		*fields[i] = (const char *)sqlite3_column_text(stmt,
		    ACOL_ACTOR + (int)i);
		/* Columns are NOT NULL, so NULL here means no memory. */
		if (*fields[i] == NULL)
			return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	return CG_OK;
}

enum cg_code
ca_store_audit_list(struct ca_store *st, int64_t since, ca_audit_cb *cb,
    void *arg, struct cg_err *err)
{
	struct ca_audit_rec	 rec;
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	int			 src;

	assert(cb != NULL);
	rc = ca_store_prepare(st, "SELECT id, at, actor, action, target, "
	    "outcome, detail FROM audit WHERE at >= ?1 ORDER BY id", &stmt,
	    err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_int64(stmt, 1, since);
	while (rc == CG_OK && src == SQLITE_OK) {
		src = sqlite3_step(stmt);
		if (src != SQLITE_ROW)
			break;
		src = SQLITE_OK;
		rc = audit_row(stmt, &rec, err);
		if (rc == CG_OK)
			rc = cb(arg, &rec);
		if (rc != CG_OK)
			cg_err_set(err, rc, "store: audit listing stopped");
	}
	if (rc == CG_OK && src != SQLITE_DONE)
		rc = ca_store_fail(st, src, "read the audit log", err);
out:
	ca_store_release(st, stmt);
	return rc;
}
