/*
 * fuzz_ca_csr.c - ca_csr_parse() reads PKCS#10 requests straight from
 * peers (EST simpleenroll, SCEP, ACME finalize): bounded DER, whole input
 * consumed, self-signature verified.  Parsed requests also go through the
 * SAN reader the policy uses.
 */
#include <openssl/x509v3.h>

#include "certgw/ca.h"
#include "ca_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct ca_csr	*csr;
	GENERAL_NAMES	*gens;

	if (ca_csr_parse(data, len, &csr, NULL) != CG_OK)
		return 0;
	if (ca_csr_get1_sans(csr, &gens, NULL) == CG_OK)
		GENERAL_NAMES_free(gens);
	ca_csr_free(csr);
	return 0;
}
