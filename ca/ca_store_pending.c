/*
 * ca_store_pending.c - the pending table: requests held for an admin's
 * decision (manual approval).  Rows are added, found again by protocol,
 * profile and CSR hash, listed, and decided exactly once.  Nothing here
 * parses X.509 or issues anything; ca/ca_enroll.c does, and it calls these
 * inside its own transactions.
 */
#include "certgw/store.h"

#include <assert.h>
#include <string.h>

#include <sqlite3.h>

#include "ca_store_int.h"

#define SHA256_HEX	64		/* hex digits of a CSR hash */

#define PENDING_COLS \
	"id, protocol, profile, requester, subject, sans, csr_sha256, " \
	"csr_der, status, created_at, decided_at, decided_by, cert_serial"

/* Result columns of PENDING_COLS, in order. */
enum pending_col {
	PCOL_ID = 0,
	PCOL_PROTOCOL,
	PCOL_PROFILE,
	PCOL_REQUESTER,
	PCOL_SUBJECT,
	PCOL_SANS,
	PCOL_CSR_SHA256,
	PCOL_CSR_DER,
	PCOL_STATUS,
	PCOL_CREATED_AT,
	PCOL_DECIDED_AT,
	PCOL_DECIDED_BY,
	PCOL_CERT_SERIAL,
	PCOL__MAX
};

/* String members, the column each comes from, and the most it may hold. */
static const struct {
	enum pending_col col;		/* result column */
	size_t		 off;		/* offset of the char * member */
	size_t		 max;		/* bytes accepted on insert */
	bool		 required;	/* must be non-empty on insert */
} text_cols[] = {
	{ PCOL_PROTOCOL, offsetof(struct ca_pending_rec, protocol),
	    CA_STORE_TEXT_MAX, true },
	{ PCOL_PROFILE, offsetof(struct ca_pending_rec, profile),
	    CA_STORE_TEXT_MAX, true },
	{ PCOL_REQUESTER, offsetof(struct ca_pending_rec, requester),
	    CA_STORE_TEXT_MAX, true },
	{ PCOL_SUBJECT, offsetof(struct ca_pending_rec, subject),
	    CA_STORE_TEXT_MAX, false },
	{ PCOL_SANS, offsetof(struct ca_pending_rec, sans),
	    CA_STORE_SANS_MAX, false },
	{ PCOL_CSR_SHA256, offsetof(struct ca_pending_rec, csr_sha256),
	    SHA256_HEX, true },
	{ PCOL_DECIDED_BY, offsetof(struct ca_pending_rec, decided_by),
	    CA_STORE_TEXT_MAX, false },
	{ PCOL_CERT_SERIAL, offsetof(struct ca_pending_rec, cert_serial),
	    CA_STORE_ID_MAX, false },
};
#define NTEXT_COLS	(sizeof(text_cols) / sizeof(text_cols[0]))
#define NINSERT_COLS	6	/* the first six are written by an insert */

static const char lower_hex[] = "0123456789abcdef";

/* ------------------------------------------------------------- helpers */

static char **
rec_text(const struct ca_pending_rec *r, size_t i)
{
	return (char **)((const char *)r + text_cols[i].off);
}

/* The hash as 64 lower-case hex digits into out (65); false if it is not. */
static bool
sha256_norm(const char *s, char *out)
{
	size_t	 i;
	int	 c;

	if (s == NULL || strnlen(s, SHA256_HEX + 1) != SHA256_HEX)
		return false;
	for (i = 0; i < SHA256_HEX; i++) {
		c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'F')
			c += 'a' - 'A';
		if (strchr(lower_hex, c) == NULL || c == '\0')
			return false;
		out[i] = (char)c;
	}
	out[SHA256_HEX] = '\0';
	return true;
}

static enum cg_code
row_to_rec(sqlite3_stmt *stmt, struct ca_pending_rec **recp,
    struct cg_err *err)
{
	struct ca_pending_rec	*r;
	enum cg_code		 rc = CG_OK;
	size_t			 i;
	int			 status;

	*recp = NULL;
	r = cg_calloc(1, sizeof(*r));
	if (r == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 0; rc == CG_OK && i < NTEXT_COLS; i++)
		rc = ca_store_col_text(stmt, (int)text_cols[i].col,
		    rec_text(r, i), err);
	if (rc == CG_OK)
		rc = ca_store_col_blob(stmt, PCOL_CSR_DER,
		    "a pending request", &r->csr_der, &r->csr_len, err);
	if (rc != CG_OK)
		goto out;
	status = sqlite3_column_int(stmt, PCOL_STATUS);
	if (status < 0 || status >= CA_PENDING__MAX) {
		rc = cg_err_set(err, CG_EIO, "store: bad pending status");
		goto out;
	}
	r->id = sqlite3_column_int64(stmt, PCOL_ID);
	r->status = (enum ca_pending_status)status;
	r->created_at = sqlite3_column_int64(stmt, PCOL_CREATED_AT);
	r->decided_at = sqlite3_column_int64(stmt, PCOL_DECIDED_AT);
	*recp = r;
	r = NULL;
	rc = CG_OK;
out:
	ca_pending_rec_free(r);
	return rc;
}

void
ca_pending_rec_free(struct ca_pending_rec *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < NTEXT_COLS; i++)
		cg_free(*rec_text(r, i));
	cg_free(r->csr_der);
	cg_free(r);
}

/* -------------------------------------------------------------- insert */

static enum cg_code
add_check(const struct ca_pending_rec *rec, char *sha, struct cg_err *err)
{
	const char	*s;
	size_t		 i;

	for (i = 0; i < NINSERT_COLS; i++) {
		s = *rec_text(rec, i);
		if (text_cols[i].required && (s == NULL || *s == '\0'))
			return cg_err_set(err, CG_EINVAL, "store: pending "
			    "request needs a protocol, profile and requester");
		if (s != NULL && strnlen(s, text_cols[i].max + 1) >
		    text_cols[i].max)
			return cg_err_set(err, CG_ETOOBIG,
			    "store: pending request field too long");
	}
	if (!sha256_norm(rec->csr_sha256, sha))
		return cg_err_set(err, CG_EINVAL,
		    "store: pending request has a bad CSR hash");
	if (rec->csr_der == NULL || rec->csr_len == 0)
		return cg_err_set(err, CG_EINVAL,
		    "store: pending request has no CSR");
	if (rec->csr_len > CA_STORE_CSR_MAX)
		return cg_err_set(err, CG_ETOOBIG,
		    "store: pending CSR too large");
	return CG_OK;
}

static int
add_bind(sqlite3_stmt *stmt, const struct ca_pending_rec *rec,
    const char *sha)
{
	const char	*s;
	size_t		 i;
	int		 src = SQLITE_OK;

	for (i = 0; src == SQLITE_OK && i < NINSERT_COLS; i++) {
		s = text_cols[i].col == PCOL_CSR_SHA256 ? sha :
		    *rec_text(rec, i);
		src = sqlite3_bind_text(stmt, (int)i + 1, s == NULL ? "" : s,
		    -1, SQLITE_STATIC);
	}
	if (src == SQLITE_OK)
		src = sqlite3_bind_blob64(stmt, NINSERT_COLS + 1, rec->csr_der,
		    rec->csr_len, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, NINSERT_COLS + 2,
		    rec->created_at != 0 ? rec->created_at : cg_now());
	return src;
}

enum cg_code
ca_store_pending_add(struct ca_store *st, const struct ca_pending_rec *rec,
    int64_t *idp, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	char		 sha[SHA256_HEX + 1];
	enum cg_code	 rc;
	int		 src;

	*idp = 0;
	rc = add_check(rec, sha, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "INSERT INTO pending (protocol, profile, "
	    "requester, subject, sans, csr_sha256, csr_der, created_at, "
	    "status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = add_bind(stmt, rec, sha);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "record a pending request", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "record a pending request", err);
	if (rc == CG_OK)
		*idp = sqlite3_last_insert_rowid(st->db);
out:
	ca_store_release(st, stmt);
	return rc;
}

/* ------------------------------------------------------------- look-up */

/* Run a one-row query; *recp stays NULL (and CG_OK) when nothing matches. */
static enum cg_code
pending_one(struct ca_store *st, sqlite3_stmt *stmt,
    struct ca_pending_rec **recp, struct cg_err *err)
{
	int	 src;

	src = sqlite3_step(stmt);
	if (src == SQLITE_ROW)
		return row_to_rec(stmt, recp, err);
	if (src != SQLITE_DONE)
		return ca_store_fail(st, src, "look up a pending request",
		    err);
	return CG_OK;
}

enum cg_code
ca_store_pending_get(struct ca_store *st, int64_t id,
    struct ca_pending_rec **recp, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	*recp = NULL;
	rc = ca_store_prepare(st, "SELECT " PENDING_COLS " FROM pending "
	    "WHERE id = ?1", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_int64(stmt, 1, id);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "look up a pending request", err);
		goto out;
	}
	rc = pending_one(st, stmt, recp, err);
	if (rc == CG_OK && *recp == NULL)
		rc = cg_err_set(err, CG_ENOTFOUND,
		    "no pending request %lld", (long long)id);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_pending_find(struct ca_store *st, const char *protocol,
    const char *profile, const char *csr_sha256,
    struct ca_pending_rec **recp, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	char		 sha[SHA256_HEX + 1];
	enum cg_code	 rc;
	int		 src;

	*recp = NULL;
	if (protocol == NULL || profile == NULL)
		return cg_err_set(err, CG_EINVAL,
		    "store: pending look-up needs a protocol and profile");
	if (!sha256_norm(csr_sha256, sha))
		return cg_err_set(err, CG_EINVAL, "store: bad CSR hash");
	rc = ca_store_prepare(st, "SELECT " PENDING_COLS " FROM pending "
	    "WHERE protocol = ?1 AND profile = ?2 AND csr_sha256 = ?3 "
	    "ORDER BY id DESC LIMIT 1", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_text(stmt, 1, protocol, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_text(stmt, 2, profile, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_text(stmt, 3, sha, -1, SQLITE_STATIC);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "look up a pending request", err);
		goto out;
	}
	rc = pending_one(st, stmt, recp, err);
	if (rc == CG_OK && *recp == NULL)
		rc = cg_err_set(err, CG_ENOTFOUND, "no such pending request");
out:
	ca_store_release(st, stmt);
	return rc;
}

/* ------------------------------------------------------------- listing */

enum cg_code
ca_store_pending_list(struct ca_store *st, int status, ca_pending_cb *cb,
    void *arg, struct cg_err *err)
{
	struct ca_pending_rec	*rec;
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	int			 src;

	assert(cb != NULL);
	if (status < -1 || status >= CA_PENDING__MAX)
		return cg_err_set(err, CG_EINVAL, "store: bad pending status");
	rc = ca_store_prepare(st, "SELECT " PENDING_COLS " FROM pending "
	    "WHERE ?1 < 0 OR status = ?1 ORDER BY id", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_int(stmt, 1, status);
	while (rc == CG_OK && src == SQLITE_OK) {
		src = sqlite3_step(stmt);
		if (src != SQLITE_ROW)
			break;
		src = SQLITE_OK;
		rc = row_to_rec(stmt, &rec, err);
		if (rc != CG_OK)
			break;
		rc = cb(arg, rec);
		ca_pending_rec_free(rec);
		if (rc != CG_OK)
			cg_err_set(err, rc, "store: pending listing stopped");
	}
	if (rc == CG_OK && src != SQLITE_DONE)
		rc = ca_store_fail(st, src, "list pending requests", err);
out:
	ca_store_release(st, stmt);
	return rc;
}

/* ------------------------------------------------------------ decision */

/* Why no waiting row matched: unknown id, or already decided. */
static enum cg_code
decide_why(struct ca_store *st, int64_t id, struct cg_err *err)
{
	struct ca_pending_rec	*r = NULL;
	enum cg_code		 rc;

	rc = ca_store_pending_get(st, id, &r, err);
	if (rc == CG_OK)
		rc = cg_err_set(err, CG_ECONFLICT, "pending request %lld is "
		    "already %s", (long long)id,
		    r->status == CA_PENDING_APPROVED ? "approved" : "rejected");
	ca_pending_rec_free(r);
	return rc;
}

static enum cg_code
decide_check(enum ca_pending_status status, const char *actor,
    const char *cert_serial, struct ca_store_id *sid, struct cg_err *err)
{
	memset(sid, 0, sizeof(*sid));
	if (actor == NULL || *actor == '\0')
		return cg_err_set(err, CG_EINVAL,
		    "store: a decision needs an actor");
	if (strnlen(actor, CA_STORE_TEXT_MAX + 1) > CA_STORE_TEXT_MAX)
		return cg_err_set(err, CG_ETOOBIG, "store: actor too long");
	if (status == CA_PENDING_REJECTED && cert_serial == NULL)
		return CG_OK;
	if (status != CA_PENDING_APPROVED || cert_serial == NULL)
		return cg_err_set(err, CG_EINVAL, "store: a decision is an "
		    "approval with a certificate or a rejection without");
	return ca_store_id_parse(cert_serial,
	    strnlen(cert_serial, CA_STORE_ID_MAX + 1), sid, err);
}

enum cg_code
ca_store_pending_decide(struct ca_store *st, int64_t id,
    enum ca_pending_status status, const char *actor,
    const char *cert_serial, struct cg_err *err)
{
	struct ca_store_id	 sid;
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	int			 src;

	rc = decide_check(status, actor, cert_serial, &sid, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "UPDATE pending SET status = ?2, "
	    "decided_at = ?3, decided_by = ?4, cert_serial = ?5 "
	    "WHERE id = ?1 AND status = 0", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_int64(stmt, 1, id);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 2, (int)status);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 3, cg_now());
	if (src == SQLITE_OK)
		src = sqlite3_bind_text(stmt, 4, actor, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 5,
		    cert_serial == NULL ? NULL : sid.serial);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "decide a pending request", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "decide a pending request", err);
	if (rc == CG_OK && sqlite3_changes(st->db) != 1)
		rc = decide_why(st, id, err);
out:
	ca_store_release(st, stmt);
	return rc;
}
