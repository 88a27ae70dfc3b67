/*
 * store.h - the durable record of the CA: certificates, revocations, CRL
 * numbers, the distribution outbox and the audit log.  SQLite (WAL,
 * synchronous=FULL) today; the rest of certgw sees only this interface, so
 * another backend can come later without touching callers.
 *
 * Threads: a struct ca_store is one connection and belongs to one thread at
 * a time; every loop thread and every CLI command opens its own.  Several
 * processes may open the same database (serve and the CLI at once).
 */
#ifndef CERTGW_STORE_H
#define CERTGW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "certgw/core.h"

#define CA_STORE_SCHEMA_VERSION	2	/* what this build migrates to */
#define CA_STORE_BUSY_MS	5000	/* wait for another writer */
#define CA_STORE_ID_MAX		64	/* hex digits in a serial or thumbprint */
#define CA_STORE_TEXT_MAX	4096	/* bytes in one audit field or rule name */
#define CA_STORE_PAYLOAD_MAX	(256 * 1024)	/* bytes of one outbox job */
#define CA_STORE_CSR_MAX	(64 * 1024)	/* bytes of one pending CSR */
#define CA_STORE_SANS_MAX	(32 * 1024)	/* bytes of pending SAN text */

struct ca_store;

enum ca_cert_status {
	CA_CERT_VALID = 0,
	CA_CERT_REVOKED,
	CA_CERT__MAX
};

/* One issued certificate as recorded.  Strings are owned by the record. */
struct ca_cert_rec {
	char		*serial;	/* upper-case hex, no leading zeros kept */
	char		*issuer;	/* RFC 2253 */
	char		*subject;	/* RFC 2253, "" when empty */
	char		*sans;		/* "DNS:a,IP:1.2.3.4,email:x", "" if none */
	int64_t		 not_before;	/* unix seconds */
	int64_t		 not_after;	/* unix seconds */
	char		*profile;	/* profile name */
	char		*protocol;	/* "cli", "est", "acme", "scep", "init" */
	char		*requester;	/* who asked */
	char		*sha1;		/* lower-case hex thumbprint */
	char		*sha256;	/* lower-case hex thumbprint */
	uint8_t		*der;		/* the certificate */
	size_t		 der_len;	/* bytes in der */
	enum ca_cert_status status;	/* valid or revoked (expiry is derived) */
	int64_t		 issued_at;	/* unix seconds */
	int64_t		 revoked_at;	/* 0 unless revoked */
	int		 revoke_reason;	/* enum ca_reason, -1 unless revoked */
};

void		 ca_cert_rec_free(struct ca_cert_rec *r);

/*
 * Open (creating when absent) the database at path, set WAL,
 * synchronous=FULL, foreign keys and a busy timeout, and migrate the schema
 * to CA_STORE_SCHEMA_VERSION.  A database from a newer build is refused
 * (CG_ECONFLICT).  Creates the file 0600.  *stp is the caller's.
 */
enum cg_code	 ca_store_open(const char *path, struct ca_store **stp,
		    struct cg_err *err);
void		 ca_store_close(struct ca_store *st);
/* The schema version found on disk after open (after migration). */
int		 ca_store_schema_version(struct ca_store *st);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK.  Rollback is a no-op outside one. */
enum cg_code	 ca_store_begin(struct ca_store *st, struct cg_err *err);
enum cg_code	 ca_store_commit(struct ca_store *st, struct cg_err *err);
void		 ca_store_rollback(struct ca_store *st);

/* Insert a certificate (status valid).  CG_ECONFLICT on a duplicate serial. */
enum cg_code	 ca_store_cert_insert(struct ca_store *st,
		    const struct ca_cert_rec *rec, struct cg_err *err);
/*
 * Look up by serial (hex, any case, leading zeros ignored) or by SHA-256
 * thumbprint (64 hex digits, any case).  CG_ENOTFOUND when absent.
 */
enum cg_code	 ca_store_cert_get(struct ca_store *st, const char *id,
		    struct ca_cert_rec **recp, struct cg_err *err);

struct ca_cert_filter {
	const char	*profile;	/* NULL: any */
	int		 status;	/* -1 any; CA_CERT_VALID (not expired, not
					   revoked); CA_CERT_REVOKED; 2 expired */
	int64_t		 expiring_before; /* 0: any; else not_after < this and
					   not yet expired */
	int64_t		 now;		/* reference time for expiry */
	size_t		 limit;		/* 0: no limit */
};
#define CA_FILTER_EXPIRED	2

/* Called per row, newest first; the record is borrowed for the call. */
typedef enum cg_code ca_cert_cb(void *arg, const struct ca_cert_rec *rec);
enum cg_code	 ca_store_cert_list(struct ca_store *st,
		    const struct ca_cert_filter *f, ca_cert_cb *cb, void *arg,
		    struct cg_err *err);

/*
 * Mark revoked.  CG_ENOTFOUND when the serial is unknown, CG_ECONFLICT when
 * already revoked.  Bumps the revocation generation.
 */
enum cg_code	 ca_store_cert_revoke(struct ca_store *st, const char *serial,
		    int reason, int64_t when, struct cg_err *err);
/* Every revoked certificate with not_after >= now, for the CRL. */
enum cg_code	 ca_store_revoked_list(struct ca_store *st, int64_t now,
		    ca_cert_cb *cb, void *arg, struct cg_err *err);
/*
 * A number that changes whenever a revocation is recorded (by any process),
 * so `serve` can notice CLI revocations and rebuild the CRL.
 */
enum cg_code	 ca_store_revocation_gen(struct ca_store *st, int64_t *genp,
		    struct cg_err *err);
/* Allocate the next CRL number (1, 2, ...), durably. */
enum cg_code	 ca_store_crl_number_next(struct ca_store *st, uint64_t *np,
		    struct cg_err *err);

/*
 * Outbox: one job per matching distribution rule, written in the issuance
 * transaction.  payload is JSON text (copied).
 */
enum cg_code	 ca_store_outbox_add(struct ca_store *st, const char *rule,
		    const char *serial, const char *payload, struct cg_err *err);
/* Jobs not yet relayed (relayed_at unset). */
enum cg_code	 ca_store_outbox_count(struct ca_store *st, size_t *np,
		    struct cg_err *err);

/* One outbox job as listed; strings borrowed for the callback. */
struct ca_outbox_job {
	int64_t		 id;		/* increasing with insertion */
	const char	*rule;
	const char	*serial;	/* "" when the job has no certificate */
	const char	*payload;	/* JSON text */
	int64_t		 created_at;	/* unix seconds */
};

typedef enum cg_code ca_outbox_cb(void *arg, const struct ca_outbox_job *job);
/*
 * Up to limit (1..CA_STORE_OUTBOX_BATCH) jobs not yet relayed, oldest
 * first.  A callback error stops the listing and is returned.
 */
#define CA_STORE_OUTBOX_BATCH	1024
enum cg_code	 ca_store_outbox_pending(struct ca_store *st, size_t limit,
		    ca_outbox_cb *cb, void *arg, struct cg_err *err);
/*
 * Mark jobs relayed at when, in one transaction; ids already relayed or
 * unknown are left alone.  *np says how many changed.
 */
enum cg_code	 ca_store_outbox_relayed(struct ca_store *st,
		    const int64_t *ids, size_t n, int64_t when, size_t *np,
		    struct cg_err *err);
/* Age in seconds of the oldest job not yet relayed at now; 0 if none. */
enum cg_code	 ca_store_outbox_oldest(struct ca_store *st, int64_t now,
		    int64_t *agep, struct cg_err *err);

/*
 * Pending requests (manual approval; EST now, SCEP later).  Strings and the
 * CSR are owned by the record.
 */
enum ca_pending_status {
	CA_PENDING_WAITING = 0,	/* no decision yet */
	CA_PENDING_APPROVED,	/* approved and issued: cert_serial is set */
	CA_PENDING_REJECTED,	/* rejected */
	CA_PENDING__MAX
};

struct ca_pending_rec {
	int64_t		 id;		/* row id, increasing */
	char		*protocol;	/* "est", "scep", ... */
	char		*profile;	/* profile name */
	char		*requester;	/* who asked */
	char		*subject;	/* RFC 2253, for the admin's eyes */
	char		*sans;		/* "DNS:a,IP:..." */
	char		*csr_sha256;	/* lower-case hex of the CSR DER */
	uint8_t		*csr_der;	/* the request */
	size_t		 csr_len;	/* bytes in csr_der */
	enum ca_pending_status status;	/* decision */
	int64_t		 created_at;	/* unix seconds */
	int64_t		 decided_at;	/* 0 while waiting */
	char		*decided_by;	/* actor, "" while waiting */
	char		*cert_serial;	/* issued certificate, "" unless approved */
};

void		 ca_pending_rec_free(struct ca_pending_rec *r);
/* Add a WAITING row (id, status and decision fields ignored). */
enum cg_code	 ca_store_pending_add(struct ca_store *st,
		    const struct ca_pending_rec *rec, int64_t *idp,
		    struct cg_err *err);
enum cg_code	 ca_store_pending_get(struct ca_store *st, int64_t id,
		    struct ca_pending_rec **recp, struct cg_err *err);
/* The newest row with this protocol, profile and CSR hash; ENOTFOUND. */
enum cg_code	 ca_store_pending_find(struct ca_store *st,
		    const char *protocol, const char *profile,
		    const char *csr_sha256, struct ca_pending_rec **recp,
		    struct cg_err *err);
/* Rows with that status (-1: all), oldest first; borrowed per call. */
typedef enum cg_code ca_pending_cb(void *arg, const struct ca_pending_rec *r);
enum cg_code	 ca_store_pending_list(struct ca_store *st, int status,
		    ca_pending_cb *cb, void *arg, struct cg_err *err);
/*
 * Record a decision on a WAITING row: APPROVED (with cert_serial) or
 * REJECTED (cert_serial NULL).  CG_ENOTFOUND, or CG_ECONFLICT when the row
 * is already decided.
 */
enum cg_code	 ca_store_pending_decide(struct ca_store *st, int64_t id,
		    enum ca_pending_status status, const char *actor,
		    const char *cert_serial, struct cg_err *err);

/* Audit log: who did what to which target, and how it ended. */
struct ca_audit_rec {
	int64_t		 id;		/* row id, increasing */
	int64_t		 at;		/* unix seconds */
	const char	*actor;		/* "cli:root", "est:user", ... */
	const char	*action;	/* "issue", "revoke", "init", ... */
	const char	*target;	/* serial or other object id, "" if none */
	const char	*outcome;	/* "ok", "refused", "error" */
	const char	*detail;	/* short text, never a secret */
};
enum cg_code	 ca_store_audit_add(struct ca_store *st, const char *actor,
		    const char *action, const char *target, const char *outcome,
		    const char *detail, struct cg_err *err);
/* Rows with at >= since, oldest first; records borrowed for the call. */
typedef enum cg_code ca_audit_cb(void *arg, const struct ca_audit_rec *rec);
enum cg_code	 ca_store_audit_list(struct ca_store *st, int64_t since,
		    ca_audit_cb *cb, void *arg, struct cg_err *err);

#endif /* CERTGW_STORE_H */
