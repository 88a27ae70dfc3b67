/*
 * fuzz_ca_csr.c - ca_csr_parse() reads PKCS#10 requests straight from
 * peers (EST simpleenroll, SCEP, ACME finalize): bounded DER, whole input
 * consumed, self-signature verified.  Parsed requests also go through the
 * SAN reader the policy uses.
 *
 * Differential: whatever the direct path (ca_csr_der.c) accepts, OpenSSL's
 * own d2i_X509_REQ() + X509_REQ_verify() must accept too, with the same
 * subject and the same key; a disagreement aborts.
 */
#include <stdlib.h>

#include <openssl/x509v3.h>

#include "certgw/ca.h"
#include "ca_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static void
compare_with_openssl(const uint8_t *data, size_t len, X509_REQ *req,
    EVP_PKEY *pub)
{
	const unsigned char	*p = data;
	X509_REQ		*ref;
	EVP_PKEY		*rpub;

	ref = d2i_X509_REQ(NULL, &p, (long)len);
	if (ref == NULL || p != data + len)
		abort();
	rpub = X509_REQ_get0_pubkey(ref);
	if (rpub == NULL || X509_REQ_verify(ref, rpub) != 1 ||
	    EVP_PKEY_eq(rpub, pub) != 1 ||
	    X509_NAME_cmp(X509_REQ_get_subject_name(ref),
	    X509_REQ_get_subject_name(req)) != 0 ||
	    X509_REQ_get_attr_count(ref) != X509_REQ_get_attr_count(req))
		abort();
	X509_REQ_free(ref);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ca_csr	*csr;
	GENERAL_NAMES	*gens;
	X509_REQ	*req = NULL;
	EVP_PKEY	*pub = NULL;
	bool		 handled = false;

	if (len <= CA_CSR_MAX && ca_csr_parse_der(data, len, &req, &pub,
	    &handled, NULL) == CG_OK && handled)
		compare_with_openssl(data, len, req, pub);
	X509_REQ_free(req);
	EVP_PKEY_free(pub);
	if (ca_csr_parse(data, len, &csr, NULL) != CG_OK)
		return 0;
	if (ca_csr_get1_sans(csr, &gens, NULL) == CG_OK)
		GENERAL_NAMES_free(gens);
	ca_csr_free(csr);
	return 0;
}
