/*
 * ca_store_acme_eab.c - external account binding keys (RFC 8555 §7.3.4) in
 * the store: made by the CLI, read by newAccount to check the binding's
 * MAC, bound to one account for good.  The HMAC key is a secret: it is
 * read only by ca_store_acme_eab_get(), never by the listing, never put
 * in an error message, and wiped when its record is freed.
 */
#include "certgw/store.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "ca_store_int.h"

/* Texts first, then created_at, bound_at; "key" follows for a get. */
#define EAB_COLS \
	"kid, directory, identifiers, account_id, created_at, bound_at"

static const size_t eab_texts[] = {
	offsetof(struct ca_acme_eab, kid),
	offsetof(struct ca_acme_eab, directory),
	offsetof(struct ca_acme_eab, identifiers),
	offsetof(struct ca_acme_eab, account_id),
};
#define NEAB_TEXTS	(sizeof(eab_texts) / sizeof(eab_texts[0]))
#define EAB_COL_KEY	(NEAB_TEXTS + 2)

void
ca_acme_eab_free(struct ca_acme_eab *e)
{
	if (e == NULL)
		return;
	if (e->key != NULL)
		OPENSSL_cleanse(e->key, e->key_len);
	cg_free(e->key);
	ca_store_texts_free(e, eab_texts, NEAB_TEXTS);
	cg_free(e);
}

/* The columns of EAB_COLS (and the key when with_key) into *ep. */
static enum cg_code
eab_row(sqlite3_stmt *stmt, bool with_key, struct ca_acme_eab **ep,
    struct cg_err *err)
{
	struct ca_acme_eab	*e;
	enum cg_code		 rc;

	*ep = NULL;
	e = cg_calloc(1, sizeof(*e));
	if (e == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_cols_texts(stmt, 0, e, eab_texts, NEAB_TEXTS, err);
	if (rc == CG_OK && with_key)
		rc = ca_store_col_blob(stmt, EAB_COL_KEY, "an EAB key",
		    &e->key, &e->key_len, err);
	if (rc != CG_OK) {
		ca_acme_eab_free(e);
		return rc;
	}
	e->created_at = sqlite3_column_int64(stmt, NEAB_TEXTS);
	e->bound_at = sqlite3_column_int64(stmt, NEAB_TEXTS + 1);
	*ep = e;
	return CG_OK;
}

enum cg_code
ca_store_acme_eab_insert(struct ca_store *st, const struct ca_acme_eab *e,
    struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "EAB key id", e->kid, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "directory", e->directory, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "EAB identifiers", e->identifiers, CA_ACME_JSON_MAX, NULL,
		    0 },
	};
	const char	*v[3];
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	rc = ca_store_fields_check(f, 3, err);
	if (rc != CG_OK)
		return rc;
	if (e->key == NULL || e->key_len == 0)
		return cg_err_set(err, CG_EINVAL,
		    "store: ACME EAB key is missing");
	if (e->key_len > CA_ACME_EAB_KEY_MAX)
		return cg_err_set(err, CG_ETOOBIG, "store: ACME EAB key is "
		    "longer than %d bytes", CA_ACME_EAB_KEY_MAX);
	v[0] = e->kid;
	v[1] = e->directory;
	v[2] = e->identifiers == NULL || *e->identifiers == '\0' ? "[]" :
	    e->identifiers;
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "INSERT INTO acme_eab (kid, directory, "
	    "identifiers, key, created_at) VALUES (?1, ?2, ?3, ?4, ?5)", &stmt,
	    err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1, v, 3);
	if (src == SQLITE_OK)
		src = sqlite3_bind_blob64(stmt, 4, e->key, e->key_len,
		    SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 5,
		    e->created_at != 0 ? e->created_at : cg_now());
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_constraint_fail(st, src, "record an ACME EAB key",
		    "store: ACME EAB key exists already", NULL, err);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_acme_eab_get(struct ca_store *st, const char *kid,
    struct ca_acme_eab **ep, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 row;
	int		 src;

	*ep = NULL;
	rc = ca_store_id_check("EAB key id", kid, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "SELECT " EAB_COLS ", key FROM acme_eab "
	    "WHERE kid = ?1", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, kid);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "look up an ACME EAB key", err);
		goto out;
	}
	rc = ca_store_step_row(st, stmt, "look up an ACME EAB key", &row, err);
	if (rc == CG_OK && !row)
		rc = ca_store_id_err(err, CG_ENOTFOUND,
		    "store: no such ACME EAB key", kid);
	if (rc == CG_OK)
		rc = eab_row(stmt, true, ep, err);
out:
	ca_store_release(st, stmt);
	return rc;
}

/* Why a bind changed nothing: unknown key, bound here, or elsewhere. */
static enum cg_code
bind_why(struct ca_store *st, const char *kid, const char *account_id,
    struct cg_err *err)
{
	const unsigned char	*bound;
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	bool			 row;
	int			 src;

	rc = ca_store_prepare(st, "SELECT account_id FROM acme_eab "
	    "WHERE kid = ?1", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, kid);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "bind an ACME EAB key", err);
		goto out;
	}
	rc = ca_store_step_row(st, stmt, "bind an ACME EAB key", &row, err);
	if (rc != CG_OK)
		goto out;
	if (!row) {
		rc = ca_store_id_err(err, CG_ENOTFOUND,
		    "store: no such ACME EAB key", kid);
		goto out;
	}
	bound = sqlite3_column_text(stmt, 0);
	if (bound == NULL || strcmp((const char *)bound, account_id) != 0)
		rc = ca_store_id_err(err, CG_ECONFLICT, "store: the ACME EAB "
		    "key is bound to another account", kid);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_acme_eab_bind(struct ca_store *st, const char *kid,
    const char *account_id, int64_t now, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "EAB key id", kid, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "account id", account_id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
	};
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	rc = ca_store_fields_check(f, 2, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	/* Only an unbound key takes the account: two binds cannot both win. */
	rc = ca_store_prepare(st, "UPDATE acme_eab SET account_id = ?2, "
	    "bound_at = ?3 WHERE kid = ?1 AND account_id IS NULL", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, kid);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, account_id);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 3, now);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "bind an ACME EAB key", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "bind an ACME EAB key", err);
	if (rc == CG_OK && sqlite3_changes(st->db) == 0)
		rc = bind_why(st, kid, account_id, err);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_acme_eab_list(struct ca_store *st, const char *directory,
    ca_acme_eab_cb *cb, void *arg, struct cg_err *err)
{
	const struct ca_store_field f = {
		"directory", directory, CA_ACME_ID_MAX, NULL, 0
	};
	struct ca_acme_eab	*e;
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	int			 src;

	assert(cb != NULL);
	rc = ca_store_fields_check(&f, 1, err);
	if (rc != CG_OK)
		return rc;
	if (directory == NULL)
		rc = ca_store_prepare(st, "SELECT " EAB_COLS " FROM acme_eab "
		    "ORDER BY created_at, rowid", &stmt, err);
	else
		rc = ca_store_prepare(st, "SELECT " EAB_COLS " FROM acme_eab "
		    "WHERE directory = ?1 ORDER BY created_at, rowid", &stmt,
		    err);
	if (rc != CG_OK)
		goto out;
	src = directory == NULL ? SQLITE_OK :
	    ca_store_bind_text(stmt, 1, directory);
	while (src == SQLITE_OK) {
		src = sqlite3_step(stmt);
		if (src != SQLITE_ROW)
			break;
		src = SQLITE_OK;
		rc = eab_row(stmt, false, &e, err);
		if (rc != CG_OK)
			break;
		rc = cb(arg, e);
		ca_acme_eab_free(e);
		if (rc != CG_OK) {
			cg_err_set(err, rc, "store: EAB key listing stopped");
			break;
		}
	}
	if (rc == CG_OK && src != SQLITE_DONE)
		rc = ca_store_fail(st, src, "list ACME EAB keys", err);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_acme_eab_delete(struct ca_store *st, const char *kid,
    struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	rc = ca_store_id_check("EAB key id", kid, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "DELETE FROM acme_eab WHERE kid = ?1", &stmt,
	    err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, kid);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "delete an ACME EAB key", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "delete an ACME EAB key", err);
	if (rc == CG_OK && sqlite3_changes(st->db) == 0)
		rc = ca_store_id_err(err, CG_ENOTFOUND,
		    "store: no such ACME EAB key", kid);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}
