/*
 * ca_store_holding.c - the holding tank in the store (schema version 5):
 * client certificates that were presented on an `accept` route, checked,
 * and mapped to no identity.  One row per certificate, counted each time
 * it comes back, until an admin accepts (a mapping is made elsewhere) or
 * rejects it.
 */
#include "certgw/store.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "ca_store_int.h"

#define HOLD_COLS \
	"sha256, subject, issuer, source, decided_by, id, not_after, " \
	"first_seen, last_seen, count, status, decided_at, der"

static const size_t hold_texts[] = {
	offsetof(struct ca_holding, sha256),
	offsetof(struct ca_holding, subject),
	offsetof(struct ca_holding, issuer),
	offsetof(struct ca_holding, source),
	offsetof(struct ca_holding, decided_by),
};
#define NHOLD_TEXTS	(sizeof(hold_texts) / sizeof(hold_texts[0]))

void
ca_holding_free(struct ca_holding *h)
{
	if (h == NULL)
		return;
	ca_store_texts_free(h, hold_texts, NHOLD_TEXTS);
	cg_free(h->der);
	cg_free(h);
}

static enum cg_code
hold_row(sqlite3_stmt *stmt, struct ca_holding **hp, struct cg_err *err)
{
	struct ca_holding	*h;
	enum cg_code		 rc;
	const int		 n = (int)NHOLD_TEXTS;

	*hp = NULL;
	if ((h = cg_calloc(1, sizeof(*h))) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_cols_texts(stmt, 0, h, hold_texts, NHOLD_TEXTS, err);
	h->id = sqlite3_column_int64(stmt, n);
	h->not_after = sqlite3_column_int64(stmt, n + 1);
	h->first_seen = sqlite3_column_int64(stmt, n + 2);
	h->last_seen = sqlite3_column_int64(stmt, n + 3);
	h->count = sqlite3_column_int64(stmt, n + 4);
	h->status = sqlite3_column_int(stmt, n + 5);
	h->decided_at = sqlite3_column_int64(stmt, n + 6);
	if (rc == CG_OK)
		rc = ca_store_col_blob(stmt, n + 7, "held certificate",
		    &h->der, &h->der_len, err);
	if (rc != CG_OK) {
		ca_holding_free(h);
		return rc;
	}
	*hp = h;
	return CG_OK;
}

static bool
sha256_is_valid(const char *s)
{
	size_t	 i;

	if (s == NULL || strlen(s) != 64)
		return false;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

enum cg_code
ca_store_holding_seen(struct ca_store *st, const struct ca_holding *h,
    int64_t now, int *statusp, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "subject", h->subject, CA_IDENT_DN_MAX, NULL, 0 },
		{ "issuer", h->issuer, CA_IDENT_DN_MAX, NULL, 0 },
		{ "source", h->source, CA_IDENT_TEXT_MAX, NULL, 0 },
	};
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 row;
	int		 src;

	if (statusp != NULL)
		*statusp = CA_HOLD_PENDING;
	if (!sha256_is_valid(h->sha256))
		return cg_err_set(err, CG_EINVAL, "store: a held certificate's "
		    "thumbprint is 64 lower-case hex digits");
	rc = ca_store_fields_check_in("held certificate", f,
	    sizeof(f) / sizeof(f[0]), err);
	if (rc == CG_OK && (h->der == NULL || h->der_len == 0 ||
	    h->der_len > CA_IDENT_DER_MAX))
		rc = cg_err_set(err, CG_EINVAL, "store: a held certificate "
		    "needs its DER, at most %d bytes", CA_IDENT_DER_MAX);
	if (rc != CG_OK)
		return rc;
	/* One statement: two requests with one certificate count twice. */
	rc = ca_store_prepare(st, "INSERT INTO holding (sha256, subject, "
	    "issuer, der, not_after, first_seen, last_seen, source, count, "
	    "status, decided_by, decided_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	    "?6, ?7, 1, 0, '', 0) ON CONFLICT (sha256) DO UPDATE SET "
	    "count = count + 1, last_seen = max(last_seen, ?6), source = ?7 "
	    "RETURNING status", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = ca_store_bind_texts(stmt, 1, (const char *const []){ h->sha256,
	    h->subject, h->issuer }, 3);
	if (src == SQLITE_OK)
		src = sqlite3_bind_blob(stmt, 4, h->der, (int)h->der_len,
		    SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 5, h->not_after);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 6, now);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 7, h->source);
	if (src != SQLITE_OK)
		rc = ca_store_fail(st, src, "hold a certificate", err);
	if (rc == CG_OK)
		rc = ca_store_step_row(st, stmt, "hold a certificate", &row,
		    err);
	if (rc == CG_OK && row && statusp != NULL)
		*statusp = sqlite3_column_int(stmt, 0);
	if (rc == CG_OK && row)
		rc = ca_store_step_done(st, stmt, "hold a certificate", err);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_holding_get(struct ca_store *st, int64_t id,
    struct ca_holding **outp, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 row;
	int		 src;

	*outp = NULL;
	rc = ca_store_prepare(st, "SELECT " HOLD_COLS " FROM holding "
	    "WHERE id = ?1", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = sqlite3_bind_int64(stmt, 1, id);
	if (src != SQLITE_OK)
		rc = ca_store_fail(st, src, "look up a held certificate", err);
	if (rc == CG_OK)
		rc = ca_store_step_row(st, stmt, "look up a held certificate",
		    &row, err);
	if (rc == CG_OK && !row)
		rc = cg_err_set(err, CG_ENOTFOUND, "store: no held certificate "
		    "%lld", (long long)id);
	if (rc == CG_OK)
		rc = hold_row(stmt, outp, err);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_holding_list(struct ca_store *st, int status, ca_holding_cb *cb,
    void *arg, struct cg_err *err)
{
	struct ca_holding	*h;
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	int			 src = SQLITE_OK;

	assert(cb != NULL);
	rc = ca_store_prepare(st, status >= 0 ?
	    "SELECT " HOLD_COLS " FROM holding WHERE status = ?1 ORDER BY id" :
	    "SELECT " HOLD_COLS " FROM holding ORDER BY id", &stmt, err);
	if (rc != CG_OK)
		return rc;
	if (status >= 0)
		src = sqlite3_bind_int(stmt, 1, status);
	while (src == SQLITE_OK) {
		src = sqlite3_step(stmt);
		if (src != SQLITE_ROW)
			break;
		src = SQLITE_OK;
		if ((rc = hold_row(stmt, &h, err)) != CG_OK)
			break;
		rc = cb(arg, h);
		ca_holding_free(h);
		if (rc != CG_OK) {
			cg_err_set(err, rc, "store: holding listing stopped");
			break;
		}
	}
	if (rc == CG_OK && src != SQLITE_DONE)
		rc = ca_store_fail(st, src, "list held certificates", err);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_holding_decide(struct ca_store *st, int64_t id, int status,
    const char *by, int64_t now, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "decider", by, CA_IDENT_TEXT_MAX, NULL, CA_STORE_F_REQUIRED },
	};
	struct ca_holding *h = NULL;
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	if (status != CA_HOLD_ACCEPTED && status != CA_HOLD_REJECTED)
		return cg_err_set(err, CG_EINVAL, "store: a held certificate is "
		    "accepted or rejected");
	rc = ca_store_fields_check_in("holding", f, 1, err);
	if (rc == CG_OK)
		rc = ca_store_prepare(st, "UPDATE holding SET status = ?2, "
		    "decided_by = ?3, decided_at = ?4 WHERE id = ?1 AND "
		    "status = 0", &stmt, err);
	if (rc != CG_OK)
		return rc;
	src = sqlite3_bind_int64(stmt, 1, id);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 2, status);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 3, by);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 4, now);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_fail(st, src, "decide on a held certificate", err);
	ca_store_release(st, stmt);
	if (rc == CG_OK && sqlite3_changes(st->db) == 0) {
		/* Absent, or decided before: which one is the answer. */
		rc = ca_store_holding_get(st, id, &h, err);
		if (rc == CG_OK)
			rc = cg_err_set(err, CG_ECONFLICT, "store: held "
			    "certificate %lld is %s already", (long long)id,
			    h->status == CA_HOLD_ACCEPTED ? "accepted" :
			    "rejected");
		ca_holding_free(h);
	}
	return rc;
}
