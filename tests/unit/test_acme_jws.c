/*
 * test_acme_jws.c - the JOSE layer of the ACME server: strict base64url,
 * problem types, the flattened JWS parse in every mode and each of its
 * refusals, signatures of RS256, ES256/384/512 and EdDSA made here with
 * freshly generated keys (and broken on purpose), JWK import limits and
 * refusals, RFC 7638 and RFC 8037 thumbprint vectors, JWK round trips,
 * the key rollover's inner JWS and external account binding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "../../protocols/acme/acme_jws.h"

#define T_URL		"https://acme.example/acme/new-order"
#define T_NEWACCT	"https://acme.example/acme/new-account"
#define T_KEYCHANGE	"https://acme.example/acme/key-change"
#define T_KID		"https://acme.example/acme/acct/17"
#define T_NONCE		"oFvnlFP1wIhRlYS2jTaXbA"

enum { K_RS256, K_ES256, K_ES384, K_ES512, K_EDDSA, K_COUNT };

static const char *const key_algs[K_COUNT] = {
	"RS256", "ES256", "ES384", "ES512", "EdDSA"
};
static EVP_PKEY		*keys[K_COUNT];
static EVP_PKEY		*rsa1024;

/* ------------------------------------------------------------ helpers */

static char *
b64(const void *p, size_t n)
{
	char	*s = NULL;

	assert_int_equal(acme_b64url_encode(p, n, &s, NULL), CG_OK);
	return s;
}

static size_t
ec_half(const char *alg)
{
	if (strcmp(alg, "ES256") == 0)
		return 32;
	if (strcmp(alg, "ES384") == 0)
		return 48;
	if (strcmp(alg, "ES512") == 0)
		return 66;
	return 0;
}

/*
 * The JWS signature of tbs under alg: RS256 and EdDSA as OpenSSL gives
 * them, ECDSA turned from DER into r || s; alg names the digest only, so
 * a test can sign with a key that does not fit it.
 */
static uint8_t *
sign_raw(EVP_PKEY *key, const char *alg, const char *tbs, size_t *lenp)
{
	EVP_MD_CTX		*mctx = EVP_MD_CTX_new();
	const char		*md = NULL;
	uint8_t			*sig, *raw;
	const uint8_t		*p;
	size_t			 len = 0, half = ec_half(alg);
	ECDSA_SIG		*es;
	const BIGNUM		*r, *s;

	if (strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0)
		md = "SHA256";
	else if (strcmp(alg, "ES384") == 0)
		md = "SHA384";
	else if (strcmp(alg, "ES512") == 0)
		md = "SHA512";
	assert_non_null(mctx);
	assert_int_equal(EVP_DigestSignInit_ex(mctx, NULL, md, NULL, NULL,
	    key, NULL), 1);
	assert_int_equal(EVP_DigestSign(mctx, NULL, &len,
	    (const uint8_t *)tbs, strlen(tbs)), 1);
	sig = malloc(len);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(mctx, sig, &len,
	    (const uint8_t *)tbs, strlen(tbs)), 1);
	EVP_MD_CTX_free(mctx);
	if (half == 0 || !EVP_PKEY_is_a(key, "EC")) {
		*lenp = len;
		return sig;
	}
	p = sig;
	es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	assert_non_null(es);
	ECDSA_SIG_get0(es, &r, &s);
	raw = malloc(2 * half);
	assert_non_null(raw);
	assert_int_equal(BN_bn2binpad(r, raw, (int)half), (int)half);
	assert_int_equal(BN_bn2binpad(s, raw + half, (int)half), (int)half);
	ECDSA_SIG_free(es);
	free(sig);
	*lenp = 2 * half;
	return raw;
}

/* HMAC of tbs (HS256, HS384, HS512) with key. */
static uint8_t *
mac_raw(const uint8_t *key, size_t keylen, const char *alg, const char *tbs,
    size_t *lenp)
{
	uint8_t		*out = malloc(EVP_MAX_MD_SIZE);
	const char	*md = strcmp(alg, "HS512") == 0 ? "SHA512" :
			    strcmp(alg, "HS384") == 0 ? "SHA384" : "SHA256";

	assert_non_null(out);
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, key, keylen,
	    (const uint8_t *)tbs, strlen(tbs), out, EVP_MAX_MD_SIZE, lenp));
	return out;
}

/* base64url of s decoded minus its last byte. */
static char *
b64_shorter(const char *s)
{
	uint8_t	*raw = NULL;
	size_t	 len = 0;
	char	*out;

	assert_int_equal(acme_b64url_decode(s, strlen(s), ACME_JWS_MAX, &raw,
	    &len, NULL), CG_OK);
	assert_true(len > 0);
	out = b64(raw, len - 1);
	cg_free(raw);
	return out;
}

/* A flattened JWS body from its three encoded parts, plus extra text. */
static char *
body_from(const char *prot, const char *pay, const char *sig,
    const char *extra)
{
	char	*s = cg_asprintf("{\"protected\":\"%s\",\"payload\":\"%s\","
		    "\"signature\":\"%s\"%s}", prot, pay, sig, extra);

	assert_non_null(s);
	return s;
}

/* A protected header; jwk is stolen; NULL members are left out. */
static json_t *
hdr_new(const char *alg, const char *nonce, const char *url, json_t *jwk,
    const char *kid)
{
	json_t	*h = json_object();

	assert_non_null(h);
	if (alg != NULL)
		json_object_set_new(h, "alg", json_string(alg));
	if (nonce != NULL)
		json_object_set_new(h, "nonce", json_string(nonce));
	if (url != NULL)
		json_object_set_new(h, "url", json_string(url));
	if (jwk != NULL)
		json_object_set_new(h, "jwk", jwk);
	if (kid != NULL)
		json_object_set_new(h, "kid", json_string(kid));
	return h;
}

static json_t *
jwk_of(EVP_PKEY *key)
{
	json_t	*jwk = NULL;

	assert_int_equal(acme_jwk_from_pkey(key, &jwk, NULL), CG_OK);
	return jwk;
}

/*
 * Sign hdr (stolen) and payload with key under sign_alg (the "alg" in
 * hdr may say otherwise), or MAC it when mackey is given.  extra is
 * appended to the body's members.
 */
static char *
jws_build_x(EVP_PKEY *key, const char *sign_alg, const uint8_t *mackey,
    size_t mackeylen, json_t *hdr, const char *payload, const char *extra)
{
	char	*hjson, *prot, *pay, *tbs, *sigb, *body;
	uint8_t	*sig;
	size_t	 siglen = 0;

	hjson = json_dumps(hdr, JSON_COMPACT);
	assert_non_null(hjson);
	json_decref(hdr);
	prot = b64(hjson, strlen(hjson));
	pay = b64(payload, strlen(payload));
	tbs = cg_asprintf("%s.%s", prot, pay);
	if (mackey != NULL)
		sig = mac_raw(mackey, mackeylen, sign_alg, tbs, &siglen);
	else
		sig = sign_raw(key, sign_alg, tbs, &siglen);
	sigb = b64(sig, siglen);
	body = body_from(prot, pay, sigb, extra);
	free(hjson);
	cg_free(prot);
	cg_free(pay);
	cg_free(tbs);
	free(sig);
	cg_free(sigb);
	return body;
}

static char *
jws_build(EVP_PKEY *key, const char *alg, json_t *hdr, const char *payload)
{
	return jws_build_x(key, alg, NULL, 0, hdr, payload, "");
}

/* An outer JWS of key k with a "jwk" header. */
static char *
jws_jwk(int k, const char *payload)
{
	return jws_build(keys[k], key_algs[k], hdr_new(key_algs[k], T_NONCE,
	    T_URL, jwk_of(keys[k]), NULL), payload);
}

/*
 * Parse body in mode: ACME_P_NONE when accepted, else the problem, after
 * checking that a refusal leaves no JWS and says why.
 */
static enum acme_problem
parse_prob(const char *body, enum acme_jws_mode mode)
{
	struct acme_jws		*jws = (struct acme_jws *)1;
	enum acme_problem	 p = ACME_P_NONE;
	struct cg_err		 err = { 0 };
	enum cg_code		 rc;

	rc = acme_jws_parse((const uint8_t *)body, strlen(body), mode, &jws,
	    &p, &err);
	if (rc == CG_OK) {
		assert_non_null(jws);
		assert_int_equal(p, ACME_P_NONE);
		acme_jws_free(jws);
		return ACME_P_NONE;
	}
	assert_null(jws);
	assert_int_not_equal(p, ACME_P_NONE);
	assert_int_equal(err.proto, (int)p);
	assert_int_equal(err.code, rc);
	assert_true(err.msg[0] != '\0');
	return p;
}

/*
 * Parse body and verify it with key (NULL: the key of its "jwk"): the
 * problem, ACME_P_NONE when it verifies.
 */
static enum acme_problem
verify_prob(const char *body, enum acme_jws_mode mode, EVP_PKEY *key)
{
	struct acme_jws		*jws = NULL;
	EVP_PKEY		*pk = NULL;
	enum acme_problem	 p = ACME_P_NONE;
	struct cg_err		 err = { 0 };
	enum cg_code		 rc;

	rc = acme_jws_parse((const uint8_t *)body, strlen(body), mode, &jws,
	    &p, &err);
	assert_int_equal(rc, CG_OK);
	if (key == NULL) {
		assert_non_null(jws->jwk);
		assert_int_equal(acme_jwk_to_pkey(jws->jwk, &pk, &p, &err),
		    CG_OK);
		key = pk;
	}
	rc = acme_jws_verify(jws, key, &p, &err);
	if (rc == CG_OK)
		assert_int_equal(p, ACME_P_NONE);
	else {
		assert_int_not_equal(p, ACME_P_NONE);
		assert_true(err.msg[0] != '\0');
	}
	EVP_PKEY_free(pk);
	acme_jws_free(jws);
	return p;
}

/* acme_jwk_to_pkey() of a JSON text: the problem, ACME_P_NONE if taken. */
static enum acme_problem
jwk_prob(const char *text)
{
	json_t			*jwk = json_loads(text, 0, NULL);
	EVP_PKEY		*pk = (EVP_PKEY *)1;
	enum acme_problem	 p = ACME_P_NONE;
	struct cg_err		 err = { 0 };
	enum cg_code		 rc;

	assert_non_null(jwk);
	rc = acme_jwk_to_pkey(jwk, &pk, &p, &err);
	json_decref(jwk);
	if (rc == CG_OK) {
		assert_non_null(pk);
		EVP_PKEY_free(pk);
		return ACME_P_NONE;
	}
	assert_null(pk);
	assert_true(err.msg[0] != '\0');
	return p;
}

/* The JWK of key as text with one member replaced (value: JSON text). */
static char *
jwk_text_with(EVP_PKEY *key, const char *member, const char *value)
{
	json_t	*jwk = jwk_of(key);
	char	*s;

	if (value == NULL)
		json_object_del(jwk, member);
	else
		json_object_set_new(jwk, member, json_loads(value,
		    JSON_DECODE_ANY, NULL));
	s = json_dumps(jwk, JSON_COMPACT);
	assert_non_null(s);
	json_decref(jwk);
	return s;
}

static void
thumb(EVP_PKEY *key, char out[ACME_THUMBPRINT_LEN + 1])
{
	assert_int_equal(acme_jwk_thumbprint(key, out, NULL), CG_OK);
	assert_int_equal(strlen(out), ACME_THUMBPRINT_LEN);
}

/* ------------------------------------------------------------- setup */

static int
group_setup(void **state)
{
	keys[K_RS256] = EVP_RSA_gen(2048);
	keys[K_ES256] = EVP_EC_gen("P-256");
	keys[K_ES384] = EVP_EC_gen("P-384");
	keys[K_ES512] = EVP_EC_gen("P-521");
	keys[K_EDDSA] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	rsa1024 = EVP_RSA_gen(1024);
	for (int i = 0; i < K_COUNT; i++)
		if (keys[i] == NULL)
			return -1;
	return rsa1024 == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	for (int i = 0; i < K_COUNT; i++)
		EVP_PKEY_free(keys[i]);
	EVP_PKEY_free(rsa1024);
	return 0;
}

/* ---------------------------------------------------------- base64url */

static void
dec_ok(const char *in, const char *want)
{
	uint8_t	*out = NULL;
	size_t	 len = 99;

	assert_int_equal(acme_b64url_decode(in, strlen(in), 64, &out, &len,
	    NULL), CG_OK);
	assert_non_null(out);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	assert_int_equal(out[len], 0);
	cg_free(out);
}

static void
dec_bad(const char *in, size_t max, enum cg_code want)
{
	uint8_t		*out = (uint8_t *)1;
	size_t		 len = 99;
	struct cg_err	 err = { 0 };

	assert_int_equal(acme_b64url_decode(in, strlen(in), max, &out, &len,
	    &err), want);
	assert_null(out);
	assert_int_equal(len, 0);
	assert_int_equal(err.code, want);
}

static void
test_b64url(void **state)
{
	char		*s;
	const uint8_t	 bin[] = { 0xfb, 0xff, 0xbf };

	dec_ok("", "");
	dec_ok("Zg", "f");
	dec_ok("Zm8", "fo");
	dec_ok("Zm9v", "foo");
	dec_ok("Zm9vYmFy", "foobar");
	dec_ok("-_-_", "\xfb\xff\xbf");
	dec_bad("Zg==", 64, CG_EINVAL);		/* padding */
	dec_bad("Z", 64, CG_EINVAL);		/* 1 mod 4 */
	dec_bad("Zm9vY", 64, CG_EINVAL);
	dec_bad("Zm9v\n", 64, CG_EINVAL);	/* whitespace */
	dec_bad(" Zm9v", 64, CG_EINVAL);
	dec_bad("Zm+v", 64, CG_EINVAL);		/* standard alphabet */
	dec_bad("Zm/v", 64, CG_EINVAL);
	dec_bad("Zh", 64, CG_EINVAL);		/* stray low bits */
	dec_bad("Zm9", 64, CG_EINVAL);
	dec_bad("Zm9vYmFy", 5, CG_ETOOBIG);
	dec_ok("Zm9vYmFy", "foobar");

	s = b64("foob", 4);
	assert_string_equal(s, "Zm9vYg");
	cg_free(s);
	s = b64("fooba", 5);
	assert_string_equal(s, "Zm9vYmE");
	cg_free(s);
	s = b64(bin, sizeof(bin));
	assert_string_equal(s, "-_-_");
	cg_free(s);
	s = b64("", 0);
	assert_string_equal(s, "");
	cg_free(s);

	assert_true(acme_b64url_valid("abc-_09", 7));
	assert_false(acme_b64url_valid("abc=", 4));
	assert_false(acme_b64url_valid("a+c", 3));
}

static void
test_problem_types(void **state)
{
	assert_string_equal(acme_problem_type(ACME_P_MALFORMED),
	    "urn:ietf:params:acme:error:malformed");
	assert_string_equal(acme_problem_type(ACME_P_BAD_SIG_ALG),
	    "urn:ietf:params:acme:error:badSignatureAlgorithm");
	assert_string_equal(acme_problem_type(ACME_P_BAD_PUBLIC_KEY),
	    "urn:ietf:params:acme:error:badPublicKey");
	assert_string_equal(acme_problem_type(ACME_P_UNAUTHORIZED),
	    "urn:ietf:params:acme:error:unauthorized");
	assert_string_equal(acme_problem_type(ACME_P_BAD_NONCE),
	    "urn:ietf:params:acme:error:badNonce");
	assert_string_equal(acme_problem_type(ACME_P_BAD_CSR),
	    "urn:ietf:params:acme:error:badCSR");
	assert_string_equal(acme_problem_type(ACME_P_NONE),
	    "urn:ietf:params:acme:error:serverInternal");
	assert_string_equal(acme_problem_type((enum acme_problem)999),
	    "urn:ietf:params:acme:error:serverInternal");
	for (int i = 0; i < ACME_P__MAX; i++)
		assert_non_null(strstr(acme_problem_type(i),
		    "urn:ietf:params:acme:error:"));
	assert_int_equal(acme_problem_http_status(ACME_P_MALFORMED), 400);
	assert_int_equal(acme_problem_http_status(ACME_P_BAD_NONCE), 400);
	assert_int_equal(acme_problem_http_status(ACME_P_UNAUTHORIZED), 403);
	assert_int_equal(acme_problem_http_status(ACME_P_ORDER_NOT_READY), 403);
	assert_int_equal(acme_problem_http_status(ACME_P_ALREADY_REPLACED),
	    409);
	assert_int_equal(acme_problem_http_status(ACME_P_RATE_LIMITED), 429);
	assert_int_equal(acme_problem_http_status(ACME_P_SERVER_INTERNAL),
	    500);
	assert_int_equal(acme_problem_http_status(
	    ACME_P_ACCOUNT_DOES_NOT_EXIST), 400);
}

/* ---------------------------------------------------------------- JWS */

static void
test_each_alg_verifies(void **state)
{
	struct acme_jws		*jws = NULL;
	enum acme_problem	 p = ACME_P_NONE;
	char			*body;
	int			 k;

	for (k = 0; k < K_COUNT; k++) {
		/* newAccount style: the key in "jwk". */
		body = jws_jwk(k, "{\"termsOfServiceAgreed\":true}");
		assert_int_equal(verify_prob(body, ACME_JWS_OUTER_JWK, NULL),
		    ACME_P_NONE);
		assert_int_equal(verify_prob(body, ACME_JWS_OUTER_ANY, NULL),
		    ACME_P_NONE);
		assert_int_equal(acme_jws_parse((const uint8_t *)body,
		    strlen(body), ACME_JWS_OUTER_JWK, &jws, &p, NULL), CG_OK);
		assert_string_equal(acme_jws_alg_name(jws->alg), key_algs[k]);
		assert_string_equal(jws->nonce, T_NONCE);
		assert_string_equal(jws->url, T_URL);
		assert_null(jws->kid);
		assert_false(jws->post_as_get);
		assert_int_equal(jws->payload_len, 29);
		assert_string_equal((char *)jws->payload,
		    "{\"termsOfServiceAgreed\":true}");
		acme_jws_free(jws);
		cg_free(body);

		/* An account's request: "kid", the stored key. */
		body = jws_build(keys[k], key_algs[k], hdr_new(key_algs[k],
		    T_NONCE, T_URL, NULL, T_KID), "{}");
		assert_int_equal(verify_prob(body, ACME_JWS_OUTER_KID,
		    keys[k]), ACME_P_NONE);
		assert_int_equal(verify_prob(body, ACME_JWS_OUTER_ANY,
		    keys[k]), ACME_P_NONE);
		cg_free(body);
	}
}

static void
test_other_key_same_type(void **state)
{
	EVP_PKEY	*other = EVP_EC_gen("P-256");
	char		*body;

	assert_non_null(other);
	body = jws_build(keys[K_ES256], "ES256", hdr_new("ES256", T_NONCE,
	    T_URL, NULL, T_KID), "{}");
	assert_int_equal(verify_prob(body, ACME_JWS_OUTER_KID, other),
	    ACME_P_MALFORMED);
	cg_free(body);
	EVP_PKEY_free(other);
}

static void
test_post_as_get(void **state)
{
	struct acme_jws		*jws = NULL;
	enum acme_problem	 p = ACME_P_NONE;
	char			*body;

	body = jws_build(keys[K_ES256], "ES256", hdr_new("ES256", T_NONCE,
	    T_URL, NULL, T_KID), "");
	assert_int_equal(acme_jws_parse((const uint8_t *)body, strlen(body),
	    ACME_JWS_OUTER_KID, &jws, &p, NULL), CG_OK);
	assert_true(jws->post_as_get);
	assert_int_equal(jws->payload_len, 0);
	assert_non_null(jws->payload);
	assert_string_equal(jws->kid, T_KID);
	assert_int_equal(acme_jws_verify(jws, keys[K_ES256], &p, NULL),
	    CG_OK);
	acme_jws_free(jws);
	cg_free(body);

	/* "e30" is {} and not POST-as-GET. */
	body = jws_build(keys[K_ES256], "ES256", hdr_new("ES256", T_NONCE,
	    T_URL, NULL, T_KID), "{}");
	assert_int_equal(acme_jws_parse((const uint8_t *)body, strlen(body),
	    ACME_JWS_OUTER_KID, &jws, &p, NULL), CG_OK);
	assert_false(jws->post_as_get);
	acme_jws_free(jws);
	cg_free(body);
}

/* Replace the part (0 protected, 1 payload, 2 signature) of a body. */
static char *
body_part_set(const char *body, int part, const char *val)
{
	json_t	*obj = json_loads(body, 0, NULL);
	char	*s;
	static const char *const names[] = {
		"protected", "payload", "signature"
	};

	assert_non_null(obj);
	json_object_set_new(obj, names[part], json_string(val));
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	assert_non_null(s);
	return s;
}

static const char *
body_part(const char *body, int part, json_t **holder)
{
	static const char *const names[] = {
		"protected", "payload", "signature"
	};

	*holder = json_loads(body, 0, NULL);
	assert_non_null(*holder);
	return json_string_value(json_object_get(*holder, names[part]));
}

static void
test_tampered_refused(void **state)
{
	json_t	*h;
	char	*body, *bad, *sig, *pay;
	int	 k;

	for (k = 0; k < K_COUNT; k++) {
		body = jws_jwk(k, "{\"a\":1}");
		/* One signature byte flipped (a middle character). */
		sig = strdup(body_part(body, 2, &h));
		json_decref(h);
		sig[strlen(sig) / 2] = sig[strlen(sig) / 2] == 'A' ? 'B' : 'A';
		bad = body_part_set(body, 2, sig);
		assert_int_equal(verify_prob(bad, ACME_JWS_OUTER_JWK, NULL),
		    ACME_P_MALFORMED);
		free(bad);
		free(sig);
		/* A signature one byte short. */
		sig = b64_shorter(body_part(body, 2, &h));
		json_decref(h);
		bad = body_part_set(body, 2, sig);
		assert_int_equal(verify_prob(bad, ACME_JWS_OUTER_JWK, NULL),
		    ACME_P_MALFORMED);
		free(bad);
		cg_free(sig);
		/* Another payload under the same signature. */
		pay = b64("{\"a\":2}", 7);
		bad = body_part_set(body, 1, pay);
		assert_int_equal(verify_prob(bad, ACME_JWS_OUTER_JWK, NULL),
		    ACME_P_MALFORMED);
		free(bad);
		cg_free(pay);
		cg_free(body);
	}
}

static void
test_alg_key_mismatch(void **state)
{
	char	*body;

	/* Signed by P-256 with SHA-384, claimed ES384: the key says no. */
	body = jws_build(keys[K_ES256], "ES384", hdr_new("ES384", T_NONCE,
	    T_URL, NULL, T_KID), "{}");
	assert_int_equal(verify_prob(body, ACME_JWS_OUTER_KID,
	    keys[K_ES256]), ACME_P_BAD_SIG_ALG);
	cg_free(body);
	/* A good ES256 JWS checked against keys of other types. */
	body = jws_build(keys[K_ES256], "ES256", hdr_new("ES256", T_NONCE,
	    T_URL, NULL, T_KID), "{}");
	assert_int_equal(verify_prob(body, ACME_JWS_OUTER_KID,
	    keys[K_ES384]), ACME_P_BAD_SIG_ALG);
	assert_int_equal(verify_prob(body, ACME_JWS_OUTER_KID,
	    keys[K_RS256]), ACME_P_BAD_SIG_ALG);
	assert_int_equal(verify_prob(body, ACME_JWS_OUTER_KID,
	    keys[K_EDDSA]), ACME_P_BAD_SIG_ALG);
	cg_free(body);
	body = jws_build(keys[K_RS256], "RS256", hdr_new("RS256", T_NONCE,
	    T_URL, NULL, T_KID), "{}");
	assert_int_equal(verify_prob(body, ACME_JWS_OUTER_KID,
	    keys[K_ES512]), ACME_P_BAD_SIG_ALG);
	cg_free(body);
	body = jws_build(keys[K_EDDSA], "EdDSA", hdr_new("EdDSA", T_NONCE,
	    T_URL, NULL, T_KID), "{}");
	assert_int_equal(verify_prob(body, ACME_JWS_OUTER_KID,
	    keys[K_RS256]), ACME_P_BAD_SIG_ALG);
	assert_int_equal(verify_prob(body, ACME_JWS_OUTER_KID,
	    keys[K_EDDSA]), ACME_P_NONE);
	cg_free(body);
}

/* A body whose header is hdr and whose signature is junk. */
static char *
unsigned_body(json_t *hdr, const char *extra)
{
	char	*hjson = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
	char	*prot, *body;

	json_decref(hdr);
	assert_non_null(hjson);
	prot = b64(hjson, strlen(hjson));
	body = body_from(prot, "e30", "AAAA", extra);
	free(hjson);
	cg_free(prot);
	return body;
}

static void
test_bad_algs(void **state)
{
	static const char *const bad[] = {
		"none", "HS256", "HS384", "HS512", "PS256", "RS384", "ES256K",
		"Ed25519", "es256", "ES256 ", ""
	};
	struct acme_jws		*jws = NULL;
	enum acme_problem	 p = ACME_P_NONE;
	struct cg_err		 err = { 0 };
	json_t			*h;
	char			*body;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		body = unsigned_body(hdr_new(bad[i], T_NONCE, T_URL, NULL,
		    T_KID), "");
		assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
		    ACME_P_BAD_SIG_ALG);
		cg_free(body);
	}
	/* The detail lists what is accepted. */
	body = unsigned_body(hdr_new("none", T_NONCE, T_URL, NULL, T_KID), "");
	assert_int_not_equal(acme_jws_parse((const uint8_t *)body,
	    strlen(body), ACME_JWS_OUTER_KID, &jws, &p, &err), CG_OK);
	assert_non_null(strstr(err.msg, "RS256, ES256, ES384, ES512, EdDSA"));
	cg_free(body);
	for (i = 0; acme_jws_algorithms[i] != NULL; i++)
		assert_non_null(strstr(err.msg, acme_jws_algorithms[i]));
	assert_int_equal(i, 5);

	/* "alg" missing or not a string is malformed. */
	body = unsigned_body(hdr_new(NULL, T_NONCE, T_URL, NULL, T_KID), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	h = hdr_new(NULL, T_NONCE, T_URL, NULL, T_KID);
	json_object_set_new(h, "alg", json_integer(256));
	body = unsigned_body(h, "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);

	/* A JWS claiming an HMAC algorithm is never verified with a key. */
	body = jws_build_x(NULL, "HS256", (const uint8_t *)"k", 1,
	    hdr_new("HS256", NULL, T_URL, NULL, "eab"), "{}", "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_BAD_SIG_ALG);
	cg_free(body);
}

static void
test_nonce(void **state)
{
	json_t	*h;
	char	*body;
	struct acme_jws		*jws = NULL;
	enum acme_problem	 p = ACME_P_NONE;
	struct cg_err		 err = { 0 };
	char	 longn[ACME_NONCE_MAX + 2];

	body = unsigned_body(hdr_new("ES256", NULL, T_URL, NULL, T_KID), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_BAD_NONCE);
	/* first refusal: the problem lands in err->proto as well */
	assert_int_not_equal(acme_jws_parse((const uint8_t *)body,
	    strlen(body), ACME_JWS_OUTER_KID, &jws, &p, &err), CG_OK);
	assert_int_equal(err.proto, ACME_P_BAD_NONCE);
	assert_int_equal(p, ACME_P_BAD_NONCE);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", NULL, T_URL, jwk_of(
	    keys[K_ES256]), NULL), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_JWK),
	    ACME_P_BAD_NONCE);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", "ab+c", T_URL, NULL, T_KID),
	    "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_BAD_NONCE);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", "", T_URL, NULL, T_KID), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_BAD_NONCE);
	cg_free(body);
	memset(longn, 'a', sizeof(longn) - 1);
	longn[sizeof(longn) - 1] = '\0';
	body = unsigned_body(hdr_new("ES256", longn, T_URL, NULL, T_KID), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_BAD_NONCE);
	cg_free(body);
	longn[ACME_NONCE_MAX] = '\0';
	body = unsigned_body(hdr_new("ES256", longn, T_URL, NULL, T_KID), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID), ACME_P_NONE);
	cg_free(body);
	h = hdr_new("ES256", NULL, T_URL, NULL, T_KID);
	json_object_set_new(h, "nonce", json_integer(5));
	body = unsigned_body(h, "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_BAD_NONCE);
	cg_free(body);
}

static void
test_jwk_kid_rules(void **state)
{
	char	*body;

	/* Both, neither. */
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_URL,
	    jwk_of(keys[K_ES256]), T_KID), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_ANY),
	    ACME_P_MALFORMED);
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_JWK),
	    ACME_P_MALFORMED);
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_URL, NULL, NULL), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_ANY),
	    ACME_P_MALFORMED);
	cg_free(body);

	/* Each mode asks for its own. */
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_URL, NULL, T_KID), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID), ACME_P_NONE);
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_ANY), ACME_P_NONE);
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_JWK),
	    ACME_P_MALFORMED);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_URL,
	    jwk_of(keys[K_ES256]), NULL), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_JWK), ACME_P_NONE);
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_ANY), ACME_P_NONE);
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);

	/* "jwk" must be an object, "kid" a printable string. */
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_URL,
	    json_string("key"), NULL), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_JWK),
	    ACME_P_MALFORMED);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_URL, NULL,
	    "a b"), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_URL, NULL, ""), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
}

static void
test_structure_refused(void **state)
{
	json_t	*h;
	char	*body, *good, *hjson, *prot;
	const char *const bads[] = {
		"",
		"[]",
		"\"x\"",
		"{\"protected\":\"e30\",\"payload\":\"\"}",
		"{\"protected\":\"e30\",\"payload\":\"\",\"signature\":5}",
		"{\"signatures\":[],\"payload\":\"\"}",
		("{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"AA\","
		    "\"protected\":\"e30\"}"),
		"{\"protected\":\"e30\" \"payload\":\"\",\"signature\":\"AA\"}",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		assert_int_equal(parse_prob(bads[i], ACME_JWS_OUTER_ANY),
		    ACME_P_MALFORMED);

	good = unsigned_body(hdr_new("ES256", T_NONCE, T_URL, NULL, T_KID),
	    "");
	assert_int_equal(parse_prob(good, ACME_JWS_OUTER_KID), ACME_P_NONE);
	cg_free(good);
	/* Unprotected header, general serialization, unknown member. */
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_URL, NULL, T_KID),
	    ",\"header\":{\"kid\":\"x\"}");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_URL, NULL, T_KID),
	    ",\"header\":{}");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_URL, NULL, T_KID),
	    ",\"signatures\":[]");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_URL, NULL, T_KID),
	    ",\"extra\":1");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);

	/* "url" missing, empty, not a string. */
	body = unsigned_body(hdr_new("ES256", T_NONCE, NULL, NULL, T_KID), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", T_NONCE, "", NULL, T_KID), "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	h = hdr_new("ES256", T_NONCE, NULL, NULL, T_KID);
	json_object_set_new(h, "url", json_true());
	body = unsigned_body(h, "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);

	/* "crit" of any kind; "b64": false; "b64": true is harmless. */
	h = hdr_new("ES256", T_NONCE, T_URL, NULL, T_KID);
	json_object_set_new(h, "crit", json_array());
	body = unsigned_body(h, "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	h = hdr_new("ES256", T_NONCE, T_URL, NULL, T_KID);
	json_object_set_new(h, "b64", json_false());
	body = unsigned_body(h, "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	h = hdr_new("ES256", T_NONCE, T_URL, NULL, T_KID);
	json_object_set_new(h, "b64", json_true());
	json_object_set_new(h, "typ", json_string("JWT"));
	body = unsigned_body(h, "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID), ACME_P_NONE);
	cg_free(body);

	/* Protected header: not an object, not JSON, duplicate member. */
	hjson = "[\"ES256\"]";
	prot = b64(hjson, strlen(hjson));
	body = body_from(prot, "", "AAAA", "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	cg_free(prot);
	hjson = "{\"alg\":\"ES256\",\"nonce\":\"" T_NONCE "\",\"url\":\""
	    T_URL "\",\"kid\":\"" T_KID "\",\"alg\":\"none\"}";
	prot = b64(hjson, strlen(hjson));
	body = body_from(prot, "", "AAAA", "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
	cg_free(prot);
	body = body_from("", "", "AAAA", "");
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);

	/* Too big. */
	body = cg_malloc(ACME_JWS_MAX + 2);
	memset(body, ' ', ACME_JWS_MAX + 1);
	body[ACME_JWS_MAX + 1] = '\0';
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_KID),
	    ACME_P_MALFORMED);
	cg_free(body);
}

static void
test_bad_base64url(void **state)
{
	json_t	*hold;
	char	*body, *bad, *s;
	int	 part;

	body = jws_jwk(K_ES256, "{\"a\":1}");
	assert_int_equal(verify_prob(body, ACME_JWS_OUTER_JWK, NULL),
	    ACME_P_NONE);
	for (part = 0; part < 3; part++) {
		const char *orig = body_part(body, part, &hold);

		/* Padding. */
		s = cg_asprintf("%s%s", orig, strlen(orig) % 4 == 2 ? "==" :
		    strlen(orig) % 4 == 3 ? "=" : "====");
		bad = body_part_set(body, part, s);
		assert_int_equal(parse_prob(bad, ACME_JWS_OUTER_JWK),
		    ACME_P_MALFORMED);
		free(bad);
		cg_free(s);
		/* Standard alphabet and whitespace. */
		s = cg_asprintf("+%s", orig + 1);
		bad = body_part_set(body, part, s);
		assert_int_equal(parse_prob(bad, ACME_JWS_OUTER_JWK),
		    ACME_P_MALFORMED);
		free(bad);
		cg_free(s);
		s = cg_asprintf("%.4s %s", orig, orig + 4);
		bad = body_part_set(body, part, s);
		assert_int_equal(parse_prob(bad, ACME_JWS_OUTER_JWK),
		    ACME_P_MALFORMED);
		free(bad);
		cg_free(s);
		json_decref(hold);
	}
	/* An empty signature. */
	bad = body_part_set(body, 2, "");
	assert_int_equal(parse_prob(bad, ACME_JWS_OUTER_JWK),
	    ACME_P_MALFORMED);
	free(bad);
	cg_free(body);
}

/* ---------------------------------------------------------------- JWK */

static void
test_jwk_private_members(void **state)
{
	static const char *const priv[] = {
		"d", "p", "q", "dp", "dq", "qi", "oth", "k"
	};
	char	*s;
	size_t	 i;

	for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
		s = jwk_text_with(keys[K_ES256], priv[i], "\"AQAB\"");
		assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
		free(s);
		s = jwk_text_with(keys[K_RS256], priv[i], "\"AQAB\"");
		assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
		free(s);
	}
	/* Harmless members are ignored. */
	s = jwk_text_with(keys[K_ES256], "use", "\"sig\"");
	assert_int_equal(jwk_prob(s), ACME_P_NONE);
	free(s);
	s = jwk_text_with(keys[K_EDDSA], "kid", "\"my key\"");
	assert_int_equal(jwk_prob(s), ACME_P_NONE);
	free(s);
	s = jwk_text_with(keys[K_RS256], "alg", "\"RS256\"");
	assert_int_equal(jwk_prob(s), ACME_P_NONE);
	free(s);
	/* A JWS whose "jwk" holds a private key never yields a key. */
	s = jwk_text_with(keys[K_ES256], "d", "\"AQAB\"");
	{
		char	*body = jws_build(keys[K_ES256], "ES256",
			    hdr_new("ES256", T_NONCE, T_URL, json_loads(s, 0,
			    NULL), NULL), "{}");
		struct acme_jws		*jws = NULL;
		EVP_PKEY		*pk = NULL;
		enum acme_problem	 p = ACME_P_NONE;

		assert_int_equal(acme_jws_parse((const uint8_t *)body,
		    strlen(body), ACME_JWS_OUTER_JWK, &jws, &p, NULL), CG_OK);
		assert_int_not_equal(acme_jwk_to_pkey(jws->jwk, &pk, &p,
		    NULL), CG_OK);
		assert_int_equal(p, ACME_P_BAD_PUBLIC_KEY);
		acme_jws_free(jws);
		cg_free(body);
	}
	free(s);
}

/* A base64url big number from a key parameter, with a mutation. */
static char *
rsa_jwk_text(EVP_PKEY *key, const char *n_b64, const char *e_b64)
{
	json_t	*jwk = jwk_of(key);
	char	*s;

	if (n_b64 != NULL)
		json_object_set_new(jwk, "n", json_string(n_b64));
	if (e_b64 != NULL)
		json_object_set_new(jwk, "e", json_string(e_b64));
	s = json_dumps(jwk, JSON_COMPACT);
	json_decref(jwk);
	return s;
}

static void
test_jwk_rsa_limits(void **state)
{
	json_t	*jwk;
	char	*s, *n2;
	const char *n;
	uint8_t	*nb = NULL, *nz;
	size_t	 nlen = 0;

	/* 1024 bits. */
	s = rsa_jwk_text(rsa1024, NULL, NULL);
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	/* 2048 bits with e = 3, with e even, e = 1, a leading zero. */
	s = rsa_jwk_text(keys[K_RS256], NULL, "Aw");
	assert_int_equal(jwk_prob(s), ACME_P_NONE);
	free(s);
	s = rsa_jwk_text(keys[K_RS256], NULL, "AQAA");
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	s = rsa_jwk_text(keys[K_RS256], NULL, "AQ");
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	s = rsa_jwk_text(keys[K_RS256], NULL, "AAEAAQ");
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	s = rsa_jwk_text(keys[K_RS256], NULL, "AQABAQABAQAB");	/* 9 bytes */
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);

	jwk = jwk_of(keys[K_RS256]);
	n = json_string_value(json_object_get(jwk, "n"));
	assert_int_equal(acme_b64url_decode(n, strlen(n), 1024, &nb, &nlen,
	    NULL), CG_OK);
	assert_int_equal(nlen, 256);
	assert_true(nb[0] != 0);
	nz = cg_calloc(1, nlen + 1);
	memcpy(nz + 1, nb, nlen);
	n2 = b64(nz, nlen + 1);
	s = rsa_jwk_text(keys[K_RS256], n2, NULL);
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	cg_free(n2);
	/* An even modulus. */
	nb[nlen - 1] &= 0xfe;
	n2 = b64(nb, nlen);
	s = rsa_jwk_text(keys[K_RS256], n2, NULL);
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	cg_free(n2);
	cg_free(nz);
	cg_free(nb);
	json_decref(jwk);

	/* Missing or ill-typed members. */
	s = jwk_text_with(keys[K_RS256], "n", NULL);
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	s = jwk_text_with(keys[K_RS256], "e", "65537");
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	s = jwk_text_with(keys[K_RS256], "e", "\"AQAB=\"");
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
}

static void
test_jwk_ec_okp(void **state)
{
	json_t	*jwk;
	char	*s, *y2;
	const char *y;
	uint8_t	*yb = NULL;
	size_t	 ylen = 0;
	int	 k;

	for (k = K_ES256; k <= K_ES512; k++) {
		/* The point moved off the curve. */
		jwk = jwk_of(keys[k]);
		y = json_string_value(json_object_get(jwk, "y"));
		assert_int_equal(acme_b64url_decode(y, strlen(y), 66, &yb,
		    &ylen, NULL), CG_OK);
		yb[ylen - 1] ^= 1;
		y2 = b64(yb, ylen);
		json_object_set_new(jwk, "y", json_string(y2));
		s = json_dumps(jwk, JSON_COMPACT);
		assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
		free(s);
		cg_free(y2);
		/* One byte short. */
		y2 = b64(yb, ylen - 1);
		json_object_set_new(jwk, "y", json_string(y2));
		s = json_dumps(jwk, JSON_COMPACT);
		assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
		free(s);
		cg_free(y2);
		cg_free(yb);
		json_decref(jwk);
	}
	/* The curve of another size. */
	s = jwk_text_with(keys[K_ES256], "crv", "\"P-384\"");
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	s = jwk_text_with(keys[K_ES256], "crv", "\"secp256k1\"");
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	s = jwk_text_with(keys[K_ES256], "crv", NULL);
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	s = jwk_text_with(keys[K_ES256], "kty", "\"oct\"");
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	s = jwk_text_with(keys[K_ES256], "kty", NULL);
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	/* OKP: only Ed25519, 32 bytes. */
	s = jwk_text_with(keys[K_EDDSA], "crv", "\"X25519\"");
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	s = jwk_text_with(keys[K_EDDSA], "crv", "\"Ed448\"");
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	s = jwk_text_with(keys[K_EDDSA], "x", "\"AQAB\"");
	assert_int_equal(jwk_prob(s), ACME_P_BAD_PUBLIC_KEY);
	free(s);
	assert_int_equal(jwk_prob("[1]"), ACME_P_BAD_PUBLIC_KEY);
	assert_int_equal(jwk_prob("{}"), ACME_P_BAD_PUBLIC_KEY);
}

static void
test_thumbprint_vectors(void **state)
{
	/* RFC 7638 §3.1, with the members it says are ignored. */
	static const char rfc7638[] =
	    "{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiA"
	    "FbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCi"
	    "FV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
	    "65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5h"
	    "ajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPks"
	    "INHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\",\"e\":\"AQAB"
	    "\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";
	/* RFC 8037 Appendix A.3. */
	static const char rfc8037[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
	json_t		*jwk;
	EVP_PKEY	*pk = NULL;
	char		 tp[ACME_THUMBPRINT_LEN + 1];

	jwk = json_loads(rfc7638, 0, NULL);
	assert_int_equal(acme_jwk_to_pkey(jwk, &pk, NULL, NULL), CG_OK);
	thumb(pk, tp);
	assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	EVP_PKEY_free(pk);
	json_decref(jwk);
	jwk = json_loads(rfc8037, 0, NULL);
	assert_int_equal(acme_jwk_to_pkey(jwk, &pk, NULL, NULL), CG_OK);
	thumb(pk, tp);
	assert_string_equal(tp, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
	EVP_PKEY_free(pk);
	json_decref(jwk);
}

static void
test_jwk_round_trip(void **state)
{
	json_t		*jwk;
	EVP_PKEY	*pk = NULL;
	char		 a[ACME_THUMBPRINT_LEN + 1], b[ACME_THUMBPRINT_LEN + 1];
	char		 c[ACME_THUMBPRINT_LEN + 1];
	static const size_t nmembers[K_COUNT] = { 3, 4, 4, 4, 3 };
	int		 k;

	for (k = 0; k < K_COUNT; k++) {
		jwk = jwk_of(keys[k]);
		/* Public members only: the generated key has private ones. */
		assert_int_equal(json_object_size(jwk), nmembers[k]);
		assert_null(json_object_get(jwk, "d"));
		assert_int_equal(acme_jwk_to_pkey(jwk, &pk, NULL, NULL),
		    CG_OK);
		assert_int_equal(EVP_PKEY_eq(pk, keys[k]), 1);
		thumb(keys[k], a);
		thumb(pk, b);
		assert_string_equal(a, b);
		EVP_PKEY_free(pk);
		json_decref(jwk);
	}
	/* Different keys, different thumbprints. */
	thumb(keys[K_ES256], a);
	thumb(keys[K_ES384], b);
	thumb(keys[K_EDDSA], c);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	/* A key JWK cannot express. */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_non_null(pk);
	assert_int_equal(acme_jwk_from_pkey(pk, &jwk, NULL), CG_EINVAL);
	assert_int_equal(acme_jwk_thumbprint(pk, a, NULL), CG_EINVAL);
	EVP_PKEY_free(pk);
}

/* ---------------------------------------------------------- keyChange */

/* An inner JWS of newkey for account kid and oldkey's JWK. */
static char *
inner_build(int newk, const char *url, const char *account, EVP_PKEY *old)
{
	json_t	*pl = json_pack("{s:s, s:o}", "account", account, "oldKey",
		    jwk_of(old));
	char	*pls = json_dumps(pl, JSON_COMPACT), *body;

	json_decref(pl);
	body = jws_build(keys[newk], key_algs[newk], hdr_new(key_algs[newk],
	    NULL, url, jwk_of(keys[newk]), NULL), pls);
	free(pls);
	return body;
}

/* Key change from K_ES256 to newk with an inner JWS: the problem. */
static enum acme_problem
keychange_prob(const char *inner, EVP_PKEY *account_key, int newk)
{
	struct acme_jws		*outer = NULL;
	EVP_PKEY		*newkey = (EVP_PKEY *)1;
	enum acme_problem	 p = ACME_P_NONE;
	struct cg_err		 err = { 0 };
	char			*body;
	char			 a[ACME_THUMBPRINT_LEN + 1];
	char			 b[ACME_THUMBPRINT_LEN + 1];

	body = jws_build(keys[K_ES256], "ES256", hdr_new("ES256", T_NONCE,
	    T_KEYCHANGE, NULL, T_KID), inner);
	assert_int_equal(acme_jws_parse((const uint8_t *)body, strlen(body),
	    ACME_JWS_OUTER_KID, &outer, &p, NULL), CG_OK);
	assert_int_equal(acme_jws_verify(outer, keys[K_ES256], &p, NULL),
	    CG_OK);
	if (acme_keychange_verify(outer, account_key, &newkey, &p,
	    &err) == CG_OK) {
		assert_int_equal(p, ACME_P_NONE);
		thumb(newkey, a);
		thumb(keys[newk], b);
		assert_string_equal(a, b);
		EVP_PKEY_free(newkey);
	} else {
		assert_null(newkey);
		assert_true(err.msg[0] != '\0');
	}
	acme_jws_free(outer);
	cg_free(body);
	return p;
}

static void
test_inner_mode(void **state)
{
	char	*body;
	int	 k;

	/* Inner rules: "jwk", no "nonce", "url". */
	body = inner_build(K_EDDSA, T_KEYCHANGE, T_KID, keys[K_ES256]);
	assert_int_equal(parse_prob(body, ACME_JWS_INNER), ACME_P_NONE);
	assert_int_equal(verify_prob(body, ACME_JWS_INNER, NULL), ACME_P_NONE);
	/* An inner JWS is no request: no nonce. */
	assert_int_equal(parse_prob(body, ACME_JWS_OUTER_JWK),
	    ACME_P_BAD_NONCE);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", T_NONCE, T_KEYCHANGE,
	    jwk_of(keys[K_ES256]), NULL), "");
	assert_int_equal(parse_prob(body, ACME_JWS_INNER), ACME_P_MALFORMED);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", NULL, T_KEYCHANGE, NULL, T_KID),
	    "");
	assert_int_equal(parse_prob(body, ACME_JWS_INNER), ACME_P_MALFORMED);
	cg_free(body);
	body = unsigned_body(hdr_new("ES256", NULL, NULL,
	    jwk_of(keys[K_ES256]), NULL), "");
	assert_int_equal(parse_prob(body, ACME_JWS_INNER), ACME_P_MALFORMED);
	cg_free(body);

	/* The whole rollover, to each key type. */
	for (k = 0; k < K_COUNT; k++) {
		body = inner_build(k, T_KEYCHANGE, T_KID, keys[K_ES256]);
		assert_int_equal(keychange_prob(body, keys[K_ES256], k),
		    ACME_P_NONE);
		cg_free(body);
	}
	/* Another url, another account, another old key. */
	body = inner_build(K_EDDSA, T_URL, T_KID, keys[K_ES256]);
	assert_int_equal(keychange_prob(body, keys[K_ES256], K_EDDSA),
	    ACME_P_MALFORMED);
	cg_free(body);
	body = inner_build(K_EDDSA, T_KEYCHANGE, T_KID "8", keys[K_ES256]);
	assert_int_equal(keychange_prob(body, keys[K_ES256], K_EDDSA),
	    ACME_P_MALFORMED);
	cg_free(body);
	body = inner_build(K_EDDSA, T_KEYCHANGE, T_KID, keys[K_ES384]);
	assert_int_equal(keychange_prob(body, keys[K_ES256], K_EDDSA),
	    ACME_P_MALFORMED);
	cg_free(body);
	/* The right old key, but not this account's key. */
	body = inner_build(K_EDDSA, T_KEYCHANGE, T_KID, keys[K_ES256]);
	assert_int_equal(keychange_prob(body, keys[K_ES384], K_EDDSA),
	    ACME_P_MALFORMED);
	cg_free(body);
	/* The inner JWS signed by another key than its "jwk". */
	{
		json_t	*pl = json_pack("{s:s, s:o}", "account", T_KID,
			    "oldKey", jwk_of(keys[K_ES256]));
		char	*pls = json_dumps(pl, JSON_COMPACT);

		json_decref(pl);
		body = jws_build(keys[K_ES384], "ES384", hdr_new("ES384", NULL,
		    T_KEYCHANGE, jwk_of(keys[K_ES512]), NULL), pls);
		assert_int_equal(keychange_prob(body, keys[K_ES256],
		    K_ES512), ACME_P_BAD_SIG_ALG);
		cg_free(body);
		body = jws_build(keys[K_ES512], "ES512", hdr_new("ES512", NULL,
		    T_KEYCHANGE, jwk_of(keys[K_ES384]), NULL), pls);
		assert_int_equal(keychange_prob(body, keys[K_ES256],
		    K_ES384), ACME_P_BAD_SIG_ALG);
		cg_free(body);
		body = jws_build(keys[K_ES384], "ES384", hdr_new("ES384", NULL,
		    T_KEYCHANGE, jwk_of(keys[K_ES384]), NULL), pls);
		assert_int_equal(keychange_prob(body, keys[K_ES256],
		    K_ES384), ACME_P_NONE);
		cg_free(body);
		free(pls);
	}
	{
		/* Same type, another key: only the signature is wrong. */
		EVP_PKEY	*other = EVP_EC_gen("P-384");
		json_t		*pl = json_pack("{s:s, s:o}", "account", T_KID,
				    "oldKey", jwk_of(keys[K_ES256]));
		char		*pls = json_dumps(pl, JSON_COMPACT);

		assert_non_null(other);
		json_decref(pl);
		body = jws_build(other, "ES384", hdr_new("ES384", NULL,
		    T_KEYCHANGE, jwk_of(keys[K_ES384]), NULL), pls);
		assert_int_equal(keychange_prob(body, keys[K_ES256],
		    K_ES384), ACME_P_MALFORMED);
		cg_free(body);
		free(pls);
		EVP_PKEY_free(other);
	}
	/* An inner JWS with a nonce, or a payload that is no JWS. */
	body = jws_build(keys[K_EDDSA], "EdDSA", hdr_new("EdDSA", T_NONCE,
	    T_KEYCHANGE, jwk_of(keys[K_EDDSA]), NULL), "{}");
	assert_int_equal(keychange_prob(body, keys[K_ES256], K_EDDSA),
	    ACME_P_MALFORMED);
	cg_free(body);
	assert_int_equal(keychange_prob("{}", keys[K_ES256], K_EDDSA),
	    ACME_P_MALFORMED);
}

static void
test_keychange_tampered_inner(void **state)
{
	json_t	*hold;
	char	*body, *bad, *sig;

	body = inner_build(K_ES384, T_KEYCHANGE, T_KID, keys[K_ES256]);
	sig = strdup(body_part(body, 2, &hold));
	json_decref(hold);
	sig[3] = sig[3] == 'A' ? 'B' : 'A';
	bad = body_part_set(body, 2, sig);
	assert_int_equal(keychange_prob(bad, keys[K_ES256], K_ES384),
	    ACME_P_MALFORMED);
	free(bad);
	free(sig);
	cg_free(body);
}

/* ---------------------------------------------------------------- EAB */

static const uint8_t eab_key1[] = "an EAB HMAC key of 32 bytes!!!!";
static const uint8_t eab_key2[] = "another HMAC key, also 32 bytes";

static enum cg_code
eab_lookup(void *arg, const char *kid, uint8_t key[ACME_EAB_KEY_MAX],
    size_t *keylenp, struct cg_err *err)
{
	int	*calls = arg;

	(*calls)++;
	if (strcmp(kid, "kid-1") == 0) {
		memcpy(key, eab_key1, 32);
		*keylenp = 32;
		return CG_OK;
	}
	if (strcmp(kid, "kid-2") == 0) {
		memcpy(key, eab_key2, 32);
		*keylenp = 32;
		return CG_OK;
	}
	if (strcmp(kid, "kid-broken") == 0)
		return cg_err_set(err, CG_EIO, "store down");
	return cg_err_set(err, CG_ENOTFOUND, "no such kid");
}

/* An EAB object (JSON) MACed with key under alg. */
static json_t *
eab_build(const char *alg, const char *kid, const char *url,
    const uint8_t *key, EVP_PKEY *acct, const char *nonce)
{
	json_t	*jwk = jwk_of(acct), *obj;
	char	*pl = json_dumps(jwk, JSON_COMPACT), *body;

	json_decref(jwk);
	body = jws_build_x(NULL, alg, key, 32, hdr_new(alg, nonce, url, NULL,
	    kid), pl, "");
	obj = json_loads(body, 0, NULL);
	assert_non_null(obj);
	free(pl);
	cg_free(body);
	return obj;
}

static enum acme_problem
eab_prob(json_t *eab, EVP_PKEY *acct, const char *want_kid)
{
	json_t			*jwk = jwk_of(acct);
	char			 kid[ACME_EAB_KID_MAX + 1];
	enum acme_problem	 p = ACME_P_NONE;
	struct cg_err		 err = { 0 };
	int			 calls = 0;
	enum cg_code		 rc;

	memset(kid, 'x', sizeof(kid));
	rc = acme_eab_verify(eab, T_NEWACCT, jwk, eab_lookup, &calls, kid,
	    &p, &err);
	json_decref(jwk);
	json_decref(eab);
	assert_string_equal(kid, want_kid);
	if (rc == CG_OK) {
		assert_int_equal(p, ACME_P_NONE);
		assert_int_equal(calls, 1);
		return p;
	}
	assert_int_not_equal(p, ACME_P_NONE);
	assert_true(err.msg[0] != '\0');
	/* The key never reaches a message. */
	assert_null(strstr(err.msg, "HMAC key"));
	return p;
}

static void
test_eab(void **state)
{
	json_t	*eab, *jwk;
	char	*s;

	/* The right MAC, each HMAC, each account key type. */
	assert_int_equal(eab_prob(eab_build("HS256", "kid-1", T_NEWACCT,
	    eab_key1, keys[K_ES256], NULL), keys[K_ES256], "kid-1"),
	    ACME_P_NONE);
	assert_int_equal(eab_prob(eab_build("HS384", "kid-2", T_NEWACCT,
	    eab_key2, keys[K_RS256], NULL), keys[K_RS256], "kid-2"),
	    ACME_P_NONE);
	assert_int_equal(eab_prob(eab_build("HS512", "kid-1", T_NEWACCT,
	    eab_key1, keys[K_EDDSA], NULL), keys[K_EDDSA], "kid-1"),
	    ACME_P_NONE);
	/* The wrong key: another kid's. */
	assert_int_equal(eab_prob(eab_build("HS256", "kid-1", T_NEWACCT,
	    eab_key2, keys[K_ES256], NULL), keys[K_ES256], "kid-1"),
	    ACME_P_UNAUTHORIZED);
	/* Unknown kid, store failure. */
	assert_int_equal(eab_prob(eab_build("HS256", "kid-9", T_NEWACCT,
	    eab_key1, keys[K_ES256], NULL), keys[K_ES256], "kid-9"),
	    ACME_P_UNAUTHORIZED);
	assert_int_equal(eab_prob(eab_build("HS256", "kid-broken",
	    T_NEWACCT, eab_key1, keys[K_ES256], NULL), keys[K_ES256],
	    "kid-broken"), ACME_P_SERVER_INTERNAL);
	/* Wrong url. */
	assert_int_equal(eab_prob(eab_build("HS256", "kid-1", T_URL,
	    eab_key1, keys[K_ES256], NULL), keys[K_ES256], "kid-1"),
	    ACME_P_UNAUTHORIZED);
	/* Bound to another account key. */
	assert_int_equal(eab_prob(eab_build("HS256", "kid-1", T_NEWACCT,
	    eab_key1, keys[K_ES384], NULL), keys[K_ES256], "kid-1"),
	    ACME_P_UNAUTHORIZED);
	/* A nonce, a signature algorithm, a "jwk" instead of "kid". */
	assert_int_equal(eab_prob(eab_build("HS256", "kid-1", T_NEWACCT,
	    eab_key1, keys[K_ES256], T_NONCE), keys[K_ES256], ""),
	    ACME_P_MALFORMED);
	s = jws_build(keys[K_ES256], "ES256", hdr_new("ES256", NULL, T_NEWACCT,
	    NULL, "kid-1"), "{}");
	eab = json_loads(s, 0, NULL);
	cg_free(s);
	assert_int_equal(eab_prob(eab, keys[K_ES256], ""), ACME_P_BAD_SIG_ALG);
	s = jws_build_x(NULL, "HS256", eab_key1, 32, hdr_new("HS256", NULL,
	    T_NEWACCT, jwk_of(keys[K_ES256]), NULL), "{}", "");
	eab = json_loads(s, 0, NULL);
	cg_free(s);
	assert_int_equal(eab_prob(eab, keys[K_ES256], ""), ACME_P_MALFORMED);
	/* Not a JWS at all. */
	assert_int_equal(eab_prob(json_string("x"), keys[K_ES256], ""),
	    ACME_P_MALFORMED);
	/* The payload: the same key spelled otherwise is fine... */
	jwk = jwk_of(keys[K_ES256]);
	json_object_set_new(jwk, "use", json_string("sig"));
	s = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(jwk);
	{
		char	*b = jws_build_x(NULL, "HS256", eab_key1, 32,
			    hdr_new("HS256", NULL, T_NEWACCT, NULL, "kid-1"), s,
			    "");

		eab = json_loads(b, 0, NULL);
		cg_free(b);
	}
	free(s);
	assert_int_equal(eab_prob(eab, keys[K_ES256], "kid-1"), ACME_P_NONE);
	/* ...no JWK is not. */
	{
		char	*b = jws_build_x(NULL, "HS256", eab_key1, 32,
			    hdr_new("HS256", NULL, T_NEWACCT, NULL, "kid-1"),
			    "[]", "");

		eab = json_loads(b, 0, NULL);
		cg_free(b);
	}
	assert_int_equal(eab_prob(eab, keys[K_ES256], "kid-1"),
	    ACME_P_MALFORMED);
	/* A MAC one byte short. */
	{
		json_t	*e = eab_build("HS256", "kid-1", T_NEWACCT, eab_key1,
			    keys[K_ES256], NULL);
		char	*sig = b64_shorter(json_string_value(
			    json_object_get(e, "signature")));

		json_object_set_new(e, "signature", json_string(sig));
		cg_free(sig);
		assert_int_equal(eab_prob(e, keys[K_ES256], "kid-1"),
		    ACME_P_UNAUTHORIZED);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_problem_types),
		cmocka_unit_test(test_each_alg_verifies),
		cmocka_unit_test(test_other_key_same_type),
		cmocka_unit_test(test_post_as_get),
		cmocka_unit_test(test_tampered_refused),
		cmocka_unit_test(test_alg_key_mismatch),
		cmocka_unit_test(test_bad_algs),
		cmocka_unit_test(test_nonce),
		cmocka_unit_test(test_jwk_kid_rules),
		cmocka_unit_test(test_structure_refused),
		cmocka_unit_test(test_bad_base64url),
		cmocka_unit_test(test_jwk_private_members),
		cmocka_unit_test(test_jwk_rsa_limits),
		cmocka_unit_test(test_jwk_ec_okp),
		cmocka_unit_test(test_thumbprint_vectors),
		cmocka_unit_test(test_jwk_round_trip),
		cmocka_unit_test(test_inner_mode),
		cmocka_unit_test(test_keychange_tampered_inner),
		cmocka_unit_test(test_eab),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
