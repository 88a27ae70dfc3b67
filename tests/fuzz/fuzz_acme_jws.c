/*
 * fuzz_acme_jws.c - acme_jws_parse() reads every ACME POST body straight
 * from clients.  The first byte picks the mode; a JWS that parses is
 * verified with the key of its "jwk" when it has one, an account request
 * is also tried as a key rollover, and an EAB-mode input goes through
 * acme_eab_verify() with a fixed HMAC key.
 */
#include <stdlib.h>
#include <string.h>

#include "../../protocols/acme/acme_jws.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static EVP_PKEY	*account_key;
static json_t	*account_jwk;

static enum cg_code
lookup(void *arg, const char *kid, uint8_t key[ACME_EAB_KEY_MAX],
    size_t *keylenp, struct cg_err *err)
{
	static const char	 k[] = "fuzz eab key";

	if (strcmp(kid, "kid-1") != 0)
		return cg_err_set(err, CG_ENOTFOUND, "unknown kid");
	memcpy(key, k, sizeof(k) - 1);
	*keylenp = sizeof(k) - 1;
	return CG_OK;
}

static void
eab(const uint8_t *data, size_t len)
{
	json_t			*obj;
	char			 kid[ACME_EAB_KID_MAX + 1];
	enum acme_problem	 prob = ACME_P_NONE;

	obj = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES,
	    NULL);
	if (obj == NULL)
		return;
	(void)acme_eab_verify(obj, "https://acme.example/acme/new-account",
	    account_jwk, lookup, NULL, kid, &prob, NULL);
	json_decref(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const enum acme_jws_mode modes[] = {
		ACME_JWS_OUTER_KID, ACME_JWS_OUTER_JWK, ACME_JWS_OUTER_ANY,
		ACME_JWS_INNER, ACME_JWS_EAB
	};
	struct acme_jws		*jws = NULL;
	EVP_PKEY		*pk = NULL, *newkey = NULL;
	enum acme_problem	 prob = ACME_P_NONE;
	struct cg_err		 err;
	enum acme_jws_mode	 mode;

	if (account_key == NULL) {
		account_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (account_key == NULL || acme_jwk_from_pkey(account_key,
		    &account_jwk, NULL) != CG_OK)
			abort();
	}
	if (len == 0)
		return 0;
	mode = modes[data[0] % 5];
	data++;
	len--;
	if (mode == ACME_JWS_EAB) {
		eab(data, len);
		return 0;
	}
	memset(&err, 0, sizeof(err));
	if (acme_jws_parse(data, len, mode, &jws, &prob, &err) != CG_OK) {
		/* A refusal always names its problem and says why. */
		if (jws != NULL || prob == ACME_P_NONE || err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (jws->jwk != NULL && acme_jwk_to_pkey(jws->jwk, &pk, &prob,
	    NULL) == CG_OK)
		(void)acme_jws_verify(jws, pk, &prob, NULL);
	if (mode == ACME_JWS_OUTER_KID) {
		(void)acme_jws_verify(jws, account_key, &prob, NULL);
		if (acme_keychange_verify(jws, account_key, &newkey, &prob,
		    NULL) == CG_OK)
			EVP_PKEY_free(newkey);
	}
	EVP_PKEY_free(pk);
	acme_jws_free(jws);
	return 0;
}
