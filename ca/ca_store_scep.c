/*
 * ca_store_scep.c - SCEP state in the store (schema version 4): one-time
 * challenge passwords, kept only as SHA-256 hashes and spent at most once,
 * and transactions, which let the server answer a repeated request the way
 * it answered the first (RFC 8894 §3.2.1.1).  What a challenge or a
 * transaction means to a client is decided in protocols/scep/, not here.
 */
#include "certgw/store.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "ca_store_int.h"

#define CHALL_COLS \
	"service, hash, subject_regex, used_by, id, created_at, expires_at, " \
	"used_at"

static const size_t chall_texts[] = {
	offsetof(struct ca_scep_challenge, service),
	offsetof(struct ca_scep_challenge, hash),
	offsetof(struct ca_scep_challenge, subject_regex),
	offsetof(struct ca_scep_challenge, used_by),
};
#define NCHALL_TEXTS	(sizeof(chall_texts) / sizeof(chall_texts[0]))

#define TXN_COLS \
	"service, transaction_id, request_sha256, cert_serial, requester, " \
	"message_type, status, fail_info, pending_id, created_at, updated_at"

static const size_t txn_texts[] = {
	offsetof(struct ca_scep_txn, service),
	offsetof(struct ca_scep_txn, transaction_id),
	offsetof(struct ca_scep_txn, request_sha256),
	offsetof(struct ca_scep_txn, cert_serial),
	offsetof(struct ca_scep_txn, requester),
};
#define NTXN_TEXTS	(sizeof(txn_texts) / sizeof(txn_texts[0]))

/* ------------------------------------------------------------ checks */

/* Exactly CA_SCEP_HASH_LEN lower-case hex digits. */
static bool
hash_is_valid(const char *s)
{
	size_t	 i;

	if (s == NULL)
		return false;
	for (i = 0; i < CA_SCEP_HASH_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

static enum cg_code
hash_check(const char *what, const char *s, struct cg_err *err)
{
	if (!hash_is_valid(s))
		return cg_err_set(err, CG_EINVAL, "store: SCEP %s is not %d "
		    "lower-case hex digits", what, CA_SCEP_HASH_LEN);
	return CG_OK;
}

static enum cg_code
key_check(const char *service, const char *tid, struct cg_err *err)
{
	const struct ca_store_field r[] = {
		{ "service", service, CA_SCEP_SERVICE_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "transactionID", tid, CA_SCEP_TID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
	};

	return ca_store_fields_check_in("SCEP", r, 2, err);
}

/* status, fail_info and cert_serial agree (see struct ca_scep_txn). */
static enum cg_code
outcome_check(int status, int fail_info, const char *cert_serial,
    struct cg_err *err)
{
	bool	 has_cert = cert_serial != NULL && cert_serial[0] != '\0';

	if (status != CA_SCEP_STATUS_SUCCESS &&
	    status != CA_SCEP_STATUS_FAILURE &&
	    status != CA_SCEP_STATUS_PENDING)
		return cg_err_set(err, CG_EINVAL, "store: bad SCEP status %d",
		    status);
	if (fail_info < -1 || fail_info > CA_SCEP_FAILINFO_MAX ||
	    (status == CA_SCEP_STATUS_FAILURE) != (fail_info >= 0))
		return cg_err_set(err, CG_EINVAL, "store: SCEP failInfo %d "
		    "does not go with status %d", fail_info, status);
	if ((status == CA_SCEP_STATUS_SUCCESS) != has_cert)
		return cg_err_set(err, CG_EINVAL, "store: a SCEP transaction "
		    "names a certificate exactly when it succeeded");
	if (has_cert && strlen(cert_serial) > CA_STORE_ID_MAX)
		return cg_err_set(err, CG_ETOOBIG, "store: SCEP certificate "
		    "serial is longer than %d digits", CA_STORE_ID_MAX);
	return CG_OK;
}

/* -------------------------------------------------------- challenges */

void
ca_scep_challenge_free(struct ca_scep_challenge *c)
{
	if (c == NULL)
		return;
	ca_store_texts_free(c, chall_texts, NCHALL_TEXTS);
	cg_free(c);
}

static enum cg_code
chall_row(sqlite3_stmt *stmt, struct ca_scep_challenge **cp,
    struct cg_err *err)
{
	struct ca_scep_challenge	*c;
	enum cg_code			 rc;

	*cp = NULL;
	c = cg_calloc(1, sizeof(*c));
	if (c == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_cols_texts(stmt, 0, c, chall_texts, NCHALL_TEXTS, err);
	if (rc != CG_OK) {
		ca_scep_challenge_free(c);
		return rc;
	}
	c->id = sqlite3_column_int64(stmt, NCHALL_TEXTS);
	c->created_at = sqlite3_column_int64(stmt, NCHALL_TEXTS + 1);
	c->expires_at = sqlite3_column_int64(stmt, NCHALL_TEXTS + 2);
	c->used_at = sqlite3_column_int64(stmt, NCHALL_TEXTS + 3);
	*cp = c;
	return CG_OK;
}

enum cg_code
ca_store_scep_challenge_add(struct ca_store *st,
    const struct ca_scep_challenge *rec, int64_t *idp, struct cg_err *err)
{
	const struct ca_store_field r[] = {
		{ "service", rec->service, CA_SCEP_SERVICE_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "subject regex", rec->subject_regex, CA_SCEP_REGEX_MAX, NULL,
		    0 },
	};
	sqlite3_stmt	*stmt = NULL;
	int64_t		 created;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	*idp = 0;
	rc = ca_store_fields_check_in("SCEP", r, 2, err);
	if (rc == CG_OK)
		rc = hash_check("challenge hash", rec->hash, err);
	if (rc != CG_OK)
		return rc;
	created = rec->created_at != 0 ? rec->created_at : cg_now();
	if (rec->expires_at <= created)
		return cg_err_set(err, CG_EINVAL, "store: a SCEP challenge "
		    "must expire after it is made");
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "INSERT INTO scep_challenges (service, "
	    "hash, subject_regex, created_at, expires_at) VALUES "
	    "(?1, ?2, ?3, ?4, ?5)", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1, (const char *const []){
	    rec->service, rec->hash, rec->subject_regex }, 3);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 4, created);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 5, rec->expires_at);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE) {
		rc = ca_store_constraint_fail(st, src, "record a SCEP "
		    "challenge", "store: the SCEP service has that challenge "
		    "already", NULL, err);
		goto out;
	}
	*idp = sqlite3_last_insert_rowid(st->db);
out:
	ca_store_release(st, stmt);
	rc = ca_store_tx_leave(st, own, rc, err);
	if (rc != CG_OK)
		*idp = 0;
	return rc;
}

/*
 * Why a challenge could not be spent, for the log only: a client that
 * guesses learns nothing from the answer, the admin learns a lot.
 */
static enum cg_code
use_why(struct ca_store *st, const char *service, const char *hash,
    int64_t now, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	const char	*why = "unknown";
	bool		 fresh = err != NULL && err->code == CG_OK;
	enum cg_code	 rc;
	bool		 row;
	int		 src;

	rc = ca_store_prepare(st, "SELECT used_at IS NOT NULL, expires_at "
	    "FROM scep_challenges WHERE service = ?1 AND hash = ?2", &stmt,
	    err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1,
	    (const char *const []){ service, hash }, 2);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "look up a SCEP challenge", err);
		goto out;
	}
	rc = ca_store_step_row(st, stmt, "look up a SCEP challenge", &row,
	    err);
	if (rc != CG_OK)
		goto out;
	if (row && sqlite3_column_int(stmt, 0) != 0)
		why = "used";
	else if (row && sqlite3_column_int64(stmt, 1) <= now)
		why = "expired";
	rc = cg_err_set(err, CG_ENOTFOUND, "store: no usable SCEP challenge");
	if (fresh)
		cg_err_detail(err, "reason=%s", why);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_scep_challenge_use(struct ca_store *st, const char *service,
    const char *hash, int64_t now, const char *used_by,
    struct ca_scep_challenge **recp, struct cg_err *err)
{
	const struct ca_store_field r[] = {
		{ "service", service, CA_SCEP_SERVICE_MAX, NULL,
		    CA_STORE_F_REQUIRED },
		{ "transactionID", used_by, CA_SCEP_TID_MAX, NULL,
		    CA_STORE_F_REQUIRED },
	};
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own, row;
	int		 src;

	*recp = NULL;
	rc = ca_store_fields_check_in("SCEP", r, 2, err);
	if (rc == CG_OK)
		rc = hash_check("challenge hash", hash, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	/* One statement decides: two requests cannot both spend it. */
	rc = ca_store_prepare(st, "UPDATE scep_challenges SET used_at = ?3, "
	    "used_by = ?4 WHERE service = ?1 AND hash = ?2 AND used_at IS NULL "
	    "AND expires_at > ?3 RETURNING " CHALL_COLS, &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1,
	    (const char *const []){ service, hash }, 2);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 3, now);
	if (src == SQLITE_OK)
		src = ca_store_bind_text(stmt, 4, used_by);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "use a SCEP challenge", err);
		goto out;
	}
	rc = ca_store_step_row(st, stmt, "use a SCEP challenge", &row, err);
	if (rc == CG_OK && row)
		rc = chall_row(stmt, recp, err);
	/* The (service, hash) index is unique: one row at most. */
	if (rc == CG_OK && row)
		rc = ca_store_step_done(st, stmt, "use a SCEP challenge", err);
	ca_store_release(st, stmt);
	stmt = NULL;
	if (rc == CG_OK && !row)
		rc = use_why(st, service, hash, now, err);
out:
	ca_store_release(st, stmt);
	rc = ca_store_tx_leave(st, own, rc, err);
	if (rc != CG_OK) {
		ca_scep_challenge_free(*recp);
		*recp = NULL;
	}
	return rc;
}

enum cg_code
ca_store_scep_challenge_list(struct ca_store *st, const char *service,
    ca_scep_challenge_cb *cb, void *arg, struct cg_err *err)
{
	const struct ca_store_field r = {
		"service", service, CA_SCEP_SERVICE_MAX, NULL, 0
	};
	struct ca_scep_challenge	*c;
	sqlite3_stmt			*stmt = NULL;
	enum cg_code			 rc;
	int				 src;

	assert(cb != NULL);
	rc = ca_store_fields_check_in("SCEP", &r, 1, err);
	if (rc != CG_OK)
		return rc;
	/* Ids grow with insertion: id order is creation order, unsorted. */
	if (service == NULL)
		rc = ca_store_prepare(st, "SELECT " CHALL_COLS " FROM "
		    "scep_challenges ORDER BY id", &stmt, err);
	else
		rc = ca_store_prepare(st, "SELECT " CHALL_COLS " FROM "
		    "scep_challenges WHERE service = ?1 ORDER BY id", &stmt,
		    err);
	if (rc != CG_OK)
		goto out;
	src = service == NULL ? SQLITE_OK :
	    ca_store_bind_text(stmt, 1, service);
	while (src == SQLITE_OK) {
		src = sqlite3_step(stmt);
		if (src != SQLITE_ROW)
			break;
		src = SQLITE_OK;
		rc = chall_row(stmt, &c, err);
		if (rc != CG_OK)
			break;
		rc = cb(arg, c);
		ca_scep_challenge_free(c);
		if (rc != CG_OK) {
			cg_err_set(err, rc, "store: SCEP challenge listing "
			    "stopped");
			break;
		}
	}
	if (rc == CG_OK && src != SQLITE_DONE)
		rc = ca_store_fail(st, src, "list SCEP challenges", err);
out:
	ca_store_release(st, stmt);
	return rc;
}

/* Run a DELETE whose only value is ?1 = before; *np gets the count. */
static enum cg_code
purge_run(struct ca_store *st, const char *sql, const char *what,
    int64_t before, size_t *np, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	if (np != NULL)
		*np = 0;
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, sql, &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_int64(stmt, 1, before);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, what, err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, what, err);
	if (rc == CG_OK && np != NULL)
		*np = (size_t)sqlite3_changes(st->db);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_scep_challenge_purge(struct ca_store *st, int64_t before,
    size_t *np, struct cg_err *err)
{
	return purge_run(st, "DELETE FROM scep_challenges WHERE "
	    "expires_at < ?1 OR used_at < ?1", "purge SCEP challenges", before,
	    np, err);
}

/* ------------------------------------------------------ transactions */

void
ca_scep_txn_free(struct ca_scep_txn *t)
{
	if (t == NULL)
		return;
	ca_store_texts_free(t, txn_texts, NTXN_TEXTS);
	cg_free(t);
}

static enum cg_code
txn_row(sqlite3_stmt *stmt, struct ca_scep_txn **tp, struct cg_err *err)
{
	struct ca_scep_txn	*t;
	enum cg_code		 rc;

	*tp = NULL;
	t = cg_calloc(1, sizeof(*t));
	if (t == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_cols_texts(stmt, 0, t, txn_texts, NTXN_TEXTS, err);
	if (rc != CG_OK) {
		ca_scep_txn_free(t);
		return rc;
	}
	t->message_type = sqlite3_column_int(stmt, NTXN_TEXTS);
	t->status = sqlite3_column_int(stmt, NTXN_TEXTS + 1);
	t->fail_info = sqlite3_column_int(stmt, NTXN_TEXTS + 2);
	t->pending_id = sqlite3_column_int64(stmt, NTXN_TEXTS + 3);
	t->created_at = sqlite3_column_int64(stmt, NTXN_TEXTS + 4);
	t->updated_at = sqlite3_column_int64(stmt, NTXN_TEXTS + 5);
	*tp = t;
	return CG_OK;
}

enum cg_code
ca_store_scep_txn_get(struct ca_store *st, const char *service,
    const char *tid, struct ca_scep_txn **recp, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 row;
	int		 src;

	*recp = NULL;
	rc = key_check(service, tid, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "SELECT " TXN_COLS " FROM scep_txns "
	    "WHERE service = ?1 AND transaction_id = ?2", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1,
	    (const char *const []){ service, tid }, 2);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "look up a SCEP transaction", err);
		goto out;
	}
	rc = ca_store_step_row(st, stmt, "look up a SCEP transaction", &row,
	    err);
	if (rc == CG_OK && !row)
		rc = ca_store_id_err(err, CG_ENOTFOUND,
		    "store: no such SCEP transaction", tid);
	if (rc == CG_OK)
		rc = txn_row(stmt, recp, err);
out:
	ca_store_release(st, stmt);
	return rc;
}

static enum cg_code
txn_insert_check(const struct ca_scep_txn *t, struct cg_err *err)
{
	const struct ca_store_field r[] = {
		{ "requester", t->requester, CA_SCEP_REQUESTER_MAX, NULL, 0 },
	};
	enum cg_code	 rc;

	rc = key_check(t->service, t->transaction_id, err);
	if (rc == CG_OK)
		rc = ca_store_fields_check_in("SCEP", r, 1, err);
	if (rc == CG_OK)
		rc = hash_check("request hash", t->request_sha256, err);
	if (rc != CG_OK)
		return rc;
	if (t->message_type != CA_SCEP_MSG_PKCSREQ &&
	    t->message_type != CA_SCEP_MSG_RENEWAL)
		return cg_err_set(err, CG_EINVAL, "store: a SCEP transaction "
		    "starts with PKCSReq or RenewalReq, not message type %d",
		    t->message_type);
	if (t->pending_id < 0)
		return cg_err_set(err, CG_EINVAL, "store: bad SCEP pending id");
	return outcome_check(t->status, t->fail_info, t->cert_serial, err);
}

enum cg_code
ca_store_scep_txn_insert(struct ca_store *st, const struct ca_scep_txn *rec,
    struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	int64_t		 created;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	rc = txn_insert_check(rec, err);
	if (rc != CG_OK)
		return rc;
	created = rec->created_at != 0 ? rec->created_at : cg_now();
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "INSERT INTO scep_txns (service, "
	    "transaction_id, request_sha256, cert_serial, requester, "
	    "message_type, status, fail_info, pending_id, created_at, "
	    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
	    &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1, (const char *const []){
	    rec->service, rec->transaction_id, rec->request_sha256,
	    rec->cert_serial, rec->requester }, 5);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 6, rec->message_type);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 7, rec->status);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 8, rec->fail_info);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 9, rec->pending_id);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 10, created);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		rc = ca_store_constraint_fail(st, src, "record a SCEP "
		    "transaction", "store: the SCEP transaction exists already",
		    NULL, err);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

/* An update changed nothing: no such transaction, or it is settled. */
static enum cg_code
update_why(struct ca_store *st, const char *service, const char *tid,
    struct cg_err *err)
{
	struct ca_scep_txn	*t = NULL;
	struct cg_err		 tmp = { 0 };
	enum cg_code		 rc;

	rc = ca_store_scep_txn_get(st, service, tid, &t, &tmp);
	if (rc == CG_OK)
		rc = ca_store_id_err(err, CG_ECONFLICT, "store: the SCEP "
		    "transaction is settled already", tid);
	else if (err != NULL && err->code == CG_OK)
		*err = tmp;
	ca_scep_txn_free(t);
	return rc;
}

enum cg_code
ca_store_scep_txn_update(struct ca_store *st, const char *service,
    const char *tid, int status, int fail_info, const char *cert_serial,
    int64_t pending_id, int64_t now, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	bool		 own;
	int		 src;

	rc = key_check(service, tid, err);
	if (rc == CG_OK)
		rc = outcome_check(status, fail_info, cert_serial, err);
	if (rc == CG_OK && pending_id < 0)
		rc = cg_err_set(err, CG_EINVAL, "store: bad SCEP pending id");
	if (rc != CG_OK)
		return rc;
	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_prepare(st, "UPDATE scep_txns SET status = ?3, "
	    "fail_info = ?4, cert_serial = ?5, pending_id = ?6, "
	    "updated_at = ?7 WHERE service = ?1 AND transaction_id = ?2 AND "
	    "status = 3", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1,
	    (const char *const []){ service, tid }, 2);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 3, status);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(stmt, 4, fail_info);
	if (src == SQLITE_OK)
		src = sqlite3_bind_text(stmt, 5, cert_serial != NULL ?
		    cert_serial : "", -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 6, pending_id);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 7, now);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "update a SCEP transaction", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "update a SCEP transaction", err);
	if (rc == CG_OK && sqlite3_changes(st->db) == 0)
		rc = update_why(st, service, tid, err);
out:
	ca_store_release(st, stmt);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_scep_txn_purge(struct ca_store *st, int64_t before, size_t *np,
    struct cg_err *err)
{
	return purge_run(st, "DELETE FROM scep_txns WHERE status <> 3 AND "
	    "updated_at < ?1", "purge SCEP transactions", before, np, err);
}

enum cg_code
ca_store_scep_txn_forget(struct ca_store *st, const char *service,
    const char *tid, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	rc = key_check(service, tid, err);
	if (rc != CG_OK)
		return rc;
	/* Only a settled one: a pending request keeps its transactionID. */
	rc = ca_store_prepare(st, "DELETE FROM scep_txns WHERE service = ?1 "
	    "AND transaction_id = ?2 AND status <> 3", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = ca_store_bind_texts(stmt, 1,
	    (const char *const []){ service, tid }, 2);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "forget a SCEP transaction", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "forget a SCEP transaction", err);
	if (rc == CG_OK && sqlite3_changes(st->db) == 0)
		rc = cg_err_set(err, CG_ECONFLICT, "store: the SCEP transaction "
		    "is pending or gone");
out:
	ca_store_release(st, stmt);
	return rc;
}
