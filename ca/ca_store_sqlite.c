/*
 * ca_store_sqlite.c - the SQLite connection behind store.h: opening (file
 * mode 0600, WAL, synchronous=FULL, foreign keys, busy timeout), the schema
 * migrations, transactions, the meta counters (CRL number, revocation
 * generation) and the helpers the other ca_store_*.c files share.  Records
 * themselves live in ca_store_cert.c, ca_store_log.c, ca_store_pending.c,
 * ca_store_acme*.c and ca_store_scep.c.
 */
#include "certgw/store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ca_store_int.h"

/*
 * Writers of one process take turns on this lock before SQLite's own, so
 * a thread that wants to write waits on a mutex and runs the moment the
 * previous writer commits.  Without it, threads collide on the database
 * lock and SQLite's busy handler puts the losers to sleep for whole
 * milliseconds, which with several loop threads, the committer and the
 * ACME validator writing at once cost more than the writes themselves.
 * Recursive, so a thread holding a transaction on one store can open one
 * on another.  Other processes (the CLI) still meet the busy handler.
 */
static pthread_mutex_t	 write_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static void
writer_release(struct ca_store *st)
{
	if (!st->writer)
		return;
	st->writer = false;
	pthread_mutex_unlock(&write_lock);
}

#define OPEN_FLAGS \
	(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX)

/*
 * Version 1.  certs_sha256 is a UNIQUE index so one certificate is never
 * recorded twice under two serials; status and not_after share an index
 * because the CRL and expiry listings ask for both.  Revocation columns are
 * NULL while a certificate is valid.  meta holds the counters that must
 * change atomically with the rows they describe.
 */
static const char step1_sql[] =
    "CREATE TABLE certs ("
    " serial TEXT PRIMARY KEY NOT NULL,"
    " issuer TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " sans TEXT NOT NULL,"
    " not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " profile TEXT NOT NULL,"
    " protocol TEXT NOT NULL,"
    " requester TEXT NOT NULL,"
    " sha1 TEXT NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " der BLOB NOT NULL,"
    " status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),"
    " issued_at INTEGER NOT NULL,"
    " revoked_at INTEGER,"
    " revoke_reason INTEGER);"
    "CREATE UNIQUE INDEX certs_sha256 ON certs(sha256);"
    "CREATE INDEX certs_profile ON certs(profile);"
    "CREATE INDEX certs_not_after ON certs(not_after);"
    "CREATE INDEX certs_status ON certs(status, not_after);"
    "CREATE INDEX certs_issued_at ON certs(issued_at);"
    "CREATE TABLE outbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " rule TEXT NOT NULL,"
    " serial TEXT REFERENCES certs(serial),"
    " payload TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " relayed_at INTEGER NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_serial ON outbox(serial);"
    "CREATE INDEX outbox_pending ON outbox(id) WHERE relayed_at IS NULL;"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " at INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " outcome TEXT NOT NULL,"
    " detail TEXT NOT NULL);"
    "CREATE INDEX audit_at ON audit(at);"
    "CREATE TABLE meta ("
    " key TEXT PRIMARY KEY NOT NULL,"
    " value INTEGER NOT NULL);"
    "INSERT INTO meta (key, value) VALUES"
    " ('crl_number', 0), ('revocation_gen', 0);";

/*
 * Version 2: requests held for an admin's decision (manual approval).  The
 * look-up index serves "is this the same request again?" (protocol,
 * profile, CSR hash); status and id serve the admin's listing.  A row names
 * its certificate only once approved, and that certificate must exist.
 */
static const char step2_sql[] =
    "CREATE TABLE pending ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " protocol TEXT NOT NULL,"
    " profile TEXT NOT NULL,"
    " requester TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " sans TEXT NOT NULL,"
    " csr_sha256 TEXT NOT NULL,"
    " csr_der BLOB NOT NULL,"
    " status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),"
    " created_at INTEGER NOT NULL,"
    " decided_at INTEGER,"
    " decided_by TEXT,"
    " cert_serial TEXT REFERENCES certs(serial),"
    " CHECK ((status = 1) = (cert_serial IS NOT NULL)));"
    "CREATE INDEX pending_lookup ON pending(protocol, profile, csr_sha256);"
    "CREATE INDEX pending_status ON pending(status, id);";

/*
 * Version 3: ACME state (RFC 8555).  Ids are the protocol's own strings.
 * Statuses are RFC 8555's words, checked here as a last line behind the
 * C checks in ca_store_acme.c.  Every index serves one query there:
 * accounts by key (unique per directory) and by creating address (rate
 * limits); orders by account (listing newest first, rate limits), by
 * address and by the certificate they replace (ARI; most orders replace
 * nothing, so that index is partial); authorizations for reuse; challenges
 * by authorization, stale validations by (status, updated_at), and failed
 * validations per account (partial, so it stays small).  A challenge
 * repeats its authorization's account_id so that count needs no join.
 * Orders and authorizations point at their account, challenges at their
 * authorization.  An EAB key's account_id and bound_at are NULL until it
 * is bound, and set together.
 */
static const char step3_sql[] =
    "CREATE TABLE acme_accounts ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " directory TEXT NOT NULL,"
    " status TEXT NOT NULL"
    "  CHECK (status IN ('valid', 'deactivated', 'revoked')),"
    " jwk TEXT NOT NULL,"
    " thumbprint TEXT NOT NULL,"
    " contact TEXT NOT NULL,"
    " tos_agreed INTEGER NOT NULL CHECK (tos_agreed IN (0, 1)),"
    " eab_kid TEXT NOT NULL,"
    " ip TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX acme_accounts_key"
    " ON acme_accounts(directory, thumbprint);"
    "CREATE INDEX acme_accounts_ip"
    " ON acme_accounts(directory, ip, created_at);"
    "CREATE TABLE acme_orders ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " account_id TEXT NOT NULL REFERENCES acme_accounts(id),"
    " directory TEXT NOT NULL,"
    " profile TEXT NOT NULL,"
    " acme_profile TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('pending', 'ready',"
    "  'processing', 'valid', 'invalid')),"
    " expires INTEGER NOT NULL,"
    " not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " identifiers TEXT NOT NULL,"
    " authzs TEXT NOT NULL,"
    " error TEXT NOT NULL,"
    " cert_serial TEXT NOT NULL,"
    " replaces TEXT NOT NULL,"
    " pending_id INTEGER NOT NULL,"
    " ip TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX acme_orders_account"
    " ON acme_orders(account_id, created_at);"
    "CREATE INDEX acme_orders_ip"
    " ON acme_orders(directory, ip, created_at);"
    "CREATE INDEX acme_orders_replaces"
    " ON acme_orders(replaces, created_at) WHERE replaces <> '';"
    "CREATE TABLE acme_authzs ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " account_id TEXT NOT NULL REFERENCES acme_accounts(id),"
    " directory TEXT NOT NULL,"
    " id_type TEXT NOT NULL,"
    " id_value TEXT NOT NULL,"
    " wildcard INTEGER NOT NULL CHECK (wildcard IN (0, 1)),"
    " status TEXT NOT NULL CHECK (status IN ('pending', 'valid',"
    "  'invalid', 'deactivated', 'expired', 'revoked')),"
    " expires INTEGER NOT NULL,"
    " validated INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX acme_authzs_reuse ON acme_authzs(account_id, directory,"
    " id_type, id_value, wildcard, status, created_at);"
    "CREATE TABLE acme_challenges ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " authz_id TEXT NOT NULL REFERENCES acme_authzs(id),"
    " account_id TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " token TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('pending', 'processing',"
    "  'valid', 'invalid')),"
    " validated INTEGER NOT NULL,"
    " error TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX acme_challenges_authz ON acme_challenges(authz_id);"
    "CREATE INDEX acme_challenges_status"
    " ON acme_challenges(status, updated_at);"
    "CREATE INDEX acme_challenges_failed"
    " ON acme_challenges(account_id, updated_at) WHERE status = 'invalid';"
    "CREATE TABLE acme_eab ("
    " kid TEXT PRIMARY KEY NOT NULL,"
    " directory TEXT NOT NULL,"
    " key BLOB NOT NULL,"
    " identifiers TEXT NOT NULL,"
    " account_id TEXT,"
    " created_at INTEGER NOT NULL,"
    " bound_at INTEGER,"
    " CHECK ((account_id IS NULL) = (bound_at IS NULL)));"
    "CREATE INDEX acme_eab_directory ON acme_eab(directory, created_at);";

/*
 * Version 4: SCEP state (RFC 8894).  A challenge is found by (service,
 * hash), unique so that one text can never spend two rows; the service
 * index (with the implicit rowid) serves the admin's listing in id order,
 * and purging reads the expiry index and the partial index of used rows.
 * used_at and used_by are NULL until the challenge is spent, and set
 * together.  A transaction is keyed by (service, transactionID) with no
 * rowid of its own; settled rows are found for purging by updated_at.
 */
static const char step4_sql[] =
    "CREATE TABLE scep_challenges ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " service TEXT NOT NULL,"
    " hash TEXT NOT NULL CHECK (length(hash) = 64),"
    " subject_regex TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " used_at INTEGER,"
    " used_by TEXT,"
    " CHECK (expires_at > created_at),"
    " CHECK ((used_at IS NULL) = (used_by IS NULL)));"
    "CREATE UNIQUE INDEX scep_challenges_hash"
    " ON scep_challenges(service, hash);"
    "CREATE INDEX scep_challenges_service ON scep_challenges(service);"
    "CREATE INDEX scep_challenges_expires ON scep_challenges(expires_at);"
    "CREATE INDEX scep_challenges_used"
    " ON scep_challenges(used_at) WHERE used_at IS NOT NULL;"
    "CREATE TABLE scep_txns ("
    " service TEXT NOT NULL,"
    " transaction_id TEXT NOT NULL,"
    " request_sha256 TEXT NOT NULL CHECK (length(request_sha256) = 64),"
    " message_type INTEGER NOT NULL CHECK (message_type IN (17, 19)),"
    " status INTEGER NOT NULL CHECK (status IN (0, 2, 3)),"
    " fail_info INTEGER NOT NULL CHECK (fail_info BETWEEN -1 AND 4),"
    " cert_serial TEXT NOT NULL,"
    " pending_id INTEGER NOT NULL,"
    " requester TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " CHECK ((status = 2) = (fail_info >= 0)),"
    " CHECK ((status = 0) = (cert_serial <> '')),"
    " PRIMARY KEY (service, transaction_id)) WITHOUT ROWID;"
    "CREATE INDEX scep_txns_settled"
    " ON scep_txns(updated_at) WHERE status <> 3;";

/*
 * Version 5: identities.  A mapping is unique by (kind, value) so that a
 * certificate maps to one identity at most; rules keep a dense position
 * (unique, 1..n) that the API moves as a block.  ident_revision is one row
 * counted up by triggers on every change to what decides who a
 * certificate is: a server reloads its caches when it moves.  The holding
 * tank is unique by thumbprint; listing by status uses its index.
 */
static const char step5_sql[] =
    "CREATE TABLE identities ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " email TEXT NOT NULL,"
    " org TEXT NOT NULL,"
    " role INTEGER NOT NULL CHECK (role BETWEEN 0 AND 3),"
    " disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE TABLE ident_maps ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " identity_id INTEGER NOT NULL REFERENCES identities(id)"
    "  ON DELETE CASCADE,"
    " kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 3),"
    " value TEXT NOT NULL,"
    " pinned INTEGER NOT NULL CHECK (pinned IN (0, 1)),"
    " subject TEXT NOT NULL,"
    " issuer TEXT NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " der BLOB,"
    " source TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " CHECK (pinned = 0 OR der IS NOT NULL));"
    "CREATE UNIQUE INDEX ident_maps_key ON ident_maps(kind, value);"
    "CREATE INDEX ident_maps_identity ON ident_maps(identity_id);"
    "CREATE TABLE ident_rules ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " position INTEGER NOT NULL CHECK (position > 0),"
    " identity_id INTEGER NOT NULL REFERENCES identities(id)"
    "  ON DELETE CASCADE,"
    " issuer TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX ident_rules_position ON ident_rules(position);"
    "CREATE INDEX ident_rules_identity ON ident_rules(identity_id);"
    "CREATE TABLE trust_anchors ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " sha256 TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),"
    " subject TEXT NOT NULL,"
    " der BLOB NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " added_at INTEGER NOT NULL);"
    "CREATE TABLE ident_revision ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " rev INTEGER NOT NULL);"
    "INSERT INTO ident_revision (id, rev) VALUES (1, 0);"
    "CREATE TRIGGER identities_ai AFTER INSERT ON identities BEGIN"
    " UPDATE ident_revision SET rev = rev + 1; END;"
    "CREATE TRIGGER identities_au AFTER UPDATE ON identities BEGIN"
    " UPDATE ident_revision SET rev = rev + 1; END;"
    "CREATE TRIGGER identities_ad AFTER DELETE ON identities BEGIN"
    " UPDATE ident_revision SET rev = rev + 1; END;"
    "CREATE TRIGGER ident_maps_ai AFTER INSERT ON ident_maps BEGIN"
    " UPDATE ident_revision SET rev = rev + 1; END;"
    "CREATE TRIGGER ident_maps_ad AFTER DELETE ON ident_maps BEGIN"
    " UPDATE ident_revision SET rev = rev + 1; END;"
    "CREATE TRIGGER ident_rules_ai AFTER INSERT ON ident_rules BEGIN"
    " UPDATE ident_revision SET rev = rev + 1; END;"
    "CREATE TRIGGER ident_rules_au AFTER UPDATE ON ident_rules BEGIN"
    " UPDATE ident_revision SET rev = rev + 1; END;"
    "CREATE TRIGGER ident_rules_ad AFTER DELETE ON ident_rules BEGIN"
    " UPDATE ident_revision SET rev = rev + 1; END;"
    "CREATE TRIGGER trust_anchors_ai AFTER INSERT ON trust_anchors BEGIN"
    " UPDATE ident_revision SET rev = rev + 1; END;"
    "CREATE TRIGGER trust_anchors_ad AFTER DELETE ON trust_anchors BEGIN"
    " UPDATE ident_revision SET rev = rev + 1; END;"
    "CREATE TABLE holding ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " sha256 TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),"
    " subject TEXT NOT NULL,"
    " issuer TEXT NOT NULL,"
    " der BLOB NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL,"
    " source TEXT NOT NULL,"
    " count INTEGER NOT NULL CHECK (count > 0),"
    " status INTEGER NOT NULL CHECK (status IN (0, 1, 2)),"
    " decided_by TEXT NOT NULL,"
    " decided_at INTEGER NOT NULL);"
    "CREATE INDEX holding_status ON holding(status);";

/*
 * Version 6: expiry notifications.  notify_sent has one row per
 * notification claimed, sent, failed or skipped; the claim looks up a
 * holder's recent rows for one channel, hence the index.  notify_lease is
 * the lock that keeps two schedulers (two gateways on one store) from
 * running at once: one row per lease name, taken by a conditional upsert.
 */
static const char step6_sql[] =
    "CREATE TABLE notify_sent ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " holder TEXT NOT NULL,"
    " channel TEXT NOT NULL,"
    " serial TEXT NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " sent_at INTEGER NOT NULL,"
    " status TEXT NOT NULL"
    "  CHECK (status IN ('sending', 'sent', 'failed', 'skipped')),"
    " detail TEXT NOT NULL);"
    "CREATE INDEX notify_sent_holder ON notify_sent(holder, channel, sent_at);"
    "CREATE TABLE notify_lease ("
    " name TEXT PRIMARY KEY,"
    " owner TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL);";

/* A later version is one more entry here and a bump of the header constant. */
const struct ca_store_step ca_store_steps[] = {
	{ 1, step1_sql },
	{ 2, step2_sql },
	{ 3, step3_sql },
	{ 4, step4_sql },
	{ 5, step5_sql },
	{ 6, step6_sql },
};
const size_t ca_store_nsteps =
    sizeof(ca_store_steps) / sizeof(ca_store_steps[0]);

static_assert(sizeof(ca_store_steps) / sizeof(ca_store_steps[0]) ==
    CA_STORE_SCHEMA_VERSION, "one migration step per schema version");

static const char version_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " applied_at INTEGER NOT NULL)";

/* Connection settings, each read back: a silent no-op would lose data. */
static const struct {
	const char	*set;		/* statement that changes the setting */
	const char	*get;		/* statement that reads it back */
	const char	*want;		/* the value it must read back as */
} pragmas[] = {
	{ "PRAGMA journal_mode = WAL", "PRAGMA journal_mode", "wal" },
	{ "PRAGMA synchronous = FULL", "PRAGMA synchronous", "2" },
	{ "PRAGMA foreign_keys = ON", "PRAGMA foreign_keys", "1" },
};

/* ------------------------------------------------------------- helpers */

static enum cg_code
sql_code(int src)
{
	switch (src & 0xff) {
	case SQLITE_CONSTRAINT:
		return CG_ECONFLICT;
	case SQLITE_NOMEM:
		return CG_ENOMEM;
	case SQLITE_TOOBIG:
		return CG_ETOOBIG;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PROTOCOL:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_NOLFS:
	case SQLITE_PERM:
		return CG_EIO;
	default:
		return CG_EINTERNAL;
	}
}

enum cg_code
ca_store_fail_at(struct ca_store *st, int src, const char *what,
    const char *func, int line, struct cg_err *err)
{
	enum cg_code	 code = sql_code(src);
	bool		 fresh = err != NULL && err->code == CG_OK;
	const char	*text;

	cg_err_set_at(err, code, 0, func, line, "store: cannot %s", what);
	if (!fresh)
		return code;
	if (st != NULL && st->db != NULL)
		text = sqlite3_errmsg(st->db);
	else
		text = sqlite3_errstr(src);
	cg_err_detail(err, "sqlite: %s (%d)", text, src);
	return code;
}

/* Run constant SQL without values (transaction control, pragmas, DDL). */
static enum cg_code
exec_sql(struct ca_store *st, const char *sql, const char *what,
    struct cg_err *err)
{
	int	 src;

	src = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	if (src != SQLITE_OK)
		return ca_store_fail(st, src, what, err);
	return CG_OK;
}

enum cg_code
ca_store_prepare(struct ca_store *st, const char *sql, sqlite3_stmt **stmtp,
    struct cg_err *err)
{
	struct ca_store_stmt	*c;
	size_t			 i;
	int			 src;

	*stmtp = NULL;
	/*
	 * Compiling SQL costs more than running an INSERT: keep what was
	 * prepared.  The pointer finds the entry, the text confirms it (a
	 * buffer may hold other SQL next time).
	 */
	for (i = 0; i < st->ncache; i++) {
		c = &st->cache[i];
		if (c->sql == sql && !c->in_use &&
		    strcmp(sqlite3_sql(c->stmt), sql) == 0) {
			c->in_use = true;
			*stmtp = c->stmt;
			return CG_OK;
		}
	}
	src = sqlite3_prepare_v3(st->db, sql, -1, st->ncache <
	    CA_STORE_STMT_CACHE ? SQLITE_PREPARE_PERSISTENT : 0, stmtp, NULL);
	if (src != SQLITE_OK) {
		sqlite3_finalize(*stmtp);
		*stmtp = NULL;
		return ca_store_fail(st, src, "prepare a statement", err);
	}
	if (st->ncache < CA_STORE_STMT_CACHE) {
		c = &st->cache[st->ncache++];
		c->sql = sql;
		c->stmt = *stmtp;
		c->in_use = true;
	}
	return CG_OK;
}

void
ca_store_release(struct ca_store *st, sqlite3_stmt *stmt)
{
	size_t	 i;

	if (stmt == NULL)
		return;
	for (i = 0; i < st->ncache; i++) {
		if (st->cache[i].stmt != stmt)
			continue;
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		st->cache[i].in_use = false;
		return;
	}
	/* Not cached (the cache was full, or its entry was in use). */
	sqlite3_finalize(stmt);
}

enum cg_code
ca_store_step_done(struct ca_store *st, sqlite3_stmt *stmt, const char *what,
    struct cg_err *err)
{
	int	 src;

	src = sqlite3_step(stmt);
	if (src != SQLITE_DONE)
		return ca_store_fail(st, src, what, err);
	return CG_OK;
}

int
ca_store_bind_text(sqlite3_stmt *stmt, int idx, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(stmt, idx);
	return sqlite3_bind_text(stmt, idx, s, -1, SQLITE_STATIC);
}

enum cg_code
ca_store_col_text(sqlite3_stmt *stmt, int col, char **outp,
    struct cg_err *err)
{
	const unsigned char	*s;
	int			 type, n;

	type = sqlite3_column_type(stmt, col);
	s = sqlite3_column_text(stmt, col);
	n = sqlite3_column_bytes(stmt, col);
	if (s == NULL && type != SQLITE_NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	*outp = cg_strndup(s == NULL ? "" : (const char *)s,
	    s == NULL ? 0 : (size_t)n);
	if (*outp == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

enum cg_code
ca_store_col_blob(sqlite3_stmt *stmt, int col, const char *what,
    uint8_t **outp, size_t *lenp, struct cg_err *err)
{
	const void	*p;
	int		 n;

	p = sqlite3_column_blob(stmt, col);
	n = sqlite3_column_bytes(stmt, col);
	if (p == NULL || n <= 0)
		return cg_err_set(err, n > 0 ? CG_ENOMEM : CG_EIO,
		    "store: cannot read %s", what);
	*outp = cg_malloc((size_t)n);
	if (*outp == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	memcpy(*outp, p, (size_t)n);
	*lenp = (size_t)n;
	return CG_OK;
}

/* ------------------------------------------------------------ opening */

/*
 * Create the file ourselves so it is born 0600; SQLite copies the mode to
 * the -wal and -shm files it makes next to it.  Only when it does not exist
 * yet: closing any descriptor of an existing database would drop every
 * POSIX lock this process holds on it, so other threads' connections would
 * look gone, and another process could then checkpoint and delete the WAL
 * under them.
 */
static enum cg_code
file_create(const char *path, struct cg_err *err)
{
	bool		 fresh = err != NULL && err->code == CG_OK;
	enum cg_code	 rc;
	int		 fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST)
		return CG_OK;
	if (fd == -1) {
		rc = cg_err_errno(err, CG_EIO, "cannot create the database");
		if (fresh)
			cg_err_detail(err, "path: %s", path);
		return rc;
	}
	close(fd);
	return CG_OK;
}

static enum cg_code
pragma_check(struct ca_store *st, const char *sql, const char *want,
    struct cg_err *err)
{
	sqlite3_stmt		*stmt = NULL;
	const unsigned char	*got;
	bool			 fresh = err != NULL && err->code == CG_OK;
	enum cg_code		 rc;
	int			 src;

	rc = ca_store_prepare(st, sql, &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_step(stmt);
	if (src != SQLITE_ROW) {
		rc = ca_store_fail(st, src, "read a setting", err);
		goto out;
	}
	got = sqlite3_column_text(stmt, 0);
	if (got == NULL || strcmp((const char *)got, want) != 0) {
		rc = cg_err_set(err, CG_EIO, "store: database setting refused");
		if (fresh)
			cg_err_detail(err, "%s is %s, want %s", sql,
			    got == NULL ? "null" : (const char *)got, want);
		goto out;
	}
	rc = CG_OK;
out:
	ca_store_release(st, stmt);
	return rc;
}

/*
 * Switching a new database to WAL needs an exclusive lock, and SQLite does
 * not always wait for it through the busy handler: when several processes
 * or threads open a fresh file at once, the loser gets SQLITE_BUSY or reads
 * back the old mode.  Retry for up to the busy timeout.
 */
static enum cg_code
journal_wal(struct ca_store *st, struct cg_err *err)
{
	struct cg_err	 tmp;
	enum cg_code	 rc;
	int		 waited_ms;

	for (waited_ms = 0;; waited_ms += 10) {
		memset(&tmp, 0, sizeof(tmp));
		rc = exec_sql(st, pragmas[0].set, "configure the database",
		    &tmp);
		if (rc == CG_OK)
			rc = pragma_check(st, pragmas[0].get, pragmas[0].want,
			    &tmp);
		if (rc == CG_OK)
			return CG_OK;
		if (waited_ms >= CA_STORE_BUSY_MS)
			break;
		usleep(10 * 1000);
	}
	if (err != NULL && err->code == CG_OK)
		*err = tmp;
	return rc;
}

/*
 * Another process holds the database lock: wait in short steps (SQLite's
 * own timeout handler sleeps up to 100 ms at a time), 0.2 ms for the
 * first 50 tries, then 2 ms, CA_STORE_BUSY_MS in all.
 */
static int
busy_wait(void *arg, int count)
{
	struct timespec	 ts = { 0, 200 * 1000 };
	long		 waited_us;

	(void)arg;
	waited_us = count < 50 ? count * 200L : 50 * 200L + (count - 50) *
	    2000L;
	if (waited_us >= CA_STORE_BUSY_MS * 1000L)
		return 0;
	if (count >= 50)
		ts.tv_nsec = 2000 * 1000;
	nanosleep(&ts, NULL);
	return 1;
}

static enum cg_code
connection_setup(struct ca_store *st, struct cg_err *err)
{
	enum cg_code	 rc = CG_OK;
	size_t		 i;
	int		 src;

	sqlite3_extended_result_codes(st->db, 1);
	src = sqlite3_busy_handler(st->db, busy_wait, NULL);
	if (src == SQLITE_OK)
		src = sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1,
		    NULL);
	if (src == SQLITE_OK)
		src = sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA,
		    0, NULL);
	if (src != SQLITE_OK)
		return ca_store_fail(st, src, "configure the connection", err);
	rc = journal_wal(st, err);
	for (i = 1; rc == CG_OK && i < sizeof(pragmas) / sizeof(pragmas[0]);
	    i++) {
		rc = exec_sql(st, pragmas[i].set, "configure the database",
		    err);
		if (rc == CG_OK)
			rc = pragma_check(st, pragmas[i].get, pragmas[i].want,
			    err);
	}
	return rc;
}

/* ---------------------------------------------------------- migrations */

static enum cg_code
query_int(struct ca_store *st, const char *sql, int64_t *vp,
    struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	rc = ca_store_prepare(st, sql, &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_step(stmt);
	if (src != SQLITE_ROW) {
		rc = ca_store_fail(st, src, "read the schema version", err);
		goto out;
	}
	*vp = sqlite3_column_int64(stmt, 0);
	rc = CG_OK;
out:
	ca_store_release(st, stmt);
	return rc;
}

/* Version 0 is a database without the schema_migrations table. */
static enum cg_code
version_read(struct ca_store *st, int *versionp, struct cg_err *err)
{
	int64_t		 v;
	enum cg_code	 rc;

	rc = query_int(st, "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name = 'schema_migrations'", &v, err);
	if (rc != CG_OK || v == 0) {
		*versionp = 0;
		return rc;
	}
	rc = query_int(st, "SELECT coalesce(max(version), 0) "
	    "FROM schema_migrations", &v, err);
	if (rc != CG_OK)
		return rc;
	if (v < 0 || v > INT_MAX)
		return cg_err_set(err, CG_EIO, "store: bad schema version");
	*versionp = (int)v;
	return CG_OK;
}

static enum cg_code
version_check(int version, int target, struct cg_err *err)
{
	if (version > target)
		return cg_err_set(err, CG_ECONFLICT, "store: database schema "
		    "version %d is newer than this build supports (%d); "
		    "upgrade certgw", version, target);
	return CG_OK;
}

static enum cg_code
version_record(struct ca_store *st, int version, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	rc = ca_store_prepare(st, "INSERT INTO schema_migrations "
	    "(version, applied_at) VALUES (?1, ?2)", &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_int(stmt, 1, version);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(stmt, 2, cg_now());
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "record the schema version", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "record the schema version", err);
out:
	ca_store_release(st, stmt);
	return rc;
}

/*
 * One step, in its own write transaction.  The version is read again under
 * the write lock because another process may have migrated meanwhile.
 */
static enum cg_code
step_run(struct ca_store *st, const struct ca_store_step *step, int target,
    struct cg_err *err)
{
	enum cg_code	 rc;
	int		 version = 0;

	rc = exec_sql(st, "BEGIN IMMEDIATE", "begin a migration", err);
	if (rc != CG_OK)
		return rc;
	rc = exec_sql(st, version_table_sql, "create the version table", err);
	if (rc == CG_OK)
		rc = version_read(st, &version, err);
	if (rc == CG_OK)
		rc = version_check(version, target, err);
	if (rc != CG_OK || version >= step->version)
		goto out;
	if (version != step->version - 1) {
		rc = cg_err_set(err, CG_EINTERNAL, "store: schema version %d "
		    "cannot migrate to %d", version, step->version);
		goto out;
	}
	rc = exec_sql(st, step->sql, "migrate the schema", err);
	if (rc == CG_OK)
		rc = version_record(st, step->version, err);
out:
	return ca_store_tx_leave(st, true, rc, err);
}

static enum cg_code
migrate(struct ca_store *st, const struct ca_store_step *steps, size_t nsteps,
    int target, struct cg_err *err)
{
	enum cg_code	 rc;
	size_t		 i;
	int		 version;

	rc = version_read(st, &version, err);
	if (rc == CG_OK)
		rc = version_check(version, target, err);
	for (i = 0; rc == CG_OK && i < nsteps && steps[i].version <= target;
	    i++) {
		assert(steps[i].version == (int)i + 1);
		if (steps[i].version > version)
			rc = step_run(st, &steps[i], target, err);
	}
	if (rc == CG_OK)
		rc = version_read(st, &st->version, err);
	return rc;
}

enum cg_code
ca_store_open_steps(const char *path, const struct ca_store_step *steps,
    size_t nsteps, int target, struct ca_store **stp, struct cg_err *err)
{
	struct ca_store	*st = NULL;
	enum cg_code	 rc;
	int		 src;

	*stp = NULL;
	assert(nsteps > 0 && target >= 0 &&
	    target <= steps[nsteps - 1].version);
	if (path == NULL || *path == '\0')
		return cg_err_set(err, CG_EINVAL, "store: no database path");
	rc = file_create(path, err);
	if (rc != CG_OK)
		goto out;
	st = cg_calloc(1, sizeof(*st));
	if (st == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	src = sqlite3_open_v2(path, &st->db, OPEN_FLAGS, NULL);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "open the database", err);
		goto out;
	}
	rc = connection_setup(st, err);
	if (rc == CG_OK)
		rc = migrate(st, steps, nsteps, target, err);
	if (rc != CG_OK)
		goto out;
	*stp = st;
	st = NULL;
	rc = CG_OK;
out:
	ca_store_close(st);
	return rc;
}

enum cg_code
ca_store_open_at_version(const char *path, int target, struct ca_store **stp,
    struct cg_err *err)
{
	return ca_store_open_steps(path, ca_store_steps, ca_store_nsteps,
	    target, stp, err);
}

enum cg_code
ca_store_open(const char *path, struct ca_store **stp, struct cg_err *err)
{
	return ca_store_open_at_version(path, CA_STORE_SCHEMA_VERSION, stp,
	    err);
}

void
ca_store_close(struct ca_store *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	for (i = 0; i < st->ncache; i++)
		sqlite3_finalize(st->cache[i].stmt);
	/* An open transaction is rolled back; v2 never fails on busy. */
	sqlite3_close_v2(st->db);
	writer_release(st);
	cg_free(st);
}

int
ca_store_schema_version(struct ca_store *st)
{
	return st->version;
}

/* -------------------------------------------------------- transactions */


enum cg_code
ca_store_begin(struct ca_store *st, struct cg_err *err)
{
	enum cg_code	 rc;

	if (!sqlite3_get_autocommit(st->db))
		return cg_err_set(err, CG_EINTERNAL,
		    "store: a transaction is already open");
	pthread_mutex_lock(&write_lock);
	st->writer = true;
	rc = exec_sql(st, "BEGIN IMMEDIATE", "begin a transaction", err);
	if (rc != CG_OK)
		writer_release(st);
	return rc;
}

/* A failed commit is rolled back here, so the caller never holds a
 * half-open transaction. */
enum cg_code
ca_store_commit(struct ca_store *st, struct cg_err *err)
{
	enum cg_code	 rc;

	rc = exec_sql(st, "COMMIT", "commit", err);
	if (rc != CG_OK)
		ca_store_rollback(st);
	writer_release(st);
	return rc;
}

void
ca_store_rollback(struct ca_store *st)
{
	if (st == NULL)
		return;
	/* Nothing useful to do if even this fails: closing rolls back. */
	if (!sqlite3_get_autocommit(st->db))
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	writer_release(st);
}

enum cg_code
ca_store_tx_enter(struct ca_store *st, bool *ownp, struct cg_err *err)
{
	enum cg_code	 rc;

	*ownp = false;
	if (!sqlite3_get_autocommit(st->db))
		return CG_OK;
	rc = ca_store_begin(st, err);
	if (rc == CG_OK)
		*ownp = true;
	return rc;
}

enum cg_code
ca_store_tx_leave(struct ca_store *st, bool own, enum cg_code rc,
    struct cg_err *err)
{
	if (!own)
		return rc;
	if (rc == CG_OK)
		return ca_store_commit(st, err);
	ca_store_rollback(st);
	return rc;
}

/* ------------------------------------------------------------ counters */

static enum cg_code
meta_read(struct ca_store *st, const char *key, int64_t *vp,
    struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	*vp = 0;
	rc = ca_store_prepare(st, "SELECT value FROM meta WHERE key = ?1",
	    &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	if (src == SQLITE_ROW)
		*vp = sqlite3_column_int64(stmt, 0);
	else if (src != SQLITE_DONE) {
		rc = ca_store_fail(st, src, "read a counter", err);
		goto out;
	}
	rc = CG_OK;
out:
	ca_store_release(st, stmt);
	return rc;
}

/* Add one to a meta counter; the caller holds the write transaction. */
static enum cg_code
meta_bump(struct ca_store *st, const char *key, struct cg_err *err)
{
	sqlite3_stmt	*stmt = NULL;
	enum cg_code	 rc;
	int		 src;

	rc = ca_store_prepare(st, "INSERT INTO meta (key, value) VALUES "
	    "(?1, 1) ON CONFLICT (key) DO UPDATE SET value = value + 1",
	    &stmt, err);
	if (rc != CG_OK)
		goto out;
	src = sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	if (src != SQLITE_OK) {
		rc = ca_store_fail(st, src, "update a counter", err);
		goto out;
	}
	rc = ca_store_step_done(st, stmt, "update a counter", err);
out:
	ca_store_release(st, stmt);
	return rc;
}

enum cg_code
ca_store_meta_bump(struct ca_store *st, const char *key, int64_t *vp,
    struct cg_err *err)
{
	enum cg_code	 rc;
	bool		 own;

	rc = ca_store_tx_enter(st, &own, err);
	if (rc != CG_OK)
		return rc;
	rc = meta_bump(st, key, err);
	if (rc == CG_OK && vp != NULL)
		rc = meta_read(st, key, vp, err);
	return ca_store_tx_leave(st, own, rc, err);
}

enum cg_code
ca_store_revocation_gen(struct ca_store *st, int64_t *genp,
    struct cg_err *err)
{
	return meta_read(st, "revocation_gen", genp, err);
}

enum cg_code
ca_store_crl_number_next(struct ca_store *st, uint64_t *np,
    struct cg_err *err)
{
	enum cg_code	 rc;
	int64_t		 v;

	*np = 0;
	rc = ca_store_meta_bump(st, "crl_number", &v, err);
	if (rc != CG_OK)
		return rc;
	if (v <= 0)
		return cg_err_set(err, CG_EIO, "store: bad crl number");
	*np = (uint64_t)v;
	return CG_OK;
}
