/*
 * ca_store_acme_order.c - ACME orders in the store: inserted, read, moved
 * on by compare and set (status, certificate), listed newest first a page
 * at a time, counted for rate limits, and found by the certificate they
 * replace (ARI).  Serials are kept as the certs table spells them.
 */
#include "certgw/store.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "ca_store_int.h"

#define STATUS_MAX	16		/* bytes in any RFC 8555 status */

static const char *const order_statuses[] = {
	"pending", "ready", "processing", "valid", "invalid", NULL
};

#define ORDER_COLS \
	"id, account_id, directory, profile, acme_profile, status, " \
	"identifiers, authzs, error, cert_serial, replaces, ip, expires, " \
	"not_before, not_after, pending_id, created_at, updated_at"

static const size_t order_texts[] = {
	offsetof(struct ca_acme_order, id),
	offsetof(struct ca_acme_order, account_id),
	offsetof(struct ca_acme_order, directory),
	offsetof(struct ca_acme_order, profile),
	offsetof(struct ca_acme_order, acme_profile),
	offsetof(struct ca_acme_order, status),
	offsetof(struct ca_acme_order, identifiers),
	offsetof(struct ca_acme_order, authzs),
	offsetof(struct ca_acme_order, error),
	offsetof(struct ca_acme_order, cert_serial),
	offsetof(struct ca_acme_order, replaces),
	offsetof(struct ca_acme_order, ip),
};
#define NORDER_TEXTS	(sizeof(order_texts) / sizeof(order_texts[0]))

static const char order_why_sql[] =
    "SELECT status FROM acme_orders WHERE id = ?1";

/* ------------------------------------------------------------- helpers */

/*
 * A serial as the certs table spells it (upper-case hex, no leading
 * zeros), so an order's serial and the certificate's always compare
 * equal.  NULL and "" give "".
 */
static enum cg_code
serial_norm(const char *s, struct ca_store_id *sid, struct cg_err *err)
{
	memset(sid, 0, sizeof(*sid));
	if (s == NULL || *s == '\0')
		return CG_OK;
	return ca_store_id_parse(s, strnlen(s, CA_STORE_ID_MAX + 1), sid,
	    err);
}

/* Bind ?1 to a text and the next parameters to integers. */
static int
bind_text_ints(sqlite3_stmt *stmt, const char *s, const int64_t *v,
    size_t n)
{
	size_t	 i;
	int	 src;

	src = ca_store_bind_text(stmt, 1, s);
	for (i = 0; src == SQLITE_OK && i < n; i++)
		src = sqlite3_bind_int64(stmt, 2 + (int)i, v[i]);
	return src;
}

/* ------------------------------------------------------------- records */

void
ca_acme_order_free(struct ca_acme_order *o)
{
	if (o == NULL)
		return;
	ca_store_texts_free(o, order_texts, NORDER_TEXTS);
	cg_free(o);
}

static enum cg_code
order_row(sqlite3_stmt *stmt, struct ca_acme_order **op, struct cg_err *err)
{
	struct ca_acme_order	*o;
	enum cg_code		 rc;
	int			 c = NORDER_TEXTS;

	o = cg_calloc(1, sizeof(*o));
	if (o == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_cols_texts(stmt, 0, o, order_texts, NORDER_TEXTS, err);
	if (rc != CG_OK) {
		ca_acme_order_free(o);
		return rc;
	}
	o->expires = sqlite3_column_int64(stmt, c++);
	o->not_before = sqlite3_column_int64(stmt, c++);
	o->not_after = sqlite3_column_int64(stmt, c++);
	o->pending_id = sqlite3_column_int64(stmt, c++);
	o->created_at = sqlite3_column_int64(stmt, c++);
	o->updated_at = sqlite3_column_int64(stmt, c);
	*op = o;
	return CG_OK;
}

static enum cg_code
order_one(struct ca_store *st, sqlite3_stmt *stmt, int src,
    struct ca_acme_order **op, bool *foundp, struct cg_err *err)
{
	enum cg_code	 rc;

	*foundp = false;
	if (src != SQLITE_OK)
		return ca_store_fail(st, src, "look up an ACME order", err);
	rc = ca_store_step_row(st, stmt, "look up an ACME order", foundp, err);
	if (rc == CG_OK && *foundp)
		rc = order_row(stmt, op, err);
	return rc;
}

static enum cg_code
order_check(const struct ca_acme_order *o, struct ca_store_id *cert,
    struct ca_store_id *replaces, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "order id", o->id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "account id", o->account_id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "directory", o->directory, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "profile", o->profile, CA_STORE_TEXT_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "requested profile", o->acme_profile, CA_STORE_TEXT_MAX, NULL,
		    0 },
		{ "order status", o->status, STATUS_MAX, order_statuses,
		    CA_STORE_F_REQUIRED },
		{ "order identifiers", o->identifiers, CA_ACME_JSON_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "order authorizations", o->authzs, CA_ACME_JSON_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "order error", o->error, CA_ACME_JSON_MAX, NULL, 0 },
		{ "certificate serial", o->cert_serial, CA_STORE_ID_MAX, NULL,
		    0 },
		{ "replaced serial", o->replaces, CA_STORE_ID_MAX, NULL, 0 },
		{ "client address", o->ip, CA_ACME_ID_MAX, NULL, 0 },
	};
	enum cg_code	 rc;

	static_assert(sizeof(f) / sizeof(f[0]) == NORDER_TEXTS,
	    "one check per text column");
	rc = ca_store_fields_check(f, NORDER_TEXTS, err);
	if (rc == CG_OK)
		rc = serial_norm(o->cert_serial, cert, err);
	if (rc == CG_OK)
		rc = serial_norm(o->replaces, replaces, err);
	if (rc == CG_OK && o->pending_id < 0)
		rc = cg_err_set(err, CG_EINVAL, "store: bad ACME pending id");
	return rc;
}

enum cg_code
ca_store_acme_order_insert(struct ca_store *st, const struct ca_acme_order *o,
    struct cg_err *err)
{
	struct ca_store_id	 cert, replaces;
	const char		*v[NORDER_TEXTS];
	int64_t			 iv[6];
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	size_t			 i;
	bool			 own;
	int			 src;

	rc = order_check(o, &cert, &replaces, err);
	if (rc != CG_OK)
		return rc;
	v[0] = o->id;
	v[1] = o->account_id;
	v[2] = o->directory;
	v[3] = o->profile;
	v[4] = o->acme_profile;
	v[5] = o->status;
	v[6] = o->identifiers;
	v[7] = o->authzs;
	v[8] = o->error;
	v[9] = cert.serial;
	v[10] = replaces.serial;
	v[11] = o->ip;
	iv[0] = o->expires;
	iv[1] = o->not_before;
	iv[2] = o->not_after;
	iv[3] = o->pending_id;
	iv[4] = o->created_at != 0 ? o->created_at : cg_now();
	iv[5] = o->updated_at != 0 ? o->updated_at : iv[4];
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "INSERT INTO acme_orders (" ORDER_COLS
	    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
	    "?13, ?14, ?15, ?16, ?17, ?18)", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1, v, NORDER_TEXTS);
	for (i = 0; src == SQLITE_OK && i < 6; i++)
		src = sqlite3_bind_int64(stmt, NORDER_TEXTS + 1 + (int)i,
		    iv[i]);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_constraint_fail(st, src, "record an ACME order",
		    "store: ACME order exists already",
		    "store: no such ACME account for the order", err);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_acme_order_get(struct ca_store *st, const char *id,
    struct ca_acme_order **op, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 found;

	*op = NULL;
	rc = ca_store_id_check("order id", id, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "SELECT " ORDER_COLS " FROM acme_orders "
	    "WHERE id = ?1", &stmt, err);
	if (rc == CG_OK)
		rc = order_one(st, stmt, ca_store_bind_text(stmt, 1, id), op,
		    &found, err);
	if (rc == CG_OK && !found)
		rc = ca_store_id_err(err, CG_ENOTFOUND,
		    "store: no such ACME order", id);
	ca_store_release(st, stmt);
	return rc;
}

/*
 * Run a compare-and-set UPDATE whose values are bound (src their result)
 * and explain a miss: the order is gone or no longer in status from.
 */
static enum cg_code
order_cas_run(struct ca_store *st, sqlite3_stmt *stmt, int src,
    const char *id, const char *from, struct cg_err *err)
{
	enum cg_code	 rc;

	if (src != SQLITE_OK)
		return ca_store_fail(st, src, "update an ACME order", err);
	rc = ca_store_step_done(st, stmt, "update an ACME order", err);
	if (rc == CG_OK && sqlite3_changes(st->db) == 0)
		rc = ca_store_cas_why(st, order_why_sql, "order", id, from,
		    err);
	return rc;
}

enum cg_code
ca_store_acme_order_transition(struct ca_store *st, const char *id,
    const char *from, const char *to, const char *error, int64_t now,
    struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "order id", id, CA_ACME_ID_MAX, NULL, CA_STORE_F_REQUIRED },
		{ "order status", from, STATUS_MAX, order_statuses,
		    CA_STORE_F_REQUIRED },
		{ "order status", to, STATUS_MAX, order_statuses,
		    CA_STORE_F_REQUIRED },
		{ "order error", error, CA_ACME_JSON_MAX, NULL, 0 },
	};
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	rc = ca_store_fields_check(f, 4, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "UPDATE acme_orders SET status = ?3, "
	    "error = coalesce(?4, error), updated_at = ?5 "
	    "WHERE id = ?1 AND status = ?2", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, id);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, from);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 3, to);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 4, error);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 5, now);
	rc = order_cas_run(st, stmt, src, id, from, err);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_acme_order_set_cert(struct ca_store *st, const char *id,
    const char *serial, int64_t now, struct cg_err *err)
{
	struct ca_store_id	 sid;
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	bool			 own;
	int			 src;

	rc = ca_store_id_check("order id", id, err);
	if (rc == CG_OK && (serial == NULL || *serial == '\0'))
		rc = cg_err_set(err, CG_EINVAL,
		    "store: ACME certificate serial is missing");
	if (rc == CG_OK)
		rc = serial_norm(serial, &sid, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "UPDATE acme_orders SET status = 'valid', "
	    "cert_serial = ?2, updated_at = ?3 "
	    "WHERE id = ?1 AND status = 'processing'", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, id);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, sid.serial);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 3, now);
	rc = order_cas_run(st, stmt, src, id, "processing", err);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_acme_order_set_pending(struct ca_store *st, const char *id,
    int64_t pending_id, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	rc = ca_store_id_check("order id", id, err);
	if (rc != CG_OK)
		return rc;
	if (pending_id <= 0)
		return cg_err_set(err, CG_EINVAL, "store: bad ACME pending id");
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "UPDATE acme_orders SET pending_id = ?2 "
	    "WHERE id = ?1", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = bind_text_ints(stmt, id, &pending_id, 1);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "update an ACME order", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "update an ACME order", err);
	if (rc == CG_OK && sqlite3_changes(st->db) == 0)
		rc = ca_store_id_err(err, CG_ENOTFOUND,
		    "store: no such ACME order", id);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

/*
 * Where a page starts: just below the (created_at, rowid) of the order
 * after, which must be the account's.  Orders made in the same second are
 * told apart by rowid, so no order is skipped or listed twice.
 */
static enum cg_code
list_anchor(struct ca_store *st, const char *account_id, const char *after,
    int64_t *tp, int64_t *rowp, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 found;
	int		 src;

	*tp = INT64_MAX;
	*rowp = INT64_MAX;
	if (after == NULL)
		return CG_OK;
	rc = ca_store_id_check("order id", after, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "SELECT created_at, rowid FROM acme_orders "
	    "WHERE id = ?1 AND account_id = ?2", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, after);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, account_id);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "list ACME orders", err);
		goto out;
	}
	rc = ca_store_step_row(st, stmt, "list ACME orders", &found, err);
	if (rc == CG_OK && !found)
		rc = ca_store_id_err(err, CG_ENOTFOUND,
		    "store: no such ACME order of this account", after);
	if (rc != CG_OK)
		goto out;
	*tp = sqlite3_column_int64(stmt, 0);
	*rowp = sqlite3_column_int64(stmt, 1);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_acme_order_list(struct ca_store *st, const char *account_id,
    const char *after, size_t limit, ca_acme_id_cb *cb, void *arg,
    bool *morep, struct cg_err *err)
{
	const unsigned char	*id;
	sqlite3_stmt		*stmt = NULL;
	int64_t			 v[3];
	enum cg_code		 rc;
	size_t			 n = 0;
	int			 src;

	assert(cb != NULL && morep != NULL);
	*morep = false;
	if (limit == 0)
		return cg_err_set(err, CG_EINVAL,
		    "store: ACME order listing needs a limit");
	rc = ca_store_id_check("account id", account_id, err);
	if (rc == CG_OK)
		rc = list_anchor(st, account_id, after, &v[0], &v[1], err);
	if (rc != CG_OK)
		return rc;
	/* One row more than asked says whether another page follows. */
	v[2] = limit >= (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit + 1;
	rc = ca_store_prepare(st, "SELECT id FROM acme_orders "
	    "WHERE account_id = ?1 AND (created_at, rowid) < (?2, ?3) "
	    "ORDER BY created_at DESC, rowid DESC LIMIT ?4", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = bind_text_ints(stmt, account_id, v, 3);
	while (src == SQLITE_OK) {
		src = sqlite3_step(stmt);
		if (src != SQLITE_ROW)
			break;
		src = SQLITE_OK;
		if (n == limit) {
			*morep = true;
			src = SQLITE_DONE;
			break;
		}
		id = sqlite3_column_text(stmt, 0);
		if (id == NULL) {
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
			break;
		}
		rc = cb(arg, (const char *)id);
		if (rc != CG_OK) {
			cg_err_set(err, rc,
			    "store: ACME order listing stopped");
			break;
		}
		n++;
	}
	if (rc == CG_OK && src != SQLITE_DONE)
		rc = ca_store_fail(st, src, "list ACME orders", err);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_acme_order_count(struct ca_store *st, const char *directory,
    const char *account_id, const char *ip, int64_t since, size_t *np,
    struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "directory", directory, CA_ACME_ID_MAX, NULL,
		    ip != NULL ? CA_STORE_F_REQUIRED : 0 },
		{ "account id", account_id, CA_ACME_ID_MAX, NULL,
		    ip == NULL ? CA_STORE_F_REQUIRED : 0 },
		{ "client address", ip, CA_ACME_ID_MAX, NULL, 0 },
	};
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	*np = 0;
	rc = ca_store_fields_check(f, 3, err);
	if (rc != CG_OK)
		return rc;
	/*
	 * By account the directory is not consulted: an account lives in
	 * one directory, and leaving it out keeps this count on the
	 * (account_id, created_at) index alone, however many orders the
	 * account made.
	 */
	if (ip == NULL)
		rc = ca_store_prepare(st, "SELECT count(*) FROM acme_orders "
		    "WHERE account_id = ?1 AND created_at >= ?2", &stmt, err);
	else
		rc = ca_store_prepare(st, "SELECT count(*) FROM acme_orders "
		    "WHERE directory = ?1 AND ip = ?3 AND created_at >= ?2",
		    &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = bind_text_ints(stmt, ip == NULL ? account_id : directory,
	    &since, 1);
	if (src == SQLITE_OK && ip != NULL)
		src = ca_store_bind_text(stmt, 3, ip);
	rc = ca_store_count_run(st, stmt, src, np, err);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_acme_order_find_replacing(struct ca_store *st, const char *serial,
    struct ca_acme_order **op, struct cg_err *err)
{
	struct ca_store_id	 sid;
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	bool			 found;

	*op = NULL;
	if (serial == NULL || *serial == '\0')
		return cg_err_set(err, CG_EINVAL,
		    "store: ACME replaced serial is missing");
	rc = serial_norm(serial, &sid, err);
	if (rc != CG_OK)
		return rc;
	/* "replaces <> ''" lets the partial index serve the query. */
	rc = ca_store_prepare(st, "SELECT " ORDER_COLS " FROM acme_orders "
	    "WHERE replaces = ?1 AND replaces <> '' AND status <> 'invalid' "
	    "ORDER BY created_at DESC, rowid DESC LIMIT 1", &stmt, err);
	if (rc == CG_OK)
		rc = order_one(st, stmt, ca_store_bind_text(stmt, 1,
		    sid.serial), op, &found, err);
	if (rc == CG_OK && !found)
		rc = cg_err_set(err, CG_ENOTFOUND,
		    "store: no ACME order replaces %s", sid.serial);
	ca_store_release(st, stmt);
	return rc;
}
