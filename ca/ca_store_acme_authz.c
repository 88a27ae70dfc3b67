/*
 * ca_store_acme_authz.c - ACME authorizations and their challenges in the
 * store: inserted together, read together (one statement, so one
 * snapshot), found again for reuse, moved on by compare and set, and
 * settled when a validation ends.  ca_store_acme.c has the shared
 * helpers; the statuses' meaning belongs to the protocol.
 */
#include "certgw/store.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "ca_store_int.h"

#define STATUS_MAX	16		/* bytes in any RFC 8555 status */
#define TYPE_MAX	32		/* bytes of an identifier or challenge
					   type */
#define VALUE_MAX	253		/* bytes of a DNS name (no "*.") or an
					   address */
#define TOKEN_MAX	128		/* bytes of a challenge token */

static const char *const authz_statuses[] = {
	"pending", "valid", "invalid", "deactivated", "expired", "revoked",
	NULL
};
static const char *const chall_statuses[] = {
	"pending", "processing", "valid", "invalid", NULL
};

/* Authorization columns, then challenge columns, each texts first. */
#define AUTHZ_COLS \
	"a.id, a.account_id, a.directory, a.id_type, a.id_value, a.status, " \
	"a.wildcard, a.expires, a.created_at"
#define NAUTHZ_COLS	9
#define CHALL_COLS \
	"c.id, c.authz_id, c.type, c.token, c.status, c.error, " \
	"c.validated, c.updated_at"

static const size_t authz_texts[] = {
	offsetof(struct ca_acme_authz, id),
	offsetof(struct ca_acme_authz, account_id),
	offsetof(struct ca_acme_authz, directory),
	offsetof(struct ca_acme_authz, id_type),
	offsetof(struct ca_acme_authz, id_value),
	offsetof(struct ca_acme_authz, status),
};
#define NAUTHZ_TEXTS	(sizeof(authz_texts) / sizeof(authz_texts[0]))
static_assert(NAUTHZ_COLS == NAUTHZ_TEXTS + 3,
    "AUTHZ_COLS: the texts, then wildcard, expires, created_at");

static const size_t chall_texts[] = {
	offsetof(struct ca_acme_chall, id),
	offsetof(struct ca_acme_chall, authz_id),
	offsetof(struct ca_acme_chall, type),
	offsetof(struct ca_acme_chall, token),
	offsetof(struct ca_acme_chall, status),
	offsetof(struct ca_acme_chall, error),
};
#define NCHALL_TEXTS	(sizeof(chall_texts) / sizeof(chall_texts[0]))

static const char authz_why_sql[] =
    "SELECT status FROM acme_authzs WHERE id = ?1";
static const char chall_why_sql[] =
    "SELECT status FROM acme_challenges WHERE id = ?1";

/* ------------------------------------------------------------- records */

static void
chall_clear(struct ca_acme_chall *c)
{
	ca_store_texts_free(c, chall_texts, NCHALL_TEXTS);
	memset(c, 0, sizeof(*c));
}

void
ca_acme_authz_free(struct ca_acme_authz *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	for (i = 0; i < a->nchalls; i++)
		chall_clear(&a->challs[i]);
	cg_free(a->challs);
	ca_store_texts_free(a, authz_texts, NAUTHZ_TEXTS);
	cg_free(a);
}

/* Challenge columns from first on into *c; on failure *c is cleared. */
static enum cg_code
chall_read(sqlite3_stmt *stmt, int first, struct ca_acme_chall *c,
    struct cg_err *err)
{
	enum cg_code	 rc;

	memset(c, 0, sizeof(*c));
	rc = ca_store_cols_texts(stmt, first, c, chall_texts, NCHALL_TEXTS,
	    err);
	if (rc != CG_OK) {
		chall_clear(c);
		return rc;
	}
	c->validated = sqlite3_column_int64(stmt, first + NCHALL_TEXTS);
	c->updated_at = sqlite3_column_int64(stmt, first + NCHALL_TEXTS + 1);
	return CG_OK;
}

/*
 * Rows of "SELECT AUTHZ_COLS, CHALL_COLS ... LEFT JOIN": the first row
 * gives the authorization, every row with a challenge one challenge.
 * *ap stays NULL when there is no row.
 */
static enum cg_code
authz_rows(struct ca_store *st, sqlite3_stmt *stmt,
    struct ca_acme_authz **ap, struct cg_err *err)
{
	struct ca_acme_authz	*a = NULL;
	enum cg_code		 rc;
	bool			 row;

	*ap = NULL;
	for (;;) {
		rc = ca_store_step_row(st, stmt, "read an ACME authorization",
		    &row, err);
		if (rc != CG_OK || !row)
			break;
		if (a == NULL) {
			a = cg_calloc(1, sizeof(*a));
			if (a != NULL)
				a->challs = cg_calloc(CA_ACME_CHALLS_MAX,
				    sizeof(*a->challs));
			if (a == NULL || a->challs == NULL) {
				rc = cg_err_set(err, CG_ENOMEM,
				    "out of memory");
				break;
			}
			rc = ca_store_cols_texts(stmt, 0, a, authz_texts,
			    NAUTHZ_TEXTS, err);
			if (rc != CG_OK)
				break;
			a->wildcard = sqlite3_column_int(stmt,
			    NAUTHZ_TEXTS) != 0;
			a->expires = sqlite3_column_int64(stmt,
			    NAUTHZ_TEXTS + 1);
			a->created_at = sqlite3_column_int64(stmt,
			    NAUTHZ_TEXTS + 2);
		}
		if (sqlite3_column_type(stmt, NAUTHZ_COLS) == SQLITE_NULL)
			continue;
		if (a->nchalls == CA_ACME_CHALLS_MAX) {
			rc = ca_store_id_err(err, CG_EIO, "store: ACME "
			    "authorization has too many challenges", a->id);
			break;
		}
		rc = chall_read(stmt, NAUTHZ_COLS, &a->challs[a->nchalls],
		    err);
		if (rc != CG_OK)
			break;
		a->nchalls++;
	}
	if (rc == CG_OK) {
		*ap = a;
		a = NULL;
	}
	ca_acme_authz_free(a);
	return rc;
}

/* -------------------------------------------------------------- insert */

static enum cg_code
chall_check(const struct ca_acme_chall *c, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "challenge id", c->id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "challenge type", c->type, TYPE_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "challenge token", c->token, TOKEN_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "challenge status", c->status, STATUS_MAX, chall_statuses,
		    CA_STORE_F_REQUIRED },
		{ "challenge error", c->error, CA_ACME_JSON_MAX, NULL, 0 },
	};

	return ca_store_fields_check(f, sizeof(f) / sizeof(f[0]), err);
}

static enum cg_code
authz_check(const struct ca_acme_authz *a, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "authorization id", a->id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "account id", a->account_id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "directory", a->directory, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "identifier type", a->id_type, TYPE_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "identifier", a->id_value, VALUE_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "authorization status", a->status, STATUS_MAX,
		    authz_statuses, CA_STORE_F_REQUIRED },
	};
	enum cg_code	 rc;
	size_t		 i;

	static_assert(sizeof(f) / sizeof(f[0]) == NAUTHZ_TEXTS,
	    "one check per text column");
	rc = ca_store_fields_check(f, NAUTHZ_TEXTS, err);
	if (rc != CG_OK)
		return rc;
	if (a->nchalls > CA_ACME_CHALLS_MAX)
		return cg_err_set(err, CG_ETOOBIG, "store: ACME authorization "
		    "has more than %d challenges", CA_ACME_CHALLS_MAX);
	if (a->nchalls > 0 && a->challs == NULL)
		return cg_err_set(err, CG_EINVAL,
		    "store: ACME authorization challenges are missing");
	for (i = 0; rc == CG_OK && i < a->nchalls; i++)
		rc = chall_check(&a->challs[i], err);
	return rc;
}

static enum cg_code
authz_insert_row(struct ca_store *st, const struct ca_acme_authz *a,
    int64_t created, struct cg_err *err)
{
	const char	*v[NAUTHZ_TEXTS];
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	v[0] = a->id;
	v[1] = a->account_id;
	v[2] = a->directory;
	v[3] = a->id_type;
	v[4] = a->id_value;
	v[5] = a->status;
	rc = ca_store_prepare(st, "INSERT INTO acme_authzs (id, account_id, "
	    "directory, id_type, id_value, status, wildcard, expires, "
	    "created_at, validated, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7, ?8, ?9, ?10, ?9)", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1, v, NAUTHZ_TEXTS);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 7, a->wildcard ? 1 : 0);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 8, a->expires);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 9, created);
	/* Born valid (an authorization made valid by other means). */
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 10,
		    strcmp(a->status, "valid") == 0 ? created : 0);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_constraint_fail(st, src,
		    "record an ACME authorization",
		    "store: ACME authorization exists already",
		    "store: no such ACME account for the authorization", err);
out:
	ca_store_release(st, stmt);
	return rc;
}

static enum cg_code
challs_insert(struct ca_store *st, const struct ca_acme_authz *a,
    int64_t created, struct cg_err *err)
{
	const struct ca_acme_chall *c;
	const char		*v[NCHALL_TEXTS + 1];
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	int64_t			 validated;
	size_t			 i;
	int			 src;

	rc = ca_store_prepare(st, "INSERT INTO acme_challenges (id, authz_id, "
	    "type, token, status, error, account_id, validated, updated_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &stmt, err);
	for (i = 0; rc == CG_OK && i < a->nchalls; i++) {
		c = &a->challs[i];
		v[0] = c->id;
		v[1] = a->id;		/* c->authz_id is not consulted */
		v[2] = c->type;
		v[3] = c->token;
		v[4] = c->status;
		v[5] = c->error;
		v[6] = a->account_id;
		validated = 0;
		if (strcmp(c->status, "valid") == 0)
			validated = c->validated != 0 ? c->validated : created;
		sqlite3_reset(stmt);
		src = ca_store_bind_texts(stmt, 1, v, NCHALL_TEXTS + 1);
		if (src == SQLITE_OK)
			src = sqlite3_bind_int64(stmt, 8, validated);
		if (src == SQLITE_OK)
			src = sqlite3_bind_int64(stmt, 9, c->updated_at != 0 ?
			    c->updated_at : created);
		if (src == SQLITE_OK)
			src = sqlite3_step(stmt);
		if (src != SQLITE_DONE)
			rc = ca_store_constraint_fail(st, src,
			    "record an ACME challenge",
			    "store: ACME challenge exists already", NULL, err);
	}
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_acme_authz_insert(struct ca_store *st, const struct ca_acme_authz *a,
    struct cg_err *err)
{
	enum cg_code	 rc;
	int64_t		 created;
	bool		 own;

	rc = authz_check(a, err);
	if (rc != CG_OK)
		return rc;
	created = a->created_at != 0 ? a->created_at : cg_now();
	rc = ca_store_atomic_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = authz_insert_row(st, a, created, err);
	if (rc == CG_OK)
		rc = challs_insert(st, a, created, err);
	return ca_store_atomic_leave(st, own, rc, err);
}

/* ------------------------------------------------------------- look-up */

enum cg_code
ca_store_acme_authz_get(struct ca_store *st, const char *id,
    struct ca_acme_authz **ap, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	*ap = NULL;
	rc = ca_store_id_check("authorization id", id, err);
	if (rc != CG_OK)
		return rc;
	/* Challenges come in insertion (offer) order: the index's rowids. */
	rc = ca_store_prepare(st, "SELECT " AUTHZ_COLS ", " CHALL_COLS
	    " FROM acme_authzs a LEFT JOIN acme_challenges c "
	    "ON c.authz_id = a.id WHERE a.id = ?1 ORDER BY c.rowid", &stmt,
	    err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, id);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "read an ACME authorization", err);
		goto out;
	}
	rc = authz_rows(st, stmt, ap, err);
	if (rc == CG_OK && *ap == NULL)
		rc = ca_store_id_err(err, CG_ENOTFOUND,
		    "store: no such ACME authorization", id);
out:
	ca_store_release(st, stmt);
	return rc;
}

/* The id of the newest matching valid authorization into idbuf. */
static enum cg_code
find_valid_id(struct ca_store *st, const char *const *v, bool wildcard,
    int64_t since, int64_t now, char *idbuf, bool *foundp,
    struct cg_err *err)
{
	const unsigned char	*id;
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	int			 src;

	*foundp = false;
	rc = ca_store_prepare(st, "SELECT id FROM acme_authzs "
	    "WHERE account_id = ?1 AND directory = ?2 AND id_type = ?3 "
	    "AND id_value = ?4 AND wildcard = ?5 AND status = 'valid' "
	    "AND validated >= ?6 AND expires > ?7 "
	    "ORDER BY created_at DESC, rowid DESC LIMIT 1", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1, v, 4);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 5, wildcard ? 1 : 0);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 6, since);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 7, now);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "find an ACME authorization", err);
		goto out;
	}
	rc = ca_store_step_row(st, stmt, "find an ACME authorization", foundp,
	    err);
	if (rc != CG_OK || !*foundp)
		goto out;
	id = sqlite3_column_text(stmt, 0);
	if (id == NULL || strlen((const char *)id) > CA_ACME_ID_MAX) {
		rc = cg_err_set(err, CG_EIO,
		    "store: cannot read an ACME authorization id");
		goto out;
	}
	memcpy(idbuf, id, strlen((const char *)id) + 1);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_acme_authz_find_valid(struct ca_store *st, const char *account_id,
    const char *directory, const char *id_type, const char *id_value,
    bool wildcard, int64_t since, int64_t now, struct ca_acme_authz **ap,
    struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "account id", account_id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "directory", directory, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "identifier type", id_type, TYPE_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "identifier", id_value, VALUE_MAX, NULL,
		    CA_STORE_F_REQUIRED },
	};
	const char	*v[4] = { account_id, directory, id_type, id_value };
	char		 id[CA_ACME_ID_MAX + 1];
	enum cg_code	 rc;
	bool		 found;

	*ap = NULL;
	rc = ca_store_fields_check(f, 4, err);
	if (rc == CG_OK)
		rc = find_valid_id(st, v, wildcard, since, now, id, &found,
		    err);
	if (rc == CG_OK && found)
		rc = ca_store_acme_authz_get(st, id, ap, err);
	if (rc != CG_OK)
		return rc;
	/*
	 * Outside a transaction the two reads see two snapshots: one that
	 * changed in between is no longer a match.
	 */
	if (*ap != NULL && (strcmp((*ap)->status, "valid") != 0 ||
	    (*ap)->expires <= now)) {
		ca_acme_authz_free(*ap);
		*ap = NULL;
	}
	if (*ap == NULL)
		return cg_err_set(err, CG_ENOTFOUND,
		    "store: no valid ACME authorization to reuse");
	return CG_OK;
}

/* --------------------------------------------------------- transitions */

/* Compare-and-set UPDATE of ?1 from ?2 to ?3 at ?4 on sql's table. */
static enum cg_code
cas_run(struct ca_store *st, const char *sql, const char *why_sql,
    const char *what, const char *id, const char *from, const char *to,
    int64_t now, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, sql, &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, id);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, from);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 3, to);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 4, now);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "update an ACME status", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "update an ACME status", err);
	if (rc == CG_OK && sqlite3_changes(st->db) == 0)
		rc = ca_store_cas_why(st, why_sql, what, id, from, err);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_acme_authz_transition(struct ca_store *st, const char *id,
    const char *from, const char *to, int64_t now, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "authorization id", id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "authorization status", from, STATUS_MAX, authz_statuses,
		    CA_STORE_F_REQUIRED },
		{ "authorization status", to, STATUS_MAX, authz_statuses,
		    CA_STORE_F_REQUIRED },
	};
	enum cg_code	 rc;

	rc = ca_store_fields_check(f, 3, err);
	if (rc != CG_OK)
		return rc;
	/* validated is what reuse (find_valid) measures its age by. */
	return cas_run(st, "UPDATE acme_authzs SET status = ?3, "
	    "updated_at = ?4, validated = CASE WHEN ?3 = 'valid' THEN ?4 "
	    "ELSE validated END WHERE id = ?1 AND status = ?2", authz_why_sql,
	    "authorization", id, from, to, now, err);
}

enum cg_code
ca_store_acme_chall_transition(struct ca_store *st, const char *id,
    const char *from, const char *to, int64_t now, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "challenge id", id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "challenge status", from, STATUS_MAX, chall_statuses,
		    CA_STORE_F_REQUIRED },
		{ "challenge status", to, STATUS_MAX, chall_statuses,
		    CA_STORE_F_REQUIRED },
	};
	enum cg_code	 rc;

	rc = ca_store_fields_check(f, 3, err);
	if (rc != CG_OK)
		return rc;
	return cas_run(st, "UPDATE acme_challenges SET status = ?3, "
	    "updated_at = ?4, validated = CASE WHEN ?3 = 'valid' THEN ?4 "
	    "ELSE validated END WHERE id = ?1 AND status = ?2", chall_why_sql,
	    "challenge", id, from, to, now, err);
}

/* The challenge's half of settle: its authorization's id into authz. */
static enum cg_code
settle_chall(struct ca_store *st, const char *id, bool ok, const char *error,
    int64_t now, char *authz, struct cg_err *err)
{
	const unsigned char	*aid;
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	bool			 row;
	int			 src;

	rc = ca_store_prepare(st, "UPDATE acme_challenges SET status = ?2, "
	    "validated = ?3, error = ?4, updated_at = ?5 "
	    "WHERE id = ?1 AND status = 'processing' RETURNING authz_id",
	    &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, id);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, ok ? "valid" : "invalid");
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 3, ok ? now : 0);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 4,
		    ok || error == NULL ? "" : error);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 5, now);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "settle an ACME challenge", err);
		goto out;
	}
	rc = ca_store_step_row(st, stmt, "settle an ACME challenge", &row,
	    err);
	if (rc != CG_OK)
		goto out;
	if (!row) {
		rc = ca_store_cas_why(st, chall_why_sql, "challenge", id,
		    "processing", err);
		goto out;
	}
	aid = sqlite3_column_text(stmt, 0);
	if (aid == NULL || strlen((const char *)aid) > CA_ACME_ID_MAX) {
		rc = cg_err_set(err, CG_EIO,
		    "store: cannot read an ACME authorization id");
		goto out;
	}
	memcpy(authz, aid, strlen((const char *)aid) + 1);
	/* RETURNING statements finish their work only when run to the end. */
	rc = ca_store_step_done(st, stmt, "settle an ACME challenge", err);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_acme_chall_settle(struct ca_store *st, const char *id, bool ok,
    const char *error, int64_t now, struct cg_err *err)
{
	const struct ca_store_field f[] = {
		{ "challenge id", id, CA_ACME_ID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "challenge error", error, CA_ACME_JSON_MAX, NULL, 0 },
	};
	char		 authz[CA_ACME_ID_MAX + 1];
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	rc = ca_store_fields_check(f, 2, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_atomic_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = settle_chall(st, id, ok, error, now, authz, err);
	if (rc != CG_OK)
		goto out;
	/* Only a pending authorization follows: a deactivated one stays. */
	rc = ca_store_prepare(st, "UPDATE acme_authzs SET status = ?2, "
	    "validated = ?3, updated_at = ?4 "
	    "WHERE id = ?1 AND status = 'pending'", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, authz);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 2, ok ? "valid" : "invalid");
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 3, ok ? now : 0);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 4, now);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "settle an ACME authorization",
		    err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "settle an ACME authorization",
	    err);
out:
	ca_store_release(st, stmt);
	return ca_store_atomic_leave(st, own, rc, err);
}

/* ---------------------------------------------------------- monitoring */

enum cg_code
ca_store_acme_failed_count(struct ca_store *st, const char *account_id,
    int64_t since, size_t *np, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	*np = 0;
	rc = ca_store_id_check("account id", account_id, err);
	if (rc != CG_OK)
		return rc;
	/* "status = 'invalid'" lets the partial index serve the count. */
	rc = ca_store_prepare(st, "SELECT count(*) FROM acme_challenges "
	    "WHERE account_id = ?1 AND status = 'invalid' "
	    "AND updated_at >= ?2", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_text(stmt, 1, account_id);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 2, since);
	rc = ca_store_count_run(st, stmt, src, np, err);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_acme_chall_stale(struct ca_store *st, int64_t before, size_t limit,
    ca_acme_chall_cb *cb, void *arg, struct cg_err *err)
{
	struct ca_acme_chall	 c;
	sqlite3_stmt		*stmt = NULL;
	enum cg_code		 rc;
	int			 src;

	assert(cb != NULL);
	if (limit == 0)
		return cg_err_set(err, CG_EINVAL,
		    "store: ACME challenge listing needs a limit");
	rc = ca_store_prepare(st, "SELECT " CHALL_COLS " FROM acme_challenges "
	    "c WHERE c.status = 'processing' AND c.updated_at < ?1 "
	    "ORDER BY c.updated_at, c.rowid LIMIT ?2", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_int64(stmt, 1, before);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 2, limit > (size_t)INT64_MAX ?
		    INT64_MAX : (int64_t)limit);
	while (src == SQLITE_OK) {
		src = sqlite3_step(stmt);
		if (src != SQLITE_ROW)
			break;
		src = SQLITE_OK;
		rc = chall_read(stmt, 0, &c, err);
		if (rc != CG_OK)
			break;
		rc = cb(arg, &c);
		chall_clear(&c);
		if (rc != CG_OK) {
			cg_err_set(err, rc,
			    "store: ACME challenge listing stopped");
			break;
		}
	}
	if (rc == CG_OK && src != SQLITE_DONE)
		rc = ca_store_fail(st, src, "list stale ACME challenges", err);
out:
	ca_store_release(st, stmt);
	return rc;
}
