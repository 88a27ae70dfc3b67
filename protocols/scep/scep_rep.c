/*
 * scep_rep.c - writing SCEP replies (RFC 8894 §3.3.2): the CertRep
 * SignedData with its signed attributes, the EnvelopedData around the
 * issued certificates, and the degenerate certs-only PKCS#7 that GetCACert
 * also serves.  What to answer is the server's decision; this file only
 * encodes it.
 */
#include "scep_msg.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>

/* i2d through fn into a fresh cg_malloc buffer. */
static enum cg_code
der_dup(int (*fn)(const void *, unsigned char **), const void *obj,
    uint8_t **derp, size_t *lenp, struct cg_err *err)
{
	unsigned char	*p;
	uint8_t		*der;
	int		 len;

	if ((len = fn(obj, NULL)) <= 0)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode reply");
	if ((der = cg_malloc((size_t)len)) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	p = der;
	if (fn(obj, &p) != len) {
		cg_free(der);
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode reply");
	}
	*derp = der;
	*lenp = (size_t)len;
	return CG_OK;
}

static int
i2d_p7(const void *p7, unsigned char **pp)
{
	return i2d_PKCS7((PKCS7 *)p7, pp);
}

static int
i2d_cms(const void *cms, unsigned char **pp)
{
	return i2d_CMS_ContentInfo((CMS_ContentInfo *)cms, pp);
}

/*
 * Built with the PKCS7 API rather than CMS: PKCS#7 keeps certificates in
 * the order given (CMS sorts the SET), and clients take the first one as
 * theirs.  The encapsulated content is id-data with no content, as
 * `openssl crl2pkcs7` makes it.
 */
enum cg_code
scep_certs_only(X509 *const *certs, size_t n, X509_CRL *crl, uint8_t **derp,
    size_t *lenp, struct cg_err *err)
{
	PKCS7		*p7 = NULL;
	size_t		 i;
	enum cg_code	 rc;

	*derp = NULL;
	*lenp = 0;
	if ((n == 0 && crl == NULL) || n > SCEP_CERTS_MAX ||
	    (n > 0 && certs == NULL))
		return cg_err_set(err, CG_EINVAL, "%zu certificates for "
		    "PKCS#7", n);
	if ((p7 = PKCS7_new()) == NULL ||
	    PKCS7_set_type(p7, NID_pkcs7_signed) != 1) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	p7->d.sign->contents->type = OBJ_nid2obj(NID_pkcs7_data);
	for (i = 0; i < n; i++) {
		if (certs[i] == NULL || PKCS7_add_certificate(p7,
		    certs[i]) != 1) {
			rc = cg_err_crypto(err, CG_EINVAL, "cannot add "
			    "certificate %zu", i);
			goto out;
		}
	}
	if (crl != NULL && PKCS7_add_crl(p7, crl) != 1) {
		rc = cg_err_crypto(err, CG_ENOMEM, "cannot add CRL");
		goto out;
	}
	rc = der_dup(i2d_p7, p7, derp, lenp, err);
out:
	PKCS7_free(p7);
	return rc;
}

/* The pkcsPKIEnvelope (RFC 8894 §3.2.2) of der to the request's signer. */
static enum cg_code
envelope_make(const uint8_t *der, size_t len, X509 *to, int cipher_nid,
    uint8_t **envp, size_t *envlenp, struct cg_err *err)
{
	STACK_OF(X509)	*recips = NULL;
	EVP_CIPHER	*cipher = NULL;
	CMS_ContentInfo	*env = NULL;
	BIO		*in = NULL;
	enum cg_code	 rc;

	if ((recips = sk_X509_new_null()) == NULL ||
	    sk_X509_push(recips, to) <= 0 ||
	    (in = BIO_new_mem_buf(der, (int)len)) == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	cipher = EVP_CIPHER_fetch(NULL, OBJ_nid2sn(cipher_nid), NULL);
	if (cipher == NULL) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cipher %s unavailable",
		    OBJ_nid2sn(cipher_nid));
		goto out;
	}
	if ((env = CMS_encrypt(recips, in, cipher, CMS_BINARY)) == NULL) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot encrypt to the "
		    "requester");
		goto out;
	}
	rc = der_dup(i2d_cms, env, envp, envlenp, err);
out:
	CMS_ContentInfo_free(env);
	EVP_CIPHER_free(cipher);
	BIO_free(in);
	sk_X509_free(recips);
	return rc;
}

/* Add one signed attribute (PrintableString or OCTET STRING). */
static bool
attr_add(CMS_SignerInfo *si, const char *oid, int type, const void *data,
    size_t len)
{
	ASN1_OBJECT	*obj;
	int		 ok;

	if ((obj = OBJ_txt2obj(oid, 1)) == NULL)
		return false;
	ok = CMS_signed_add1_attr_by_OBJ(si, obj, type, data, (int)len);
	ASN1_OBJECT_free(obj);
	return ok == 1;
}

/* RFC 8894 §3.2.1: the attributes every CertRep carries. */
static enum cg_code
attrs_add(CMS_SignerInfo *si, const struct scep_rep *rep, struct cg_err *err)
{
	uint8_t		 nonce[SCEP_NONCE_LEN];
	char		 status[2], fail[2];
	bool		 ok;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return cg_err_crypto(err, CG_ECRYPTO, "no random nonce");
	status[0] = (char)('0' + rep->status);
	status[1] = '\0';
	fail[0] = (char)('0' + rep->fail);
	fail[1] = '\0';
	ok = attr_add(si, SCEP_OID_TRANS_ID, V_ASN1_PRINTABLESTRING,
	    rep->transaction_id, strlen(rep->transaction_id)) &&
	    attr_add(si, SCEP_OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, "3",
	    1) &&
	    attr_add(si, SCEP_OID_PKI_STATUS, V_ASN1_PRINTABLESTRING, status,
	    1) &&
	    (rep->status != SCEP_ST_FAILURE || attr_add(si, SCEP_OID_FAIL_INFO,
	    V_ASN1_PRINTABLESTRING, fail, 1)) &&
	    attr_add(si, SCEP_OID_SENDER_NONCE, V_ASN1_OCTET_STRING, nonce,
	    sizeof(nonce)) &&
	    attr_add(si, SCEP_OID_RECIP_NONCE, V_ASN1_OCTET_STRING,
	    rep->recipient_nonce, SCEP_NONCE_LEN);
	if (!ok)
		return cg_err_crypto(err, CG_ENOMEM, "cannot add attributes");
	return CG_OK;
}

/*
 * The outer SignedData over content (empty for FAILURE and PENDING).  Its
 * signer is identified by issuer and serial number (SignerInfo v1), which
 * every client reads, and carries the RA certificate for them to check.
 */
static enum cg_code
signed_make(const struct scep_rep *rep, const uint8_t *content, size_t len,
    const struct scep_id *id, int md_nid, uint8_t **derp, size_t *lenp,
    struct cg_err *err)
{
	static const uint8_t	 empty[1];
	CMS_ContentInfo		*cms = NULL;
	CMS_SignerInfo		*si;
	EVP_MD			*md = NULL;
	BIO			*in = NULL;
	enum cg_code		 rc;

	if ((md = EVP_MD_fetch(NULL, OBJ_nid2sn(md_nid), NULL)) == NULL) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "digest unavailable");
		goto out;
	}
	in = BIO_new_mem_buf(len > 0 ? content : empty, (int)len);
	cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
	if (in == NULL || cms == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	si = scep_id_add1_signer(id, cms, md, CMS_BINARY | CMS_NOSMIMECAP);
	if (si == NULL) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot use the signing "
		    "key");
		goto out;
	}
	if ((rc = attrs_add(si, rep, err)) != CG_OK)
		goto out;
	if (CMS_final(cms, in, NULL, CMS_BINARY) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot sign reply");
		goto out;
	}
	rc = der_dup(i2d_cms, cms, derp, lenp, err);
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	EVP_MD_free(md);
	return rc;
}

static enum cg_code
rep_check(const struct scep_rep *rep, const struct scep_id *id,
    struct cg_err *err)
{
	if (id == NULL || id->cert == NULL || (id->key == NULL &&
	    id->ca == NULL))
		return cg_err_set(err, CG_EINVAL, "no RA certificate or key");
	if (rep->status != SCEP_ST_SUCCESS && rep->status != SCEP_ST_FAILURE &&
	    rep->status != SCEP_ST_PENDING)
		return cg_err_set(err, CG_EINVAL, "bad pkiStatus");
	if (rep->status == SCEP_ST_FAILURE &&
	    (unsigned)rep->fail >= SCEP_FAIL__MAX)
		return cg_err_set(err, CG_EINVAL, "bad failInfo");
	if (rep->transaction_id == NULL ||
	    !scep_tid_is_valid((const uint8_t *)rep->transaction_id,
	    strnlen(rep->transaction_id, SCEP_TID_MAX + 1)))
		return cg_err_set(err, CG_EINVAL, "bad transactionID");
	if (rep->recipient_nonce == NULL)
		return cg_err_set(err, CG_EINVAL, "no recipientNonce");
	if (rep->status != SCEP_ST_SUCCESS)
		return CG_OK;
	if (rep->recipient == NULL)
		return cg_err_set(err, CG_EINVAL, "no recipient certificate");
	if ((rep->ncerts == 0 && rep->crl == NULL) ||
	    (rep->ncerts > 0 && rep->crl != NULL))
		return cg_err_set(err, CG_EINVAL, "SUCCESS needs certificates "
		    "or a CRL");
	return CG_OK;
}

enum cg_code
scep_rep_make(const struct scep_rep *rep, const struct scep_id *id,
    uint8_t **derp, size_t *lenp, struct cg_err *err)
{
	uint8_t		*p7 = NULL, *env = NULL;
	size_t		 p7len = 0, envlen = 0;
	int		 md, cipher;
	enum cg_code	 rc;

	*derp = NULL;
	*lenp = 0;
	if ((rc = rep_check(rep, id, err)) != CG_OK)
		return rc;
	md = rep->md_nid != 0 ? rep->md_nid : NID_sha256;
	cipher = rep->cipher_nid != 0 ? rep->cipher_nid : NID_aes_256_cbc;
	if (!scep_md_is_allowed(md) || !scep_cipher_is_allowed(cipher))
		return cg_err_set(err, CG_EINVAL, "reply algorithm not "
		    "supported");
	if (rep->status == SCEP_ST_SUCCESS) {
		rc = scep_certs_only(rep->certs, rep->ncerts, rep->crl, &p7,
		    &p7len, err);
		if (rc != CG_OK)
			goto out;
		rc = envelope_make(p7, p7len, rep->recipient, cipher, &env,
		    &envlen, err);
		if (rc != CG_OK)
			goto out;
	}
	rc = signed_make(rep, env, envlen, id, md, derp, lenp, err);
out:
	cg_free(env);
	cg_free(p7);
	return rc;
}
