/*
 * acme_int.h - what the ACME server's files share: the server state, the
 * per-request call, the resource table, replies, authentication and the
 * JSON views of the store's records.  Private to protocols/acme/.
 */
#ifndef CERTGW_ACME_INT_H
#define CERTGW_ACME_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "acme_jws.h"
#include "acme_nonce.h"
#include "acme_validate.h"
#include "certgw/acme.h"
#include "certgw/ca.h"
#include "certgw/config.h"
#include "certgw/core.h"
#include "certgw/gw.h"
#include "certgw/store.h"

#define ACME_ID_BYTES		16	/* random bytes in an object id */
#define ACME_TOKEN_BYTES	32	/* random bytes in a challenge token */
#define ACME_ARG_MAX		256	/* path argument (renewal-info id) */
#define ACME_HOST_MAX		255	/* Host header used for URLs */
#define ACME_IDENTIFIERS_MAX	CA_SAN_MAX /* identifiers in one order */
#define ACME_CONTACTS_MAX	8	/* contact URLs of an account */
#define ACME_CONTACT_MAX	320	/* bytes of one contact URL */
#define ACME_ORDERS_PAGE	100	/* order URLs per orders-list page */
#define ACME_REPLAY_MAX		(1u << 20) /* nonces remembered as used */
#define ACME_CT_JOSE		"application/jose+json"
#define ACME_CT_JSON		"application/json"
#define ACME_CT_PROBLEM		"application/problem+json"
#define ACME_CT_PEM_CHAIN	"application/pem-certificate-chain"

/* The resources under a directory's URL prefix. */
enum acme_res {
	ACME_R_DIRECTORY = 0,	/* directory */
	ACME_R_NEW_NONCE,	/* new-nonce */
	ACME_R_NEW_ACCOUNT,	/* new-account */
	ACME_R_NEW_ORDER,	/* new-order */
	ACME_R_REVOKE,		/* revoke-cert */
	ACME_R_KEY_CHANGE,	/* key-change */
	ACME_R_RENEWAL_INFO,	/* renewal-info/<certid> */
	ACME_R_ACCOUNT,		/* acct/<id> */
	ACME_R_ACCOUNT_ORDERS,	/* acct/<id>/orders */
	ACME_R_ORDER,		/* order/<id> */
	ACME_R_FINALIZE,	/* order/<id>/finalize */
	ACME_R_AUTHZ,		/* authz/<id> */
	ACME_R_CHALL,		/* chall/<id> */
	ACME_R_CERT,		/* cert/<order id> */
	ACME_R__MAX
};

/* What acme_path_parse() finds below /acme/. */
struct acme_path {
	char		 dir[CA_ACME_ID_MAX + 1]; /* "" for the default */
	enum acme_res	 res;			/* the resource */
	char		 arg[ACME_ARG_MAX + 1];	/* its id, or "" */
};

/*
 * Parse the path below "/acme/" (NUL-terminated, untrusted):
 * "[<directory>/]<resource>[/<id>[/<sub>]]".  Ids are base64url letters
 * and '.', at most CA_ACME_ID_MAX (ACME_ARG_MAX for renewal-info).
 * False when the path names no resource.  Pure; any thread.
 */
bool		 acme_path_parse(const char *rest, struct acme_path *out);
/* The resource's first path segment ("new-order"); "?" when unknown. */
const char	*acme_res_name(enum acme_res r);

#define ACME_AKI_MAX		64	/* key identifier bytes in a certID */
#define ACME_SERIAL_DER_MAX	(CA_SERIAL_BYTES + 1) /* serial bytes */
/*
 * Split an RFC 9773 certID ("<b64url AKI keyIdentifier>.<b64url serial
 * DER content>", len bytes, untrusted) into its two byte strings.
 * CG_EINVAL when it is not one.  Pure.
 */
enum cg_code	 acme_certid_decode(const char *s, size_t len,
		    uint8_t aki[ACME_AKI_MAX], size_t *akilenp,
		    uint8_t serial[ACME_SERIAL_DER_MAX], size_t *serlenp);

struct acme_server {
	struct gw_server	*gw;		/* the gateway we serve in */
	struct acme_nonces	*nonces;	/* shared by the loop threads */
	struct acme_validator	*validator;	/* the validation thread */
	struct ca_store		*vstore;	/* its store handle: validator
						   thread only */
	char			*store_path;	/* to open vstore */
	uint32_t		 vtimeout_ms;	/* a validation's time limit */
	volatile bool		 stopping;	/* set before the validator
						   stops: results not kept */
	pthread_mutex_t		 chain_lock;	/* guards the two below */
	char			*chain_pem;	/* issuers sent after a leaf;
						   made once, then read-only */
	size_t			 chain_pem_len;	/* bytes in chain_pem */
};

/*
 * Make as->chain_pem from ca once (any loop thread; the first caller
 * builds it under chain_lock; the server has one CA).  After CG_OK it
 * stays as it is until acme_server_free().
 */
enum cg_code	 acme_chain_pem_get(struct acme_server *as, const struct ca *ca,
		    struct cg_err *err);

/* One request, from dispatch to reply. */
struct acme_call {
	struct gw_req		*req;		/* the gateway's request */
	struct acme_server	*as;		/* server state */
	const struct gw_config	*conf;		/* snapshot for this request */
	const struct gw_acme_dir *dir;		/* the directory addressed */
	enum acme_res		 res;		/* resource addressed */
	char			 arg[ACME_ARG_MAX + 1]; /* id from the path */
	char			 base[ACME_URL_MAX]; /* directory URL prefix */
	char			 url[ACME_URL_MAX]; /* this request's URL */
	struct acme_jws		*jws;		/* parsed JWS, POST only */
	EVP_PKEY		*key;		/* the key that signed it */
	struct ca_acme_account	*acct;		/* "kid" account, or NULL */
	json_t			*payload;	/* object; NULL: POST-as-GET */
	int64_t			 now;		/* unix seconds at dispatch */
	enum acme_problem	 prob;		/* problem type of an error */
	int			 status;	/* HTTP status of an error when
						   not the problem's (405, 415) */
	uint32_t		 retry_after;	/* Retry-After of an error, s */
	char			 ip[64];	/* client address, no port */
};

typedef enum cg_code acme_op_fn(struct acme_call *call, struct cg_err *err);

/* Handlers: each replies on CG_OK (now or, for finalize, later). */
acme_op_fn	 acme_op_new_account;
acme_op_fn	 acme_op_account;
acme_op_fn	 acme_op_account_orders;
acme_op_fn	 acme_op_key_change;
acme_op_fn	 acme_op_new_order;
acme_op_fn	 acme_op_order;
acme_op_fn	 acme_op_finalize;
acme_op_fn	 acme_op_cert;
acme_op_fn	 acme_op_authz;
acme_op_fn	 acme_op_chall;
acme_op_fn	 acme_op_revoke;
acme_op_fn	 acme_op_renewal_info;

/* ---------------------------------------------------------- replies */

/*
 * Reply with obj (serialized compactly; not stolen), status, and a
 * Location header when location is not NULL; adds Replay-Nonce and the
 * directory Link.  Returns CG_OK, or an error (nothing sent) when obj
 * cannot be serialized.
 */
enum cg_code	 acme_reply_json(struct acme_call *call, int status,
		    const json_t *obj, const char *location, struct cg_err *err);
/* The same for a body of another type (certificate chain). */
void		 acme_reply_body(struct acme_call *call, int status,
		    const char *ctype, const void *body, size_t len);
/* The problem document for err, with a fresh nonce; logs the refusal. */
void		 acme_reply_error(struct acme_call *call,
		    const struct cg_err *err);
/* Retry-After: the directory's retry_after_s (when not 0). */
void		 acme_set_retry_after(struct acme_call *call);
/* Problem document JSON for an error (new reference). */
json_t		*acme_problem_json(enum acme_problem p, const char *detail);
/* The problem an error maps to: err->proto when set, else by code. */
enum acme_problem acme_problem_of(const struct cg_err *err);

/*
 * The URL of a resource of this call's directory: base + "/" + what
 * (printf format).  Truncation is an internal error.
 */
enum cg_code	 acme_url(const struct acme_call *call, char *out,
		    size_t outlen, struct cg_err *err, const char *fmt, ...)
		    __attribute__((format(printf, 5, 6)));

/* ------------------------------------------------------ authentication */

/*
 * Parse and verify the request's JWS in mode: url header equal to the
 * request URL, the signer's key ("jwk", or the "kid" account's, which must
 * be of this directory and valid), the signature, and only then the nonce
 * (used up).  Fills call->jws, key, acct (kid) and payload.
 */
enum cg_code	 acme_auth(struct acme_call *call, enum acme_jws_mode mode,
		    struct cg_err *err);
/* The account URL prefix check: is kid an account URL of this directory? */
bool		 acme_kid_to_id(const struct acme_call *call, const char *kid,
		    char id[CA_ACME_ID_MAX + 1]);

/* ------------------------------------------------------------- helpers */

/* The client's address without the port (for rate limits). */
const char	*acme_peer_ip(struct acme_call *call);
/* A fresh random id (base64url of ACME_ID_BYTES), NUL-terminated. */
enum cg_code	 acme_id_new(char out[CA_ACME_ID_MAX + 1], size_t nbytes,
		    struct cg_err *err);
/* RFC 3339 time as a JSON string (new reference, or NULL). */
json_t		*acme_time_json(int64_t t);
/* A JSON text of at most CA_ACME_JSON_MAX bytes as an object/array. */
json_t		*acme_json_load(const char *text);
/* Compact JSON text (cg_malloc), or NULL. */
char		*acme_json_dump(const json_t *v);

/* JSON views of the records (new references, or NULL on memory). */
json_t		*acme_account_json(const struct acme_call *call,
		    const struct ca_acme_account *a);
json_t		*acme_order_json(const struct acme_call *call,
		    const struct ca_acme_order *o);
json_t		*acme_authz_json(const struct acme_call *call,
		    const struct ca_acme_authz *a);
json_t		*acme_chall_json(const struct acme_call *call,
		    const struct ca_acme_chall *c);

/*
 * Bring an order's stored status up to date from its authorizations
 * (pending -> ready or invalid), its expiry, and, when manual approval
 * holds it in processing, the pending row's decision.  Writes the change.
 */
enum cg_code	 acme_order_refresh(struct acme_call *call,
		    struct ca_acme_order *o, struct cg_err *err);

/* Load call->arg's order, owned by the signer, and refresh it. */
enum cg_code	 acme_order_load(struct acme_call *call,
		    struct ca_acme_order **op, struct cg_err *err);
/* 200 with the order (Retry-After while pending or processing). */
enum cg_code	 acme_order_reply(struct acme_call *call,
		    const struct ca_acme_order *o, struct cg_err *err);
/*
 * RFC 9773 §5: the newOrder "replaces" member, when present, checked
 * (a certificate of this CA issued to the same account, not replaced by
 * another live order) and its serial put in serial ("" when absent).
 */
enum cg_code	 acme_ari_replaces(struct acme_call *call,
		    char serial[CA_SERIAL_HEX_MAX], struct cg_err *err);

/* The RFC 9773 certID of our certificate with this serial (hex). */
enum cg_code	 acme_ari_certid(const struct acme_call *call,
		    const char *serial, char *out, size_t outlen,
		    struct cg_err *err);

/* Start validating challenge c of authorization a (status processing). */
enum cg_code	 acme_validation_start(struct acme_call *call,
		    const struct ca_acme_authz *a, const struct ca_acme_chall *c,
		    struct cg_err *err);

#endif /* CERTGW_ACME_INT_H */
