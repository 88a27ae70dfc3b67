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

#define CA_STORE_SCHEMA_VERSION	6	/* what this build migrates to */
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

/* ---------------------------------------------------------------- ACME */
/*
 * ACME state (RFC 8555 §7.1): accounts, orders, authorizations with their
 * challenges, and EAB keys.  Ids are opaque strings made by the protocol
 * (base64url, at most CA_ACME_ID_MAX bytes).  Statuses are RFC 8555's own
 * words ("pending", "valid", ...).  JSON-valued columns hold JSON text the
 * protocol made; the store does not look inside.  Writes are atomic on
 * their own and join the caller's transaction when one is open.  Records
 * returned through a pointer are the caller's (ca_acme_*_free); records
 * passed to a callback are borrowed for the call.
 *
 * Inputs are bounded: a missing required string or a word that is not a
 * status is CG_EINVAL, a string over its limit (ids and thumbprints
 * CA_ACME_ID_MAX, JSON CA_ACME_JSON_MAX) CG_ETOOBIG; lookups check the
 * same way.  A created_at of 0 on insert means now.  Certificate serials
 * (cert_serial, replaces) are hex and kept as the certs table spells them
 * (upper case, no leading zeros).
 */
#define CA_ACME_ID_MAX		64		/* bytes in any ACME id */
#define CA_ACME_JSON_MAX	(64 * 1024)	/* bytes in one JSON column */
#define CA_ACME_CHALLS_MAX	8		/* challenges per authorization */

struct ca_acme_account {
	char		*id;		/* the "kid" suffix */
	char		*directory;	/* directory name it was made in */
	char		*status;	/* "valid", "deactivated", "revoked" */
	char		*jwk;		/* the public key, JSON text */
	char		*thumbprint;	/* RFC 7638, base64url; unique per
					   directory */
	char		*contact;	/* JSON array text, "[]" if none */
	bool		 tos_agreed;	/* termsOfServiceAgreed */
	char		*eab_kid;	/* EAB key that bound it, "" if none */
	char		*ip;		/* client address at creation */
	int64_t		 created_at;	/* unix seconds */
};
void		 ca_acme_account_free(struct ca_acme_account *a);
/* CG_ECONFLICT when the directory already has an account with the key. */
enum cg_code	 ca_store_acme_account_insert(struct ca_store *st,
		    const struct ca_acme_account *a, struct cg_err *err);
/* By id, or by (directory, thumbprint); CG_ENOTFOUND. */
enum cg_code	 ca_store_acme_account_get(struct ca_store *st,
		    const char *id, struct ca_acme_account **ap,
		    struct cg_err *err);
enum cg_code	 ca_store_acme_account_find(struct ca_store *st,
		    const char *directory, const char *thumbprint,
		    struct ca_acme_account **ap, struct cg_err *err);
/*
 * Change status and/or contact (NULL leaves a field as it is).
 * CG_ENOTFOUND.
 */
enum cg_code	 ca_store_acme_account_update(struct ca_store *st,
		    const char *id, const char *status, const char *contact,
		    struct cg_err *err);
/*
 * Key rollover (§7.3.5): replace the key of account id, only while its
 * thumbprint is still old_thumbprint.  CG_ECONFLICT when another account
 * of the directory has the new key, or when the key changed meanwhile;
 * CG_ENOTFOUND.
 */
enum cg_code	 ca_store_acme_account_rekey(struct ca_store *st,
		    const char *id, const char *old_thumbprint, const char *jwk,
		    const char *thumbprint, struct cg_err *err);
/* Accounts of the directory created from ip at or after since. */
enum cg_code	 ca_store_acme_account_count_ip(struct ca_store *st,
		    const char *directory, const char *ip, int64_t since,
		    size_t *np, struct cg_err *err);

struct ca_acme_order {
	char		*id;
	char		*account_id;	/* owner */
	char		*directory;	/* directory name */
	char		*profile;	/* CA profile name to issue under */
	char		*acme_profile;	/* profile name the client asked, "" */
	char		*status;	/* pending ready processing valid invalid */
	int64_t		 expires;	/* unix seconds */
	int64_t		 not_before;	/* requested, 0 if none */
	int64_t		 not_after;	/* requested, 0 if none */
	char		*identifiers;	/* JSON array of {type, value} */
	char		*authzs;	/* JSON array of authorization ids */
	char		*error;		/* problem document JSON, "" if none */
	char		*cert_serial;	/* issued certificate, "" until valid */
	char		*replaces;	/* ARI: serial of the replaced cert, "" */
	int64_t		 pending_id;	/* pending row (manual approval), 0 */
	char		*ip;		/* client address at creation */
	int64_t		 created_at;	/* unix seconds */
	int64_t		 updated_at;	/* unix seconds of the last change */
};
void		 ca_acme_order_free(struct ca_acme_order *o);
/* CG_ECONFLICT on a duplicate id, CG_ENOTFOUND without the account. */
enum cg_code	 ca_store_acme_order_insert(struct ca_store *st,
		    const struct ca_acme_order *o, struct cg_err *err);
enum cg_code	 ca_store_acme_order_get(struct ca_store *st, const char *id,
		    struct ca_acme_order **op, struct cg_err *err);
/*
 * Compare and set: move order id from status from to status to, with
 * error (problem JSON) or NULL to leave it.  CG_ECONFLICT when the status
 * is no longer from (another request got there first); CG_ENOTFOUND.
 */
enum cg_code	 ca_store_acme_order_transition(struct ca_store *st,
		    const char *id, const char *from, const char *to,
		    const char *error, int64_t now, struct cg_err *err);
/* processing -> valid with the certificate's serial; same errors. */
enum cg_code	 ca_store_acme_order_set_cert(struct ca_store *st,
		    const char *id, const char *serial, int64_t now,
		    struct cg_err *err);
/* Remember the pending row of a processing order; CG_ENOTFOUND. */
enum cg_code	 ca_store_acme_order_set_pending(struct ca_store *st,
		    const char *id, int64_t pending_id, struct cg_err *err);
/*
 * Order ids of an account, newest first: at most limit (>= 1), starting
 * after the order id after (NULL: from the newest; CG_ENOTFOUND when it is
 * not an order of the account).  *morep says whether more follow.  cb gets
 * each id (borrowed); its error stops the listing and is returned.
 */
typedef enum cg_code ca_acme_id_cb(void *arg, const char *id);
enum cg_code	 ca_store_acme_order_list(struct ca_store *st,
		    const char *account_id, const char *after, size_t limit,
		    ca_acme_id_cb *cb, void *arg, bool *morep,
		    struct cg_err *err);
/*
 * Orders created at or after since: by account_id when ip is NULL (the
 * directory is not consulted then: an account lives in one directory), or
 * by ip within directory (account_id ignored).
 */
enum cg_code	 ca_store_acme_order_count(struct ca_store *st,
		    const char *directory, const char *account_id,
		    const char *ip, int64_t since, size_t *np,
		    struct cg_err *err);
/*
 * The newest order that replaces serial (ARI "replaces") and is not
 * "invalid"; CG_ENOTFOUND.
 */
enum cg_code	 ca_store_acme_order_find_replacing(struct ca_store *st,
		    const char *serial, struct ca_acme_order **op,
		    struct cg_err *err);

struct ca_acme_chall {
	char		*id;
	char		*authz_id;	/* its authorization */
	char		*type;		/* "http-01", "dns-01", "tls-alpn-01" */
	char		*token;		/* base64url, >= 128 bits */
	char		*status;	/* pending processing valid invalid */
	int64_t		 validated;	/* unix seconds when valid, else 0 */
	char		*error;		/* problem JSON, "" if none */
	int64_t		 updated_at;	/* unix seconds of the last change */
};

struct ca_acme_authz {
	char		*id;
	char		*account_id;	/* owner */
	char		*directory;	/* directory name */
	char		*id_type;	/* "dns" or "ip" */
	char		*id_value;	/* name without "*.", or the address */
	bool		 wildcard;	/* for "*.<id_value>" */
	char		*status;	/* pending valid invalid deactivated
					   expired revoked */
	int64_t		 expires;	/* unix seconds */
	int64_t		 created_at;	/* unix seconds */
	struct ca_acme_chall *challs;	/* its challenges, in offer order */
	size_t		 nchalls;	/* at most CA_ACME_CHALLS_MAX */
};
void		 ca_acme_authz_free(struct ca_acme_authz *a);
/*
 * Insert the authorization and its challenges together, all or nothing
 * (also inside the caller's transaction).  Each challenge's authz_id is
 * taken from a->id.  CG_ECONFLICT on a duplicate id, CG_ENOTFOUND when
 * the account does not exist.
 */
enum cg_code	 ca_store_acme_authz_insert(struct ca_store *st,
		    const struct ca_acme_authz *a, struct cg_err *err);
/* With its challenges; CG_ENOTFOUND. */
enum cg_code	 ca_store_acme_authz_get(struct ca_store *st, const char *id,
		    struct ca_acme_authz **ap, struct cg_err *err);
/*
 * A valid authorization of the account for the same identifier (type,
 * value, wildcard) in the directory, validated at or after since and not
 * expired at now: the newest.  CG_ENOTFOUND.
 */
enum cg_code	 ca_store_acme_authz_find_valid(struct ca_store *st,
		    const char *account_id, const char *directory,
		    const char *id_type, const char *id_value, bool wildcard,
		    int64_t since, int64_t now, struct ca_acme_authz **ap,
		    struct cg_err *err);
/* Compare and set the authorization's status; CG_ECONFLICT, CG_ENOTFOUND. */
enum cg_code	 ca_store_acme_authz_transition(struct ca_store *st,
		    const char *id, const char *from, const char *to,
		    int64_t now, struct cg_err *err);
/* Compare and set a challenge's status; CG_ECONFLICT, CG_ENOTFOUND. */
enum cg_code	 ca_store_acme_chall_transition(struct ca_store *st,
		    const char *id, const char *from, const char *to,
		    int64_t now, struct cg_err *err);
/*
 * A validation ended: in one transaction, the processing challenge id
 * becomes valid (validated = now) or invalid (with error), and its
 * authorization, while still pending, becomes valid or invalid with it.
 * CG_ECONFLICT when the challenge is not processing; CG_ENOTFOUND.
 */
enum cg_code	 ca_store_acme_chall_settle(struct ca_store *st,
		    const char *id, bool ok, const char *error, int64_t now,
		    struct cg_err *err);
/* Challenges of the account's authzs that became invalid at or after
   since. */
enum cg_code	 ca_store_acme_failed_count(struct ca_store *st,
		    const char *account_id, int64_t since, size_t *np,
		    struct cg_err *err);
/*
 * Challenges still processing whose updated_at is before before (a
 * validation lost with a stopped process), at most limit (>= 1), oldest
 * first.
 */
typedef enum cg_code ca_acme_chall_cb(void *arg,
		    const struct ca_acme_chall *c);
enum cg_code	 ca_store_acme_chall_stale(struct ca_store *st,
		    int64_t before, size_t limit, ca_acme_chall_cb *cb,
		    void *arg, struct cg_err *err);

/* External account binding keys (RFC 8555 §7.3.4), made by the CLI. */
#define CA_ACME_EAB_KEY_MAX	256	/* HMAC key bytes */

struct ca_acme_eab {
	char		*kid;		/* key identifier given to the client */
	char		*directory;	/* the directory it is for */
	uint8_t		*key;		/* HMAC key (secret: wiped on free) */
	size_t		 key_len;	/* bytes in key */
	char		*identifiers;	/* JSON array of allowed patterns
					   ("*.corp.example", CIDRs), "[]" any */
	char		*account_id;	/* bound account, "" while unused */
	int64_t		 created_at;	/* unix seconds */
	int64_t		 bound_at;	/* unix seconds, 0 while unused */
};
void		 ca_acme_eab_free(struct ca_acme_eab *e);
/* CG_ECONFLICT on a duplicate kid. */
enum cg_code	 ca_store_acme_eab_insert(struct ca_store *st,
		    const struct ca_acme_eab *e, struct cg_err *err);
enum cg_code	 ca_store_acme_eab_get(struct ca_store *st, const char *kid,
		    struct ca_acme_eab **ep, struct cg_err *err);
/*
 * Bind kid to account_id.  A key is bound once: CG_ECONFLICT when it is
 * bound to another account already (binding again to the same account is
 * CG_OK); CG_ENOTFOUND.
 */
enum cg_code	 ca_store_acme_eab_bind(struct ca_store *st, const char *kid,
		    const char *account_id, int64_t now, struct cg_err *err);
/* All keys (directory NULL) or one directory's, oldest first; the key
   bytes are not read (key NULL, key_len 0). */
typedef enum cg_code ca_acme_eab_cb(void *arg, const struct ca_acme_eab *e);
enum cg_code	 ca_store_acme_eab_list(struct ca_store *st,
		    const char *directory, ca_acme_eab_cb *cb, void *arg,
		    struct cg_err *err);
/* Delete an unbound or bound key; CG_ENOTFOUND. */
enum cg_code	 ca_store_acme_eab_delete(struct ca_store *st, const char *kid,
		    struct cg_err *err);

/* ---------------------------------------------------------------- SCEP */
/*
 * SCEP state (RFC 8894): one-time challenge passwords made by the CLI and
 * spent by the server, and transactions, so that a client repeating a
 * request (same transactionID, RFC 8894 §3.2.1.1) gets the same answer and
 * a different request under a used transactionID is refused.  Writes are
 * atomic on their own and join the caller's transaction when one is open
 * (a server may spend a challenge in the transaction that records the
 * certificate, so a failed issuance gives the challenge back).  Records
 * returned through a pointer are the caller's (ca_scep_*_free); records
 * passed to a callback are borrowed for the call.
 *
 * Inputs are bounded: a missing required string is CG_EINVAL, one over
 * its limit CG_ETOOBIG, a malformed hash or an unknown status CG_EINVAL.
 * A created_at of 0 on insert means now.  Challenge hashes never appear
 * in an error message.
 */
#define CA_SCEP_SERVICE_MAX	64	/* bytes in a service name */
#define CA_SCEP_HASH_LEN	64	/* lower-case hex SHA-256 */
#define CA_SCEP_REGEX_MAX	1024	/* bytes in a subject regex */
#define CA_SCEP_TID_MAX		128	/* bytes in a transactionID */
#define CA_SCEP_REQUESTER_MAX	256	/* bytes in a requester */

struct ca_scep_challenge {
	int64_t		 id;		/* row id, increasing */
	char		*service;	/* the service it is for */
	char		*hash;		/* lower-case hex SHA-256 of the
					   challenge text */
	char		*subject_regex;	/* POSIX ERE the subject must match,
					   "" for none */
	int64_t		 created_at;	/* unix seconds */
	int64_t		 expires_at;	/* unix seconds; unusable from then */
	int64_t		 used_at;	/* unix seconds, 0 while unused */
	char		*used_by;	/* transactionID that spent it, "" */
};
void		 ca_scep_challenge_free(struct ca_scep_challenge *c);
/*
 * Record an unused challenge (id, used_at and used_by ignored); *idp gets
 * its id.  expires_at must be after created_at.  CG_ECONFLICT when the
 * service has a challenge with that hash already.
 */
enum cg_code	 ca_store_scep_challenge_add(struct ca_store *st,
		    const struct ca_scep_challenge *rec, int64_t *idp,
		    struct cg_err *err);
/*
 * Spend a challenge: atomically mark the unused challenge of service with
 * that hash, not expired at now, as used at now by used_by (the request's
 * transactionID), and return it in *recp (the caller's).  Two requests
 * with one challenge cannot both succeed.  CG_ENOTFOUND when there is no
 * such challenge, when it was used or when it expired; err->detail says
 * which ("reason=unknown|used|expired") for the log, err->msg does not.
 */
enum cg_code	 ca_store_scep_challenge_use(struct ca_store *st,
		    const char *service, const char *hash, int64_t now,
		    const char *used_by, struct ca_scep_challenge **recp,
		    struct cg_err *err);
/*
 * Challenges of one service (NULL: all), oldest first.  cb's error stops
 * the listing and is returned.
 */
typedef enum cg_code ca_scep_challenge_cb(void *arg,
		    const struct ca_scep_challenge *c);
enum cg_code	 ca_store_scep_challenge_list(struct ca_store *st,
		    const char *service, ca_scep_challenge_cb *cb, void *arg,
		    struct cg_err *err);
/*
 * Delete challenges that expired before before, or were used before it;
 * *np (may be NULL) says how many went.
 */
enum cg_code	 ca_store_scep_challenge_purge(struct ca_store *st,
		    int64_t before, size_t *np, struct cg_err *err);

/* pkiStatus (RFC 8894 §3.2.1.3) and messageType values the store keeps. */
#define CA_SCEP_STATUS_SUCCESS	0
#define CA_SCEP_STATUS_FAILURE	2
#define CA_SCEP_STATUS_PENDING	3
#define CA_SCEP_MSG_RENEWAL	17	/* RenewalReq */
#define CA_SCEP_MSG_PKCSREQ	19	/* PKCSReq */
#define CA_SCEP_FAILINFO_MAX	4	/* badCertID; -1 is none */

/*
 * One transaction: the first PKCSReq or RenewalReq under a transactionID,
 * and the answer it got.  A success names its certificate; a failure has
 * a failInfo (0..4) and a pending or successful one none (-1).
 */
struct ca_scep_txn {
	char		*service;	/* the service it came to */
	char		*transaction_id; /* the client's transactionID */
	char		*request_sha256; /* lower-case hex fingerprint of the
					   request: its CSR's content and
					   the certificate that signed it */
	int		 message_type;	/* CA_SCEP_MSG_* */
	int		 status;	/* CA_SCEP_STATUS_* */
	int		 fail_info;	/* failInfo, -1 none */
	char		*cert_serial;	/* issued certificate, "" until success */
	int64_t		 pending_id;	/* pending row (manual approval), 0 */
	char		*requester;	/* who asked (peer, signer subject) */
	int64_t		 created_at;	/* unix seconds */
	int64_t		 updated_at;	/* unix seconds of the last change */
};
void		 ca_scep_txn_free(struct ca_scep_txn *t);
/* By (service, transaction_id); CG_ENOTFOUND. */
enum cg_code	 ca_store_scep_txn_get(struct ca_store *st,
		    const char *service, const char *tid,
		    struct ca_scep_txn **recp, struct cg_err *err);
/*
 * Record a new transaction (updated_at is set to created_at).
 * CG_ECONFLICT when the service has one with that transactionID.
 */
enum cg_code	 ca_store_scep_txn_insert(struct ca_store *st,
		    const struct ca_scep_txn *rec, struct cg_err *err);
/*
 * Settle or refresh a PENDING transaction: set status, fail_info,
 * cert_serial (NULL: "") and pending_id, and updated_at = now.  Only a
 * pending transaction changes, so an answer once given stays the answer:
 * CG_ECONFLICT when it is no longer pending, CG_ENOTFOUND when absent.
 */
enum cg_code	 ca_store_scep_txn_update(struct ca_store *st,
		    const char *service, const char *tid, int status,
		    int fail_info, const char *cert_serial, int64_t pending_id,
		    int64_t now, struct cg_err *err);
/*
 * Forget a settled transaction, so that its transactionID can start a new
 * one: clients that derive the transactionID from their key (certmonger)
 * reuse it when they resubmit.  CG_ECONFLICT when it is pending or absent.
 */
enum cg_code	 ca_store_scep_txn_forget(struct ca_store *st,
		    const char *service, const char *tid, struct cg_err *err);
/*
 * Delete settled (not pending) transactions last changed before before;
 * *np (may be NULL) says how many went.
 */
enum cg_code	 ca_store_scep_txn_purge(struct ca_store *st, int64_t before,
		    size_t *np, struct cg_err *err);

/* ---------------------------------------------------------- identities */

/*
 * Identities (schema version 5): the people and devices that authenticate
 * to the gateway with client certificates, how certificates map to them,
 * the CAs trusted for client certificates besides the configured ones, and
 * the holding tank of unknown certificates.  What a mapping means for a
 * request is decided in ca/ca_ident.c; this is the record only.
 */
#define CA_IDENT_NAME_MAX	64	/* [A-Za-z0-9._@-] */
#define CA_IDENT_TEXT_MAX	256	/* email, org */
#define CA_IDENT_DN_MAX		1024	/* subject, issuer, rule texts */
#define CA_IDENT_DER_MAX	(64 * 1024) /* a certificate */

enum ca_role {
	CA_ROLE_NONE = 0,	/* authenticates; may use no admin API */
	CA_ROLE_AUDITOR,	/* reads */
	CA_ROLE_OPERATOR,	/* reads, approves, revokes, retries */
	CA_ROLE_ADMIN,		/* everything */
	CA_ROLE__MAX
};
/* "none", "auditor", ...; and back (false for an unknown name). */
const char	*ca_role_name(enum ca_role r);
bool		 ca_role_parse(const char *s, enum ca_role *rp);

struct ca_identity {
	int64_t		 id;		/* row id */
	char		*name;		/* unique */
	char		*email;		/* "" when none */
	char		*org;		/* "" when none */
	enum ca_role	 role;
	bool		 disabled;	/* maps, but authenticates nobody */
	int64_t		 created_at;	/* unix seconds */
	int64_t		 updated_at;
};
void		 ca_identity_free(struct ca_identity *i);
/* Add in->name (...); CG_ECONFLICT when the name exists. *idp may be NULL. */
enum cg_code	 ca_store_identity_add(struct ca_store *st,
		    const struct ca_identity *in, int64_t *idp,
		    struct cg_err *err);
/* By name, or by id when name is NULL; CG_ENOTFOUND. */
enum cg_code	 ca_store_identity_get(struct ca_store *st, const char *name,
		    int64_t id, struct ca_identity **outp, struct cg_err *err);
typedef enum cg_code ca_identity_cb(void *arg, const struct ca_identity *i);
/* All of them by name. */
enum cg_code	 ca_store_identity_list(struct ca_store *st,
		    ca_identity_cb *cb, void *arg, struct cg_err *err);
/* Change role and disabled (the others stay); CG_ENOTFOUND. */
enum cg_code	 ca_store_identity_update(struct ca_store *st,
		    const char *name, enum ca_role role, bool disabled,
		    int64_t now, struct cg_err *err);

/* How a mapping recognises a certificate. */
enum ca_map_kind {
	CA_MAP_SHA256 = 1,	/* lower-case hex SHA-256 of the DER */
	CA_MAP_SHA1 = 2,	/* lower-case hex SHA-1 of the DER */
	CA_MAP_CN = 3,		/* the subject's common name, exactly */
	CA_MAP__MAX
};
const char	*ca_map_kind_name(enum ca_map_kind k);

/*
 * A one-to-one mapping.  pinned: the certificate (der) is self-signed and
 * trusted for this identity alone, by its thumbprint.  source says how it
 * came: "manual" (add-cert), "import", "issue", "holding".
 */
struct ca_ident_map {
	int64_t		 id;
	int64_t		 identity_id;
	char		*identity;	/* the identity's name (read only) */
	enum ca_map_kind kind;
	char		*value;		/* thumbprint or CN */
	bool		 pinned;
	char		*subject;	/* RFC 2253, "" when unknown */
	char		*issuer;	/* RFC 2253, "" when unknown */
	int64_t		 not_after;	/* unix seconds, 0 when unknown */
	uint8_t		*der;		/* the certificate, or NULL */
	size_t		 der_len;
	char		*source;
	int64_t		 created_at;
};
void		 ca_ident_map_free(struct ca_ident_map *m);
/* CG_ECONFLICT when (kind, value) is mapped already; *idp may be NULL. */
enum cg_code	 ca_store_map_add(struct ca_store *st,
		    const struct ca_ident_map *m, int64_t *idp,
		    struct cg_err *err);
/* The mapping for (kind, value); CG_ENOTFOUND. */
enum cg_code	 ca_store_map_find(struct ca_store *st, enum ca_map_kind kind,
		    const char *value, struct ca_ident_map **outp,
		    struct cg_err *err);
typedef enum cg_code ca_ident_map_cb(void *arg, const struct ca_ident_map *m);
/* One identity's (identity_id > 0) or all, by id. */
enum cg_code	 ca_store_map_list(struct ca_store *st, int64_t identity_id,
		    ca_ident_map_cb *cb, void *arg, struct cg_err *err);
/* CG_ENOTFOUND. */
enum cg_code	 ca_store_map_delete(struct ca_store *st, int64_t id,
		    struct cg_err *err);

/*
 * A many-to-one rule, tried in position order: the certificate's issuer
 * must be exactly issuer (RFC 2253; "" matches any) and its subject must
 * hold every attribute of subject ("O=Sales,OU=East"; "" matches any).
 */
struct ca_ident_rule {
	int64_t		 id;
	int64_t		 position;	/* 1, 2, ...: evaluation order */
	int64_t		 identity_id;
	char		*identity;	/* name (read only) */
	char		*issuer;
	char		*subject;
	int64_t		 created_at;
};
void		 ca_ident_rule_free(struct ca_ident_rule *r);
/* At r->position (others move down), or last when it is 0. */
enum cg_code	 ca_store_rule_add(struct ca_store *st,
		    const struct ca_ident_rule *r, int64_t *idp,
		    struct cg_err *err);
typedef enum cg_code ca_ident_rule_cb(void *arg, const struct ca_ident_rule *r);
enum cg_code	 ca_store_rule_list(struct ca_store *st, ca_ident_rule_cb *cb,
		    void *arg, struct cg_err *err);
/* CG_ENOTFOUND; the rules after it move up. */
enum cg_code	 ca_store_rule_delete(struct ca_store *st, int64_t id,
		    struct cg_err *err);

/* A CA trusted for client certificates (`certgw trust add`). */
struct ca_trust_anchor {
	int64_t		 id;
	char		*sha256;	/* lower-case hex of der */
	char		*subject;	/* RFC 2253 */
	uint8_t		*der;
	size_t		 der_len;
	int64_t		 not_after;
	int64_t		 added_at;
};
void		 ca_trust_anchor_free(struct ca_trust_anchor *t);
/* CG_ECONFLICT when it is there already. */
enum cg_code	 ca_store_trust_add(struct ca_store *st,
		    const struct ca_trust_anchor *t, int64_t *idp,
		    struct cg_err *err);
typedef enum cg_code ca_trust_anchor_cb(void *arg,
		    const struct ca_trust_anchor *t);
enum cg_code	 ca_store_trust_list(struct ca_store *st, ca_trust_anchor_cb *cb,
		    void *arg, struct cg_err *err);
/* By id; CG_ENOTFOUND. */
enum cg_code	 ca_store_trust_delete(struct ca_store *st, int64_t id,
		    struct cg_err *err);

/*
 * Changes to identities, mappings, rules and trust anchors, counted by
 * triggers: a server caching any of them reloads when this moves.
 */
enum cg_code	 ca_store_ident_revision(struct ca_store *st, int64_t *revp,
		    struct cg_err *err);

/* Holding tank: certificates seen on `accept` routes that map to nobody. */
#define CA_HOLD_PENDING		0
#define CA_HOLD_ACCEPTED	1
#define CA_HOLD_REJECTED	2
struct ca_holding {
	int64_t		 id;
	char		*sha256;	/* lower-case hex of der */
	char		*subject;
	char		*issuer;
	uint8_t		*der;
	size_t		 der_len;
	int64_t		 not_after;
	int64_t		 first_seen;
	int64_t		 last_seen;
	char		*source;	/* last peer address */
	int64_t		 count;		/* times seen */
	int		 status;	/* CA_HOLD_* */
	char		*decided_by;	/* "" while pending */
	int64_t		 decided_at;
};
void		 ca_holding_free(struct ca_holding *h);
/*
 * Seen once more (h: sha256, subject, issuer, der, not_after, source):
 * inserted pending with count 1, or count + 1, last_seen and source
 * updated.  *statusp (may be NULL) is its status afterwards: a rejected
 * certificate stays rejected.
 */
enum cg_code	 ca_store_holding_seen(struct ca_store *st,
		    const struct ca_holding *h, int64_t now, int *statusp,
		    struct cg_err *err);
enum cg_code	 ca_store_holding_get(struct ca_store *st, int64_t id,
		    struct ca_holding **outp, struct cg_err *err);
typedef enum cg_code ca_holding_cb(void *arg, const struct ca_holding *h);
/* With status (or any when status < 0), by id. */
enum cg_code	 ca_store_holding_list(struct ca_store *st, int status,
		    ca_holding_cb *cb, void *arg, struct cg_err *err);
/* pending -> status; CG_ECONFLICT when decided, CG_ENOTFOUND. */
enum cg_code	 ca_store_holding_decide(struct ca_store *st, int64_t id,
		    int status, const char *by, int64_t now,
		    struct cg_err *err);

/* ------------------------------------------------------- notifications */

/*
 * Expiry notifications (schema version 6, ca/ca_store_notify.c): one row
 * per notification of a holder ("identity:<name>" or "cert:<serial>") on
 * one channel ("webhook:<name>", "email:<name>"), and the lease that lets
 * one scheduler run at a time.  A run claims a row before it sends, so two
 * runs cannot both send the same notification; the row is then settled
 * as sent, failed or skipped.  Strings in a listed record are borrowed for
 * the callback.
 */
#define CA_NOTIFY_TEXT_MAX	256	/* holder, channel, lease name/owner */

struct ca_notify_rec {
	int64_t		 id;		/* row id, increasing */
	const char	*holder;	/* "identity:alice", "cert:1A2B..." */
	const char	*channel;	/* "webhook:ops", "email:owner" */
	const char	*serial;	/* the certificate that decided */
	int64_t		 not_after;	/* its notAfter, unix seconds */
	int64_t		 sent_at;	/* the run's clock, unix seconds */
	const char	*status;	/* "sending", "sent", "failed",
					   "skipped" */
	const char	*detail;	/* short text, never a secret */
};
/*
 * Claim a notification of rec->holder on rec->channel at rec->sent_at:
 * in one write transaction, unless a "sending" or "sent" row of the same
 * holder and channel has sent_at > rec->sent_at - window_s, insert a
 * "sending" row (rec's id, status and detail are ignored) and set *idp to
 * its id.  *idp is 0 when the holder was notified within the window.
 */
enum cg_code	 ca_store_notify_claim(struct ca_store *st,
		    const struct ca_notify_rec *rec, int64_t window_s,
		    int64_t *idp, struct cg_err *err);
/*
 * A claimed row ends "sent", "failed" or "skipped" with detail (cut to
 * CA_STORE_TEXT_MAX).  CG_ENOTFOUND unless row id is "sending".
 */
enum cg_code	 ca_store_notify_settle(struct ca_store *st, int64_t id,
		    const char *status, const char *detail,
		    struct cg_err *err);
/* sent_at of the newest "sending" or "sent" row of holder and channel
   into *atp, 0 when there is none. */
enum cg_code	 ca_store_notify_last(struct ca_store *st, const char *holder,
		    const char *channel, int64_t *atp, struct cg_err *err);
typedef enum cg_code ca_notify_cb(void *arg, const struct ca_notify_rec *r);
/* The newest limit rows (0: all), newest first. */
enum cg_code	 ca_store_notify_list(struct ca_store *st, size_t limit,
		    ca_notify_cb *cb, void *arg, struct cg_err *err);
/*
 * Take or renew the lease name for owner until now + ttl_s: in one
 * statement, it is taken when nobody holds it, when its holder's time ran
 * out (expires_at <= now) or when owner holds it already.  CG_ECONFLICT
 * when another owner holds it; the message names that owner and when it
 * expires.
 */
enum cg_code	 ca_store_notify_lease(struct ca_store *st, const char *name,
		    const char *owner, int64_t now, int64_t ttl_s,
		    struct cg_err *err);
/* Give the lease back if owner holds it (nothing happens otherwise). */
enum cg_code	 ca_store_notify_lease_release(struct ca_store *st,
		    const char *name, const char *owner, struct cg_err *err);

#endif /* CERTGW_STORE_H */
