/*
 * ca_store_acme.c - ACME accounts in the store (schema version 3), and the
 * helpers the ca_store_acme*.c files share: input checks, text columns,
 * counts, constraint and compare-and-set diagnosis, savepoints.  Orders
 * are in ca_store_acme_order.c, authorizations and challenges in
 * ca_store_acme_authz.c, EAB keys in ca_store_acme_eab.c.
 *
 * The store does not look inside JSON columns and does not decide which
 * status may follow which: the protocol does.  What it guarantees is that
 * a status changes only from the value the caller saw (compare and set),
 * so two requests racing on one order cannot both win.
 */
#include "certgw/store.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "ca_store_int.h"

#define STATUS_MAX	16		/* bytes in any RFC 8555 status */

static const char *const account_statuses[] = {
	"valid", "deactivated", "revoked", NULL
};

#define ACCOUNT_COLS \
	"id, directory, status, jwk, thumbprint, contact, eab_kid, ip, " \
	"tos_agreed, created_at"

/* The text columns of ACCOUNT_COLS, in order; the integers follow. */
static const size_t account_texts[] = {
	offsetof(struct ca_acme_account, id),
	offsetof(struct ca_acme_account, directory),
	offsetof(struct ca_acme_account, status),
	offsetof(struct ca_acme_account, jwk),
	offsetof(struct ca_acme_account, thumbprint),
	offsetof(struct ca_acme_account, contact),
	offsetof(struct ca_acme_account, eab_kid),
	offsetof(struct ca_acme_account, ip),
};
#define NACCOUNT_TEXTS	(sizeof(account_texts) / sizeof(account_texts[0]))

/* ------------------------------------------------------ shared helpers */

enum cg_code
ca_store_fields_check_in(const char *scope, const struct ca_store_field *f,
    size_t n, struct cg_err *err)
{
	const char *const	*w;
	size_t			 i;

	for (i = 0; i < n; i++) {
		if (f[i].val == NULL || f[i].val[0] == '\0') {
			if (f[i].flags & CA_STORE_F_REQUIRED)
				return cg_err_set(err, CG_EINVAL,
				    "store: %s %s is missing", scope,
				    f[i].name);
			continue;
		}
		if (strnlen(f[i].val, f[i].max + 1) > f[i].max)
			return cg_err_set(err, CG_ETOOBIG, "store: %s %s is "
			    "longer than %zu bytes", scope, f[i].name,
			    f[i].max);
		if (f[i].words == NULL)
			continue;
		for (w = f[i].words; *w != NULL; w++)
			if (strcmp(*w, f[i].val) == 0)
				break;
		if (*w == NULL)
			return cg_err_set(err, CG_EINVAL, "store: bad %s %s",
			    scope, f[i].name);
	}
	return CG_OK;
}

enum cg_code
ca_store_fields_check(const struct ca_store_field *f, size_t n,
    struct cg_err *err)
{
	return ca_store_fields_check_in("ACME", f, n, err);
}

int
ca_store_bind_texts(sqlite3_stmt *stmt, int first, const char *const *v,
    size_t n)
{
	size_t	 i;
	int	 src = SQLITE_OK;

	for (i = 0; src == SQLITE_OK && i < n; i++)
		src = sqlite3_bind_text(stmt, first + (int)i,
		    v[i] == NULL ? "" : v[i], -1, SQLITE_STATIC);
	return src;
}

enum cg_code
ca_store_cols_texts(sqlite3_stmt *stmt, int first, void *rec,
    const size_t *offs, size_t n, struct cg_err *err)
{
	enum cg_code	 rc = CG_OK;
	size_t		 i;

	for (i = 0; rc == CG_OK && i < n; i++)
		rc = ca_store_col_text(stmt, first + (int)i,
		    (char **)((char *)rec + offs[i]), err);
	return rc;
}

void
ca_store_texts_free(void *rec, const size_t *offs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		cg_free(*(char **)((char *)rec + offs[i]));
}

enum cg_code
ca_store_step_row(struct ca_store *st, sqlite3_stmt *stmt, const char *what,
    bool *rowp, struct cg_err *err)
{
	int	 src;

	*rowp = false;
	src = sqlite3_step(stmt);
	if (src == SQLITE_ROW) {
		*rowp = true;
		return CG_OK;
	}
	if (src != SQLITE_DONE)
		return ca_store_fail(st, src, what, err);
	return CG_OK;
}

enum cg_code
ca_store_cas_why(struct ca_store *st, const char *sql, const char *what,
    const char *id, const char *from, struct cg_err *err)
{
	sqlite3_stmt		*stmt = NULL;
	const unsigned char	*status;
	char			 msg[128];
	enum cg_code		 rc;
	bool			 row;
	int			 src;

	rc = ca_store_prepare(st, sql, &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, id);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "read an ACME status", err);
		goto out;
	}
	rc = ca_store_step_row(st, stmt, "read an ACME status", &row, err);
	if (rc != CG_OK)
		goto out;
	if (!row) {
		snprintf(msg, sizeof(msg), "store: no such ACME %s", what);
		rc = ca_store_id_err(err, CG_ENOTFOUND, msg, id);
		goto out;
	}
	/* Statuses are the store's own words: safe to show. */
	status = sqlite3_column_text(stmt, 0);
	snprintf(msg, sizeof(msg), "store: ACME %s is %s, not %s", what,
	    status == NULL ? "?" : (const char *)status, from);
	rc = ca_store_id_err(err, CG_ECONFLICT, msg, id);
out:
	ca_store_release(st, stmt);
	return rc;
}

/* Run one constant statement through the cache (savepoints are hot). */
static enum cg_code
exec_cached(struct ca_store *st, const char *sql, const char *what,
    struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;

	rc = ca_store_prepare(st, sql, &stmt, err);
	if (rc == CG_OK)
		rc = ca_store_step_done(st, stmt, what, err);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_atomic_enter(struct ca_store *st, bool *ownp, struct cg_err *err)
{
	enum cg_code	 rc;

	rc = ca_store_tx_enter(st, ownp, err);
	if (rc != CG_OK || *ownp)
		return rc;
	return exec_cached(st, "SAVEPOINT ca_store_atomic", "open a savepoint",
	    err);
}

enum cg_code
ca_store_atomic_leave(struct ca_store *st, bool own, enum cg_code rc,
    struct cg_err *err)
{
	struct cg_err	 tmp = { 0 };
	enum cg_code	 rc2;

	if (own)
		return ca_store_tx_leave(st, own, rc, err);
	/* Undo only our part; the caller's transaction stays open. */
	if (rc != CG_OK)
		(void)exec_cached(st, "ROLLBACK TO ca_store_atomic",
		    "roll back a savepoint", &tmp);
	rc2 = exec_cached(st, "RELEASE ca_store_atomic", "release a savepoint",
	    rc == CG_OK ? err : &tmp);
	return rc != CG_OK ? rc : rc2;
}

enum cg_code
ca_store_id_err(struct cg_err *err, enum cg_code code, const char *msg,
    const char *id)
{
	bool	 fresh = err != NULL && err->code == CG_OK;

	cg_err_set(err, code, "%s", msg);
	if (fresh && id != NULL)
		cg_err_detail(err, "id %s", id);
	return code;
}

enum cg_code
ca_store_id_check(const char *what, const char *id, struct cg_err *err)
{
	const struct ca_store_field f = {
		what, id, CA_ACME_ID_MAX, NULL, CA_STORE_F_REQUIRED
	};

	return ca_store_fields_check(&f, 1, err);
}

enum cg_code
ca_store_count_run(struct ca_store *st, sqlite3_stmt *stmt, int src,
    size_t *np, struct cg_err *err)
{
	enum cg_code	 rc;
	bool		 row;
	int64_t		 v;

	if (src != SQLITE_OK)
		return ca_store_fail(st, src, "count ACME records", err);
	rc = ca_store_step_row(st, stmt, "count ACME records", &row, err);
	if (rc != CG_OK)
		return rc;
	v = row ? sqlite3_column_int64(stmt, 0) : 0;
	*np = v > 0 ? (size_t)v : 0;
	return CG_OK;
}

enum cg_code
ca_store_constraint_fail(struct ca_store *st, int src, const char *what,
    const char *dup, const char *noparent, struct cg_err *err)
{
	enum cg_code	 code;
	bool		 fresh = err != NULL && err->code == CG_OK;

	if (src == SQLITE_CONSTRAINT_FOREIGNKEY && noparent != NULL)
		code = CG_ENOTFOUND;
	else if ((src & 0xff) == SQLITE_CONSTRAINT)
		code = CG_ECONFLICT;
	else
		return ca_store_fail(st, src, what, err);
	cg_err_set(err, code, "%s", code == CG_ENOTFOUND ? noparent : dup);
	if (fresh)
		cg_err_detail(err, "sqlite: %s (%d)", sqlite3_errmsg(st->db),
		    src);
	return code;
}

/* ------------------------------------------------------------ accounts */

void
ca_acme_account_free(struct ca_acme_account *a)
{
	if (a == NULL)
		return;
	ca_store_texts_free(a, account_texts, NACCOUNT_TEXTS);
	cg_free(a);
}

static enum cg_code
account_row(sqlite3_stmt *stmt, struct ca_acme_account **ap,
    struct cg_err *err)
{
	struct ca_acme_account	*a;
	enum cg_code		 rc;

	a = cg_calloc(1, sizeof(*a));
	if (a == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_cols_texts(stmt, 0, a, account_texts, NACCOUNT_TEXTS,
	    err);
	if (rc != CG_OK) {
		ca_acme_account_free(a);
		return rc;
	}
	a->tos_agreed = sqlite3_column_int(stmt, NACCOUNT_TEXTS) != 0;
	a->created_at = sqlite3_column_int64(stmt, NACCOUNT_TEXTS + 1);
	*ap = a;
	return CG_OK;
}

/* One account by a query whose values are bound (src their result). */
static enum cg_code
account_one(struct ca_store *st, sqlite3_stmt *stmt, int src,
    struct ca_acme_account **ap, bool *foundp, struct cg_err *err)
{
	enum cg_code	 rc;

	*foundp = false;
	if (src != SQLITE_OK)
		return ca_store_fail(st, src, "look up an ACME account", err);
	rc = ca_store_step_row(st, stmt, "look up an ACME account", foundp,
	    err);
	if (rc == CG_OK && *foundp)
		rc = account_row(stmt, ap, err);
	return rc;
}

enum cg_code
ca_store_acme_account_insert(struct ca_store *st,
    const struct ca_acme_account *a, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "account id", a->id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "directory", a->directory, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "account status", a->status, STATUS_MAX, account_statuses,
		    CA_STORE_F_REQUIRED },
		{ "account key", a->jwk, CA_ACME_JSON_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "key thumbprint", a->thumbprint, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "contact", a->contact, CA_ACME_JSON_MAX, NULL, 0 },
		{ "EAB key id", a->eab_kid, CA_ACME_ID_MAX, NULL, 0 },
		{ "client address", a->ip, CA_ACME_ID_MAX, NULL, 0 },
	};
	const char	*v[NACCOUNT_TEXTS];
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	static_assert(sizeof(f) / sizeof(f[0]) == NACCOUNT_TEXTS,
	    "one check per text column");
	rc = ca_store_fields_check(f, NACCOUNT_TEXTS, err);
	if (rc != CG_OK)
		return rc;
	v[0] = a->id;
	v[1] = a->directory;
	v[2] = a->status;
	v[3] = a->jwk;
	v[4] = a->thumbprint;
	v[5] = a->contact == NULL || *a->contact == '\0' ? "[]" : a->contact;
	v[6] = a->eab_kid;
	v[7] = a->ip;
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "INSERT INTO acme_accounts (" ACCOUNT_COLS
	    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1, v, NACCOUNT_TEXTS);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 9, a->tos_agreed ? 1 : 0);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 10,
		    a->created_at != 0 ? a->created_at : cg_now());
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_constraint_fail(st, src, "record an ACME account",
		    "store: ACME account exists already (same id, or same key "
		    "in the directory)", NULL, err);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_acme_account_get(struct ca_store *st, const char *id,
    struct ca_acme_account **ap, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 found;

	*ap = NULL;
	rc = ca_store_id_check("account id", id, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "SELECT " ACCOUNT_COLS " FROM acme_accounts "
	    "WHERE id = ?1", &stmt, err);
	if (rc == CG_OK)
		rc = account_one(st, stmt, ca_store_bind_text(stmt, 1, id), ap,
		    &found, err);
	if (rc == CG_OK && !found)
		rc = ca_store_id_err(err, CG_ENOTFOUND,
		    "store: no such ACME account", id);
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_acme_account_find(struct ca_store *st, const char *directory,
    const char *thumbprint, struct ca_acme_account **ap, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "directory", directory, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "key thumbprint", thumbprint, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
	};
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 found;
	int		 src;

	*ap = NULL;
	rc = ca_store_fields_check(f, 2, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "SELECT " ACCOUNT_COLS " FROM acme_accounts "
	    "WHERE directory = ?1 AND thumbprint = ?2", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, directory);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, thumbprint);
	rc = account_one(st, stmt, src, ap, &found, err);
	if (rc == CG_OK && !found)
		rc = cg_err_set(err, CG_ENOTFOUND,
		    "store: no ACME account with this key in the directory");
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_acme_account_update(struct ca_store *st, const char *id,
    const char *status, const char *contact, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "account id", id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "account status", status, STATUS_MAX, account_statuses, 0 },
		{ "contact", contact, CA_ACME_JSON_MAX, NULL, 0 },
	};
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	rc = ca_store_fields_check(f, 3, err);
	if (rc != CG_OK)
		return rc;
	/* "" is no status; an empty contact list is "[]". */
	if (status != NULL && *status == '\0')
		return cg_err_set(err, CG_EINVAL, "store: bad ACME account "
		    "status \"\"");
	if (contact != NULL && *contact == '\0')
		contact = "[]";
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "UPDATE acme_accounts SET "
	    "status = coalesce(?2, status), contact = coalesce(?3, contact) "
	    "WHERE id = ?1", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, id);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, status);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 3, contact);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "update an ACME account", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "update an ACME account", err);
	if (rc == CG_OK && sqlite3_changes(st->db) == 0)
		rc = ca_store_id_err(err, CG_ENOTFOUND,
		    "store: no such ACME account", id);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

/* Why a rekey changed nothing: no such account, or its key moved on. */
static enum cg_code
rekey_why(struct ca_store *st, const char *id, struct cg_err *err)
{
	struct ca_acme_account	*a = NULL;
	enum cg_code		 rc;

	rc = ca_store_acme_account_get(st, id, &a, err);
	if (rc == CG_OK)
		rc = ca_store_id_err(err, CG_ECONFLICT,
		    "store: the ACME account key changed meanwhile", id);
	ca_acme_account_free(a);
	return rc;
}

enum cg_code
ca_store_acme_account_rekey(struct ca_store *st, const char *id,
    const char *old_thumbprint, const char *jwk, const char *thumbprint,
    struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "account id", id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "old key thumbprint", old_thumbprint, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "account key", jwk, CA_ACME_JSON_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "key thumbprint", thumbprint, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
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
	/* The unique (directory, thumbprint) index refuses a taken key. */
	rc = ca_store_prepare(st, "UPDATE acme_accounts SET jwk = ?3, "
	    "thumbprint = ?4 WHERE id = ?1 AND thumbprint = ?2", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, id);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, old_thumbprint);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 3, jwk);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 4, thumbprint);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE) {
		rc = ca_store_constraint_fail(st, src,
		    "change an ACME account key",
		    "store: another ACME account of the directory has this key",
		    NULL, err);
		goto out;
	}
	if (sqlite3_changes(st->db) == 0)
		rc = rekey_why(st, id, err);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_acme_account_count_ip(struct ca_store *st, const char *directory,
    const char *ip, int64_t since, size_t *np, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "directory", directory, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "client address", ip, CA_ACME_ID_MAX, NULL, 0 },
	};
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	*np = 0;
	rc = ca_store_fields_check(f, 2, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "SELECT count(*) FROM acme_accounts "
	    "WHERE directory = ?1 AND ip = ?2 AND created_at >= ?3", &stmt,
	    err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, directory);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, ip == NULL ? "" : ip);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 3, since);
	rc = ca_store_count_run(st, stmt, src, np, err);
out:
	ca_store_release(st, stmt);
	return rc;
}

