/*
 * ca_store_cert.c - certificate rows: insert, look-up by serial or SHA-256
 * thumbprint, filtered listing, revocation and the CRL listing.  Ids are
 * normalised here (upper-case hex, no leading zeros) so every caller agrees
 * on one spelling.  Opening, migrations and transactions are in
 * ca_store_sqlite.c; nothing here parses X.509.
 */
#include "certgw/store.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "ca_store_int.h"

#define SHA1_HEX	40		/* hex digits of a SHA-1 thumbprint */
#define SHA256_HEX	64		/* hex digits of a SHA-256 thumbprint */
#define REASON_MAX	10		/* RFC 5280 5.3.1: aACompromise */
#define REASON_UNUSED	7		/* RFC 5280 5.3.1: 7 is not used */
#define LIST_SQL_MAX	1024		/* bytes of a composed listing query */

#define CERT_COLS \
	"serial, issuer, subject, sans, not_before, not_after, profile, " \
	"protocol, requester, sha1, sha256, der, status, issued_at, " \
	"revoked_at, revoke_reason"

/* Result columns of CERT_COLS, in order. */
enum cert_col {
	COL_SERIAL = 0,
	COL_ISSUER,
	COL_SUBJECT,
	COL_SANS,
	COL_NOT_BEFORE,
	COL_NOT_AFTER,
	COL_PROFILE,
	COL_PROTOCOL,
	COL_REQUESTER,
	COL_SHA1,
	COL_SHA256,
	COL_DER,
	COL_STATUS,
	COL_ISSUED_AT,
	COL_REVOKED_AT,
	COL_REVOKE_REASON,
	COL__MAX
};

/* The string members of struct ca_cert_rec and the column each comes from. */
static const struct {
	enum cert_col	 col;		/* result column */
	size_t		 off;		/* offset of the char * member */
} text_cols[] = {
	{ COL_SERIAL, offsetof(struct ca_cert_rec, serial) },
	{ COL_ISSUER, offsetof(struct ca_cert_rec, issuer) },
	{ COL_SUBJECT, offsetof(struct ca_cert_rec, subject) },
	{ COL_SANS, offsetof(struct ca_cert_rec, sans) },
	{ COL_PROFILE, offsetof(struct ca_cert_rec, profile) },
	{ COL_PROTOCOL, offsetof(struct ca_cert_rec, protocol) },
	{ COL_REQUESTER, offsetof(struct ca_cert_rec, requester) },
	{ COL_SHA1, offsetof(struct ca_cert_rec, sha1) },
	{ COL_SHA256, offsetof(struct ca_cert_rec, sha256) },
};
#define NTEXT_COLS	(sizeof(text_cols) / sizeof(text_cols[0]))

static const char upper_hex[] = "0123456789ABCDEF";
static const char lower_hex[] = "0123456789abcdef";

/* ---------------------------------------------------------------- ids */

enum cg_code
ca_store_id_parse(const char *s, size_t len, struct ca_store_id *id,
    struct cg_err *err)
{
	size_t	 i, skip;

	memset(id, 0, sizeof(*id));
	if (len == 0)
		return cg_err_set(err, CG_EINVAL,
		    "store: empty certificate id");
	if (len > CA_STORE_ID_MAX)
		return cg_err_set(err, CG_EINVAL, "store: certificate id "
		    "longer than %d hex digits", CA_STORE_ID_MAX);
	for (i = 0; i < len; i++)
		if (cg_hex_digit(s[i]) < 0)
			return cg_err_set(err, CG_EINVAL,
			    "store: certificate id is not hex");
	/* "00AB" and "ab" name the same INTEGER serial; "000" is 0. */
	for (skip = 0; skip + 1 < len && s[skip] == '0'; skip++)
		continue;
	for (i = skip; i < len; i++)
		id->serial[i - skip] = upper_hex[cg_hex_digit(s[i])];
	if (len == SHA256_HEX)
		for (i = 0; i < len; i++)
			id->sha256[i] = lower_hex[cg_hex_digit(s[i])];
	return CG_OK;
}

/* Copy exactly want hex digits of s, lower-cased, into out (want + 1). */
static bool
hex_lower(const char *s, size_t want, char *out)
{
	size_t	 i;

	if (s == NULL || strnlen(s, want + 1) != want)
		return false;
	for (i = 0; i < want; i++) {
		if (cg_hex_digit(s[i]) < 0)
			return false;
		out[i] = lower_hex[cg_hex_digit(s[i])];
	}
	out[want] = '\0';
	return true;
}

static const char *
or_empty(const char *s)
{
	return s == NULL ? "" : s;
}

/* ------------------------------------------------------------- records */

void
ca_cert_rec_free(struct ca_cert_rec *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < NTEXT_COLS; i++)
		cg_free(*(char **)((char *)r + text_cols[i].off));
	cg_free(r->der);
	cg_free(r);
}

/* Build a record from the current row of a "SELECT " CERT_COLS statement. */
static enum cg_code
row_to_rec(sqlite3_stmt *stmt, struct ca_cert_rec **recp, struct cg_err *err)
{
	struct ca_cert_rec	*r;
	enum cg_code		 rc = CG_OK;
	size_t			 i;

	*recp = NULL;
	r = cg_calloc(1, sizeof(*r));
	if (r == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 0; rc == CG_OK && i < NTEXT_COLS; i++)
		rc = ca_store_col_text(stmt, (int)text_cols[i].col,
		    (char **)((char *)r + text_cols[i].off), err);
	if (rc == CG_OK)
		rc = ca_store_col_blob(stmt, COL_DER, "a certificate",
		    &r->der, &r->der_len, err);
	if (rc != CG_OK)
		goto out;
	r->not_before = sqlite3_column_int64(stmt, COL_NOT_BEFORE);
	r->not_after = sqlite3_column_int64(stmt, COL_NOT_AFTER);
	r->status = sqlite3_column_int(stmt, COL_STATUS) == 1 ?
	    CA_CERT_REVOKED : CA_CERT_VALID;
	r->issued_at = sqlite3_column_int64(stmt, COL_ISSUED_AT);
	r->revoked_at = sqlite3_column_int64(stmt, COL_REVOKED_AT);
	r->revoke_reason = -1;
	if (sqlite3_column_type(stmt, COL_REVOKE_REASON) != SQLITE_NULL)
		r->revoke_reason = sqlite3_column_int(stmt, COL_REVOKE_REASON);
	*recp = r;
	r = NULL;
	rc = CG_OK;
out:
	ca_cert_rec_free(r);
	return rc;
}

/* ------------------------------------------------------------- insert */

static enum cg_code
insert_bind(struct ca_store *st, sqlite3_stmt *stmt,
    const struct ca_cert_rec *rec, const char *serial, const char *sha1,
    const char *sha256, struct cg_err *err)
{
	const char	*texts[] = { serial, or_empty(rec->issuer),
			    or_empty(rec->subject), or_empty(rec->sans),
			    or_empty(rec->profile), or_empty(rec->protocol),
			    or_empty(rec->requester), sha1, sha256 };
	int64_t		 ints[] = { rec->not_before, rec->not_after,
			    rec->issued_at != 0 ? rec->issued_at : cg_now() };
	size_t		 i;
	int		 idx = 1, src = SQLITE_OK;

	for (i = 0; src == SQLITE_OK && i < sizeof(texts) / sizeof(*texts);
	    i++)
		src = sqlite3_bind_text(stmt, idx++, texts[i], -1,
		    SQLITE_STATIC);
	for (i = 0; src == SQLITE_OK && i < sizeof(ints) / sizeof(*ints); i++)
		src = sqlite3_bind_int64(stmt, idx++, ints[i]);
	if (src == SQLITE_OK)
		src = sqlite3_bind_blob64(stmt, idx, rec->der, rec->der_len,
		    SQLITE_STATIC);
	if (src != SQLITE_OK)
		return ca_store_fail(st, src, "record the certificate", err);
	return CG_OK;
}

enum cg_code
ca_store_cert_insert(struct ca_store *st, const struct ca_cert_rec *rec,
    struct cg_err *err)
{
	struct ca_store_id	 id;
	sqlite3_stmt		*stmt = NULL;
	char			 sha1[SHA1_HEX + 1], sha256[SHA256_HEX + 1];
	bool			 fresh = err != NULL && err->code == CG_OK;
	enum cg_code		 rc;
	int			 src;

	if (rec->serial == NULL)
		return cg_err_set(err, CG_EINVAL, "store: no serial");
	rc = ca_store_id_parse(rec->serial,
	    strnlen(rec->serial, CA_STORE_ID_MAX + 1), &id, err);
	if (rc != CG_OK)
		return rc;
	if (!hex_lower(rec->sha1, SHA1_HEX, sha1) ||
	    !hex_lower(rec->sha256, SHA256_HEX, sha256))
		return cg_err_set(err, CG_EINVAL, "store: bad thumbprint");
	if (rec->der == NULL || rec->der_len == 0)
		return cg_err_set(err, CG_EINVAL, "store: no certificate");

	rc = ca_store_prepare(st, "INSERT INTO certs (serial, issuer, "
	    "subject, sans, profile, protocol, requester, sha1, sha256, "
	    "not_before, not_after, issued_at, der, status) VALUES (?1, ?2, "
	    "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0)", &stmt, err);
	if (rc == CG_OK)
		rc = insert_bind(st, stmt, rec, id.serial, sha1, sha256, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_step(stmt);
	if ((src & 0xff) == SQLITE_CONSTRAINT) {
		rc = cg_err_set(err, CG_ECONFLICT, "store: certificate "
		    "already recorded (same serial or thumbprint)");
		if (fresh)
			cg_err_detail(err, "serial=%s sqlite: %s", id.serial,
			    sqlite3_errmsg(st->db));
		goto out;
	}
	if (src != SQLITE_DONE) {
		rc = ca_store_fail(st, src, "record the certificate", err);
		goto out;
	}
	rc = CG_OK;
out:
	ca_store_release(st, stmt);
	return rc;
}

/* ------------------------------------------------------------- look-up */

/* *recp stays NULL, and CG_OK is returned, when no row matches. */
static enum cg_code
cert_get_by(struct ca_store *st, const char *sql, const char *key,
    struct ca_cert_rec **recp, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	rc = ca_store_prepare(st, sql, &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src == SQLITE_ROW)
		rc = row_to_rec(stmt, recp, err);
	else if (src != SQLITE_DONE)
		rc = ca_store_fail(st, src, "look up a certificate", err);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_cert_get(struct ca_store *st, const char *id,
    struct ca_cert_rec **recp, struct cg_err *err)
{
	struct ca_store_id	 pid;
	enum cg_code		 rc;

	*recp = NULL;
	if (id == NULL)
		return cg_err_set(err, CG_EINVAL, "store: no certificate id");
	rc = ca_store_id_parse(id, strnlen(id, CA_STORE_ID_MAX + 1), &pid,
	    err);
	if (rc != CG_OK)
		return rc;
	/* 64 hex digits is most likely a thumbprint, but may be a serial. */
	if (pid.sha256[0] != '\0') {
		rc = cert_get_by(st, "SELECT " CERT_COLS " FROM certs "
		    "WHERE sha256 = ?1", pid.sha256, recp, err);
		if (rc != CG_OK || *recp != NULL)
			return rc;
	}
	rc = cert_get_by(st, "SELECT " CERT_COLS " FROM certs "
	    "WHERE serial = ?1", pid.serial, recp, err);
	if (rc == CG_OK && *recp == NULL)
		rc = cg_err_set(err, CG_ENOTFOUND,
		    "store: no such certificate");
	return rc;
}

/* ------------------------------------------------------------ listing */

/* Step stmt and hand each row to cb; a callback error stops and is returned. */
static enum cg_code
cert_rows(struct ca_store *st, sqlite3_stmt *stmt, ca_cert_cb *cb, void *arg,
    struct cg_err *err)
{
	struct ca_cert_rec	*rec;
	enum cg_code		 rc = CG_OK;
	int			 src;

	assert(cb != NULL);
	while (rc == CG_OK) {
		src = sqlite3_step(stmt);
		if (src == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW) {
			rc = ca_store_fail(st, src, "list certificates", err);
			break;
		}
		rc = row_to_rec(stmt, &rec, err);
		if (rc != CG_OK)
			break;
		rc = cb(arg, rec);
		ca_cert_rec_free(rec);
		if (rc != CG_OK)
			cg_err_set(err, rc,
			    "store: certificate listing stopped");
	}
	return rc;
}

/* Compose the query from constant fragments; values are bound by name. */
static enum cg_code
list_sql(const struct ca_cert_filter *f, struct cg_buf *b, struct cg_err *err)
{
	static const char *const status_sql[] = {
		[CA_CERT_VALID] = " AND status = 0 AND not_after >= :now",
		[CA_CERT_REVOKED] = " AND status = 1",
		[CA_FILTER_EXPIRED] = " AND status = 0 AND not_after < :now",
	};
	enum cg_code	 rc;

	if (f->status < -1 || f->status > CA_FILTER_EXPIRED)
		return cg_err_set(err, CG_EINVAL, "store: bad status filter");
	rc = cg_buf_addstr(b, "SELECT " CERT_COLS " FROM certs WHERE 1", err);
	if (rc == CG_OK && f->profile != NULL)
		rc = cg_buf_addstr(b, " AND profile = :profile", err);
	if (rc == CG_OK && f->status >= 0)
		rc = cg_buf_addstr(b, status_sql[f->status], err);
	if (rc == CG_OK && f->expiring_before != 0)
		rc = cg_buf_addstr(b, " AND not_after < :before"
		    " AND not_after >= :now", err);
	if (rc == CG_OK)
		rc = cg_buf_addstr(b, " ORDER BY issued_at DESC, rowid DESC"
		    " LIMIT :limit", err);
	return rc;
}

static int
bind_named_int64(sqlite3_stmt *stmt, const char *name, int64_t v)
{
	int	 idx = sqlite3_bind_parameter_index(stmt, name);

	return idx == 0 ? SQLITE_OK : sqlite3_bind_int64(stmt, idx, v);
}

static enum cg_code
list_bind(struct ca_store *st, sqlite3_stmt *stmt,
    const struct ca_cert_filter *f, struct cg_err *err)
{
	int64_t	 limit = -1;		/* SQLite: no limit */
	int	 idx, src;

	if (f->limit != 0 && f->limit <= INT64_MAX)
		limit = (int64_t)f->limit;
	src = bind_named_int64(stmt, ":now", f->now);
	if (src == SQLITE_OK)
		src = bind_named_int64(stmt, ":before", f->expiring_before);
	if (src == SQLITE_OK)
		src = bind_named_int64(stmt, ":limit", limit);
	idx = sqlite3_bind_parameter_index(stmt, ":profile");
	if (src == SQLITE_OK && idx != 0)
		src = sqlite3_bind_text(stmt, idx, f->profile, -1,
		    SQLITE_STATIC);
	if (src != SQLITE_OK)
		return ca_store_fail(st, src, "list certificates", err);
	return CG_OK;
}

enum cg_code
ca_store_cert_list(struct ca_store *st, const struct ca_cert_filter *f,
    ca_cert_cb *cb, void *arg, struct cg_err *err)
{
	static const struct ca_cert_filter all = { .status = -1 };
	sqlite3_stmt	*stmt = NULL;
	struct cg_buf	 sql;
	enum cg_code	 rc;

	cg_buf_init(&sql, LIST_SQL_MAX);
	if (f == NULL)
		f = &all;
	rc = list_sql(f, &sql, err);
	if (rc == CG_OK)
		rc = ca_store_prepare(st, (const char *)sql.data, &stmt, err);
	if (rc == CG_OK)
		rc = list_bind(st, stmt, f, err);
	if (rc == CG_OK)
		rc = cert_rows(st, stmt, cb, arg, err);
	ca_store_release(st, stmt);
	cg_buf_cleanup(&sql);
	return rc;
}

enum cg_code
ca_store_revoked_list(struct ca_store *st, int64_t now, ca_cert_cb *cb,
    void *arg, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	rc = ca_store_prepare(st, "SELECT " CERT_COLS " FROM certs "
	    "WHERE status = 1 AND not_after >= ?1 ORDER BY rowid", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_int64(stmt, 1, now);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "list revocations", err);
		goto out;
	}
	rc = cert_rows(st, stmt, cb, arg, err);
out:
	ca_store_release(st, stmt);
	return rc;
}

/* ---------------------------------------------------------- revocation */

/* Why no valid row matched: unknown serial, or already revoked. */
static enum cg_code
revoke_why(struct ca_store *st, const char *serial, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	rc = ca_store_prepare(st, "SELECT status FROM certs WHERE serial = ?1",
	    &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src == SQLITE_ROW)
		rc = cg_err_set(err, CG_ECONFLICT,
		    "store: certificate already revoked");
	else if (src == SQLITE_DONE)
		rc = cg_err_set(err, CG_ENOTFOUND,
		    "store: no such certificate");
	else
		rc = ca_store_fail(st, src, "revoke a certificate", err);
out:
	ca_store_release(st, stmt);
	return rc;
}

static enum cg_code
revoke_row(struct ca_store *st, const char *serial, int reason, int64_t when,
    struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	rc = ca_store_prepare(st, "UPDATE certs SET status = 1, "
	    "revoked_at = ?2, revoke_reason = ?3 "
	    "WHERE serial = ?1 AND status = 0", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 2, when);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 3, reason);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "revoke a certificate", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "revoke a certificate", err);
	if (rc == CG_OK && sqlite3_changes(st->db) != 1)
		rc = revoke_why(st, serial, err);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_cert_revoke(struct ca_store *st, const char *serial, int reason,
    int64_t when, struct cg_err *err)
{
	struct ca_store_id	 id;
	enum cg_code		 rc;
	bool			 own;

	if (serial == NULL)
		return cg_err_set(err, CG_EINVAL, "store: no serial");
	if (reason < 0 || reason > REASON_MAX || reason == REASON_UNUSED)
		return cg_err_set(err, CG_EINVAL,
		    "store: bad revocation reason %d", reason);
	rc = ca_store_id_parse(serial, strnlen(serial, CA_STORE_ID_MAX + 1),
	    &id, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	/* The row and the generation change together, or neither does. */
	rc = revoke_row(st, id.serial, reason, when, err);
	if (rc == CG_OK)
		rc = ca_store_meta_bump(st, "revocation_gen", NULL, err);
	return ca_store_tx_leave(st, own, rc, err);
}
