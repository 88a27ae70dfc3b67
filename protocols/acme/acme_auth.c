/*
 * acme_auth.c - who signed a request (RFC 8555 §6.2-§6.5): the JWS is
 * parsed, its "url" compared with the request URL, the signer's key found
 * ("jwk", or the account named by "kid"), the signature checked, and only
 * then is the nonce used up, so a forged request cannot burn a client's
 * nonce.  The JWS layer itself is acme_jws.c.
 */
#include "acme_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * Each loop thread keeps the keys of the accounts it saw last, by account
 * id and thumbprint: the account row is still read for every request (its
 * status may have changed, on any instance), but the key is parsed from
 * its JWK only when the row's thumbprint is not the cached one (a new
 * account, or a key rollover).  A pthread key frees the cache when its
 * thread exits.
 */
#define KEY_CACHE_N	256	/* entries per thread, direct-mapped */

struct key_ent {
	char		 id[CA_ACME_ID_MAX + 1];
	char		 thumb[ACME_THUMBPRINT_LEN + 1];
	EVP_PKEY	*key;		/* one reference held here */
};

static pthread_once_t		 kc_once = PTHREAD_ONCE_INIT;
static pthread_key_t		 kc_key;
static bool			 kc_ok;
static _Thread_local struct key_ent *tl_kc;

static void
kc_free(void *p)
{
	struct key_ent	*kc = p;
	size_t		 i;

	for (i = 0; kc != NULL && i < KEY_CACHE_N; i++)
		EVP_PKEY_free(kc[i].key);
	free(kc);
}

static void
kc_init(void)
{
	kc_ok = pthread_key_create(&kc_key, kc_free) == 0;
}

/* This thread's slot for id, or NULL when the cache cannot exist. */
static struct key_ent *
kc_slot(const char *id)
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */
	const char	*p;

	if (tl_kc == NULL) {
		if (pthread_once(&kc_once, kc_init) != 0 || !kc_ok)
			return NULL;
		/* calloc, not cg_calloc: the key destructor frees it. */
		tl_kc = calloc(KEY_CACHE_N, sizeof(*tl_kc));
		if (tl_kc == NULL)
			return NULL;
		if (pthread_setspecific(kc_key, tl_kc) != 0) {
			free(tl_kc);
			tl_kc = NULL;
			return NULL;
		}
	}
	for (p = id; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return &tl_kc[h % KEY_CACHE_N];
}

bool
acme_kid_to_id(const struct acme_call *call, const char *kid,
    char id[CA_ACME_ID_MAX + 1])
{
	size_t	 blen = strlen(call->base), n;

	if (strncmp(kid, call->base, blen) != 0 ||
	    strncmp(kid + blen, "/acct/", 6) != 0)
		return false;
	kid += blen + 6;
	n = strlen(kid);
	if (n == 0 || n > CA_ACME_ID_MAX || strchr(kid, '/') != NULL)
		return false;
	memcpy(id, kid, n + 1);
	return true;
}

/* §6.2: "application/jose+json", parameters allowed. */
static bool
content_type_ok(const char *ct)
{
	size_t	 n = strlen(ACME_CT_JOSE);

	if (ct == NULL || strncasecmp(ct, ACME_CT_JOSE, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

static enum cg_code
kid_key(struct acme_call *call, struct cg_err *err)
{
	char		 id[CA_ACME_ID_MAX + 1];
	struct key_ent	*slot;
	json_t		*jwk = NULL;
	enum cg_code	 rc;

	if (!acme_kid_to_id(call, call->jws->kid, id))
		return acme_refuse(&call->prob, err, ACME_P_ACCOUNT_DOES_NOT_EXIST,
		    CG_EAUTH, "kid is not an account URL of this directory");
	rc = ca_store_acme_account_get(gw_req_store(call->req), id,
	    &call->acct, err);
	if (rc == CG_ENOTFOUND) {
		cg_err_clear(err);
		return acme_refuse(&call->prob, err,
		    ACME_P_ACCOUNT_DOES_NOT_EXIST, CG_EAUTH,
		    "no account at kid");
	}
	if (rc != CG_OK)
		return rc;
	if (strcmp(call->acct->directory, call->dir->name) != 0)
		return acme_refuse(&call->prob, err,
		    ACME_P_ACCOUNT_DOES_NOT_EXIST, CG_EAUTH,
		    "no account at kid");
	/* §7.3.6: a deactivated account's requests are unauthorized. */
	if (strcmp(call->acct->status, "valid") != 0)
		return acme_refuse(&call->prob, err, ACME_P_UNAUTHORIZED,
		    CG_EAUTH, "account is %s", call->acct->status);
	slot = kc_slot(id);
	if (slot != NULL && slot->key != NULL && strcmp(slot->id, id) == 0 &&
	    strcmp(slot->thumb, call->acct->thumbprint) == 0 &&
	    EVP_PKEY_up_ref(slot->key) == 1) {
		call->key = slot->key;
		return CG_OK;
	}
	jwk = acme_json_load(call->acct->jwk);
	if (jwk == NULL)
		return cg_err_set(err, CG_EINTERNAL, "stored account key of "
		    "%s is not JSON", id);
	rc = acme_jwk_to_pkey(jwk, &call->key, &call->prob, err);
	json_decref(jwk);
	if (rc == CG_OK && slot != NULL &&
	    strlen(call->acct->thumbprint) <= ACME_THUMBPRINT_LEN &&
	    EVP_PKEY_up_ref(call->key) == 1) {
		EVP_PKEY_free(slot->key);
		slot->key = call->key;
		memcpy(slot->id, id, strlen(id) + 1);
		memcpy(slot->thumb, call->acct->thumbprint,
		    strlen(call->acct->thumbprint) + 1);
	}
	return rc;
}

static enum cg_code
nonce_spend(struct acme_call *call, struct cg_err *err)
{
	enum acme_nonce_verdict	 v;
	const char		*n = call->jws->nonce;

	v = acme_nonce_use(call->as->nonces, n, strlen(n),
	    (int64_t)cg_wall_ms());
	if (v == ACME_NONCE_OK)
		return CG_OK;
	if (v == ACME_NONCE_ERROR)
		return cg_err_set(err, CG_EINTERNAL, "nonce check failed");
	return acme_refuse(&call->prob, err, ACME_P_BAD_NONCE, CG_EINVAL,
	    "nonce is %s", acme_nonce_verdict_str(v));
}

static enum cg_code
payload_parse(struct acme_call *call, struct cg_err *err)
{
	json_error_t	 jerr;

	if (call->jws->post_as_get)
		return CG_OK;
	call->payload = json_loadb((const char *)call->jws->payload,
	    call->jws->payload_len, JSON_REJECT_DUPLICATES, &jerr);
	if (call->payload == NULL || !json_is_object(call->payload))
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "payload is not a JSON object");
	return CG_OK;
}

enum cg_code
acme_auth(struct acme_call *call, enum acme_jws_mode mode,
    struct cg_err *err)
{
	const uint8_t	*body;
	size_t		 len;
	enum cg_code	 rc;

	if (!content_type_ok(gw_req_header(call->req, "Content-Type"))) {
		call->status = 415;
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "Content-Type must be " ACME_CT_JOSE);
	}
	body = gw_req_body(call->req, &len);
	rc = acme_jws_parse(body, len, mode, &call->jws, &call->prob, err);
	if (rc != CG_OK)
		return rc;
	/* §6.4: the "url" header must be the URL this request went to. */
	if (strcmp(call->jws->url, call->url) != 0)
		return acme_refuse(&call->prob, err, ACME_P_UNAUTHORIZED,
		    CG_EAUTH, "url header does not match the request URL");
	if (call->jws->kid != NULL)
		rc = kid_key(call, err);
	else
		rc = acme_jwk_to_pkey(call->jws->jwk, &call->key, &call->prob,
		    err);
	if (rc == CG_OK)
		rc = acme_jws_verify(call->jws, call->key, &call->prob, err);
	if (rc == CG_OK)
		rc = nonce_spend(call, err);
	if (rc == CG_OK)
		rc = payload_parse(call, err);
	return rc;
}
