/*
 * ca_int.h - what the files of ca/ share and nobody else sees: the CSR and
 * CA structures, the signer (the only holder of the issuing private key),
 * and small X.509 helpers.  Not a public API: include certgw/ca.h outside
 * ca/.  The SQLite store has its own private details in its own files.
 */
#ifndef CERTGW_CA_INT_H
#define CERTGW_CA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certgw/ca.h"
#include "certgw/core.h"

#define CA_KEY_PEM_MAX		(64 * 1024)	/* a private key file */
#define CA_URL_MAX		2048		/* one CDP / AIA URL */
#define CA_SERIAL_TRIES		2		/* insert, then retry once */
#define CA_BACKDATE_S		60		/* notBefore = now - this */
#define CA_CRL_VALIDITY_DEFAULT	86400		/* crl_validity_s of 0 */
#define CA_DAY_S		86400
#define CA_RSA_BITS_MAX		16384		/* larger moduli are refused */

struct ca_csr {
	X509_REQ	*req;		/* owned; self-signature verified */
	EVP_PKEY	*pub;		/* its key (req may hold bytes only) */
	uint8_t		*der;		/* the request as received */
	size_t		 der_len;	/* bytes in der */
};

/*
 * ca_csr_der.c: parse and verify a request without OpenSSL's key decoder.
 * *handled false: not a form it takes (odd DER, other algorithms); use
 * d2i_X509_REQ().  Handled, CG_OK gives *reqp (its key as bytes only) and
 * *pubp; an error is the request's fault (bad key, bad signature).
 */
enum cg_code	 ca_csr_parse_der(const uint8_t *der, size_t len,
		    X509_REQ **reqp, EVP_PKEY **pubp, bool *handled,
		    struct cg_err *err);
/*
 * Set dst to algorithm alg and key bits key (copied) without decoding
 * them: X509_get0_pubkey() of its owner then returns NULL.
 */
enum cg_code	 ca_pubkey_set_bytes(X509_PUBKEY *dst, const X509_ALGOR *alg,
		    const uint8_t *key, size_t len, struct cg_err *err);

struct ca_signer;

struct ca {
	X509		*cert;		/* issuing CA certificate, owned */
	STACK_OF(X509)	*chain;		/* cert first, then up to the root */
	char		*name;		/* RFC 2253 subject of cert */
	char		*public_base_url; /* no trailing '/', or NULL */
	uint32_t	 crl_validity_s; /* nextUpdate - thisUpdate, > 0 */
	struct ca_signer *signer;	/* holds the private key */
	X509_EXTENSION	*ext_bc;	/* basicConstraints CA:FALSE, made once */
	X509_EXTENSION	*ext_aki;	/* authorityKeyIdentifier of cert */
	EVP_MD		*sha1;		/* fetched once, for thumbprints */
	EVP_MD		*sha256;	/* fetched once, for thumbprints */
	ca_outbox_fn	*outbox_fn;	/* issuance hook, or NULL */
	void		*outbox_arg;	/* its argument */
};

/* ------------------------------------------------------------ signer */

/*
 * Load the private key named by conf->key_file, decrypting it with the
 * passphrase from conf->key_pass_file or conf->key_pass_env when one is
 * set (the passphrase is wiped before return).  *sp is the caller's.
 */
enum cg_code	 ca_signer_open(const struct ca_config *conf,
		    struct ca_signer **sp, struct cg_err *err);
void		 ca_signer_free(struct ca_signer *s);
/* True when cert holds the public half of the signer's key. */
bool		 ca_signer_matches_cert(const struct ca_signer *s, X509 *cert);
/* Sign a finished certificate / CRL with the issuing key. */
enum cg_code	 ca_signer_sign_cert(const struct ca_signer *s, X509 *x,
		    struct cg_err *err);
enum cg_code	 ca_signer_sign_crl(const struct ca_signer *s, X509_CRL *crl,
		    struct cg_err *err);

/* ----------------------------------------------------------- helpers */

/*
 * The digest to sign with for key: SHA-256 (P-256, RSA), SHA-384 (P-384),
 * SHA-512 (P-521), none (NULL name, Ed25519).  CG_EINVAL for other keys.
 */
enum cg_code	 ca_key_digest(EVP_PKEY *key, const char **mdnamep,
		    struct cg_err *err);
/*
 * A digest-sign context for key with the digest above; *ctxp is the
 * caller's (EVP_MD_CTX_free).  For X509_sign_ctx and friends.
 */
enum cg_code	 ca_sign_ctx_new(EVP_PKEY *key, EVP_MD_CTX **ctxp,
		    struct cg_err *err);
/*
 * Classify a public key.  *bitsp gets its size in bits.  false when the key
 * is none of the types in enum ca_key_type.
 */
bool		 ca_key_classify(EVP_PKEY *key, enum ca_key_type *tp,
		    int *bitsp);
/* "rsa-2048", "ec-p256", "ed25519", "unknown" into out. */
void		 ca_key_describe(EVP_PKEY *key, char *out, size_t outlen);

/*
 * The subjectAltName of a CSR's extensionRequest.  *gensp is NULL (and
 * CG_OK) when the request has none; CG_EINVAL when it is malformed or
 * repeated.  *gensp is the caller's (GENERAL_NAMES_free).
 */
enum cg_code	 ca_csr_get1_sans(const struct ca_csr *csr,
		    GENERAL_NAMES **gensp, struct cg_err *err);

/*
 * Whether a subject attribute (by NID) may appear under profile p: listed
 * in subject_allowed, or, when that list is empty, one of the usual
 * directory attributes (ca_subject_attr_is_valid()).
 */
bool		 ca_profile_subject_nid_allowed(const struct ca_profile *p,
		    int nid);

/* RFC 2253 text of name into a fresh string (cg_free). */
enum cg_code	 ca_name_rfc2253(const X509_NAME *name, char **outp,
		    struct cg_err *err);
/*
 * A fresh random serial: CA_SERIAL_BYTES bytes, top bit clear and first
 * byte non-zero, so it is positive, fixed-length and has >= 150 random
 * bits.  hex (CA_SERIAL_HEX_MAX) gets it as upper-case hex without a
 * leading zero digit, as the store spells serials.
 */
enum cg_code	 ca_serial_random(ASN1_INTEGER **serialp, char *hex,
		    struct cg_err *err);
/* Add ext to x (a copy is taken) and free it; for NULL ext, fail. */
enum cg_code	 ca_cert_add_ext(X509 *x, X509_EXTENSION *ext,
		    const char *what, struct cg_err *err);
/* DER of a certificate into a cg_malloc'ed buffer. */
enum cg_code	 ca_cert_der(X509 *x, uint8_t **derp, size_t *lenp,
		    struct cg_err *err);

/* ---------------------------------------------------------- issuance */

/*
 * SANs as the store spells them, "DNS:a,IP:192.0.2.1,email:x,URI:u" ("" for
 * NULL or none), into a fresh string (cg_free).  CG_ETOOBIG past the text
 * a CA_SAN_MAX list can need.
 */
enum cg_code	 ca_sans_text(const GENERAL_NAMES *sans, char **outp,
		    struct cg_err *err);
/*
 * ca_issue() with one more hook, called inside the issuance transaction
 * after the certificate row and the outbox jobs (same contract as
 * ca_outbox_fn: an error rolls everything back).  Approval uses it to mark
 * the pending row decided in the same transaction as the certificate, so
 * two approvals of one request cannot both issue.
 */
enum cg_code	 ca_issue_hooked(struct ca *ca, struct ca_store *st,
		    const struct ca_issue_req *req, ca_outbox_fn *hook,
		    void *hook_arg, struct ca_issued **outp,
		    struct cg_err *err);

/* -------------------------------------------------------------- OCSP */

#include <openssl/ocsp.h>

/*
 * Sign an OCSP BasicOCSPResponse with the issuing key, as cert (the CA
 * certificate); flags as OCSP_basic_sign_ctx() takes them
 * (OCSP_RESPID_KEY, OCSP_NOCERTS).  In ca_signer.c: the key stays there.
 */
enum cg_code	 ca_signer_sign_ocsp(const struct ca_signer *s,
		    OCSP_BASICRESP *bs, X509 *cert, unsigned long flags,
		    struct cg_err *err);

#endif /* CERTGW_CA_INT_H */
