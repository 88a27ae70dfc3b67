/*
 * est_int.h - private to protocols/est/: the operation table, the wire
 * encoders (PKCS#7 certs-only, CsrAttrs, multipart/mixed, wrapped base64),
 * path parsing, client authentication and the request context the
 * handlers share.  The public face is include/certgw/est.h.
 */
#ifndef CERTGW_EST_INT_H
#define CERTGW_EST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "certgw/est.h"

#define EST_B64_LINE		64	/* base64 columns in responses */
#define EST_BOUNDARY_MAX	64	/* multipart boundary bytes */
#define EST_USER_MAX		128	/* Basic user name bytes */
#define EST_AUTHZ_MAX		(4 * (CG_PASSWD_MAX + EST_USER_MAX) / 3 + 16)
#define EST_BINDING_MAX		64	/* channel binding bytes */
#define EST_CHALLENGE_MAX	256	/* challengePassword bytes */
#define EST_REPLY_MAX		(512 * 1024)	/* a response body */
#define EST_AUTH_CACHE_N	8	/* Basic successes kept per thread */
#define EST_HMAC_LEN		32	/* HMAC-SHA256 output */
#define EST_CHAIN_MAX		16	/* certificates in /cacerts */

enum est_op {
	EST_OP_CACERTS = 0,
	EST_OP_SIMPLEENROLL,
	EST_OP_SIMPLEREENROLL,
	EST_OP_SERVERKEYGEN,
	EST_OP_CSRATTRS,
	EST_OP__MAX
};

/* How the client authenticated. */
enum est_who_kind {
	EST_WHO_NONE = 0,
	EST_WHO_BASIC,
	EST_WHO_CERT,
	EST_WHO__MAX
};

struct est_who {
	enum est_who_kind kind;		/* none, Basic or certificate */
	char		 requester[CA_REQUESTER_MAX]; /* "est:basic:<user>" ... */
};

/* One request as the handlers see it; everything borrowed. */
struct est_call {
	struct gw_req		*req;		/* the HTTP request */
	const struct gw_config	*conf;		/* its config snapshot */
	const struct gw_est_label *label;	/* the label addressed */
	const struct ca_profile	*profile;	/* the label's profile */
	enum est_op		 op;		/* the operation */
	struct est_who		 who;		/* after authentication */
	X509			*renew;		/* simplereenroll: the client
						   certificate being renewed */
	struct gw_cert_check	 chk;		/* the client certificate */
	bool			 cert_refused;	/* answer with chk's reason */
};

/* ------------------------------------------------------------ wire */

/*
 * Split the part of a path after EST_PATH_PREFIX into a label ("default"
 * when there is none) and an operation: "<op>" or "<label>/<op>".
 * CG_ENOTFOUND for an unknown operation or a malformed path.
 */
enum cg_code	 est_path_parse(const char *rest, char label[EST_LABEL_MAX],
		    enum est_op *opp, struct cg_err *err);
const char	*est_op_name(enum est_op op);

/* DER PKCS#7 SignedData, certs-only (RFC 7030 §4.1.3); *derp cg_free. */
enum cg_code	 est_p7_certs(X509 *const *certs, size_t n, uint8_t **derp,
		    size_t *lenp, struct cg_err *err);
/* The same from the certificates' DER. */
enum cg_code	 est_p7_certs_der(const uint8_t *const *ders,
		    const size_t *lens, size_t n, uint8_t **derp, size_t *lenp,
		    struct cg_err *err);
/* Append base64 of in to out, CRLF after every EST_B64_LINE columns. */
enum cg_code	 est_b64_wrap(const uint8_t *in, size_t len, struct cg_buf *out,
		    struct cg_err *err);
/*
 * DER CsrAttrs (RFC 7030 §4.5.2) asking for what profile p wants: the key
 * type, challengePassword when tls_unique, extensionRequest when SANs are
 * taken, and the signature algorithm.  *lenp 0 and *derp NULL when there
 * is nothing to ask.  *derp is the caller's (cg_free).
 */
enum cg_code	 est_csrattrs_encode(const struct ca_profile *p,
		    bool tls_unique, uint8_t **derp, size_t *lenp,
		    struct cg_err *err);
/*
 * The serverkeygen body (RFC 7030 §4.4.2): part one the PKCS#8 key, part
 * two the certs-only PKCS#7, both base64, separated by boundary.  out must
 * be wiped by the caller (cg_buf_cleanup_secret): it holds the key.
 */
enum cg_code	 est_multipart_build(const uint8_t *key, size_t klen,
		    const uint8_t *p7, size_t plen, const char *boundary,
		    struct cg_buf *out, struct cg_err *err);

/* ------------------------------------------------------------ auth */

/*
 * Authenticate the client for call->label (certificate and/or Basic, as
 * the label says) and fill call->who.  CG_EAUTH (401) when credentials are
 * missing or wrong, CG_EDENIED (403) when they are refused.
 */
enum cg_code	 est_auth_check(struct est_call *call, struct cg_err *err);
/*
 * The client certificate when it is good (against the label's client CA
 * when it has one, else the listener's trust), or NULL; call->chk says
 * why not.
 */
X509		*est_auth_peer_cert(struct est_call *call);

/* ---------------------------------------------------------- handlers */

/*
 * simplereenroll (RFC 7030 §4.2.2): the TLS client certificate must have
 * verified and be one this CA issued, still valid and not revoked; sets
 * call->renew.  CG_EDENIED otherwise.
 */
enum cg_code	 est_renew_cert_check(struct est_call *call,
		    struct cg_err *err);
/* The operations; each replies on CG_OK and leaves failures to the caller. */
enum cg_code	 est_op_cacerts(struct est_call *call, struct cg_err *err);
enum cg_code	 est_op_csrattrs(struct est_call *call, struct cg_err *err);
enum cg_code	 est_op_enroll(struct est_call *call, struct cg_err *err);
enum cg_code	 est_op_serverkeygen(struct est_call *call,
		    struct cg_err *err);
/* Reply with the status that err maps to (and log server errors). */
void		 est_reply_error(struct est_call *call, const struct cg_err *err);

#endif /* CERTGW_EST_INT_H */
