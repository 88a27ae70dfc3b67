/*
 * ca_store_int.h - what the SQLite store's own files share: the connection,
 * SQLite error mapping, statement and write-transaction helpers, the
 * migration table and id parsing.  Private to ca/ca_store*.c and their unit
 * test and fuzz target; it is not a second public API (see store.h).
 */
#ifndef CERTGW_CA_STORE_INT_H
#define CERTGW_CA_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "certgw/store.h"

/*
 * Prepared statements kept per connection: enough for every constant
 * statement of the store (about 25 before ACME, about 35 for ACME), so a
 * serve connection never compiles the same SQL twice.
 */
#define CA_STORE_STMT_CACHE	128

/* A prepared statement kept for the next ca_store_prepare() of its SQL. */
struct ca_store_stmt {
	const char	*sql;		/* the caller's string (compared too) */
	sqlite3_stmt	*stmt;		/* prepared once */
	bool		 in_use;	/* handed out, not yet released */
};

struct ca_store {
	sqlite3		*db;		/* one connection; one thread at once */
	int		 version;	/* schema version after open */
	struct ca_store_stmt cache[CA_STORE_STMT_CACHE];
	size_t		 ncache;	/* entries used in cache */
	bool		 writer;	/* holds the process's write lock */
};

/*
 * One schema migration: the DDL (several statements, constants only) that
 * takes the database from version - 1 to version.  Tables of steps are
 * ordered and consecutive from 1; each step runs in its own BEGIN IMMEDIATE
 * transaction together with its schema_migrations row.
 */
struct ca_store_step {
	int		 version;	/* 1, 2, ... */
	const char	*sql;		/* DDL for this step */
};

/* The migrations this build knows; the last one is CA_STORE_SCHEMA_VERSION. */
extern const struct ca_store_step ca_store_steps[];
extern const size_t ca_store_nsteps;

/*
 * Open like ca_store_open(), but migrate only up to target using the given
 * table of steps (target <= steps[nsteps - 1].version).  A database whose
 * version is above target is refused with CG_ECONFLICT.  For tests, which
 * use it to build databases of older versions and to add future steps.
 */
enum cg_code	 ca_store_open_steps(const char *path,
		    const struct ca_store_step *steps, size_t nsteps,
		    int target, struct ca_store **stp, struct cg_err *err);
/* ca_store_open_steps() with this build's own table. */
enum cg_code	 ca_store_open_at_version(const char *path, int target,
		    struct ca_store **stp, struct cg_err *err);

/*
 * Record a failed SQLite call src (a result code) in err: msg says
 * "store: cannot <what>", detail gets sqlite3_errmsg().  Returns the
 * mapped code: constraint -> CG_ECONFLICT; busy, locked, full, I/O,
 * corrupt -> CG_EIO; nomem -> CG_ENOMEM; anything else -> CG_EINTERNAL.
 * Call it straight after the failing call, before anything else touches
 * the connection.
 */
enum cg_code	 ca_store_fail_at(struct ca_store *st, int src,
		    const char *what, const char *func, int line,
		    struct cg_err *err);
#define ca_store_fail(st, src, what, err) \
	ca_store_fail_at((st), (src), (what), __func__, __LINE__, (err))

/* Prepare one statement (sql is a constant; values are bound). */
enum cg_code	 ca_store_prepare(struct ca_store *st, const char *sql,
		    sqlite3_stmt **stmtp, struct cg_err *err);
/*
 * Give back a statement from ca_store_prepare(): a cached one is reset for
 * the next caller, any other is finalized.  NULL is fine.
 */
void		 ca_store_release(struct ca_store *st, sqlite3_stmt *stmt);
/* Step a statement that returns no rows; CG_OK on SQLITE_DONE. */
enum cg_code	 ca_store_step_done(struct ca_store *st, sqlite3_stmt *stmt,
		    const char *what, struct cg_err *err);
/* Bind s (SQL NULL when s is NULL); s must outlive the step. */
int		 ca_store_bind_text(sqlite3_stmt *stmt, int idx, const char *s);
/* A copy of text column col of the current row; SQL NULL reads as "". */
enum cg_code	 ca_store_col_text(sqlite3_stmt *stmt, int col, char **outp,
		    struct cg_err *err);
/*
 * A copy of blob column col of the current row into *outp, *lenp; an
 * empty or NULL blob is CG_EIO "store: cannot read <what>".
 */
enum cg_code	 ca_store_col_blob(sqlite3_stmt *stmt, int col,
		    const char *what, uint8_t **outp, size_t *lenp,
		    struct cg_err *err);

/*
 * Make a write atomic: when no transaction is open, BEGIN IMMEDIATE and
 * set *ownp; inside the caller's transaction do nothing.  tx_leave commits
 * an owned transaction when rc is CG_OK and rolls it back otherwise; it
 * returns rc, or the commit failure.
 */
enum cg_code	 ca_store_tx_enter(struct ca_store *st, bool *ownp,
		    struct cg_err *err);
enum cg_code	 ca_store_tx_leave(struct ca_store *st, bool own,
		    enum cg_code rc, struct cg_err *err);

/*
 * Add one to the meta counter key (created at 1 when absent) and, when vp
 * is not NULL, read the new value back.  Atomic on its own; inside the
 * caller's transaction it becomes part of it.
 */
enum cg_code	 ca_store_meta_bump(struct ca_store *st, const char *key,
		    int64_t *vp, struct cg_err *err);

/* A certificate id, parsed. */
struct ca_store_id {
	char		 serial[CA_STORE_ID_MAX + 1];	/* upper, no lead 0 */
	char		 sha256[CA_STORE_ID_MAX + 1];	/* lower, or "" */
};

/*
 * Parse len bytes of hex (any case, 1..CA_STORE_ID_MAX digits; no NUL
 * needed) into *id.  "00ab", "AB" and "ab" give serial "AB"; all zeros
 * gives "0".  sha256 is filled only when there are exactly 64 digits.
 * CG_EINVAL on an empty, over-long or non-hex id.
 */
enum cg_code	 ca_store_id_parse(const char *s, size_t len,
		    struct ca_store_id *id, struct cg_err *err);

/* ------------------------------------------ ACME (ca/ca_store_acme*.c) */

#define CA_STORE_F_REQUIRED	0x1	/* NULL and "" are refused */

/* One caller string to check before it is bound. */
struct ca_store_field {
	const char	*name;		/* for the message: "order id" */
	const char	*val;		/* the caller's value; may be NULL */
	size_t		 max;		/* bytes accepted */
	const char *const *words;	/* NULL, or the only values accepted
					   (NULL-terminated) */
	unsigned	 flags;		/* CA_STORE_F_* */
};

/*
 * Check n fields: a missing required one is CG_EINVAL, an over-long one
 * CG_ETOOBIG, one outside its words CG_EINVAL; the message names it.
 */
enum cg_code	 ca_store_fields_check(const struct ca_store_field *f,
		    size_t n, struct cg_err *err);
/* The same, the message naming scope ("identity") instead of ACME. */
enum cg_code	 ca_store_fields_check_in(const char *scope,
		    const struct ca_store_field *f, size_t n,
		    struct cg_err *err);
/* Bind v[0..n) as text from parameter first on; NULL binds "". */
int		 ca_store_bind_texts(sqlite3_stmt *stmt, int first,
		    const char *const *v, size_t n);
/*
 * Copy text columns first.. first + n - 1 of the current row into the
 * char * members of rec at offsets offs[0..n); texts_free frees them.
 */
enum cg_code	 ca_store_cols_texts(sqlite3_stmt *stmt, int first,
		    void *rec, const size_t *offs, size_t n,
		    struct cg_err *err);
void		 ca_store_texts_free(void *rec, const size_t *offs, size_t n);
/*
 * Record code with msg; the id (which may come from a client) goes only to
 * the logs-only detail, never into msg.
 */
enum cg_code	 ca_store_id_err(struct cg_err *err, enum cg_code code,
		    const char *msg, const char *id);
/* ca_store_fields_check() of one required id of <= CA_ACME_ID_MAX bytes. */
enum cg_code	 ca_store_id_check(const char *what, const char *id,
		    struct cg_err *err);
/*
 * Step a count(*) query whose values are bound (src is the binding's
 * result) into *np.
 */
enum cg_code	 ca_store_count_run(struct ca_store *st, sqlite3_stmt *stmt,
		    int src, size_t *np, struct cg_err *err);
/*
 * A write failed with src: a foreign key is CG_ENOTFOUND with message
 * noparent (when not NULL), any other constraint CG_ECONFLICT with message
 * dup, anything else ca_store_fail(what).  SQLite's words go to detail.
 */
enum cg_code	 ca_store_constraint_fail(struct ca_store *st, int src,
		    const char *what, const char *dup, const char *noparent,
		    struct cg_err *err);
/* Step a query: *rowp says whether a row came; CG_OK either way. */
enum cg_code	 ca_store_step_row(struct ca_store *st, sqlite3_stmt *stmt,
		    const char *what, bool *rowp, struct cg_err *err);
/*
 * A compare-and-set matched no row: sql ("SELECT status FROM t WHERE id =
 * ?1") tells CG_ENOTFOUND ("no ACME <what> <id>") from CG_ECONFLICT ("ACME
 * <what> <id> is <status>, not <from>").
 */
enum cg_code	 ca_store_cas_why(struct ca_store *st, const char *sql,
		    const char *what, const char *id, const char *from,
		    struct cg_err *err);
/*
 * Like tx_enter/tx_leave, but all or nothing inside the caller's
 * transaction too (a savepoint there), for writes of several statements.
 */
enum cg_code	 ca_store_atomic_enter(struct ca_store *st, bool *ownp,
		    struct cg_err *err);
enum cg_code	 ca_store_atomic_leave(struct ca_store *st, bool own,
		    enum cg_code rc, struct cg_err *err);

#endif /* CERTGW_CA_STORE_INT_H */
