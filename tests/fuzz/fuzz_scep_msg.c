/*
 * fuzz_scep_msg.c - scep_req_parse() reads SCEP PKIMessages straight from
 * clients.  The RA is fixed (a throwaway test key, embedded so that the
 * seed corpus, written by tests/unit/test_scep_msg.c, decrypts).  The first
 * byte picks the mode:
 *
 *   even: the rest is a PKIMessage;
 *   odd:  byte 1 picks a request type and the rest is the plaintext; the
 *         harness envelopes it to the RA and signs it with a fixed client
 *         key, so the PKCS#10, IssuerAndSubject and IssuerAndSerialNumber
 *         parsers get fuzzed behind a valid signature.  Such a message
 *         must parse, or fail with badRequest and a CertRep possible.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/pem.h>

#include "../../protocols/scep/scep_msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* Not a secret: a test key that only ever decrypts fuzz inputs. */
static const char fuzz_ra_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDKYNVrfm2lxpDD\n"
    "pM+TLbfA8gMYVP1knhZ2g6II+C+YlCf38Bnl9poG+2SnkFHKZq4V8RztNo9qJU65\n"
    "4SLvj+CC14a/QB4Y+iQ2kqEM+iV7y9sqz9dNSdn1T+puEAXy4DvzPtSw1+qmoUOh\n"
    "I9FnQN9+rBTkJ4i2XVdSe/nM0lnlvN0TV6oZ/ANEvJw99agmcCDfggid289owJel\n"
    "RN6lOBOCs/SGZLOcDYeApmX/Nk5RhrMBp3NjxdvSEcaSzEuVKUJ7hXKlHH7JWiKQ\n"
    "iWKP5dJKiUee0cvYSLL+IvbZ/uGx9R5C9GDbyn/RwzFQPJizhzxjck4f1Hqpkh3p\n"
    "spptGeVDAgMBAAECggEAJAyft6grq+3094SyHQt1wf7aIklxYazvX2kPQf3DrLAn\n"
    "dnjkhBwrT7cUNOz2RNGJjQsIFhEz9rpyjZXW/UlpuqTdsc+gDN7x+G6iFYexiZ3E\n"
    "ipm/RlszYgk8PyLHjH3479lvVZkAiXIMc/XHZVce+Jd6mTGZnrJ9zYmb86o8rTln\n"
    "3DxsmlORNLuXQVtmIUdF8OX0yDOtDxfR1j/Q28LCT9JKGn+3Se3NUTowuqndhCMD\n"
    "n2j3Vr5xP7y1vIBGBlUuICiXiMEU0fO0gOm0r3YZ/SQRGbU4sltHHi0LcmlJ5MSY\n"
    "yzKHUxltZxnKYmcFyL1mzABxj2hSCMonyjGLYge3oQKBgQD4A1+358Y0hkpzvGf+\n"
    "f5MPN3okV0oqkUhd4KoWx+B26E104vXkxKDJMr8Qn3rO2vta8WAElD08mMOe1CLk\n"
    "jgn1zAmZRcQLT9jEQl4DNSm+Wp33Dig1MyvBnvPypMdUZlQhPoxA66EWaebpxyDT\n"
    "2AJzxvrXB8hc0fUuxVIDeATZSwKBgQDQ5T6VScIevA9j00plQxlvVWeCbLcoqZMi\n"
    "WKIrH/idB2smMcGpIZvdEfXZ+3Wr+qInz3Gbo9sTT/sZdt2gP9kpCxZ0sEATRWPt\n"
    "+Jj7mG0DgcpIw2Y2phQYVG9SHKPrMckgz1pt+E2KMzRbnk4R9x+RtsEc1k58drnp\n"
    "Y5dr8Rxg6QKBgDaCZ1NAOavpqAtv6VtiJqw9gTbjiIV6kPExI7EGFSuNOxjpmSnC\n"
    "naQa5yt8Ib29G2mNi5D2E89xs+0AqvqYzU+cnK93SfNChV39SDRkRtxzhix6jBPF\n"
    "P2S6ztsRpE3Ef9EesizCnREUDZBsF6b33vIbVZ5VM5BTBRRWggQJKOepAoGBAL2p\n"
    "lnPXHw/msZZyLZbZIEvMYAm0CWw64qMJlFvRUFnKdYedH3cfU7OZbf23aPR3wCij\n"
    "GUQ1tl/He3V4TesEbXftYDscF2En3H4g+01b7IaFnhMIjlJJ4e7hIp2L8WxGrJVE\n"
    "jpdQHZ6/tOcGSV3YYOpc4uL61RH+ffege8f+h0SZAoGAeYxCHhAyrMbDuxDQ6GOJ\n"
    "Z8N6CUBbCAQgWt0SdtSr+2dWypbhrbd/e/8VXEtg0Tbsv6vUmyEisNCRu9zdmpaS\n"
    "4+Y6jDF5YI/SAbMdYjApiGjnMAhXd9wRZ8d+6EF9ClfLDBFgbvgi2wGjiJ4nr1c5\n"
    "TL3iQqs4KuZOsOc8S4u3KoY=\n"
    "-----END PRIVATE KEY-----\n";

static const char fuzz_ra_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDLzCCAhegAwIBAgIUIPNM7zR4PCtOlXznq3kHZo6KwJAwDQYJKoZIhvcNAQEL\n"
    "BQAwHjEcMBoGA1UEAwwTY2VydGd3IGZ1enogU0NFUCBSQTAgFw0yNjExMjMxNzE3\n"
    "MTNaGA8yMTI2MTAzMDE3MTcxM1owHjEcMBoGA1UEAwwTY2VydGd3IGZ1enogU0NF\n"
    "UCBSQTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAMpg1Wt+baXGkMOk\n"
    "z5Mtt8DyAxhU/WSeFnaDogj4L5iUJ/fwGeX2mgb7ZKeQUcpmrhXxHO02j2olTrnh\n"
    "Iu+P4ILXhr9AHhj6JDaSoQz6JXvL2yrP101J2fVP6m4QBfLgO/M+1LDX6qahQ6Ej\n"
    "0WdA336sFOQniLZdV1J7+czSWeW83RNXqhn8A0S8nD31qCZwIN+CCJ3bz2jAl6VE\n"
    "3qU4E4Kz9IZks5wNh4CmZf82TlGGswGnc2PF29IRxpLMS5UpQnuFcqUcfslaIpCJ\n"
    "Yo/l0kqJR57Ry9hIsv4i9tn+4bH1HkL0YNvKf9HDMVA8mLOHPGNyTh/UeqmSHemy\n"
    "mm0Z5UMCAwEAAaNjMGEwHQYDVR0OBBYEFKy9ZM4DTjgEck5rP/TZbyK5G1fyMB8G\n"
    "A1UdIwQYMBaAFKy9ZM4DTjgEck5rP/TZbyK5G1fyMA8GA1UdEwEB/wQFMAMBAf8w\n"
    "DgYDVR0PAQH/BAQDAgWgMA0GCSqGSIb3DQEBCwUAA4IBAQC+ARY3nRKvJbhSGzUi\n"
    "4eUZKbhIJ/xkWBNpUReFxSglLqauJWxbmfmTQ0yGTduVfAn4HYoWX9wrihju3aVR\n"
    "5m12xDzwbTlvmGStbFHWI+S4/d1SQxbP+avPnBnEsipBZCshSZtM3vQPjFK/V6Z3\n"
    "wKtZ0u71opjFCg9J28frKLCFYvWJ1JREvCxgn09dPD8QNMiWe8IQ0NormQsv0a+P\n"
    "0EcTy8BEt6Q6oRjQnlxAu/cSOcqKG3R6C4EdzGB/ZvQRXkh/ByVCZ4R9lH9itQwf\n"
    "n+6kvQvb37IJJ+YDWnt+FKOTnJFEKF/GTfxx171ny55e2LbVuezTGqc1STjv7fHh\n"
    "NLdK\n"
    "-----END CERTIFICATE-----\n";

static EVP_PKEY	*fuzz_ra_key;		/* the RA, from the PEM above */
static X509	*fuzz_ra_cert;
static struct scep_id fuzz_ra;		/* the two above, as the server */
static EVP_PKEY	*fuzz_client_key;	/* signs odd-mode messages */
static X509	*fuzz_client_cert;

static const uint8_t fuzz_nonce[SCEP_NONCE_LEN] = "fuzz nonce 16 by";

static X509 *
fuzz_self_signed(EVP_PKEY *key)
{
	X509		*x;
	X509_NAME	*name;

	if ((x = X509_new()) == NULL || (name = X509_get_subject_name(x)) ==
	    NULL || X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"fuzz client", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1 ||
	    X509_sign(x, key, EVP_sha256()) <= 0)
		abort();
	return x;
}

static void
fuzz_init(void)
{
	BIO	*b;

	if (fuzz_ra_key != NULL)
		return;
	if ((b = BIO_new_mem_buf(fuzz_ra_key_pem, -1)) == NULL ||
	    (fuzz_ra_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) ==
	    NULL)
		abort();
	BIO_free(b);
	if ((b = BIO_new_mem_buf(fuzz_ra_cert_pem, -1)) == NULL ||
	    (fuzz_ra_cert = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
		abort();
	BIO_free(b);
	fuzz_ra.cert = fuzz_ra_cert;
	fuzz_ra.key = fuzz_ra_key;
	fuzz_client_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (fuzz_client_key == NULL)
		abort();
	fuzz_client_cert = fuzz_self_signed(fuzz_client_key);
}

static int
fuzz_attr(CMS_SignerInfo *si, const char *oid, int type, const void *p,
    int len)
{
	ASN1_OBJECT	*obj = OBJ_txt2obj(oid, 1);
	int		 ok;

	ok = CMS_signed_add1_attr_by_OBJ(si, obj, type, p, len);
	ASN1_OBJECT_free(obj);
	return ok;
}

/* A PKIMessage of type mt around plain; *lenp bytes (OPENSSL_free). */
static uint8_t *
fuzz_wrap(const uint8_t *plain, size_t plen, const char *mt, int *lenp)
{
	STACK_OF(X509)	*to = sk_X509_new_null();
	CMS_ContentInfo	*env = NULL, *cms = NULL;
	CMS_SignerInfo	*si;
	BIO		*in = NULL, *ein = NULL;
	unsigned char	*envder = NULL, *der = NULL;
	int		 envlen;

	*lenp = 0;
	if (to == NULL || sk_X509_push(to, fuzz_ra_cert) <= 0 ||
	    (in = BIO_new_mem_buf(plain, (int)plen)) == NULL ||
	    (env = CMS_encrypt(to, in, EVP_aes_128_cbc(), CMS_BINARY)) ==
	    NULL || (envlen = i2d_CMS_ContentInfo(env, &envder)) <= 0 ||
	    (ein = BIO_new_mem_buf(envder, envlen)) == NULL ||
	    (cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL |
	    CMS_BINARY)) == NULL ||
	    (si = CMS_add1_signer(cms, fuzz_client_cert, fuzz_client_key,
	    EVP_sha256(), CMS_BINARY | CMS_NOSMIMECAP)) == NULL ||
	    fuzz_attr(si, SCEP_OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING, mt,
	    (int)strlen(mt)) != 1 ||
	    fuzz_attr(si, SCEP_OID_TRANS_ID, V_ASN1_PRINTABLESTRING, "fuzz",
	    4) != 1 ||
	    fuzz_attr(si, SCEP_OID_SENDER_NONCE, V_ASN1_OCTET_STRING,
	    fuzz_nonce, SCEP_NONCE_LEN) != 1 ||
	    CMS_final(cms, ein, NULL, CMS_BINARY) != 1 ||
	    (*lenp = i2d_CMS_ContentInfo(cms, &der)) <= 0)
		abort();
	CMS_ContentInfo_free(cms);
	BIO_free(ein);
	OPENSSL_free(envder);
	CMS_ContentInfo_free(env);
	BIO_free(in);
	sk_X509_free(to);
	return der;
}

/* What a parsed request must hold, whatever the input. */
static void
fuzz_check(enum cg_code rc, const struct scep_req *req,
    const struct scep_req_hdr *hdr)
{
	if (hdr->ok && !scep_tid_is_valid((const uint8_t *)
	    hdr->transaction_id, strlen(hdr->transaction_id)))
		abort();
	if (rc != CG_OK)
		return;
	if (!hdr->ok || req->signer == NULL ||
	    !scep_cipher_is_allowed(req->cipher_nid) ||
	    !scep_md_is_allowed(req->hdr.md_nid))
		abort();
	switch (req->hdr.type) {
	case SCEP_MT_PKCSREQ:
	case SCEP_MT_RENEWALREQ:
		if (req->csr == NULL || (req->challenge != NULL &&
		    strlen(req->challenge) != req->challenge_len))
			abort();
		break;
	case SCEP_MT_CERTPOLL:
		if (req->issuer == NULL || req->subject == NULL)
			abort();
		break;
	case SCEP_MT_GETCERT:
	case SCEP_MT_GETCRL:
		if (req->issuer == NULL || req->serial == NULL)
			abort();
		break;
	default:
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const char *const types[] = { "19", "17", "20", "21", "22" };
	struct scep_req_hdr	 hdr;
	struct scep_req		*req = NULL;
	enum scep_fail		 fail = SCEP_FAIL_BADREQUEST;
	enum cg_code		 rc;
	uint8_t			*der;
	int			 dlen;

	fuzz_init();
	if (len == 0)
		return 0;
	if ((data[0] & 1) == 0) {
		rc = scep_req_parse(data + 1, len - 1, &fuzz_ra, &req, &hdr,
		    &fail, NULL);
		fuzz_check(rc, req, &hdr);
		scep_req_free(req);
		return 0;
	}
	if (len < 2 || len - 2 > SCEP_MSG_MAX / 2)
		return 0;
	der = fuzz_wrap(data + 2, len - 2, types[data[1] % 5], &dlen);
	rc = scep_req_parse(der, (size_t)dlen, &fuzz_ra,
	    &req, &hdr, &fail, NULL);
	fuzz_check(rc, req, &hdr);
	if (rc != CG_OK && (!hdr.ok || fail != SCEP_FAIL_BADREQUEST))
		abort();
	scep_req_free(req);
	OPENSSL_free(der);
	return 0;
}
