/*
 * acme_validate.h - the ACME validation authority: one thread with its own
 * libevent loop that proves control of identifiers without ever blocking a
 * request handler.  http-01 (RFC 8555 §8.3) with libcurl multi, dns-01
 * (§8.4) with c-ares TXT lookups, tls-alpn-01 (RFC 8737) with a
 * non-blocking OpenSSL client offering ALPN "acme-tls/1", and CAA (RFC 8659
 * with the RFC 8657 parameters).  It knows nothing of the store or of
 * orders: the caller gets one result per job through a callback.
 */
#ifndef CERTGW_ACME_VALIDATE_H
#define CERTGW_ACME_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acme_jws.h"
#include "certgw/core.h"

#define ACME_V_NAME_MAX		253	/* DNS name bytes (no "*.") */
#define ACME_V_TOKEN_MAX	128	/* challenge token bytes */
#define ACME_V_KEYAUTH_MAX	(ACME_V_TOKEN_MAX + 1 + ACME_THUMBPRINT_LEN)
#define ACME_V_HTTP_BODY_MAX	(8 * 1024) /* http-01 response bytes read */
#define ACME_V_REDIRECTS_MAX	10	/* http-01 redirects followed */
#define ACME_V_DETAIL_MAX	256	/* bytes of a result's detail */
#define ACME_V_CAA_IDS_MAX	16	/* issuer domains to accept in CAA */
#define ACME_V_URI_MAX		512	/* account URI for RFC 8657 */
#define ACME_V_IN_FLIGHT_MAX	4096	/* jobs queued or running at once */

enum acme_vtype {
	ACME_V_HTTP01 = 0,	/* GET http://<id>:<http_port>/.well-known/ */
	ACME_V_DNS01,		/* TXT _acme-challenge.<id> */
	ACME_V_TLSALPN01,	/* TLS to <id>:<tls_alpn_port>, acme-tls/1 */
	ACME_V_CAA,		/* CAA tree climb for <id> */
	ACME_V__MAX
};

struct acme_vconf {
	uint16_t	 http_port;	/* http-01 port (80) */
	uint16_t	 tls_alpn_port;	/* tls-alpn-01 port (443) */
	const char	*resolver;	/* "ip", "ip:port", "[v6]:port"; NULL:
					   /etc/resolv.conf; copied */
	uint32_t	 timeout_ms;	/* whole job, including DNS; 0: 10 s */
	size_t		 in_flight;	/* jobs at once; more are refused;
					   0 (or more): ACME_V_IN_FLIGHT_MAX */
};

/* One validation to run.  Copied by acme_validate(). */
struct acme_vjob {
	enum acme_vtype	 type;
	bool		 ip;		/* identifier is an IP (RFC 8738) */
	char		 value[ACME_V_NAME_MAX + 1]; /* name (no "*.") or IP */
	char		 token[ACME_V_TOKEN_MAX + 1]; /* challenge token */
	char		 keyauth[ACME_V_KEYAUTH_MAX + 1]; /* token.thumbprint */
	/* ACME_V_CAA only: */
	char		 caa_ids[ACME_V_CAA_IDS_MAX][ACME_V_NAME_MAX + 1];
	size_t		 ncaa_ids;	/* issuer domains that are "us" */
	bool		 wildcard;	/* the order asked for "*.<value>" */
	char		 account_uri[ACME_V_URI_MAX + 1]; /* RFC 8657 */
	const char	*method;	/* validation method used, RFC 8657 */
};

struct acme_vresult {
	bool		 ok;		/* control proven / CAA permits */
	enum acme_problem prob;		/* when !ok: connection, dns, tls,
					   incorrectResponse, unauthorized,
					   caa, serverInternal */
	char		 detail[ACME_V_DETAIL_MAX]; /* for the problem document:
					   no peer bytes beyond a short,
					   printable excerpt */
};

/*
 * Called once per job, on the validator thread, after the job ends
 * (success, failure, timeout, or acme_validator_free()).  res is borrowed.
 */
typedef void acme_vdone_fn(void *arg, const struct acme_vresult *res);

struct acme_validator;

/*
 * Start the validator thread.  CG_EINVAL for a bad resolver address.
 * The process must ignore SIGPIPE (certgw's main does): a peer that
 * closes during a TLS handshake would otherwise kill it.
 * On CG_OK *vp is the caller's (acme_validator_free).  Main thread.
 */
enum cg_code	 acme_validator_new(const struct acme_vconf *conf,
		    struct acme_validator **vp, struct cg_err *err);
/*
 * Queue a job; any thread.  done(arg, res) runs later on the validator
 * thread, exactly once.  CG_ETOOBIG when conf->in_flight jobs are already
 * queued or running (done is then not called); CG_EINVAL for a malformed
 * job.
 */
enum cg_code	 acme_validate(struct acme_validator *v,
		    const struct acme_vjob *job, acme_vdone_fn *done, void *arg,
		    struct cg_err *err);
/* Jobs queued or running now; any thread. */
size_t		 acme_validator_in_flight(struct acme_validator *v);
/*
 * Stop the thread: jobs still running end with ok false and
 * serverInternal "validator stopped" (their done runs before this
 * returns).  NULL is fine.  Main thread.
 */
void		 acme_validator_free(struct acme_validator *v);

/*
 * The expected values, exposed for tests and for the server's
 * responses: the dns-01 TXT value (base64url SHA-256 of keyauth, 43
 * characters) and the tls-alpn-01 acmeIdentifier digest (32 bytes).
 */
void		 acme_dns01_txt(const char *keyauth, char out[44]);
void		 acme_tlsalpn01_digest(const char *keyauth, uint8_t out[32]);

/* ------------------------------------------------ pure checks (fuzzed) */

#define ACME_TLSALPN_OID	"1.3.6.1.5.5.7.1.31" /* id-pe-acmeIdentifier */
#define ACME_CAA_PARAMS_MAX	16	/* parameters kept from one value */

/*
 * Check a tls-alpn-01 certificate (RFC 8737 §3), DER bytes straight from
 * the peer: it must parse (and be all of der), carry exactly one subject
 * alternative name, a dNSName equal to value (ASCII case-insensitive) or,
 * with ip, an iPAddress equal to the address value spells (RFC 8738 §6),
 * and exactly one acmeIdentifier extension, marked critical, whose value
 * is the DER OCTET STRING of the 32 bytes of digest.  CG_OK when it
 * does; otherwise CG_EINVAL (not a certificate) or CG_EDENIED, and
 * detail (detaillen > 0) says which rule failed, without peer bytes.
 */
enum cg_code	 acme_tlsalpn01_check_cert(const uint8_t *der, size_t len,
		    const char *value, bool ip, const uint8_t digest[32],
		    char *detail, size_t detaillen);

/* An "issue" or "issuewild" property value (RFC 8659 §4.2, RFC 8657). */
struct acme_caa_issue {
	char		 issuer[ACME_V_NAME_MAX + 1]; /* "" forbids everyone */
	size_t		 nparams;
	struct {
		char	 tag[32];
		char	 value[ACME_V_URI_MAX + 1];
	}		 params[ACME_CAA_PARAMS_MAX];
};

/*
 * Parse an issue value of len bytes (untrusted, not NUL-terminated):
 * optional issuer domain name, then ";" and tag=value parameters, with
 * optional blanks around each part.  false for anything the grammar does
 * not allow (or that passes the limits above): such a record never
 * grants issuance.
 */
bool		 acme_caa_parse_issue(const uint8_t *val, size_t len,
		    struct acme_caa_issue *out);

/* One CAA resource record of the relevant RRset. */
struct acme_caa_rr {
	uint8_t		 flags;		/* bit 0x80: issuer critical */
	const char	*tag;		/* NUL-terminated */
	const uint8_t	*value;
	size_t		 len;
};

/*
 * Decide on the relevant RRset rrs (found at domain) for job (RFC 8659
 * §4, with issuewild for job->wildcard when the set has any, and the
 * RFC 8657 "accounturi" and "validationmethods" parameters): true when
 * issuance is allowed.  On false, detail names domain and the reason.
 */
bool		 acme_caa_permits(const struct acme_caa_rr *rrs, size_t n,
		    const char *domain, const struct acme_vjob *job,
		    char *detail, size_t detaillen);

#endif /* CERTGW_ACME_VALIDATE_H */
