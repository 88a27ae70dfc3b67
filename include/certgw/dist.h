/*
 * dist.h - distribution of issued certificates: the pure core.  Which
 * rules match a certificate, the self-contained job written to the outbox
 * in the issuance transaction (and later relayed to a Redis stream), the
 * outbox hook that writes those jobs, the push URL built from a rule's
 * template and the request body a rule sends.  Nothing here talks to Redis
 * or to the network; the relay and the push workers build on this.
 *
 * Threads: a struct dist_rules is immutable after dist_rules_new() and may
 * be shared by every thread; a struct dist_job belongs to one thread.
 */
#ifndef CERTGW_DIST_H
#define CERTGW_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "certgw/ca.h"
#include "certgw/config.h"
#include "certgw/core.h"
#include "certgw/store.h"

#define DIST_JOB_VERSION	1	/* "v" of the jobs this build writes */
#define DIST_RULE_NAME_MAX	64	/* [A-Za-z0-9_.-]{1,64}, as in config */
#define DIST_SERIAL_MAX		40	/* hex digits of a serial (160 bits) */
#define DIST_TEXT_MAX		256	/* profile, protocol, requester */
#define DIST_SUBJECT_MAX	4096	/* subject, RFC 2253 text */
#define DIST_SANS_MAX		CA_SAN_MAX	/* SAN entries in a job */
#define DIST_SAN_VALUE_MAX	1024	/* one "TYPE:value" SAN entry */
#define DIST_CHAIN_MAX		8	/* certificates in "chain" */
#define DIST_DER_MAX		(32 * 1024)	/* one certificate, DER */
#define DIST_ERROR_MAX		1024	/* "last_error" */
#define DIST_ATTEMPT_MAX	1000000	/* "attempt" */
#define DIST_TIME_MAX		INT64_C(253402300799)	/* 9999-12-31 */
#define DIST_URL_MAX		4096	/* an expanded push URL */
#define DIST_ID_MAX		(DIST_SERIAL_MAX + DIST_RULE_NAME_MAX + 12)

/* ------------------------------------------------------------------ jobs */

/* One certificate as DER. */
struct dist_der {
	uint8_t		*der;		/* owned */
	size_t		 len;		/* bytes in der */
};

/*
 * A distribution job: everything a push worker needs, so a worker on
 * another machine never reads the store.  As JSON (one outbox row, then
 * one Redis stream entry):
 *
 *   {"v":1, "id":"<serial>.<rule>.<n>", "rule", "serial",
 *    "cert": base64 DER of the leaf, "chain": [base64 DER, issuing CA
 *    first, up to the root], "subject": RFC 2253, "sans": ["DNS:a",
 *    "IP:1.2.3.4", ...], "not_before", "not_after" (unix seconds),
 *    "profile", "protocol", "requester", "issued_at" (unix seconds),
 *    "attempt" (0 at creation), "created_at" (unix seconds),
 *    "last_error" (only after a failed attempt)}
 *
 * "id" is the Idempotency-Key a receiver uses to drop duplicates: made of
 * the serial, the rule and a redelivery counter n (0 for the job written
 * at issuance, n for the n-th time an operator sends the certificate
 * again), it stays the same across retries of one delivery and differs
 * between certificates, rules and redeliveries.  A rule name may contain
 * '.', so read the parts from "serial" and "rule", not by splitting "id".
 *
 * Unknown keys are refused: a job with new fields carries a new "v".
 */
struct dist_job {
	char		*id;		/* "<serial>.<rule>.<redelivery>" */
	char		*rule;		/* rule name */
	char		*serial;	/* upper-case hex, no leading zero */
	uint32_t	 redelivery;	/* n in the id */
	struct dist_der	 cert;		/* the leaf */
	struct dist_der	*chain;		/* issuing CA first; may be empty */
	size_t		 nchain;	/* entries in chain */
	char		*subject;	/* RFC 2253, "" when empty */
	char		**sans;		/* "TYPE:value" (DNS, IP, email, URI) */
	size_t		 nsans;		/* entries in sans */
	int64_t		 not_before;	/* unix seconds */
	int64_t		 not_after;	/* unix seconds */
	char		*profile;	/* profile name */
	char		*protocol;	/* "est", "cli", ... */
	char		*requester;	/* who asked; may be "" */
	int64_t		 issued_at;	/* unix seconds */
	uint32_t	 attempt;	/* failed deliveries so far */
	int64_t		 created_at;	/* when the job was made */
	char		*last_error;	/* last failure, or NULL */
};

/*
 * Build the job of one certificate for one rule from its store record and
 * the issuing CA chain (ca_get0_chain(); may be NULL), as a struct
 * (dist_job_from_rec) or straight as JSON (dist_job_make).  now becomes
 * "created_at".  The job is checked against the same limits
 * dist_job_parse() applies, so nothing unreadable is ever queued: a
 * certificate whose job would be refused is an error here (CG_EINVAL,
 * CG_ETOOBIG when the JSON would exceed CA_STORE_PAYLOAD_MAX).  *jobp is
 * the caller's (dist_job_free); *jsonp too (cg_free).
 */
enum cg_code	 dist_job_from_rec(const struct ca_cert_rec *rec,
		    STACK_OF(X509) *chain, const char *rule,
		    unsigned redelivery, int64_t now, struct dist_job **jobp,
		    struct cg_err *err);
enum cg_code	 dist_job_make(const struct ca_cert_rec *rec,
		    STACK_OF(X509) *chain, const char *rule,
		    unsigned redelivery, int64_t now, char **jsonp,
		    struct cg_err *err);

/*
 * Parse a job read back from the outbox or from Redis: untrusted bytes
 * (json need not be NUL-terminated).  Strict: every key above is
 * required (except "last_error"), with its type and bounds; no other key;
 * "v" must be DIST_JOB_VERSION; "id" must be built from "serial", "rule"
 * and a counter; "cert" and every "chain" entry must be base64 of exactly
 * one X509 certificate, and the leaf's serial number must equal "serial";
 * at most CA_STORE_PAYLOAD_MAX bytes.  CG_EINVAL (CG_ETOOBIG for size)
 * with a message that names the field.  *jobp is the caller's.
 */
enum cg_code	 dist_job_parse(const char *json, size_t len,
		    struct dist_job **jobp, struct cg_err *err);
void		 dist_job_free(struct dist_job *job);

/*
 * Serialize a job (compact JSON, keys in the order above).  Checks the
 * same limits as dist_job_parse(), except that the certificates are not
 * decoded again.  *jsonp is the caller's (cg_free).
 */
enum cg_code	 dist_job_to_json(const struct dist_job *job, char **jsonp,
		    struct cg_err *err);

/*
 * Point the job at another rule: sets "rule" and rebuilds "id".  Lets one
 * job built from a record serve every matching rule.
 */
enum cg_code	 dist_job_set_rule(struct dist_job *job, const char *rule,
		    struct cg_err *err);

/*
 * A delivery failed: count the attempt, remember why (bytes outside
 * printable ASCII become '?', cut to DIST_ERROR_MAX; never put a secret
 * here, it travels with the job) and serialize the job for requeueing.
 * "id" does not change.  CG_ETOOBIG past DIST_ATTEMPT_MAX attempts.
 */
enum cg_code	 dist_job_retry(struct dist_job *job, const char *last_error,
		    char **jsonp, struct cg_err *err);

/* ------------------------------------------------------------ matching */

struct dist_rules;

/*
 * Compile the rules of conf (each san_regex once, POSIX ERE, case
 * sensitive).  The rules are borrowed: conf must outlive the result.
 * CG_EINVAL naming the rule for a regex that does not compile.
 * *rulesp is the caller's (dist_rules_free).
 */
enum cg_code	 dist_rules_new(const struct gw_dist_conf *conf,
		    struct dist_rules **rulesp, struct cg_err *err);
void		 dist_rules_free(struct dist_rules *rules);
/* Number of rules, and rule i (borrowed from the config). */
size_t		 dist_rules_count(const struct dist_rules *rules);
const struct gw_dist_rule *dist_rules_get0(const struct dist_rules *rules,
		    size_t i);

/*
 * Whether rule i matches rec: its profile is in "profiles" (when given),
 * its protocol in "protocols" (when given), and "san_regex" (when given)
 * matches some SAN value (the text after "DNS:", "IP:", "email:", "URI:")
 * or, for a certificate without SANs, some CN of the subject.
 */
bool		 dist_rule_matches(const struct dist_rules *rules, size_t i,
		    const struct ca_cert_rec *rec);

/* Called once per matching rule, in config order; an error stops. */
typedef enum cg_code dist_match_fn(void *arg,
		    const struct gw_dist_rule *rule, struct cg_err *err);
enum cg_code	 dist_rules_match(const struct dist_rules *rules,
		    const struct ca_cert_rec *rec, dist_match_fn *fn, void *arg,
		    struct cg_err *err);

/*
 * Split the store's SAN text ("DNS:a,IP:1.2.3.4,email:x") into entries.
 * A piece without a known "TYPE:" prefix continues the previous entry (a
 * ',' inside a URI or an email address).  *vp (cg_free each and the
 * array) is NULL and *np 0 for "".  CG_EINVAL for text that does not
 * start with a type, CG_ETOOBIG past DIST_SANS_MAX entries.
 */
enum cg_code	 dist_sans_split(const char *sans, char ***vp, size_t *np,
		    struct cg_err *err);
/* The value of one "TYPE:value" entry (the whole entry if no type). */
const char	*dist_san_value(const char *entry);

/* ------------------------------------------------------------ the hook */

/* What dist_outbox_hook() needs; both borrowed, and must outlive the CA. */
struct dist_hook {
	const struct dist_rules	*rules;
	const struct ca		*ca;	/* for the issuing chain */
};

/*
 * The ca_outbox_fn of distribution (ca_set_outbox_hook(ca, dist_outbox_hook,
 * &hook)): inside the issuance transaction, one outbox row per matching
 * rule, holding that rule's job (redelivery 0).  An error aborts the
 * issuance, so a certificate is never recorded without its jobs.
 */
enum cg_code	 dist_outbox_hook(void *arg, struct ca_store *st,
		    const struct ca_cert_rec *rec, struct cg_err *err);

/* ---------------------------------------------------------------- URLs */

/*
 * Expand a rule's URL template for a job.  {serial}, {profile} and {rule}
 * come from the job and win over "vars"; any other {name} comes from
 * "vars".  Every value is percent-encoded (only RFC 3986 unreserved
 * characters stay as they are, so a '/' in a value cannot add a segment).
 * In the path, a segment that is exactly "/{name}", with name a var that
 * is absent or empty, disappears with its '/':
 * "https://h/register/{template}/{process}?tenantId={tenant}" with
 * template=DeviceCert, tenant=acme and no process gives
 * "https://h/register/DeviceCert?tenantId=acme".  Anywhere else an absent
 * var is an error naming it (an empty one expands to nothing), as are an
 * unclosed '{', a stray '}' and a bad name.  At most DIST_URL_MAX bytes
 * (CG_ETOOBIG).  *urlp is the caller's (cg_free).
 */
enum cg_code	 dist_url_expand(const struct gw_dist_rule *rule,
		    const struct dist_job *job, char **urlp,
		    struct cg_err *err);

/* ------------------------------------------------------------ payloads */

/*
 * The request body a rule sends, appended to out (initialised by the
 * caller, whose max bounds it), and its Content-Type (the rule's, or
 * dist_payload_default_type() when the rule has none; static or borrowed
 * from the rule).  By payload and encoding:
 *
 *   cert  base64  base64 of the leaf's DER, one line, no newline
 *   cert  der     the leaf's DER
 *   cert  pem     the leaf as one PEM block
 *   chain base64  one line per certificate, base64 of its DER: the leaf,
 *                 then the issuing CA chain; lines joined by "\n", no
 *                 newline after the last
 *   chain der     refused (CG_EINVAL): DER holds one certificate
 *   chain pem     PEM blocks: the leaf, then the issuing CA chain
 *   json  any     {"serial", "subject", "sans": ["DNS:a", ...],
 *                 "not_before", "not_after" (RFC 3339 UTC), "profile",
 *                 "protocol", "requester", "pem": the leaf as PEM,
 *                 "chain_pem": the issuing CA chain as PEM ("" if none)};
 *                 the encoding does not apply
 */
enum cg_code	 dist_payload_build(const struct gw_dist_rule *rule,
		    const struct dist_job *job, struct cg_buf *out,
		    const char **content_type, struct cg_err *err);
/*
 * The Content-Type for a payload and encoding when a rule names none, as
 * the config loader fills it in: "application/json" for json,
 * "application/x-pem-file" for pem, "application/pkix-cert" for der and
 * base64; NULL for chain/der and out-of-range values.
 */
const char	*dist_payload_default_type(enum gw_dist_payload payload,
		    enum gw_dist_encoding encoding);

#endif /* CERTGW_DIST_H */
