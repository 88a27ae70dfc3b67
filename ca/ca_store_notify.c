/*
 * ca_store_notify.c - expiry notifications in the store (schema version
 * 6): the record of every notification and the lease that lets one
 * scheduler run at a time.  Which certificates are due and how a
 * notification is sent is decided in gateway/gw_notify.c; this file only
 * records, and makes the two decisions that must be atomic across
 * processes: who holds the lease, and whether a holder was notified on a
 * channel within a window.
 */
#include "certgw/store.h"

#include <assert.h>
#include <string.h>

#include <sqlite3.h>

#include "ca_store_int.h"

/* What a claimed ("sending") row may end as. */
static const char *const settle_words[] = {
	"sent", "failed", "skipped", NULL
};

/* Result columns of a listed row, in order. */
#define NOTIFY_COLS \
	"id, holder, channel, serial, not_after, sent_at, status, detail"

enum cg_code
ca_store_notify_claim(struct ca_store *st, const struct ca_notify_rec *rec,
    int64_t window_s, int64_t *idp, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "holder", rec->holder, CA_NOTIFY_TEXT_MAX, NULL,
		  CA_STORE_F_REQUIRED },
		{ "channel", rec->channel, CA_NOTIFY_TEXT_MAX, NULL,
		  CA_STORE_F_REQUIRED },
		{ "serial", rec->serial, CA_STORE_ID_MAX, NULL,
		  CA_STORE_F_REQUIRED },
	};
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	*idp = 0;
	rc = ca_store_fields_check_in("notification", f,
	    sizeof(f) / sizeof(f[0]), err);
	if (rc != CG_OK)
		return rc;
	if (window_s < 0)
		return cg_err_set(err, CG_EINVAL, "store: negative window");
	/*
	 * BEGIN IMMEDIATE first: the check and the insert then see the same
	 * database, and a second process claiming the same holder waits for
	 * this commit and finds the row.
	 */
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "INSERT INTO notify_sent (holder, channel, "
	    "serial, not_after, sent_at, status, detail) "
	    "SELECT ?1, ?2, ?3, ?4, ?5, 'sending', '' WHERE NOT EXISTS ("
	    "SELECT 1 FROM notify_sent WHERE holder = ?1 AND channel = ?2 "
	    "AND status IN ('sending', 'sent') AND sent_at > ?5 - ?6)",
	    &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1, (const char *const []){
	    rec->holder, rec->channel, rec->serial }, 3);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 4, rec->not_after);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 5, rec->sent_at);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 6, window_s);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "claim a notification", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "claim a notification", err);
	if (rc == CG_OK && sqlite3_changes(st->db) == 1)
		*idp = sqlite3_last_insert_rowid(st->db);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_notify_settle(struct ca_store *st, int64_t id, const char *status,
    const char *detail, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "status", status, 16, settle_words, CA_STORE_F_REQUIRED },
	};
	sqlite3_stmt	*stmt = NULL;
	size_t		 dlen;
	enum cg_code	 rc;
	int		 src;

	rc = ca_store_fields_check_in("notification", f, 1, err);
	if (rc != CG_OK)
		return rc;
	if (detail == NULL)
		detail = "";
	dlen = strnlen(detail, CA_STORE_TEXT_MAX);
	rc = ca_store_prepare(st, "UPDATE notify_sent SET status = ?2, "
	    "detail = ?3 WHERE id = ?1 AND status = 'sending'", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = sqlite3_bind_int64(stmt, 1, id);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, status);
	if (src == SQLITE_OK)
		src = sqlite3_bind_text(stmt, 3, detail, (int)dlen,
		    SQLITE_STATIC);
	if (src != SQLITE_OK)
		rc = ca_store_fail(st, src, "settle a notification", err);
	if (rc == CG_OK)
		rc = ca_store_step_done(st, stmt, "settle a notification", err);
	if (rc == CG_OK && sqlite3_changes(st->db) != 1)
		rc = cg_err_set(err, CG_ENOTFOUND, "store: no notification "
		    "%lld being sent", (long long)id);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_notify_last(struct ca_store *st, const char *holder,
    const char *channel, int64_t *atp, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "holder", holder, CA_NOTIFY_TEXT_MAX, NULL,
		  CA_STORE_F_REQUIRED },
		{ "channel", channel, CA_NOTIFY_TEXT_MAX, NULL,
		  CA_STORE_F_REQUIRED },
	};
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 row;
	int		 src;

	*atp = 0;
	rc = ca_store_fields_check_in("notification", f, 2, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "SELECT coalesce(max(sent_at), 0) FROM "
	    "notify_sent WHERE holder = ?1 AND channel = ?2 AND "
	    "status IN ('sending', 'sent')", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = ca_store_bind_texts(stmt, 1, (const char *const []){ holder,
	    channel }, 2);
	if (src != SQLITE_OK)
		rc = ca_store_fail(st, src, "read notifications", err);
	if (rc == CG_OK)
		rc = ca_store_step_row(st, stmt, "read notifications", &row,
		    err);
	if (rc == CG_OK && row)
		*atp = sqlite3_column_int64(stmt, 0);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_notify_list(struct ca_store *st, size_t limit, ca_notify_cb *cb,
    void *arg, struct cg_err *err)
{
	struct ca_notify_rec	 r;
	sqlite3_stmt		*stmt = NULL;
	const char		**texts[] = { &r.holder, &r.channel,
				    &r.serial, NULL, NULL, &r.status,
				    &r.detail };
	enum cg_code		 rc;
	size_t			 i;
	int			 src;

	assert(cb != NULL);
	rc = ca_store_prepare(st, "SELECT " NOTIFY_COLS " FROM notify_sent "
	    "ORDER BY id DESC LIMIT ?1", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = sqlite3_bind_int64(stmt, 1, limit == 0 || limit > INT64_MAX ?
	    -1 : (int64_t)limit);
	while (src == SQLITE_OK) {
		src = sqlite3_step(stmt);
		if (src != SQLITE_ROW)
			break;
		src = SQLITE_OK;
		memset(&r, 0, sizeof(r));
		r.id = sqlite3_column_int64(stmt, 0);
		r.not_after = sqlite3_column_int64(stmt, 4);
		r.sent_at = sqlite3_column_int64(stmt, 5);
		for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
			if (texts[i] == NULL)
				continue;
			*texts[i] = (const char *)sqlite3_column_text(stmt,
			    (int)i + 1);
			if (*texts[i] == NULL)
				*texts[i] = "";
		}
		if ((rc = cb(arg, &r)) != CG_OK)
			break;
	}
	if (rc == CG_OK && src != SQLITE_DONE)
		rc = ca_store_fail(st, src, "list notifications", err);
	ca_store_release(st, stmt);
	return rc;
}

/* ------------------------------------------------------------- lease */

/* Who holds the lease, for the message of a refusal. */
static enum cg_code
lease_why(struct ca_store *st, const char *name, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	const char	*owner;
	char		 when[32];
	enum cg_code	 rc;
	bool		 row;
	int		 src;

	rc = ca_store_prepare(st, "SELECT owner, expires_at FROM notify_lease "
	    "WHERE name = ?1", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = ca_store_bind_text(stmt, 1, name);
	if (src != SQLITE_OK)
		rc = ca_store_fail(st, src, "read a lease", err);
	if (rc == CG_OK)
		rc = ca_store_step_row(st, stmt, "read a lease", &row, err);
	if (rc == CG_OK && row) {
		owner = (const char *)sqlite3_column_text(stmt, 0);
		cg_time_fmt(sqlite3_column_int64(stmt, 1), when, sizeof(when));
		rc = cg_err_set(err, CG_ECONFLICT, "another run holds the "
		    "lease %s (%s, until %s)", name, owner != NULL ? owner :
		    "?", when);
	} else if (rc == CG_OK) {
		/* Released between the two statements: say so, try later. */
		rc = cg_err_set(err, CG_ECONFLICT, "another run held the "
		    "lease %s", name);
	}
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_notify_lease(struct ca_store *st, const char *name,
    const char *owner, int64_t now, int64_t ttl_s, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "lease name", name, CA_NOTIFY_TEXT_MAX, NULL,
		  CA_STORE_F_REQUIRED },
		{ "lease owner", owner, CA_NOTIFY_TEXT_MAX, NULL,
		  CA_STORE_F_REQUIRED },
	};
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	rc = ca_store_fields_check_in("notification", f, 2, err);
	if (rc != CG_OK)
		return rc;
	if (ttl_s <= 0)
		return cg_err_set(err, CG_EINVAL, "store: a lease needs a "
		    "positive time to live");
	/*
	 * One statement in a write transaction taken up front: taking and
	 * checking cannot be split by another process.
	 */
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "INSERT INTO notify_lease (name, owner, "
	    "expires_at) VALUES (?1, ?2, ?3 + ?4) ON CONFLICT (name) DO "
	    "UPDATE SET owner = excluded.owner, expires_at = "
	    "excluded.expires_at WHERE notify_lease.owner = excluded.owner "
	    "OR notify_lease.expires_at <= ?3", &stmt, err);
	if (rc != CG_OK)
		return ca_store_tx_leave(st, own, rc, err);
	src = ca_store_bind_texts(stmt, 1, (const char *const []){ name,
	    owner }, 2);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 3, now);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 4, ttl_s);
	if (src != SQLITE_OK)
		rc = ca_store_fail(st, src, "take a lease", err);
	if (rc == CG_OK)
		rc = ca_store_step_done(st, stmt, "take a lease", err);
	if (rc == CG_OK && sqlite3_changes(st->db) != 1)
		rc = lease_why(st, name, err);
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_notify_lease_release(struct ca_store *st, const char *name,
    const char *owner, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	if (name == NULL || owner == NULL)
		return cg_err_set(err, CG_EINVAL, "store: a lease needs a "
		    "name and an owner");
	rc = ca_store_prepare(st, "DELETE FROM notify_lease WHERE name = ?1 "
	    "AND owner = ?2", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = ca_store_bind_texts(stmt, 1, (const char *const []){ name,
	    owner }, 2);
	if (src != SQLITE_OK)
		rc = ca_store_fail(st, src, "release a lease", err);
	if (rc == CG_OK)
		rc = ca_store_step_done(st, stmt, "release a lease", err);
	ca_store_release(st, stmt);
	return rc;
}
