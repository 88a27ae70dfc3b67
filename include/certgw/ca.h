/*
 * ca.h - the CA core: profiles and policy, CSR parsing, the one issuance
 * function every protocol and the CLI call, revocation, CRLs, and the key
 * and certificate generation behind `certgw init`.  The issuing private key
 * is loaded and used only by ca/ca_signer.c.  Records go through store.h.
 *
 * Threads: a struct ca is immutable after ca_open() and may be shared by
 * every loop thread; each thread passes its own struct ca_store.
 */
#ifndef CERTGW_CA_H
#define CERTGW_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certgw/core.h"

struct ca_store;
struct ca_cert_rec;

#define CA_CSR_MAX		(16 * 1024)	/* DER bytes accepted */
#define CA_CSR_PEM_MAX		(32 * 1024)	/* PEM file bytes accepted */
#define CA_SAN_MAX		100		/* SAN entries per request */
#define CA_NAME_MAX		255		/* one DNS name / SAN value */
#define CA_SUBJECT_MAX		1024		/* subject as RFC 2253 text */
#define CA_SERIAL_BYTES		20		/* random serial length */
#define CA_SERIAL_HEX_MAX	(2 * CA_SERIAL_BYTES + 1)
#define CA_VALIDITY_DAYS_MAX	(100 * 366)
#define CA_CERT_PEM_MAX		(256 * 1024)	/* a chain file */
#define CA_REQUESTER_MAX	256		/* requester / protocol chars */

/* ------------------------------------------------------------ profiles */

enum ca_key_type {
	CA_KEY_EC_P256 = 0,
	CA_KEY_EC_P384,
	CA_KEY_EC_P521,
	CA_KEY_RSA,
	CA_KEY_ED25519,
	CA_KEY__MAX
};

/* X.509 KeyUsage bits we allow a profile to set. */
#define CA_KU_DIGITAL_SIGNATURE		0x01
#define CA_KU_CONTENT_COMMITMENT	0x02
#define CA_KU_KEY_ENCIPHERMENT		0x04
#define CA_KU_DATA_ENCIPHERMENT		0x08
#define CA_KU_KEY_AGREEMENT		0x10

/* ExtendedKeyUsage purposes. */
#define CA_EKU_SERVER_AUTH	0x01
#define CA_EKU_CLIENT_AUTH	0x02
#define CA_EKU_CODE_SIGNING	0x04
#define CA_EKU_EMAIL_PROTECTION	0x08
#define CA_EKU_TIME_STAMPING	0x10
#define CA_EKU_OCSP_SIGNING	0x20

/* SAN types. */
#define CA_SAN_DNS	0x01
#define CA_SAN_IP	0x02
#define CA_SAN_EMAIL	0x04
#define CA_SAN_URI	0x08

struct ca_strlist {
	char		**v;		/* owned strings */
	size_t		  n;		/* number of entries */
};

/*
 * A profile: what a certificate issued under this name may and must hold.
 * Plain data filled by the config loader (gateway/) with the ca_*_parse()
 * helpers below, so names live in one place.  Owned by whoever filled it;
 * release with ca_profile_cleanup().
 */
struct ca_profile {
	char		*name;		/* profile name, e.g. "server" */
	uint32_t	 validity_days;	/* notAfter - notBefore */
	uint32_t	 key_types;	/* bit (1u << enum ca_key_type) allowed */
	uint32_t	 rsa_min_bits;	/* smallest RSA modulus accepted */
	uint32_t	 key_usage;	/* CA_KU_* set in issued certificates */
	uint32_t	 ext_key_usage;	/* CA_EKU_* set in issued certificates */
	uint32_t	 san_types;	/* CA_SAN_* a request may carry */
	bool		 san_required;	/* at least one SAN must be present */
	struct ca_strlist dns_patterns;	/* empty: any syntactically valid name */
	struct ca_strlist ip_networks;	/* CIDRs; empty: any address */
	struct ca_strlist email_patterns; /* "*@corp.example"; empty: any */
	struct ca_strlist subject_allowed; /* attribute short names (CN, O, ...) */
	struct ca_strlist subject_required; /* must be present in the CSR */
	struct ca_strlist crl_urls;	/* extra CRL distribution points */
	struct ca_strlist ocsp_urls;	/* AIA OCSP */
	struct ca_strlist ca_issuers_urls; /* AIA caIssuers */
	bool		 manual_approval; /* "approval": "manual" (EST, SCEP) */
	bool		 reenroll_allow_changes; /* renewal may change subject/SANs */
	uint32_t	 renew_before_days; /* renewal window; 0: the default */
	/* "notify": expiry notifications (gateway/gw_notify.c) */
	uint32_t	 notify_days_before; /* due from not_after minus this;
					   0: no notifications */
	uint32_t	 notify_every_days; /* once per holder and channel per
					   this many days */
	struct ca_strlist notify_channels; /* "webhook:<name>",
					   "email:<name>" */
};

void		 ca_strlist_cleanup(struct ca_strlist *l);
/* Append a copy of s. */
enum cg_code	 ca_strlist_add(struct ca_strlist *l, const char *s,
		    struct cg_err *err);
void		 ca_profile_cleanup(struct ca_profile *p);
/*
 * The renewal window (ca/ca_profile.c), the one rule behind the
 * "update-needed" status of `certgw cert list|show` and the start of the
 * ACME renewal-info window, so the two always agree.  A certificate of
 * profile p is due from not_after minus p->renew_before_days; without
 * that (0) or without a profile (NULL: no longer configured) from
 * not_after minus a third of the lifetime (p->validity_days, else
 * not_after - not_before), at least one day.  Never before not_before.
 */
uint32_t	 ca_profile_renew_before_days(const struct ca_profile *p,
		    int64_t not_before, int64_t not_after);
int64_t		 ca_profile_renew_start(const struct ca_profile *p,
		    int64_t not_before, int64_t not_after);
/*
 * A recorded certificate's status word at now, the same for the CLI and
 * the admin API: "revoked", "expired", "update-needed" (inside the
 * renewal window of p, its profile or NULL) or "valid".
 */
struct ca_cert_rec;
const char	*ca_cert_status_word(const struct ca_profile *p,
		    const struct ca_cert_rec *r, int64_t now);

/*
 * Name parsers shared with the config loader: "ec-p256", "ec-p384",
 * "ec-p521", "rsa", "ed25519"; "digitalSignature", "keyEncipherment", ...;
 * "serverAuth", "clientAuth", ...; "dns", "ip", "email", "uri".  Each
 * returns false for an unknown name.
 */
bool		 ca_key_type_parse(const char *s, enum ca_key_type *out);
const char	*ca_key_type_name(enum ca_key_type t);
bool		 ca_ku_parse(const char *s, uint32_t *bit);
bool		 ca_eku_parse(const char *s, uint32_t *bit);
bool		 ca_san_type_parse(const char *s, uint32_t *bit);
/*
 * DNS pattern syntax: "host.example" (exact), "*.example" (exactly one more
 * label), ".example" (any name below example, at any depth).  Matching is
 * case-insensitive.  IP networks are "a.b.c.d/len" or "v6::/len".
 */
bool		 ca_dns_pattern_is_valid(const char *pattern);
bool		 ca_dns_pattern_match(const char *pattern, const char *name);
bool		 ca_ip_network_is_valid(const char *cidr);
/* Is the address ip (text) inside the network cidr?  False if either is bad. */
bool		 ca_ip_network_contains(const char *cidr, const char *ip);
/*
 * Would profile p accept this name in a certificate: a DNS name (a
 * wildcard "*.x" too) or, with ip, an IP address in text form?  Checks
 * the SAN type and the profile's patterns or networks.  CG_EDENIED with a
 * message naming what is refused.  Any thread.
 */
enum cg_code	 ca_profile_allows(const struct ca_profile *p, bool ip,
		    const char *value, struct cg_err *err);
/* Subject attribute short name known to OpenSSL and allowed in profiles. */
bool		 ca_subject_attr_is_valid(const char *sn);

/* ---------------------------------------------------------------- CSRs */

struct ca_csr;			/* parsed, self-signature checked */

/*
 * Parse a DER PKCS#10 request and verify its self-signature.
 * On CG_OK *csrp is the caller's; release it with ca_csr_free().
 * On failure *csrp is NULL and err says why (CG_ETOOBIG, CG_EINVAL).
 */
enum cg_code	 ca_csr_parse(const uint8_t *der, size_t len,
		    struct ca_csr **csrp, struct cg_err *err);
/* Same, accepting PEM ("CERTIFICATE REQUEST") or DER, as from a file. */
enum cg_code	 ca_csr_parse_any(const uint8_t *data, size_t len,
		    struct ca_csr **csrp, struct cg_err *err);
void		 ca_csr_free(struct ca_csr *csr);
/* The request inside (borrowed). */
X509_REQ	*ca_csr_get0_req(const struct ca_csr *csr);
/*
 * The request's public key (borrowed).  Use this, not
 * X509_REQ_get0_pubkey(ca_csr_get0_req()): the X509_REQ may carry the key
 * as bytes only.
 */
EVP_PKEY	*ca_csr_get0_pubkey(const struct ca_csr *csr);
/* The request's DER as received (borrowed). */
void		 ca_csr_get0_der(const struct ca_csr *csr, const uint8_t **derp,
		    size_t *lenp);

/*
 * Make a signed CSR (DER) for key with subject CN cn (may be NULL) and
 * SANs given as "DNS:name" / "IP:addr" / "email:x" strings.  For init and
 * tests; *derp is the caller's (cg_free).
 */
enum cg_code	 ca_csr_make(EVP_PKEY *key, const char *cn,
		    const char *const *sans, size_t nsans, uint8_t **derp,
		    size_t *lenp, struct cg_err *err);

/* ---------------------------------------------------------- the CA */

struct ca;

struct ca_config {
	char		*cert_file;	/* issuing CA certificate, PEM */
	char		*key_file;	/* its private key, PEM (maybe encrypted) */
	char		*chain_file;	/* issuing CA .. root, PEM; NULL: cert only */
	char		*key_pass_file;	/* passphrase file, or NULL */
	char		*key_pass_env;	/* passphrase variable, or NULL */
	char		*public_base_url; /* "http://host:8080": CDP and AIA; NULL */
	uint32_t	 crl_validity_s; /* nextUpdate - thisUpdate */
};

void		 ca_config_cleanup(struct ca_config *c);

/*
 * Load the issuing certificate, its chain and its key (through the signer),
 * and check that key and certificate match and that the certificate is a CA.
 * On CG_OK *cap is the caller's (ca_free).
 */
enum cg_code	 ca_open(const struct ca_config *conf, struct ca **cap,
		    struct cg_err *err);
void		 ca_free(struct ca *ca);
/* The issuing CA certificate (borrowed). */
X509		*ca_get0_cert(const struct ca *ca);
/*
 * SCEP without an RA (RFC 8894 §2.1): the issuing CA's own key opens an
 * EnvelopedData addressed to the CA certificate (CMS_decrypt into out)
 * and signs a SignedData (CMS_add1_signer with the CA certificate).  The
 * key itself stays in the signer; these are the only other uses of it.
 * Return what OpenSSL returns: 1 / a SignerInfo on success.
 */
int		 ca_cms_decrypt(const struct ca *ca, CMS_ContentInfo *env,
		    BIO *out, unsigned int flags);
CMS_SignerInfo	*ca_cms_add1_signer(const struct ca *ca, CMS_ContentInfo *cms,
		    const EVP_MD *md, unsigned int flags);
/* Issuing CA first, then up to and including the root (borrowed). */
STACK_OF(X509)	*ca_get0_chain(const struct ca *ca);
/* "CN=..." of the issuing CA (borrowed). */
const char	*ca_get0_name(const struct ca *ca);

/*
 * Called inside the issuance transaction, after the certificate row is
 * written, to add outbox jobs (distribution).  Returning an error aborts the
 * issuance: no certificate without its jobs.
 */
typedef enum cg_code ca_outbox_fn(void *arg, struct ca_store *st,
		    const struct ca_cert_rec *rec, struct cg_err *err);
void		 ca_set_outbox_hook(struct ca *ca, ca_outbox_fn *fn, void *arg);

/* ------------------------------------------------------------ issuance */

struct ca_issue_req {
	const struct ca_csr	*csr;		/* parsed request (borrowed) */
	const struct ca_profile	*profile;	/* policy to apply (borrowed) */
	const char		*protocol;	/* "cli", "est", "acme", "scep", "init" */
	const char		*requester;	/* who asked: user, account, peer */
};

struct ca_issued {
	X509		*cert;		/* use ca_issued_get0_cert() */
	uint8_t		*der;		/* its DER (cg_malloc) */
	size_t		 der_len;	/* bytes in der */
	char		 serial[CA_SERIAL_HEX_MAX];	/* upper-case hex */
	char		 sha256[65];	/* lower-case hex thumbprint */
};

/*
 * The one issuance function.  Checks the request against the profile
 * (key type and size, SAN types and patterns, subject attributes), builds
 * the certificate (random 160-bit serial, profile KU/EKU, SKI/AKI, CDP and
 * AIA), signs it, and in ONE store transaction records it, calls the outbox
 * hook and writes an audit row.  Nothing is recorded when any step fails;
 * a refusal is still audited (outcome "refused") in its own transaction.
 * On CG_OK *outp is the caller's (ca_issued_free).
 * Errors: CG_EDENIED (policy; msg says which rule), CG_EINVAL, CG_ECRYPTO,
 * CG_EIO (store).
 */
enum cg_code	 ca_issue(struct ca *ca, struct ca_store *st,
		    const struct ca_issue_req *req, struct ca_issued **outp,
		    struct cg_err *err);
void		 ca_issued_free(struct ca_issued *is);
/*
 * The certificate as an X509, decoded from der on first use (issuance
 * produces the DER only: decoding a public key is the dearest step of an
 * issuance in OpenSSL 3.0).  NULL when out of memory.
 */
X509		*ca_issued_get0_cert(struct ca_issued *is);

/*
 * Group commit.  ca_issue_stage() does everything ca_issue() does except
 * recording: the policy check (a refusal is audited at once, on st), the
 * certificate, its signature.  ca_staged_record() then records n staged
 * issuances in ONE transaction (falling back to one transaction each if
 * that fails, so one bad row does not sink the rest), and
 * ca_staged_result() hands out each one's certificate or error.  A staged
 * issuance owns copies of everything it records; the request may go.
 * Until its record is committed, a certificate must not leave the CA.
 */
struct ca_staged;
enum cg_code	 ca_issue_stage(struct ca *ca, struct ca_store *st,
		    const struct ca_issue_req *req, struct ca_staged **outp,
		    struct cg_err *err);
void		 ca_staged_record(struct ca_store *st, struct ca_staged **v,
		    size_t n);
/* After ca_staged_record(): CG_OK and *outp (the caller's), or its error. */
enum cg_code	 ca_staged_result(struct ca_staged *s, struct ca_issued **outp,
		    struct cg_err *err);
void		 ca_staged_free(struct ca_staged *s);
/*
 * Run fn(arg, st, rec, err) inside the transaction that records s, after
 * its certificate and outbox rows: a protocol links its own state to the
 * certificate atomically (an ACME order becomes valid with its serial).
 * An error from fn aborts the record.  arg must live until s is recorded.
 * Call before handing s to ca_staged_record() or gw_req_commit().
 */
void		 ca_staged_set_hook(struct ca_staged *s, ca_outbox_fn *fn,
		    void *arg);

/*
 * Check a request against a profile without issuing (used by ca_issue and
 * by protocols that want to refuse early).  CG_EDENIED with a message that
 * names the rule on refusal.
 */
enum cg_code	 ca_policy_check(const struct ca_profile *p,
		    const struct ca_csr *csr, struct cg_err *err);

/* ------------------------------------------- enrollment with approval */

enum ca_enroll_state {
	CA_ENROLL_ISSUED = 0,	/* res->issued holds the certificate */
	CA_ENROLL_PENDING,	/* waiting for an admin; res->pending_id */
	CA_ENROLL_REJECTED,	/* an admin rejected it; res->pending_id */
	CA_ENROLL__MAX
};

struct ca_enroll_result {
	enum ca_enroll_state	 state;		/* what happened */
	int64_t			 pending_id;	/* pending row, 0 if none */
	struct ca_issued	*issued;	/* when ISSUED (owned) */
};

/*
 * ca_issue() for protocols, honouring profile->manual_approval.  Without
 * manual approval this is ca_issue().  With it, the request is checked
 * against the policy first (a refusal is CG_EDENIED, never pending); a new
 * request is stored in the pending table (state PENDING, audited
 * "request"); a repeat of the same request (same protocol, profile and CSR
 * bytes) reports the decision: PENDING while waiting, ISSUED with the
 * certificate issued at approval, REJECTED after a rejection.
 * res is caller-provided; release with ca_enroll_result_cleanup().
 */
enum cg_code	 ca_enroll(struct ca *ca, struct ca_store *st,
		    const struct ca_issue_req *req, struct ca_enroll_result *res,
		    struct cg_err *err);
void		 ca_enroll_result_cleanup(struct ca_enroll_result *res);

/*
 * An admin approves pending request id: the certificate is issued now
 * through ca_issue() with the request's original protocol and requester,
 * under profile (the caller looks it up by the row's profile name), and
 * its serial is recorded on the row.  CG_ENOTFOUND for an unknown id,
 * CG_ECONFLICT when already decided.  Audited with actor.
 */
enum cg_code	 ca_pending_approve(struct ca *ca, struct ca_store *st,
		    int64_t id, const struct ca_profile *profile,
		    const char *actor, char serial[CA_SERIAL_HEX_MAX],
		    struct cg_err *err);
/* An admin rejects it; same errors; audited. */
enum cg_code	 ca_pending_reject(struct ca_store *st, int64_t id,
		    const char *actor, struct cg_err *err);

/*
 * Renewal check (RFC 7030 section 4.2.2): the CSR must carry the same
 * subject and the same set of SANs as cert.  CG_EDENIED naming what
 * differs.
 */
enum cg_code	 ca_csr_matches_cert(const struct ca_csr *csr, X509 *cert,
		    struct cg_err *err);

/* ------------------------------------------------------------ reissue */

/*
 * Operator reissue (ca/ca_reissue.c, `certgw cert reissue`).  Issued
 * certificates keep no CSR, so the request is rebuilt from old: its
 * subject, its subjectAltName and its public key, or key's when a new key
 * is given.  It goes through ca_issue() under profile as protocol "cli"
 * by actor (policy, record, outbox jobs, audit "issue"), and in the same
 * transaction: an audit row "reissue" (target the new serial, detail
 * "old=<serial> key=same|new ..."), a SHA-256 identity mapping for the
 * new certificate when old had one (source "reissue"), and with
 * revoke_old old's revocation (superseded; its mapping then moves).
 * CG_ECONFLICT when old is revoked.  On CG_OK *outp is the caller's.
 */
struct ca_reissue_req {
	const struct ca_cert_rec *old;		/* the certificate (borrowed) */
	const struct ca_profile	*profile;	/* policy to apply */
	EVP_PKEY		*key;		/* new key, or NULL: old's */
	const char		*actor;		/* "cli:<user>" */
	bool			 revoke_old;	/* revoke old as superseded */
};
enum cg_code	 ca_reissue(struct ca *ca, struct ca_store *st,
		    const struct ca_reissue_req *req, struct ca_issued **outp,
		    struct cg_err *err);
/* A fresh key of pub's type (RSA: its size, at least 2048 bits). */
enum cg_code	 ca_key_generate_like(EVP_PKEY *pub, EVP_PKEY **keyp,
		    struct cg_err *err);

/* ---------------------------------------------------------- revocation */

/* RFC 5280 CRLReason values; CA_REASON__MAX sizes name tables. */
enum ca_reason {
	CA_REASON_UNSPECIFIED = 0,
	CA_REASON_KEY_COMPROMISE = 1,
	CA_REASON_CA_COMPROMISE = 2,
	CA_REASON_AFFILIATION_CHANGED = 3,
	CA_REASON_SUPERSEDED = 4,
	CA_REASON_CESSATION_OF_OPERATION = 5,
	CA_REASON_CERTIFICATE_HOLD = 6,
	CA_REASON_REMOVE_FROM_CRL = 8,
	CA_REASON_PRIVILEGE_WITHDRAWN = 9,
	CA_REASON_AA_COMPROMISE = 10,
	CA_REASON__MAX
};

/* "keyCompromise" etc.; false when unknown (7 is not a reason). */
bool		 ca_reason_parse(const char *s, enum ca_reason *out);
const char	*ca_reason_name(enum ca_reason r);

/*
 * Revoke a certificate by serial (hex, any case) or SHA-256 thumbprint.
 * Records the revocation and an audit row in one transaction.
 * CG_ENOTFOUND when unknown, CG_ECONFLICT when already revoked.
 */
enum cg_code	 ca_revoke(struct ca *ca, struct ca_store *st, const char *id,
		    enum ca_reason reason, const char *actor, struct cg_err *err);

/*
 * Build and sign a CRL (v2, with CRL number and AKI; reason codes as entry
 * extensions) listing every revoked certificate that has not expired.
 * *derp is the caller's (cg_free); *next_updatep is nextUpdate.
 */
enum cg_code	 ca_crl_make(struct ca *ca, struct ca_store *st,
		    uint8_t **derp, size_t *lenp, int64_t *next_updatep,
		    struct cg_err *err);

/* ------------------------------------------------------------ init */

enum ca_init_key {
	CA_INIT_EC_P256 = 0,
	CA_INIT_EC_P384,
	CA_INIT_RSA_2048,
	CA_INIT_RSA_3072,
	CA_INIT_RSA_4096,
	CA_INIT__MAX
};

/* "ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096". */
bool		 ca_init_key_parse(const char *s, enum ca_init_key *out);
/* Generate a fresh key of that type. *keyp is the caller's. */
enum cg_code	 ca_key_generate(enum ca_init_key kt, EVP_PKEY **keyp,
		    struct cg_err *err);
/*
 * Write a private key as PKCS#8 PEM, mode 0600, refusing to overwrite.
 * With a passphrase it is encrypted (AES-256-CBC, PBKDF2 via PKCS#8 v2).
 */
enum cg_code	 ca_key_write(const char *path, EVP_PKEY *key,
		    const char *passphrase, struct cg_err *err);
/* Write certificates as PEM, mode 0644, refusing to overwrite. */
enum cg_code	 ca_certs_write(const char *path, X509 *const *certs,
		    size_t n, struct cg_err *err);

struct ca_init_opts {
	const char	*dir;		/* DIR/ca/ receives the files */
	const char	*name;		/* subject, "CN=..., O=..." or a bare CN */
	enum ca_init_key key_type;	/* for every key made */
	bool		 intermediate;	/* root + issuing intermediate */
	const char	*passphrase;	/* encrypt keys with it, or NULL */
	uint32_t	 root_days;	/* root validity */
	uint32_t	 issuing_days;	/* intermediate validity */
};

/*
 * Create the CA hierarchy under opts->dir/ca/: root.pem and root.key, and
 * with an intermediate also issuing.pem and issuing.key; chain.pem holds the
 * issuing CA first, then the root.  Fills conf with the file names the
 * gateway should use (relative to opts->dir).  Refuses (CG_ECONFLICT) when
 * any of the files exists.
 */
enum cg_code	 ca_init_create(const struct ca_init_opts *opts,
		    struct ca_config *conf, struct cg_err *err);

/* -------------------------------------------------------- identities */

/*
 * Who a client certificate is (ca/ca_ident.c): a one-to-one mapping by
 * SHA-256, then SHA-1 thumbprint, then subject common name, else the
 * first many-to-one rule that matches.  It decides nothing about trust:
 * the caller has checked the chain, the dates and revocation.
 */
struct ca_identity;
struct ca_store;
struct ca_ident_match {
	struct ca_identity *ident;	/* owned; cleanup frees */
	int		 kind;		/* enum ca_map_kind; 0 by a rule */
	int64_t		 rule;		/* the rule's position, by a rule */
	bool		 pinned;	/* a pinned self-signed certificate */
};
/* CG_ENOTFOUND when it maps to nobody. */
enum cg_code	 ca_ident_resolve(struct ca_store *st, X509 *cert,
		    struct ca_ident_match *m, struct cg_err *err);
void		 ca_ident_match_cleanup(struct ca_ident_match *m);
/*
 * Does cert match a rule: its issuer exactly issuer in RFC 2253 form (""
 * or NULL: any), its subject holding every "SN=value" of subject, a
 * comma-separated list ("O=Sales,OU=East"; "" or NULL: any)?
 */
bool		 ca_ident_rule_matches(const char *issuer, const char *subject,
		    X509 *cert);

/* ------------------------------------- key bundles (ca/ca_p12.c) */

struct cg_buf;
/*
 * PKCS#12 of key, cert and chain (may be NULL) with friendly name name:
 * keys and certificates encrypted with AES-256-CBC under PBKDF2
 * (HMAC-SHA256, 10000 iterations), MAC HMAC-SHA256; DER appended to *out.
 * CG_EINVAL when the key does not match the certificate.
 */
enum cg_code	 ca_pkcs12_make(EVP_PKEY *key, X509 *cert,
		    STACK_OF(X509) *chain, const char *password,
		    const char *name, struct cg_buf *out, struct cg_err *err);
/*
 * outlen - 1 random characters and a NUL into out, from 54 that cannot
 * be mistaken for each other (no 0/O, 1/l/I); 24 of them are ~138 bits.
 */
enum cg_code	 ca_password_random(char *out, size_t outlen,
		    struct cg_err *err);
#define CA_CERT_FILE_MAX_CERTS	16
/*
 * The certificates of a file an admin was given, PEM (one or more, the
 * first is the one meant) or DER (one), at most CA_CERT_PEM_MAX bytes.
 * A file that holds a private key (PEM, a DER key, PKCS#12) is refused
 * with CG_EDENIED and a message saying so.  *certsp is the caller's
 * (sk_X509_pop_free).
 */
enum cg_code	 ca_cert_file_parse(const uint8_t *data, size_t len,
		    STACK_OF(X509) **certsp, struct cg_err *err);
/* An ASN1_TIME as unix seconds (ca/ca.c); err may be NULL. */
enum cg_code	 ca_time_unix(const ASN1_TIME *t, int64_t *outp,
		    struct cg_err *err);
/*
 * A CA trusted for client certificates, from the bytes of a file or an
 * admin API body (ca/ca_trust.c): exactly one certificate, a CA
 * (basicConstraints CA:TRUE), not expired.  Fills t's sha256, subject,
 * der and not_after for ca_store_trust_add(); free them with
 * ca_trust_anchor_clear().  CG_EINVAL (or ca_cert_file_parse's codes)
 * with a message that completes "the certificate: ...".
 */
struct ca_trust_anchor;
enum cg_code	 ca_trust_anchor_make(const uint8_t *data, size_t len,
		    struct ca_trust_anchor *t, struct cg_err *err);
void		 ca_trust_anchor_clear(struct ca_trust_anchor *t);
/*
 * The trust a client certificate must chain to (ca/ca_import.c): every
 * certificate of file (the listener's client CA file; NULL for none) and
 * the store's trust anchors, each an anchor even when an intermediate,
 * for TLS client use.  *storep is the caller's (X509_STORE_free).
 */
enum cg_code	 ca_client_trust_store(const char *file, struct ca_store *st,
		    X509_STORE **storep, struct cg_err *err);
/*
 * A user's certificate mapped to an identity (`certgw user import-cert`,
 * POST /admin/v1/identities/{name}/certificates; ca/ca_import.c).
 * ca_cert_import_check() takes the first of certs (the others are
 * intermediates) when it is no CA and valid now; a self-signed one is
 * pinned by SHA-256.  Otherwise ca_cert_import_verify() must pass: it
 * chains to trust now (CG_EAUTH, with "the issuing CA ... is not trusted;
 * trust it first ..." when the issuer is unknown) and, unless
 * thumb_only, has a common name.  ca_cert_import_store() then adds the
 * mappings (SHA-256, and the CN for a CA-signed one unless thumb_only)
 * and, with actor, the audit row "user-import-cert", in one transaction.
 * Messages are fit for the admin; clear with ca_cert_import_clear().
 */
struct ca_identity;
struct ca_cert_import {
	X509		*cert;		/* the certificate, a reference */
	STACK_OF(X509)	*extra;		/* the file's other certificates */
	bool		 self_signed;	/* pinned, no chain to check */
	bool		 thumb_only;	/* no CN mapping */
	char		 sha256[65];	/* lower-case hex */
	char		*cn;		/* after verify, unless thumb_only */
	int64_t		 map_ids[2];	/* SHA-256 and CN mappings (or 0) */
};
enum cg_code	 ca_cert_import_check(STACK_OF(X509) *certs,
		    bool thumb_only, struct ca_cert_import *imp,
		    struct cg_err *err);
enum cg_code	 ca_cert_import_verify(struct ca_cert_import *imp,
		    X509_STORE *trust, struct cg_err *err);
enum cg_code	 ca_cert_import_store(struct ca_store *st,
		    const struct ca_identity *i, struct ca_cert_import *imp,
		    const char *actor, struct cg_err *err);
void		 ca_cert_import_clear(struct ca_cert_import *imp);
/*
 * Accept held certificate h for identity i (`certgw holding accept`,
 * POST /admin/v1/holding/{id}/accept): its SHA-256 mapping (source
 * "holding"; *pinnedp when self-signed, so that it authenticates without
 * a trusted CA), the decision by actor and, with audit, the audit row
 * "holding-accept", in one transaction.  CG_EINVAL when the held DER no
 * longer matches its thumbprint, CG_ECONFLICT when decided already.
 */
struct ca_holding;
enum cg_code	 ca_holding_accept(struct ca_store *st,
		    const struct ca_holding *h, const struct ca_identity *i,
		    const char *actor, bool audit, int64_t *mapidp,
		    bool *pinnedp, struct cg_err *err);

/* ============================================================ OCSP */
/*
 * The OCSP responder's core (RFC 6960, nonces per RFC 8954), in
 * ca/ca_ocsp.c.  It parses a request (untrusted DER), looks every CertID
 * up in the store and signs a BasicOCSPResponse with the CA key (through
 * the signer) or with a delegated OCSP signing certificate.  Serving it
 * over HTTP and caching answers belong to the gateway (gateway/gw_ocsp.c).
 * A struct ca_ocsp is read-only after ca_ocsp_open() and may be shared by
 * every loop thread; each thread passes its own store.
 */
#define CA_OCSP_REQ_MAX		(16 * 1024)	/* request DER bytes */
#define CA_OCSP_CERTIDS_MAX	16		/* CertIDs in one request */
#define CA_OCSP_NONCE_MAX	32		/* RFC 8954 section 2.1 */
#define CA_OCSP_VALIDITY_DEFAULT 3600		/* nextUpdate - thisUpdate */
#define CA_OCSP_VALIDITY_MIN	60
#define CA_OCSP_VALIDITY_MAX	(7 * 86400)

/* The "ocsp" config section; no signer_cert: the CA signs. */
struct ca_ocsp_config {
	char		*signer_cert;	/* delegated signer, PEM, or NULL */
	char		*signer_key;	/* its key, PEM (maybe encrypted) */
	char		*signer_key_pass_file; /* passphrase file, or NULL */
	char		*signer_key_pass_env; /* passphrase variable, or NULL */
	uint32_t	 validity_s;	/* nextUpdate - thisUpdate */
};

void		 ca_ocsp_config_cleanup(struct ca_ocsp_config *c);

struct ca_ocsp;

/*
 * Set up a responder for ca (borrowed: it must outlive *op).  With a
 * signer_cert, load it and its key and check that the certificate was
 * issued by ca, carries id-kp-OCSPSigning, matches the key and is valid
 * now.  *op is the caller's (ca_ocsp_free).
 */
enum cg_code	 ca_ocsp_open(struct ca *ca, const struct ca_ocsp_config *conf,
		    struct ca_ocsp **op, struct cg_err *err);
void		 ca_ocsp_free(struct ca_ocsp *o);
/* True when a delegated certificate signs (else the CA). */
bool		 ca_ocsp_delegated(const struct ca_ocsp *o);

/* OCSPResponseStatus (RFC 6960 section 4.2.1). */
enum ca_ocsp_status {
	CA_OCSP_SUCCESSFUL = 0,
	CA_OCSP_MALFORMED = 1,		/* malformedRequest */
	CA_OCSP_INTERNAL = 2,		/* internalError */
	CA_OCSP_TRY_LATER = 3,		/* tryLater */
	CA_OCSP_UNAUTHORIZED = 6	/* unauthorized */
};

/* What ca_ocsp_respond() answered, for the gateway's cache and logs. */
struct ca_ocsp_result {
	enum ca_ocsp_status status;	/* of the response */
	const char	*why;		/* static text when not successful */
	bool		 nonce;		/* the request had one (echoed) */
	bool		 cacheable;	/* successful, no nonce, no unknown */
	int64_t		 next_update;	/* earliest nextUpdate; 0 if none */
	unsigned	 ngood;		/* CertIDs answered good */
	unsigned	 nrevoked;	/* revoked */
	unsigned	 nunknown;	/* unknown (not ours, not issued) */
};

/*
 * Answer one DER OCSPRequest (at most CA_OCSP_REQ_MAX bytes) at time now.
 * CG_OK: *derp (the caller's, cg_free) is the response to send, signed
 * when res->status is successful, else an unsigned error status
 * (malformedRequest for bad DER, a bad nonce or too many CertIDs;
 * unauthorized when a CertID names another issuer).  Another code is a
 * failure
 * of ours (store, crypto, memory): err says why and *derp, when not
 * NULL, holds an internalError response to send.
 */
enum cg_code	 ca_ocsp_respond(const struct ca_ocsp *o, struct ca_store *st,
		    const uint8_t *req, size_t len, int64_t now,
		    uint8_t **derp, size_t *lenp, struct ca_ocsp_result *res,
		    struct cg_err *err);
/* An unsigned response with error status st; *derp is the caller's. */
enum cg_code	 ca_ocsp_error_der(enum ca_ocsp_status st, uint8_t **derp,
		    size_t *lenp, struct cg_err *err);
/* ========================================================= end OCSP */

#endif /* CERTGW_CA_H */
