/*
 * fuzz_acme_jwk.c - acme_jwk_to_pkey() imports account keys sent by
 * clients.  Any key it accepts must survive the way back: its JWK from
 * acme_jwk_from_pkey() imports again to a key of the same RFC 7638
 * thumbprint, or the fuzzer aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "../../protocols/acme/acme_jws.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	json_t			*jwk, *back = NULL;
	EVP_PKEY		*pk = NULL, *pk2 = NULL;
	enum acme_problem	 prob = ACME_P_NONE;
	char			 a[ACME_THUMBPRINT_LEN + 1];
	char			 b[ACME_THUMBPRINT_LEN + 1];

	jwk = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES,
	    NULL);
	if (jwk == NULL)
		return 0;
	if (acme_jwk_to_pkey(jwk, &pk, &prob, NULL) != CG_OK) {
		if (pk != NULL || prob == ACME_P_NONE)
			abort();
		json_decref(jwk);
		return 0;
	}
	prob = ACME_P_NONE;
	if (acme_jwk_thumbprint(pk, a, NULL) != CG_OK ||
	    acme_jwk_from_pkey(pk, &back, NULL) != CG_OK ||
	    acme_jwk_to_pkey(back, &pk2, &prob, NULL) != CG_OK ||
	    acme_jwk_thumbprint(pk2, b, NULL) != CG_OK ||
	    strcmp(a, b) != 0 || strlen(a) != ACME_THUMBPRINT_LEN)
		abort();
	json_decref(back);
	EVP_PKEY_free(pk2);
	EVP_PKEY_free(pk);
	json_decref(jwk);
	return 0;
}
