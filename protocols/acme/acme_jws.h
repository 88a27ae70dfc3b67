/*
 * acme_jws.h - the JOSE layer of the ACME server (RFC 8555 §6.2): strict
 * base64url, the flattened JWS of every ACME POST, JWKs to and from
 * OpenSSL keys with their RFC 7638 thumbprints, signature checks for
 * RS256, ES256/384/512 and EdDSA (RFC 7515, 7517, 7518, 8037), the inner
 * JWS of a key rollover (§7.3.5) and external account binding (§7.3.4).
 *
 * Pure code: no network, no store, no nonces.  The request handlers parse
 * a body with acme_jws_parse(), check and consume the nonce, find the
 * key (acme_jwk_to_pkey() for "jwk", the account for "kid"), compare the
 * "url" with the request URL, then call acme_jws_verify().
 *
 * Every refusal sets *prob (first one wins) to the ACME problem type to
 * answer with and err->msg to a detail that may be sent to the client (it
 * never echoes client bytes other than short, printable names).  A
 * failure that is ours (out of memory, an OpenSSL failure on a good key)
 * is ACME_P_SERVER_INTERNAL.  err->proto gets the problem too.
 *
 * Threads: nothing here keeps state; a struct acme_jws belongs to one
 * thread.
 */
#ifndef CERTGW_ACME_JWS_H
#define CERTGW_ACME_JWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "certgw/core.h"

#define ACME_JWS_MAX		(64 * 1024)	/* a JWS body, as JSON */
#define ACME_URL_MAX		2048	/* "url" and "kid" of a JWS */
#define ACME_NONCE_MAX		256	/* "nonce" (base64url) */
#define ACME_THUMBPRINT_LEN	43	/* base64url of a SHA-256 */
#define ACME_RSA_BITS_MIN	2048	/* account keys: RSA modulus */
#define ACME_RSA_BITS_MAX	8192
#define ACME_EAB_KID_MAX	256	/* EAB key identifier, printable */
#define ACME_EAB_KEY_MAX	256	/* EAB HMAC key bytes */

/* ------------------------------------------------------------ problems */

/* The problem types of RFC 8555 §6.7 and its extensions, and none. */
enum acme_problem {
	ACME_P_NONE = 0,
	ACME_P_ACCOUNT_DOES_NOT_EXIST,
	ACME_P_ALREADY_REVOKED,
	ACME_P_BAD_CSR,
	ACME_P_BAD_NONCE,
	ACME_P_BAD_PUBLIC_KEY,
	ACME_P_BAD_REVOCATION_REASON,
	ACME_P_BAD_SIG_ALG,
	ACME_P_CAA,
	ACME_P_COMPOUND,
	ACME_P_CONNECTION,
	ACME_P_DNS,
	ACME_P_EXTERNAL_ACCOUNT_REQUIRED,
	ACME_P_INCORRECT_RESPONSE,
	ACME_P_INVALID_CONTACT,
	ACME_P_MALFORMED,
	ACME_P_ORDER_NOT_READY,
	ACME_P_RATE_LIMITED,
	ACME_P_REJECTED_IDENTIFIER,
	ACME_P_SERVER_INTERNAL,
	ACME_P_TLS,
	ACME_P_UNAUTHORIZED,
	ACME_P_UNSUPPORTED_CONTACT,
	ACME_P_UNSUPPORTED_IDENTIFIER,
	ACME_P_USER_ACTION_REQUIRED,
	ACME_P_ALREADY_REPLACED,	/* RFC 9773 §5 */
	ACME_P_INVALID_PROFILE,		/* draft-ietf-acme-profiles */
	ACME_P__MAX
};

/*
 * "urn:ietf:params:acme:error:<type>" for a problem; ACME_P_NONE and
 * unknown values give the serverInternal URN, so a bug never sends an
 * empty type.
 */
const char	*acme_problem_type(enum acme_problem prob);
/*
 * The HTTP status that goes with a problem: 403 for unauthorized,
 * userActionRequired and orderNotReady (§7.4), 409 for alreadyReplaced
 * (RFC 9773 §5), 429 for rateLimited, 500 for serverInternal, 400 for the
 * others (accountDoesNotExist too, RFC 8555 §7.3.1).
 */
int		 acme_problem_http_status(enum acme_problem prob);

/*
 * Refuse: set *prob unless already set (prob may be NULL), record the
 * error with cg_err_set_at() (msg is client-safe text; err->proto gets
 * p if this is err's first error), clear the OpenSSL error queue, and
 * return code.  For the ACME handlers too.
 */
enum cg_code	 acme_refuse_at(enum acme_problem *prob, struct cg_err *err,
		    enum acme_problem p, enum cg_code code, int flags,
		    const char *func, int line, const char *fmt, ...)
		    __attribute__((format(printf, 8, 9)));

#define acme_refuse(pr, e, p, c, ...) \
	acme_refuse_at((pr), (e), (p), (c), 0, __func__, __LINE__, __VA_ARGS__)

/* ---------------------------------------------------------- base64url */

/*
 * Strict base64url (RFC 7515 §2): only [A-Za-z0-9_-], no padding, no
 * whitespace, a length that is not 1 mod 4, and zero bits after the last
 * byte (so every byte string has exactly one encoding).  Decoded output
 * of at most max bytes (CG_ETOOBIG past it), CG_EINVAL otherwise.  *outp
 * (cg_free) is NUL-terminated (the NUL is not counted), and non-NULL
 * even for "".
 */
enum cg_code	 acme_b64url_decode(const char *in, size_t len, size_t max,
		    uint8_t **outp, size_t *outlenp, struct cg_err *err);
/*
 * The same into the caller's out of cap bytes, without allocating and
 * without a message: CG_EINVAL, CG_ETOOBIG or CG_OK with *outlenp.  For
 * fixed-size values on hot paths (nonces).
 */
enum cg_code	 acme_b64url_decode_to(const char *in, size_t len,
		    uint8_t *out, size_t cap, size_t *outlenp);
/* Characters that len bytes encode to (no padding). */
#define ACME_B64URL_LEN(len)	((len) / 3 * 4 + ((len) % 3 == 0 ? 0 : \
				    (len) % 3 + 1))
/* Encode len bytes; *outp (cg_free) is NUL-terminated. */
enum cg_code	 acme_b64url_encode(const uint8_t *in, size_t len,
		    char **outp, struct cg_err *err);
/*
 * The same into out, which has room for ACME_B64URL_LEN(len) + 1 bytes;
 * NUL-terminated; returns the characters written.
 */
size_t		 acme_b64url_encode_to(const uint8_t *in, size_t len,
		    char *out);
/* Whether len bytes are all of the base64url alphabet (a nonce). */
bool		 acme_b64url_valid(const char *s, size_t len);

/* ---------------------------------------------------------------- JWS */

enum acme_jws_mode {
	ACME_JWS_OUTER_KID,	/* an account's request: "kid", "nonce" */
	ACME_JWS_OUTER_JWK,	/* newAccount: "jwk", "nonce" */
	ACME_JWS_OUTER_ANY,	/* revokeCert: "jwk" or "kid", "nonce" */
	ACME_JWS_INNER,		/* keyChange inner JWS: "jwk", no "nonce" */
	ACME_JWS_EAB		/* externalAccountBinding: "kid", HMAC,
				   no "nonce"; used by acme_eab_verify() */
};

enum acme_jws_alg {
	ACME_ALG_NONE = 0,
	ACME_ALG_RS256,
	ACME_ALG_ES256,
	ACME_ALG_ES384,
	ACME_ALG_ES512,
	ACME_ALG_EDDSA,
	ACME_ALG_HS256,		/* ACME_JWS_EAB only */
	ACME_ALG_HS384,
	ACME_ALG_HS512,
	ACME_ALG__MAX
};

/*
 * The signature algorithms an ACME request may use, NULL-terminated: the
 * "algorithms" member of a badSignatureAlgorithm problem (RFC 8555 §6.2).
 */
extern const char *const acme_jws_algorithms[];

/* A parsed flattened JWS; every pointer but jwk is owned. */
struct acme_jws {
	enum acme_jws_alg alg;		/* from the protected "alg" */
	char		*nonce;		/* outer modes; NULL otherwise */
	char		*url;		/* protected "url" */
	char		*kid;		/* "kid", or NULL */
	json_t		*jwk;		/* "jwk" object inside header, or
					   NULL; not checked as a key yet:
					   acme_jwk_to_pkey() does */
	json_t		*header;	/* the whole protected header */
	uint8_t		*payload;	/* decoded; NUL-terminated */
	size_t		 payload_len;	/* excluding the NUL */
	bool		 post_as_get;	/* "payload" was "" (RFC 8555 §6.3) */
	char		*signing_input;	/* protected '.' payload, as sent */
	size_t		 signing_input_len;
	uint8_t		*sig;		/* decoded "signature" */
	size_t		 sig_len;
};

/*
 * Parse a request body (untrusted; need not be NUL-terminated) as a
 * flattened JWS JSON serialization (RFC 7515 §7.2.2) with exactly the
 * members "protected", "payload" and "signature", all strings: "header"
 * (unprotected headers), "signatures" (the general serialization) and any
 * other member are malformed, as are duplicate keys and bodies over
 * ACME_JWS_MAX.  The protected header must be a JSON object with:
 *
 *   "alg"    RS256, ES256, ES384, ES512 or EdDSA (HS256/384/512 instead
 *            in ACME_JWS_EAB); anything else, "none" and the HMAC ones
 *            included, is badSignatureAlgorithm;
 *   "nonce"  a base64url string of at most ACME_NONCE_MAX bytes in the
 *            outer modes, badNonce when missing or not that; forbidden
 *            (malformed) in ACME_JWS_INNER and ACME_JWS_EAB;
 *   "url"    a printable ASCII string of at most ACME_URL_MAX bytes;
 *   "jwk"    an object, or
 *   "kid"    a printable ASCII string (of at most ACME_URL_MAX bytes, or
 *            ACME_EAB_KID_MAX in ACME_JWS_EAB): exactly one of the two,
 *            and the one mode asks for (see enum acme_jws_mode);
 *
 * no "crit" at all, and no "b64" other than true (RFC 7797).  Other
 * header members are ignored.  "payload" and "signature" must be strict
 * base64url; an empty payload sets post_as_get, an empty signature is
 * malformed.  The "url" is not compared with anything: the caller checks
 * it against the request URL (unauthorized if different, §6.4).  *outp
 * is the caller's (acme_jws_free).
 */
enum cg_code	 acme_jws_parse(const uint8_t *body, size_t len,
		    enum acme_jws_mode mode, struct acme_jws **outp,
		    enum acme_problem *prob, struct cg_err *err);
/* The same from a JSON value already parsed (the EAB member). */
enum cg_code	 acme_jws_parse_json(const json_t *obj,
		    enum acme_jws_mode mode, struct acme_jws **outp,
		    enum acme_problem *prob, struct cg_err *err);
void		 acme_jws_free(struct acme_jws *jws);

/* The "alg" name of an algorithm ("RS256"); "none" for ACME_ALG_NONE. */
const char	*acme_jws_alg_name(enum acme_jws_alg alg);

/*
 * Check the signature of jws with key.  The algorithm must fit the key
 * (RS256: RSA; ES256, ES384, ES512: EC P-256, P-384, P-521; EdDSA:
 * Ed25519), else badSignatureAlgorithm.  ECDSA signatures are r || s of
 * exactly twice the field size (RFC 7518 §3.4), RSA ones exactly the
 * modulus size.  A signature that does not verify is malformed ("JWS
 * signature is invalid", RFC 8555 §6.2).  HMAC JWSs are refused here:
 * acme_eab_verify() checks those.
 */
enum cg_code	 acme_jws_verify(const struct acme_jws *jws, EVP_PKEY *key,
		    enum acme_problem *prob, struct cg_err *err);

/* ---------------------------------------------------------------- JWK */

/* The curves of ES256, ES384 and ES512 (RFC 7518 §3.4). */
struct acme_curve {
	const char	*crv;		/* JWK "crv": "P-256" */
	const char	*group;		/* OpenSSL group: "prime256v1" */
	size_t		 len;		/* field size in bytes */
	enum acme_jws_alg alg;		/* the one algorithm for it */
	const char	*md;		/* its digest: "SHA256" */
};

/* The curve of an EC key, NULL for another key or curve. */
const struct acme_curve *acme_curve_of(EVP_PKEY *key);

/*
 * A public JWK (RFC 7517) to a key: "kty" RSA ("n", "e": modulus of
 * ACME_RSA_BITS_MIN..MAX bits, odd; e odd, > 1, at most 64 bits; both
 * without leading zero bytes), EC ("crv" P-256, P-384 or P-521, "x" and
 * "y" of exactly the field size, a point on the curve) or OKP ("crv"
 * Ed25519, "x" of 32 bytes, RFC 8037).  Any private member ("d", "p",
 * "q", "dp", "dq", "qi", "oth", "k"), a missing or ill-typed member, other
 * kty/crv values and bad values are badPublicKey; other members ("use",
 * "kid", "alg", ...) are ignored.  *outp is the caller's (EVP_PKEY_free).
 */
enum cg_code	 acme_jwk_to_pkey(const json_t *jwk, EVP_PKEY **outp,
		    enum acme_problem *prob, struct cg_err *err);
/*
 * The public JWK of a key of a type above, with its required members only
 * (for account objects).  *outp is the caller's (json_decref).  CG_EINVAL
 * for another key type.
 */
enum cg_code	 acme_jwk_from_pkey(EVP_PKEY *key, json_t **outp,
		    struct cg_err *err);
/*
 * The RFC 7638 thumbprint of a key: base64url(SHA-256) of its required
 * JWK members in lexicographic order without whitespace, the account key
 * part of every key authorization (RFC 8555 §8.1).  out gets
 * ACME_THUMBPRINT_LEN characters and a NUL.
 */
enum cg_code	 acme_jwk_thumbprint(EVP_PKEY *key,
		    char out[ACME_THUMBPRINT_LEN + 1], struct cg_err *err);

/* ---------------------------------------------------------- keyChange */

/*
 * The checks of a key rollover (RFC 8555 §7.3.5) that need no store:
 * outer (parsed in ACME_JWS_OUTER_KID and already verified with the
 * account key) carries an inner JWS as payload, parsed here in
 * ACME_JWS_INNER; the inner "jwk" must be a good key (badPublicKey), the
 * inner signature must verify with it, the inner "url" must equal the
 * outer "url" byte for byte, and the inner payload must be an object
 * whose "account" equals the outer "kid" and whose "oldKey" is a JWK of
 * account_key (same thumbprint).  These mismatches are malformed.  On
 * success *newkeyp (EVP_PKEY_free) is the new key.  Left to the caller:
 * that no account already has the new key (409, §7.3.5 step 7).
 */
enum cg_code	 acme_keychange_verify(const struct acme_jws *outer,
		    EVP_PKEY *account_key, EVP_PKEY **newkeyp,
		    enum acme_problem *prob, struct cg_err *err);

/* ---------------------------------------------------------------- EAB */

/*
 * Find the HMAC key of an EAB key identifier: copy it into key (at most
 * ACME_EAB_KEY_MAX bytes), set *keylenp and return CG_OK; CG_ENOTFOUND
 * for an unknown (or spent) kid; any other code is our failure.
 */
typedef enum cg_code acme_eab_lookup_fn(void *arg, const char *kid,
		    uint8_t key[ACME_EAB_KEY_MAX], size_t *keylenp,
		    struct cg_err *err);

/*
 * Check the "externalAccountBinding" of a newAccount payload (RFC 8555
 * §7.3.4): eab must be a flattened JWS (ACME_JWS_EAB rules above) whose
 * MAC, with the key lookup gives for its "kid", verifies (compared in
 * constant time); whose "url" equals expected_url (the newAccount URL of
 * the outer JWS); and whose payload is a JWK of the same public key as
 * account_jwk (the outer "jwk", compared by thumbprint).  An unknown kid,
 * a wrong MAC, url or key is unauthorized; a structure that is not such a
 * JWS is malformed (badSignatureAlgorithm for a non-HMAC "alg").  kid_out
 * receives the kid as soon as it is read (so a refusal can be logged with
 * it) and is "" before.  The HMAC key is wiped after use.
 */
enum cg_code	 acme_eab_verify(const json_t *eab, const char *expected_url,
		    const json_t *account_jwk, acme_eab_lookup_fn *lookup,
		    void *arg, char kid_out[ACME_EAB_KID_MAX + 1],
		    enum acme_problem *prob, struct cg_err *err);

#endif /* CERTGW_ACME_JWS_H */
