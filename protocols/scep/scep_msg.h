/*
 * scep_msg.h - the SCEP (RFC 8894) wire format: reading a client's
 * PKIMessage (CMS SignedData around an EnvelopedData) and writing the
 * CertRep reply and the degenerate certs-only PKCS#7.  Pure functions on
 * bytes, certificates and keys: no HTTP, no policy, no issuance, no
 * logging.  Any thread.
 */
#ifndef CERTGW_SCEP_MSG_H
#define CERTGW_SCEP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certgw/ca.h"
#include "certgw/core.h"

#define SCEP_MSG_MAX		(64 * 1024)	/* PKIMessage DER accepted */
#define SCEP_TID_MAX		128		/* transactionID characters */
#define SCEP_NONCE_LEN		16		/* nonce bytes */
#define SCEP_CHALLENGE_MAX	255		/* ub-challenge-password */
#define SCEP_CERTS_MAX		16		/* certificates in one reply */
#define SCEP_SHA256_LEN		32		/* request digest bytes */

/* Signed attributes (RFC 8894 §3.2.1), under id-VeriSign pki attributes. */
#define SCEP_OID_MESSAGE_TYPE	"2.16.840.1.113733.1.9.2"
#define SCEP_OID_PKI_STATUS	"2.16.840.1.113733.1.9.3"
#define SCEP_OID_FAIL_INFO	"2.16.840.1.113733.1.9.4"
#define SCEP_OID_SENDER_NONCE	"2.16.840.1.113733.1.9.5"
#define SCEP_OID_RECIP_NONCE	"2.16.840.1.113733.1.9.6"
#define SCEP_OID_TRANS_ID	"2.16.840.1.113733.1.9.7"

/* messageType (RFC 8894 §3.2.1.2); the values are the wire values. */
enum scep_msg_type {
	SCEP_MT_NONE = 0,		/* not known (yet) */
	SCEP_MT_CERTREP = 3,
	SCEP_MT_RENEWALREQ = 17,
	SCEP_MT_PKCSREQ = 19,
	SCEP_MT_CERTPOLL = 20,
	SCEP_MT_GETCERT = 21,
	SCEP_MT_GETCRL = 22,
	SCEP_MT__MAX
};

/* pkiStatus (RFC 8894 §3.2.1.3). */
enum scep_status {
	SCEP_ST_SUCCESS = 0,
	SCEP_ST_FAILURE = 2,
	SCEP_ST_PENDING = 3,
	SCEP_ST__MAX
};

/* failInfo (RFC 8894 §3.2.1.4). */
enum scep_fail {
	SCEP_FAIL_BADALG = 0,		/* unrecognized or unsupported alg */
	SCEP_FAIL_BADMESSAGECHECK = 1,	/* signature or decryption failed */
	SCEP_FAIL_BADREQUEST = 2,	/* not allowed or not supported */
	SCEP_FAIL_BADTIME = 3,		/* signingTime too far off */
	SCEP_FAIL_BADCERTID = 4,	/* no certificate matches */
	SCEP_FAIL__MAX
};

/*
 * What a CertRep needs to answer a request: read from the signed
 * attributes before the signature is checked, so that a request whose
 * signature or envelope fails can still get a FAILURE CertRep.  With ok
 * false the request could not be answered in SCEP at all and the server
 * replies with HTTP 400 instead.
 */
struct scep_req_hdr {
	bool			 ok;		/* the fields below are set */
	enum scep_msg_type	 type;		/* SCEP_MT_NONE if unknown */
	char			 transaction_id[SCEP_TID_MAX + 1];
						/* printable, NUL-ended */
	uint8_t			 sender_nonce[SCEP_NONCE_LEN]; /* from client */
	int			 md_nid;	/* digest for the reply */
};

/*
 * A parsed, signature-checked and decrypted request.  Everything is owned
 * by the struct and released by scep_req_free().  Which of the content
 * fields are set depends on hdr.type.
 */
struct scep_req {
	struct scep_req_hdr	 hdr;		/* type, tid, nonce, digest */
	X509			*signer;	/* the signer's certificate */
	int			 cipher_nid;	/* the envelope's cipher */
	int64_t			 signing_time;	/* signingTime, Unix s; 0: none */
	uint8_t			 sha256[SCEP_SHA256_LEN]; /* of the whole DER */
	struct ca_csr		*csr;		/* PKCSReq, RenewalReq */
	char			*challenge;	/* challengePassword or NULL;
						   NUL-free, wiped on free */
	size_t			 challenge_len;	/* its length */
	X509_NAME		*issuer;	/* CertPoll, GetCert, GetCRL */
	X509_NAME		*subject;	/* CertPoll */
	ASN1_INTEGER		*serial;	/* GetCert, GetCRL */
	unsigned		 flags;		/* SCEP_PARSE_* it was read with */
};

/*
 * Who the server is to its clients: the certificate requests are
 * encrypted to and replies are signed with, and its key -- an RA's, or,
 * when key is NULL, the issuing CA's own, used through ca (RFC 8894
 * §2.1: a CA without an RA).
 */
struct scep_id {
	X509			*cert;		/* RA or CA certificate */
	EVP_PKEY		*key;		/* the RA's key, or NULL */
	const struct ca		*ca;		/* when key is NULL */
};

/* CMS_decrypt / CMS_add1_signer as id (1 / non-NULL on success). */
int		 scep_id_decrypt(const struct scep_id *id, CMS_ContentInfo *env,
		    BIO *out, unsigned int flags);
CMS_SignerInfo	*scep_id_add1_signer(const struct scep_id *id,
		    CMS_ContentInfo *cms, const EVP_MD *md, unsigned int flags);

/*
 * Parse one PKIMessage (RFC 8894 §3.2): strict DER (definite minimal
 * lengths, no constructed strings), CMS SignedData with exactly one signer
 * whose certificate is included and whose signed attributes carry a known
 * messageType, a printable transactionID of 1..SCEP_TID_MAX characters and
 * a 16-byte senderNonce; the signature is checked against that certificate
 * (not its chain: that is the caller's business).  The content must be an
 * EnvelopedData that id decrypts; the plaintext is parsed per
 * type: a PKCS#10 (self-signature checked, challengePassword extracted),
 * an IssuerAndSubject (CertPoll) or an IssuerAndSerialNumber (GetCert,
 * GetCRL).
 *
 * Digests accepted: SHA-1, SHA-224/256/384/512.  Ciphers: AES-128/192/256-
 * CBC and DES-EDE3-CBC.  Anything else (MD5, DES, RC2) is badAlg.
 *
 * On CG_OK *reqp is the caller's (scep_req_free).  On failure *reqp is
 * NULL and the code is CG_ETOOBIG (len > SCEP_MSG_MAX), CG_EINVAL (a
 * structural error or an unsupported algorithm), CG_ECRYPTO (signature or
 * decryption failed) or CG_ENOMEM; *failp (may be NULL) says what a FAILURE
 * CertRep should carry, and hdr (may be NULL; filled on success too) says
 * whether one can be sent: when hdr->ok is false, answer HTTP 400.
 * The challenge password never appears in err.
 */
enum cg_code	 scep_req_parse(const uint8_t *der, size_t len,
		    const struct scep_id *id, struct scep_req **reqp,
		    struct scep_req_hdr *hdr, enum scep_fail *failp,
		    struct cg_err *err);
/*
 * The same with flags: SCEP_PARSE_LEGACY_DES also accepts an envelope in
 * single DES-CBC, which some deployed clients (micromdm's scepclient 2.1)
 * always use.  DES is broken: a service allows it only when configured to,
 * and OpenSSL's legacy provider must be loaded for the decryption.
 */
#define SCEP_PARSE_LEGACY_DES	0x1
enum cg_code	 scep_req_parse_ex(const uint8_t *der, size_t len,
		    const struct scep_id *id, unsigned flags,
		    struct scep_req **reqp, struct scep_req_hdr *hdr,
		    enum scep_fail *failp, struct cg_err *err);
void		 scep_req_free(struct scep_req *req);

/* Lower-case names for logs ("pkcsreq", "badmessagecheck"); never NULL. */
const char	*scep_msg_type_name(enum scep_msg_type t);
const char	*scep_fail_name(enum scep_fail f);

/*
 * Whether s is a transactionID we accept and send: 1..SCEP_TID_MAX
 * PrintableString characters (X.680 §41.4: letters, digits, space and
 * '()+,-./:=?).
 */
bool		 scep_tid_is_valid(const uint8_t *s, size_t len);

/* Whether nid is a digest / cipher this module accepts and produces. */
bool		 scep_md_is_allowed(int nid);
bool		 scep_cipher_is_allowed(int nid);

/* A CertRep to make; everything borrowed. */
struct scep_rep {
	enum scep_status	 status;	/* SUCCESS, FAILURE, PENDING */
	enum scep_fail		 fail;		/* FAILURE only */
	const char		*transaction_id; /* the request's */
	const uint8_t		*recipient_nonce; /* request's senderNonce */
	X509			*recipient;	/* SUCCESS: request's signer */
	int			 cipher_nid;	/* 0: NID_aes_256_cbc */
	int			 md_nid;	/* 0: SHA-256; echo request's */
	X509 *const		*certs;		/* SUCCESS: issued cert first */
	size_t			 ncerts;	/* number of certs */
	X509_CRL		*crl;		/* SUCCESS for GetCRL or NULL */
};

/*
 * Make a CertRep (RFC 8894 §3.3.2): a SignedData signed by id
 * (issuerAndSerialNumber signer identifier, its certificate included)
 * with the signed attributes transactionID, messageType 3, pkiStatus,
 * failInfo (FAILURE only), a fresh random senderNonce and recipientNonce.
 * For SUCCESS the content is an EnvelopedData to rep->recipient around a
 * certs-only PKCS#7 of rep->certs (or rep->crl); for FAILURE and PENDING
 * the content is empty.  CG_EINVAL for an inconsistent rep or an algorithm
 * outside scep_md_is_allowed()/scep_cipher_is_allowed().
 * On CG_OK *derp (cg_free) and *lenp are the caller's.
 */
enum cg_code	 scep_rep_make(const struct scep_rep *rep,
		    const struct scep_id *id, uint8_t **derp, size_t *lenp,
		    struct cg_err *err);

/*
 * A degenerate certs-only PKCS#7 SignedData (RFC 8894 §3.3.2.1, §4.2.1.2)
 * of n certificates in the order given, plus crl when not NULL; at least
 * one of them.  Used for GetCACert (RA then CA) and inside CertRep.
 * On CG_OK *derp (cg_free) and *lenp are the caller's.
 */
enum cg_code	 scep_certs_only(X509 *const *certs, size_t n, X509_CRL *crl,
		    uint8_t **derp, size_t *lenp, struct cg_err *err);

#endif /* CERTGW_SCEP_MSG_H */
