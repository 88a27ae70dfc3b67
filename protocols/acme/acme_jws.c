/*
 * acme_jws.c - problem types, strict base64url, the flattened JWS of ACME
 * requests and its signature check, the key rollover's inner JWS and
 * external account binding.  JWKs and thumbprints are in acme_jwk.c.
 *
 * Every byte here comes from a client.  The parse is strict on purpose:
 * one accepted spelling per request, so what we verify is what we act on
 * (no unprotected headers, no duplicate keys, canonical base64url).
 */
#include "acme_jws.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>


/* ------------------------------------------------------------ problems */

#define URN	"urn:ietf:params:acme:error:"

static const char *const problem_urns[ACME_P__MAX] = {
	[ACME_P_NONE] = URN "serverInternal",
	[ACME_P_ACCOUNT_DOES_NOT_EXIST] = URN "accountDoesNotExist",
	[ACME_P_ALREADY_REVOKED] = URN "alreadyRevoked",
	[ACME_P_BAD_CSR] = URN "badCSR",
	[ACME_P_BAD_NONCE] = URN "badNonce",
	[ACME_P_BAD_PUBLIC_KEY] = URN "badPublicKey",
	[ACME_P_BAD_REVOCATION_REASON] = URN "badRevocationReason",
	[ACME_P_BAD_SIG_ALG] = URN "badSignatureAlgorithm",
	[ACME_P_CAA] = URN "caa",
	[ACME_P_COMPOUND] = URN "compound",
	[ACME_P_CONNECTION] = URN "connection",
	[ACME_P_DNS] = URN "dns",
	[ACME_P_EXTERNAL_ACCOUNT_REQUIRED] = URN "externalAccountRequired",
	[ACME_P_INCORRECT_RESPONSE] = URN "incorrectResponse",
	[ACME_P_INVALID_CONTACT] = URN "invalidContact",
	[ACME_P_MALFORMED] = URN "malformed",
	[ACME_P_ORDER_NOT_READY] = URN "orderNotReady",
	[ACME_P_RATE_LIMITED] = URN "rateLimited",
	[ACME_P_REJECTED_IDENTIFIER] = URN "rejectedIdentifier",
	[ACME_P_SERVER_INTERNAL] = URN "serverInternal",
	[ACME_P_TLS] = URN "tls",
	[ACME_P_UNAUTHORIZED] = URN "unauthorized",
	[ACME_P_UNSUPPORTED_CONTACT] = URN "unsupportedContact",
	[ACME_P_UNSUPPORTED_IDENTIFIER] = URN "unsupportedIdentifier",
	[ACME_P_USER_ACTION_REQUIRED] = URN "userActionRequired",
	[ACME_P_ALREADY_REPLACED] = URN "alreadyReplaced",
	[ACME_P_INVALID_PROFILE] = URN "invalidProfile",
};

const char *
acme_problem_type(enum acme_problem prob)
{
	if ((unsigned)prob >= ACME_P__MAX)
		prob = ACME_P_SERVER_INTERNAL;
	return problem_urns[prob];
}

int
acme_problem_http_status(enum acme_problem prob)
{
	switch (prob) {
	case ACME_P_UNAUTHORIZED:
	case ACME_P_USER_ACTION_REQUIRED:
	case ACME_P_ORDER_NOT_READY:	/* RFC 8555 §7.4 */
		return 403;
	case ACME_P_ALREADY_REPLACED:	/* RFC 9773 §5 */
		return 409;
	case ACME_P_RATE_LIMITED:
		return 429;
	case ACME_P_NONE:
	case ACME_P_SERVER_INTERNAL:
	case ACME_P__MAX:
		return 500;
	default:
		return (unsigned)prob < ACME_P__MAX ? 400 : 500;
	}
}

enum cg_code
acme_refuse_at(enum acme_problem *prob, struct cg_err *err,
    enum acme_problem p, enum cg_code code, int flags, const char *func,
    int line, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[sizeof(err->msg)];
	bool	 first;

	if (prob != NULL && *prob == ACME_P_NONE)
		*prob = p;
	first = err != NULL && err->code == CG_OK;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cg_err_set_at(err, code, flags, func, line, "%s", msg);
	if (first)
		err->proto = (int)p;
	/* A refusal leaves nothing behind for the next OpenSSL caller. */
	ERR_clear_error();
	return code;
}

/* ---------------------------------------------------------- base64url */

static int
b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

bool
acme_b64url_valid(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (b64url_val((unsigned char)s[i]) < 0)
			return false;
	return true;
}

enum cg_code
acme_b64url_decode_to(const char *in, size_t len, uint8_t *out, size_t cap,
    size_t *outlenp)
{
	size_t		 olen, i, o = 0, rem = len % 4;
	uint32_t	 acc = 0;
	int		 v = 0;

	*outlenp = 0;
	if (rem == 1)
		return CG_EINVAL;
	olen = len / 4 * 3 + (rem == 0 ? 0 : rem - 1);
	if (olen > cap)
		return CG_ETOOBIG;
	for (i = 0; i < len; i++) {
		if ((v = b64url_val((unsigned char)in[i])) < 0)
			return CG_EINVAL;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	/* Bits past the last byte must be zero: one encoding per value. */
	if ((rem == 2 && (v & 0x0f) != 0) || (rem == 3 && (v & 0x03) != 0))
		return CG_EINVAL;
	if (rem == 2)
		out[o++] = (uint8_t)(acc >> 4);
	else if (rem == 3) {
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
	}
	*outlenp = o;
	return CG_OK;
}

enum cg_code
acme_b64url_decode(const char *in, size_t len, size_t max, uint8_t **outp,
    size_t *outlenp, struct cg_err *err)
{
	uint8_t		*out;
	size_t		 olen, rem = len % 4;
	enum cg_code	 rc;

	*outp = NULL;
	*outlenp = 0;
	if (rem == 1)
		return cg_err_set(err, CG_EINVAL, "truncated base64url");
	olen = len / 4 * 3 + (rem == 0 ? 0 : rem - 1);
	if (olen > max)
		return cg_err_set(err, CG_ETOOBIG,
		    "base64url data exceeds %zu bytes", max);
	if ((out = cg_malloc(olen + 1)) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = acme_b64url_decode_to(in, len, out, olen, outlenp);
	if (rc != CG_OK) {
		cg_free(out);
		return cg_err_set(err, CG_EINVAL, "invalid base64url");
	}
	out[*outlenp] = '\0';
	*outp = out;
	return CG_OK;
}

size_t
acme_b64url_encode_to(const uint8_t *in, size_t len, char *out)
{
	return cg_base64_encode_to(in, len, out, true);
}

enum cg_code
acme_b64url_encode(const uint8_t *in, size_t len, char **outp,
    struct cg_err *err)
{
	char	*out;

	*outp = NULL;
	if (len > SIZE_MAX / 2)
		return cg_err_set(err, CG_ETOOBIG, "input too large");
	if ((out = cg_malloc(ACME_B64URL_LEN(len) + 1)) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	(void)acme_b64url_encode_to(in, len, out);
	*outp = out;
	return CG_OK;
}

/* ---------------------------------------------------------------- JWS */

const char *const acme_jws_algorithms[] = {
	"RS256", "ES256", "ES384", "ES512", "EdDSA", NULL
};

static const char *const alg_names[ACME_ALG__MAX] = {
	[ACME_ALG_NONE] = "none",
	[ACME_ALG_RS256] = "RS256",
	[ACME_ALG_ES256] = "ES256",
	[ACME_ALG_ES384] = "ES384",
	[ACME_ALG_ES512] = "ES512",
	[ACME_ALG_EDDSA] = "EdDSA",
	[ACME_ALG_HS256] = "HS256",
	[ACME_ALG_HS384] = "HS384",
	[ACME_ALG_HS512] = "HS512",
};

const char *
acme_jws_alg_name(enum acme_jws_alg alg)
{
	if ((unsigned)alg >= ACME_ALG__MAX)
		return "none";
	return alg_names[alg];
}

static bool
alg_is_mac(enum acme_jws_alg alg)
{
	return alg == ACME_ALG_HS256 || alg == ACME_ALG_HS384 ||
	    alg == ACME_ALG_HS512;
}

/* Visible ASCII only, so a value can go into a log line or a message. */
static bool
printable(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

void
acme_jws_free(struct acme_jws *jws)
{
	if (jws == NULL)
		return;
	cg_free(jws->nonce);
	cg_free(jws->url);
	cg_free(jws->kid);
	json_decref(jws->header);
	cg_free(jws->payload);
	cg_free(jws->signing_input);
	cg_free(jws->sig);
	cg_free(jws);
}

/* A member of the protected header as a string of at most max bytes. */
static const char *
hdr_string(const json_t *hdr, const char *name, size_t max, size_t *lenp)
{
	const json_t	*v = json_object_get(hdr, name);
	size_t		 len;

	if (!json_is_string(v))
		return NULL;
	len = json_string_length(v);
	if (len == 0 || len > max)
		return NULL;
	*lenp = len;
	return json_string_value(v);
}

static enum cg_code
hdr_alg(struct acme_jws *jws, enum acme_jws_mode mode,
    enum acme_problem *prob, struct cg_err *err)
{
	const json_t	*v = json_object_get(jws->header, "alg");
	const char	*s;
	size_t		 i, len;

	if (v == NULL)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS protected header has no \"alg\"");
	if (!json_is_string(v))
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS \"alg\" is not a string");
	s = json_string_value(v);
	len = json_string_length(v);
	for (i = ACME_ALG_NONE + 1; i < ACME_ALG__MAX; i++)
		if (strlen(alg_names[i]) == len &&
		    memcmp(alg_names[i], s, len) == 0)
			break;
	if (mode == ACME_JWS_EAB) {
		if (i < ACME_ALG__MAX && alg_is_mac(i)) {
			jws->alg = i;
			return CG_OK;
		}
		return acme_refuse(prob, err, ACME_P_BAD_SIG_ALG, CG_EINVAL,
		    "externalAccountBinding must use HS256, HS384 or HS512");
	}
	if (i < ACME_ALG__MAX && !alg_is_mac(i)) {
		jws->alg = i;
		return CG_OK;
	}
	return acme_refuse(prob, err, ACME_P_BAD_SIG_ALG, CG_EINVAL,
	    "JWS algorithm %s%s%sis not supported; use one of RS256, ES256, "
	    "ES384, ES512, EdDSA", len <= 16 && printable(s, len) ? "\"" : "",
	    len <= 16 && printable(s, len) ? s : "",
	    len <= 16 && printable(s, len) ? "\" " : "");
}

/* "jwk" or "kid", whichever mode asks for; never both. */
static enum cg_code
hdr_key(struct acme_jws *jws, enum acme_jws_mode mode,
    enum acme_problem *prob, struct cg_err *err)
{
	const json_t	*jwk = json_object_get(jws->header, "jwk");
	const json_t	*kidv = json_object_get(jws->header, "kid");
	const char	*kid;
	size_t		 len = 0, max;

	if (jwk != NULL && kidv != NULL)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS has both \"jwk\" and \"kid\"");
	if (jwk == NULL && kidv == NULL)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS has neither \"jwk\" nor \"kid\"");
	if (jwk != NULL) {
		if (mode == ACME_JWS_OUTER_KID || mode == ACME_JWS_EAB)
			return acme_refuse(prob, err, ACME_P_MALFORMED,
			    CG_EINVAL, "this request must be signed by an "
			    "account key named by \"kid\", not \"jwk\"");
		if (!json_is_object(jwk))
			return acme_refuse(prob, err, ACME_P_MALFORMED,
			    CG_EINVAL, "JWS \"jwk\" is not an object");
		jws->jwk = (json_t *)jwk;
		return CG_OK;
	}
	if (mode == ACME_JWS_OUTER_JWK || mode == ACME_JWS_INNER)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "this request must carry its public key in \"jwk\", "
		    "not \"kid\"");
	max = mode == ACME_JWS_EAB ? ACME_EAB_KID_MAX : ACME_URL_MAX;
	if ((kid = hdr_string(jws->header, "kid", max, &len)) == NULL ||
	    !printable(kid, len))
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS \"kid\" is not a string of 1 to %zu printable "
		    "characters", max);
	if ((jws->kid = cg_strndup(kid, len)) == NULL)
		return acme_refuse(prob, err, ACME_P_SERVER_INTERNAL,
		    CG_ENOMEM, "out of memory");
	return CG_OK;
}

static enum cg_code
hdr_check(struct acme_jws *jws, enum acme_jws_mode mode,
    enum acme_problem *prob, struct cg_err *err)
{
	const json_t	*v;
	const char	*s;
	size_t		 len = 0;
	bool		 outer;
	enum cg_code	 rc;

	if ((rc = hdr_alg(jws, mode, prob, err)) != CG_OK ||
	    (rc = hdr_key(jws, mode, prob, err)) != CG_OK)
		return rc;
	if (json_object_get(jws->header, "crit") != NULL)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS \"crit\" is not supported");
	if ((v = json_object_get(jws->header, "b64")) != NULL &&
	    !json_is_true(v))
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS \"b64\" other than true is not supported");

	outer = mode == ACME_JWS_OUTER_KID || mode == ACME_JWS_OUTER_JWK ||
	    mode == ACME_JWS_OUTER_ANY;
	v = json_object_get(jws->header, "nonce");
	if (outer) {
		if (v == NULL)
			return acme_refuse(prob, err, ACME_P_BAD_NONCE,
			    CG_EINVAL, "JWS has no \"nonce\"");
		if ((s = hdr_string(jws->header, "nonce", ACME_NONCE_MAX,
		    &len)) == NULL || !acme_b64url_valid(s, len))
			return acme_refuse(prob, err, ACME_P_BAD_NONCE,
			    CG_EINVAL, "JWS \"nonce\" is not a base64url "
			    "string of 1 to %d characters", ACME_NONCE_MAX);
		if ((jws->nonce = cg_strndup(s, len)) == NULL)
			return acme_refuse(prob, err, ACME_P_SERVER_INTERNAL,
			    CG_ENOMEM, "out of memory");
	} else if (v != NULL)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    mode == ACME_JWS_EAB ? "externalAccountBinding must not "
		    "have a \"nonce\"" : "inner JWS must not have a \"nonce\"");

	if (json_object_get(jws->header, "url") == NULL)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS has no \"url\"");
	if ((s = hdr_string(jws->header, "url", ACME_URL_MAX, &len)) ==
	    NULL || !printable(s, len))
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS \"url\" is not a string of 1 to %d printable "
		    "characters", ACME_URL_MAX);
	if ((jws->url = cg_strndup(s, len)) == NULL)
		return acme_refuse(prob, err, ACME_P_SERVER_INTERNAL,
		    CG_ENOMEM, "out of memory");
	return CG_OK;
}

/* A top-level member that must be a string; its bytes and length. */
static const char *
top_string(const json_t *obj, const char *name, size_t *lenp)
{
	const json_t	*v = json_object_get(obj, name);

	if (!json_is_string(v))
		return NULL;
	*lenp = json_string_length(v);
	return json_string_value(v);
}

enum cg_code
acme_jws_parse_json(const json_t *obj, enum acme_jws_mode mode,
    struct acme_jws **outp, enum acme_problem *prob, struct cg_err *err)
{
	struct acme_jws	*jws = NULL;
	const char	*key, *prot, *pay, *sig;
	const json_t	*v;
	size_t		 plen = 0, paylen = 0, siglen = 0, hlen;
	uint8_t		*hdr = NULL;
	json_error_t	 jerr;
	enum cg_code	 rc;

	*outp = NULL;
	if (!json_is_object(obj))
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS is not a JSON object");
	if (json_object_get(obj, "header") != NULL)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS unprotected \"header\" is not allowed in ACME");
	if (json_object_get(obj, "signatures") != NULL)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS general serialization is not supported; use the "
		    "flattened one");
	json_object_foreach((json_t *)obj, key, v) {
		if (strcmp(key, "protected") != 0 &&
		    strcmp(key, "payload") != 0 &&
		    strcmp(key, "signature") != 0)
			return acme_refuse(prob, err, ACME_P_MALFORMED,
			    CG_EINVAL, "JWS has an unknown member; only "
			    "\"protected\", \"payload\" and \"signature\" are "
			    "allowed");
	}
	if ((prot = top_string(obj, "protected", &plen)) == NULL ||
	    (pay = top_string(obj, "payload", &paylen)) == NULL ||
	    (sig = top_string(obj, "signature", &siglen)) == NULL)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS needs \"protected\", \"payload\" and \"signature\" "
		    "strings");
	if (plen + paylen + 1 > ACME_JWS_MAX)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_ETOOBIG,
		    "JWS exceeds %d bytes", ACME_JWS_MAX);

	if ((jws = cg_calloc(1, sizeof(*jws))) == NULL) {
		rc = acme_refuse(prob, err, ACME_P_SERVER_INTERNAL, CG_ENOMEM,
		    "out of memory");
		goto fail;
	}
	if (plen == 0 || acme_b64url_decode(prot, plen, ACME_JWS_MAX, &hdr,
	    &hlen, NULL) != CG_OK) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS \"protected\" is not base64url");
		goto fail;
	}
	jws->header = json_loadb((const char *)hdr, hlen,
	    JSON_REJECT_DUPLICATES, &jerr);
	cg_free(hdr);
	if (jws->header == NULL || !json_is_object(jws->header)) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS protected header is not a JSON object");
		goto fail;
	}
	if ((rc = hdr_check(jws, mode, prob, err)) != CG_OK)
		goto fail;

	if (acme_b64url_decode(pay, paylen, ACME_JWS_MAX, &jws->payload,
	    &jws->payload_len, NULL) != CG_OK) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS \"payload\" is not base64url");
		goto fail;
	}
	jws->post_as_get = paylen == 0;
	if (siglen == 0 || acme_b64url_decode(sig, siglen, ACME_JWS_MAX,
	    &jws->sig, &jws->sig_len, NULL) != CG_OK) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS \"signature\" is not base64url");
		goto fail;
	}
	jws->signing_input_len = plen + 1 + paylen;
	if ((jws->signing_input = cg_malloc(jws->signing_input_len + 1)) ==
	    NULL) {
		rc = acme_refuse(prob, err, ACME_P_SERVER_INTERNAL, CG_ENOMEM,
		    "out of memory");
		goto fail;
	}
	memcpy(jws->signing_input, prot, plen);
	jws->signing_input[plen] = '.';
	memcpy(jws->signing_input + plen + 1, pay, paylen);
	jws->signing_input[jws->signing_input_len] = '\0';
	*outp = jws;
	return CG_OK;
fail:
	acme_jws_free(jws);
	return rc;
}

enum cg_code
acme_jws_parse(const uint8_t *body, size_t len, enum acme_jws_mode mode,
    struct acme_jws **outp, enum acme_problem *prob, struct cg_err *err)
{
	json_t		*obj;
	json_error_t	 jerr;
	enum cg_code	 rc;

	*outp = NULL;
	if (len > ACME_JWS_MAX)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_ETOOBIG,
		    "JWS exceeds %d bytes", ACME_JWS_MAX);
	obj = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (obj == NULL) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "JWS is not valid JSON (or has a duplicate member)");
		cg_err_detail(err, "json line %d column %d", jerr.line,
		    jerr.column);
		return rc;
	}
	rc = acme_jws_parse_json(obj, mode, outp, prob, err);
	json_decref(obj);
	return rc;
}

/* ------------------------------------------------------------ verify */

/* ECDSA r || s (RFC 7518 §3.4) as a DER ECDSA-Sig-Value. */
static enum cg_code
ecdsa_der(const uint8_t *sig, size_t half, uint8_t **derp, int *derlenp,
    struct cg_err *err)
{
	ECDSA_SIG	*es;
	BIGNUM		*r, *s;

	*derp = NULL;
	r = BN_bin2bn(sig, (int)half, NULL);
	s = BN_bin2bn(sig + half, (int)half, NULL);
	if (r == NULL || s == NULL || (es = ECDSA_SIG_new()) == NULL) {
		BN_free(r);
		BN_free(s);
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	}
	ECDSA_SIG_set0(es, r, s);
	*derlenp = i2d_ECDSA_SIG(es, derp);
	ECDSA_SIG_free(es);
	if (*derlenp <= 0)
		return cg_err_crypto(err, CG_ECRYPTO,
		    "cannot encode signature");
	return CG_OK;
}

enum cg_code
acme_jws_verify(const struct acme_jws *jws, EVP_PKEY *key,
    enum acme_problem *prob, struct cg_err *err)
{
	const struct acme_curve	*cv = NULL;
	const char		*md = NULL;
	const uint8_t		*sig = jws->sig;
	size_t			 siglen = jws->sig_len, want;
	uint8_t			*der = NULL;
	int			 derlen = 0, ok;
	EVP_MD_CTX		*mctx = NULL;
	enum cg_code		 rc;

	switch (jws->alg) {
	case ACME_ALG_RS256:
		if (!EVP_PKEY_is_a(key, "RSA"))
			goto mismatch;
		md = "SHA256";
		want = (size_t)EVP_PKEY_get_size(key);
		break;
	case ACME_ALG_ES256:
	case ACME_ALG_ES384:
	case ACME_ALG_ES512:
		if ((cv = acme_curve_of(key)) == NULL || cv->alg != jws->alg)
			goto mismatch;
		md = cv->md;
		want = 2 * cv->len;
		break;
	case ACME_ALG_EDDSA:
		if (!EVP_PKEY_is_a(key, "ED25519"))
			goto mismatch;
		want = 64;
		break;
	default:
		return acme_refuse(prob, err, ACME_P_BAD_SIG_ALG, CG_EINVAL,
		    "JWS algorithm %s is not supported here",
		    acme_jws_alg_name(jws->alg));
	}
	if (siglen != want)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EAUTH,
		    "JWS signature is invalid (%zu bytes, %zu expected)",
		    siglen, want);
	if (cv != NULL) {
		if (ecdsa_der(sig, cv->len, &der, &derlen, err) != CG_OK) {
			rc = acme_refuse(prob, err, ACME_P_SERVER_INTERNAL,
			    CG_ECRYPTO, "cannot check the signature");
			goto out;
		}
		sig = der;
		siglen = (size_t)derlen;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(mctx, NULL, md, NULL, NULL, key,
	    NULL) != 1) {
		rc = acme_refuse(prob, err, ACME_P_SERVER_INTERNAL, CG_ECRYPTO,
		    "cannot check the signature");
		goto out;
	}
	ok = EVP_DigestVerify(mctx, sig, siglen,
	    (const uint8_t *)jws->signing_input, jws->signing_input_len);
	if (ok != 1) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EAUTH,
		    "JWS signature is invalid");
		goto out;
	}
	rc = CG_OK;
out:
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(der);
	return rc;
mismatch:
	return acme_refuse(prob, err, ACME_P_BAD_SIG_ALG, CG_EINVAL,
	    "JWS algorithm %s does not fit the key",
	    acme_jws_alg_name(jws->alg));
}

/* ---------------------------------------------------------- keyChange */

/* The thumbprint of a JWK, or a refusal with problem p. */
static enum cg_code
jwk_thumb(const json_t *jwk, enum acme_problem p, const char *what,
    char out[ACME_THUMBPRINT_LEN + 1], enum acme_problem *prob,
    struct cg_err *err)
{
	EVP_PKEY		*pk = NULL;
	enum acme_problem	 p2 = ACME_P_NONE;
	struct cg_err		 e2;
	enum cg_code		 rc;

	memset(&e2, 0, sizeof(e2));
	if (acme_jwk_to_pkey(jwk, &pk, &p2, &e2) != CG_OK)
		return acme_refuse(prob, err, p2 == ACME_P_SERVER_INTERNAL ?
		    p2 : p, e2.code, "%s: %s", what, e2.msg);
	rc = acme_jwk_thumbprint(pk, out, err);
	EVP_PKEY_free(pk);
	if (rc != CG_OK)
		return acme_refuse(prob, err, ACME_P_SERVER_INTERNAL, rc,
		    "cannot compute a key thumbprint");
	return CG_OK;
}

enum cg_code
acme_keychange_verify(const struct acme_jws *outer, EVP_PKEY *account_key,
    EVP_PKEY **newkeyp, enum acme_problem *prob, struct cg_err *err)
{
	struct acme_jws	*inner = NULL;
	EVP_PKEY	*newkey = NULL;
	json_t		*obj = NULL;
	const json_t	*acct, *old;
	char		 want[ACME_THUMBPRINT_LEN + 1];
	char		 got[ACME_THUMBPRINT_LEN + 1];
	enum cg_code	 rc;

	*newkeyp = NULL;
	if (outer->kid == NULL)
		return acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "keyChange must be signed by the account (\"kid\")");
	if ((rc = acme_jws_parse(outer->payload, outer->payload_len,
	    ACME_JWS_INNER, &inner, prob, err)) != CG_OK)
		return rc;
	if ((rc = acme_jwk_to_pkey(inner->jwk, &newkey, prob, err)) != CG_OK ||
	    (rc = acme_jws_verify(inner, newkey, prob, err)) != CG_OK)
		goto out;
	if (strcmp(inner->url, outer->url) != 0) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "inner JWS \"url\" differs from the outer one");
		goto out;
	}
	obj = json_loadb((const char *)inner->payload, inner->payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(obj)) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "keyChange payload is not a JSON object");
		goto out;
	}
	acct = json_object_get(obj, "account");
	if (!json_is_string(acct) || strcmp(json_string_value(acct),
	    outer->kid) != 0 || json_string_length(acct) !=
	    strlen(outer->kid)) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "keyChange \"account\" is not the account of the request");
		goto out;
	}
	if ((old = json_object_get(obj, "oldKey")) == NULL) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "keyChange has no \"oldKey\"");
		goto out;
	}
	if ((rc = jwk_thumb(old, ACME_P_MALFORMED, "keyChange \"oldKey\"",
	    got, prob, err)) != CG_OK)
		goto out;
	if ((rc = acme_jwk_thumbprint(account_key, want, err)) != CG_OK) {
		rc = acme_refuse(prob, err, ACME_P_SERVER_INTERNAL, rc,
		    "cannot compute a key thumbprint");
		goto out;
	}
	if (strcmp(want, got) != 0) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "keyChange \"oldKey\" is not the account key");
		goto out;
	}
	*newkeyp = newkey;
	newkey = NULL;
	rc = CG_OK;
out:
	json_decref(obj);
	EVP_PKEY_free(newkey);
	acme_jws_free(inner);
	return rc;
}

/* ---------------------------------------------------------------- EAB */

enum cg_code
acme_eab_verify(const json_t *eab, const char *expected_url,
    const json_t *account_jwk, acme_eab_lookup_fn *lookup, void *arg,
    char kid_out[ACME_EAB_KID_MAX + 1], enum acme_problem *prob,
    struct cg_err *err)
{
	struct acme_jws	*jws = NULL;
	json_t		*payload = NULL;
	uint8_t		 key[ACME_EAB_KEY_MAX], mac[EVP_MAX_MD_SIZE];
	size_t		 keylen = 0, maclen = 0;
	const char	*md;
	char		 want[ACME_THUMBPRINT_LEN + 1];
	char		 got[ACME_THUMBPRINT_LEN + 1];
	struct cg_err	 lerr;
	enum cg_code	 rc;

	kid_out[0] = '\0';
	if ((rc = acme_jws_parse_json(eab, ACME_JWS_EAB, &jws, prob,
	    err)) != CG_OK)
		return rc;
	snprintf(kid_out, ACME_EAB_KID_MAX + 1, "%s", jws->kid);

	memset(&lerr, 0, sizeof(lerr));
	rc = lookup(arg, jws->kid, key, &keylen, &lerr);
	if (rc == CG_ENOTFOUND) {
		rc = acme_refuse(prob, err, ACME_P_UNAUTHORIZED, CG_EAUTH,
		    "unknown externalAccountBinding key identifier");
		goto out;
	}
	if (rc != CG_OK || keylen == 0 || keylen > ACME_EAB_KEY_MAX) {
		rc = acme_refuse(prob, err, ACME_P_SERVER_INTERNAL,
		    rc != CG_OK ? rc : CG_EINTERNAL,
		    "cannot look up the externalAccountBinding key");
		cg_err_detail(err, "lookup: %s %s", lerr.msg, lerr.detail);
		goto out;
	}
	md = jws->alg == ACME_ALG_HS512 ? "SHA512" :
	    jws->alg == ACME_ALG_HS384 ? "SHA384" : "SHA256";
	if (EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, key, keylen,
	    (const uint8_t *)jws->signing_input, jws->signing_input_len, mac,
	    sizeof(mac), &maclen) == NULL) {
		rc = acme_refuse(prob, err, ACME_P_SERVER_INTERNAL, CG_ECRYPTO,
		    "cannot compute the externalAccountBinding MAC");
		goto out;
	}
	/* The length is public; the bytes are compared in constant time. */
	if (jws->sig_len != maclen ||
	    CRYPTO_memcmp(jws->sig, mac, maclen) != 0) {
		rc = acme_refuse(prob, err, ACME_P_UNAUTHORIZED, CG_EAUTH,
		    "externalAccountBinding MAC is invalid");
		goto out;
	}
	if (strcmp(jws->url, expected_url) != 0) {
		rc = acme_refuse(prob, err, ACME_P_UNAUTHORIZED, CG_EAUTH,
		    "externalAccountBinding \"url\" is not the newAccount "
		    "URL");
		goto out;
	}
	payload = json_loadb((const char *)jws->payload, jws->payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(payload)) {
		rc = acme_refuse(prob, err, ACME_P_MALFORMED, CG_EINVAL,
		    "externalAccountBinding payload is not a JWK");
		goto out;
	}
	if ((rc = jwk_thumb(payload, ACME_P_MALFORMED,
	    "externalAccountBinding payload", got, prob, err)) != CG_OK ||
	    (rc = jwk_thumb(account_jwk, ACME_P_BAD_PUBLIC_KEY,
	    "account key", want, prob, err)) != CG_OK)
		goto out;
	if (strcmp(want, got) != 0) {
		rc = acme_refuse(prob, err, ACME_P_UNAUTHORIZED, CG_EAUTH,
		    "externalAccountBinding is for another account key");
		goto out;
	}
	rc = CG_OK;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(mac, sizeof(mac));
	json_decref(payload);
	acme_jws_free(jws);
	return rc;
}
