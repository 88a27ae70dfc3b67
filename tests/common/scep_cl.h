/*
 * scep_cl.h - the client side of SCEP (RFC 8894) for the test tools:
 * scep_probe (tests/integration) and certgw-bench scep (tests/bench).
 * It builds PKIMessages with OpenSSL's CMS API, prepares the libcurl
 * handle that sends one, and reads a CertRep.  It is written apart from
 * protocols/scep/ on purpose, a second reading of the RFC, so it shares
 * no code with the server it tests.  Complaints go to stderr through
 * scl_warn() with the caller's program name.
 */
#ifndef CERTGW_TESTS_SCEP_CL_H
#define CERTGW_TESTS_SCEP_CL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <openssl/cms.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <certgw/core.h>

#define SCL_NONCE_LEN		16	/* nonce bytes we send and expect */
#define SCL_TID_MAX		128	/* transactionID characters */

/* RFC 8894 §3.2.1: the signed attributes, under id-VeriSign pki. */
#define SCL_OID_MESSAGE_TYPE	"2.16.840.1.113733.1.9.2"
#define SCL_OID_PKI_STATUS	"2.16.840.1.113733.1.9.3"
#define SCL_OID_FAIL_INFO	"2.16.840.1.113733.1.9.4"
#define SCL_OID_SENDER_NONCE	"2.16.840.1.113733.1.9.5"
#define SCL_OID_RECIP_NONCE	"2.16.840.1.113733.1.9.6"
#define SCL_OID_TRANS_ID	"2.16.840.1.113733.1.9.7"

/* messageType (§3.2.1.2) and pkiStatus (§3.2.1.3) values. */
#define SCL_TYPE_CERTREP	3
#define SCL_TYPE_PKCSREQ	"19"
#define SCL_STATUS_SUCCESS	0
#define SCL_STATUS_FAILURE	2
#define SCL_STATUS_PENDING	3

/* failInfo names as §3.2.1.4 spells them, by value; NULL past the end. */
const char	*scl_fail_name(int fail_info);

/* The program name scl_warn() puts first; set once by main(). */
extern const char	*scl_prog;

/* A complaint on stderr, with OpenSSL's error queue when it has one. */
void		 scl_warn(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------ inputs */

X509		*scl_cert_read(const char *path);
EVP_PKEY	*scl_rsa_key(unsigned bits);

/* --------------------------------------------------------- building */

/* A self-signed certificate for a first request (RFC 8894 §2.3). */
X509		*scl_self_signed(EVP_PKEY *key, const char *cn);
/* A DER PKCS#10 for key, CN=cn, with challengePassword unless NULL. */
uint8_t		*scl_csr(EVP_PKEY *key, const char *cn, const char *challenge,
		    size_t *lenp);
/*
 * IssuerAndSubject (CertPoll, §3.3.3) when subject is not NULL, else
 * IssuerAndSerialNumber (GetCert, GetCRL, §3.3.4).
 */
uint8_t		*scl_names(const X509_NAME *issuer, const X509_NAME *subject,
		    const ASN1_INTEGER *serial, size_t *lenp);

bool		 scl_attr_add(CMS_SignerInfo *si, const char *oid, int type,
		    const void *data, size_t len);
const ASN1_STRING *scl_attr_get(CMS_SignerInfo *si, const char *oid,
		    int type);

/* Everything one PKIMessage is made of; the caller keeps ownership. */
struct scl_msg {
	const char	*type;		/* messageType, decimal */
	const uint8_t	*inner;		/* what the envelope carries */
	size_t		 inner_len;
	X509		*to;		/* envelope recipient (the RA) */
	const char	*cipher;	/* envelope cipher, OpenSSL name */
	X509		*signer;	/* named by the SignerInfo */
	EVP_PKEY	*key;		/* signs */
	X509		*carry;		/* NULL: carry signer; else only this */
	const char	*md;		/* signature digest, OpenSSL name */
	const char	*tid;		/* transactionID */
	const uint8_t	*nonce;		/* senderNonce, SCL_NONCE_LEN bytes */
	bool		 spoil_cipher;	/* ciphertext changed before signing */
	bool		 spoil_signed;	/* signed content changed after */
	int64_t		 signing_time;	/* signingTime; 0: OpenSSL's (now) */
};

/* The DER SignedData (§3.2) around the envelope; OPENSSL_free it. */
uint8_t		*scl_message(const struct scl_msg *m, size_t *lenp);

/* ------------------------------------------------------------- HTTP */

/* The PKIOperation URL; by GET it carries the message. cg_free it. */
char		*scl_op_url(CURL *c, const char *base, const uint8_t *msg,
		    size_t len, bool get);
/* The header list a POST of a PKIMessage sends; curl_slist_free_all. */
struct curl_slist *scl_post_headers(bool no_expect);
/*
 * Set c up to send one PKIOperation to url, by POST of post (not copied)
 * when it is not NULL, the reply body into body.
 */
void		 scl_http_setup(CURL *c, const char *url, const uint8_t *post,
		    size_t post_len, struct curl_slist *hdrs,
		    const char *cacert, struct cg_buf *body);
size_t		 scl_body_cb(char *data, size_t size, size_t n, void *arg);

/* ------------------------------------------------------- the CertRep */

enum scl_rep_code {
	SCL_REP_OK,			/* read; see the fields */
	SCL_REP_MALFORMED,		/* not a SignedData with one signer */
	SCL_REP_BAD_SIGNATURE,		/* not signed by the RA given */
	SCL_REP_NOMEM,
};

/* What a CertRep says and whether it answers the request. */
struct scl_rep {
	int		 digest_nid;	/* the signer's digest */
	int		 msg_type;	/* -1: absent or not a digit */
	int		 status;	/* pkiStatus; -1 likewise */
	int		 fail_info;	/* failInfo; -1 likewise */
	bool		 tid_ok;	/* transactionID is ours */
	bool		 rnonce_ok;	/* recipientNonce is our senderNonce */
	bool		 snonce_ok;	/* a senderNonce of the right size */
	uint8_t		*content;	/* the signed content; OPENSSL_free */
	size_t		 content_len;
};

/*
 * Read the CertRep in der.  With ra, its signature must verify with ra's
 * key and no other certificate; without, it is not checked (a quick look
 * at the status).
 */
enum scl_rep_code scl_rep_read(const uint8_t *der, size_t len, X509 *ra,
		    const char *tid, const uint8_t *nonce, struct scl_rep *r);
void		 scl_rep_free(struct scl_rep *r);

enum scl_env_code {
	SCL_ENV_OK,
	SCL_ENV_NOT_ENVELOPED,		/* no EnvelopedData */
	SCL_ENV_DECRYPT,		/* not for key and cert */
};

/*
 * Open the pkcsPKIEnvelope of a reply with the client's key and the
 * certificate it signed with: its cipher (*cipher_nid, set once it is an
 * EnvelopedData) and the plaintext (OPENSSL_free).
 */
enum scl_env_code scl_envelope_open(const uint8_t *der, size_t len,
		    EVP_PKEY *key, X509 *cert, int *cipher_nid,
		    uint8_t **plainp, size_t *plen);
/* The degenerate certs-only PKCS#7 of a SUCCESS, or NULL. */
PKCS7		*scl_certs_only(const uint8_t *der, size_t len);

#endif /* CERTGW_TESTS_SCEP_CL_H */
