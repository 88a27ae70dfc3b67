/*
 * acme_jwk.c - JSON Web Keys (RFC 7517, 7518 §6, RFC 8037) to and from
 * OpenSSL keys, and their RFC 7638 thumbprints.  Account keys come from
 * clients: a JWK is imported only from its public members, each decoded
 * with strict base64url and bounded, and the key is built through
 * EVP_PKEY_fromdata(), which checks that an EC point is on its curve.
 */
#include "acme_jws.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

static const struct acme_curve curves[] = {
	{ "P-256", "prime256v1", 32, ACME_ALG_ES256, "SHA256" },
	{ "P-384", "secp384r1", 48, ACME_ALG_ES384, "SHA384" },
	{ "P-521", "secp521r1", 66, ACME_ALG_ES512, "SHA512" },
};
#define NCURVES		(sizeof(curves) / sizeof(curves[0]))

#define ED25519_LEN	32
#define RSA_E_MAX	8	/* bytes of a public exponent */

/* Members that only a private (or symmetric) JWK has. */
static const char *const private_members[] = {
	"d", "p", "q", "dp", "dq", "qi", "oth", "k",
};

const struct acme_curve *
acme_curve_of(EVP_PKEY *key)
{
	char	 name[64];
	size_t	 i, len = 0;

	if (!EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_group_name(key, name,
	    sizeof(name), &len) != 1)
		return NULL;
	for (i = 0; i < NCURVES; i++)
		if (strcmp(name, curves[i].group) == 0 ||
		    strcmp(name, curves[i].crv) == 0)
			return &curves[i];
	return NULL;
}

/* ------------------------------------------------------------ import */

/*
 * A base64url member of the JWK of 1 to max bytes (exactly max with
 * exact).  *outp is the caller's.
 */
static enum cg_code
member_bytes(const json_t *jwk, const char *name, size_t max, bool exact,
    uint8_t **outp, size_t *lenp, enum acme_problem *prob,
    struct cg_err *err)
{
	const json_t	*v = json_object_get(jwk, name);
	enum cg_code	 rc;

	*outp = NULL;
	if (!json_is_string(v))
		return acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    "JWK has no \"%s\" string", name);
	rc = acme_b64url_decode(json_string_value(v), json_string_length(v),
	    max, outp, lenp, NULL);
	if (rc == CG_ENOMEM)
		return acme_refuse(prob, err, ACME_P_SERVER_INTERNAL, rc,
		    "out of memory");
	if (rc != CG_OK || *lenp == 0 || (exact && *lenp != max)) {
		cg_free(*outp);
		*outp = NULL;
		if (exact)
			return acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY,
			    CG_EINVAL, "JWK \"%s\" is not %zu bytes of "
			    "base64url", name, max);
		return acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    "JWK \"%s\" is not 1 to %zu bytes of base64url", name,
		    max);
	}
	return CG_OK;
}

static EVP_PKEY *
fromdata(const char *type, OSSL_PARAM *params)
{
	EVP_PKEY_CTX	*pctx;
	EVP_PKEY	*pkey = NULL;

	pctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(pctx);
	return pkey;
}

static enum cg_code
rsa_import(const json_t *jwk, EVP_PKEY **outp, enum acme_problem *prob,
    struct cg_err *err)
{
	uint8_t		*nb = NULL, *eb = NULL;
	size_t		 nlen = 0, elen = 0;
	BIGNUM		*n = NULL, *e = NULL;
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	int		 bits;
	enum cg_code	 rc;

	if ((rc = member_bytes(jwk, "n", ACME_RSA_BITS_MAX / 8, false, &nb,
	    &nlen, prob, err)) != CG_OK ||
	    (rc = member_bytes(jwk, "e", RSA_E_MAX, false, &eb, &elen, prob,
	    err)) != CG_OK)
		goto out;
	/* Base64urlUInt (RFC 7518 §2): the fewest bytes, so no zero first. */
	if (nb[0] == 0 || eb[0] == 0) {
		rc = acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    "JWK \"n\" and \"e\" must not start with a zero byte");
		goto out;
	}
	n = BN_bin2bn(nb, (int)nlen, NULL);
	e = BN_bin2bn(eb, (int)elen, NULL);
	if (n == NULL || e == NULL) {
		rc = acme_refuse(prob, err, ACME_P_SERVER_INTERNAL, CG_ENOMEM,
		    "out of memory");
		goto out;
	}
	bits = BN_num_bits(n);
	if (bits < ACME_RSA_BITS_MIN || bits > ACME_RSA_BITS_MAX ||
	    !BN_is_odd(n)) {
		rc = acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    "RSA key of %d bits refused; the modulus must be odd and "
		    "of %d to %d bits", bits, ACME_RSA_BITS_MIN,
		    ACME_RSA_BITS_MAX);
		goto out;
	}
	if (!BN_is_odd(e) || BN_is_one(e)) {
		rc = acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    "RSA public exponent must be odd and greater than 1");
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		rc = acme_refuse(prob, err, ACME_P_SERVER_INTERNAL, CG_ENOMEM,
		    "out of memory");
		goto out;
	}
	if ((*outp = fromdata("RSA", params)) == NULL) {
		rc = acme_refuse_at(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    CG_ERR_OPENSSL, __func__, __LINE__, "RSA key refused");
		goto out;
	}
	rc = CG_OK;
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	cg_free(nb);
	cg_free(eb);
	return rc;
}

static enum cg_code
ec_import(const json_t *jwk, const char *crv, EVP_PKEY **outp,
    enum acme_problem *prob, struct cg_err *err)
{
	const struct acme_curve	*cv = NULL;
	uint8_t			*x = NULL, *y = NULL;
	uint8_t			 pt[1 + 2 * 66];
	size_t			 i, xlen = 0, ylen = 0;
	OSSL_PARAM		 params[3];
	enum cg_code		 rc;

	for (i = 0; i < NCURVES && cv == NULL; i++)
		if (strcmp(crv, curves[i].crv) == 0)
			cv = &curves[i];
	if (cv == NULL)
		return acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    "EC curve not supported; use P-256, P-384 or P-521");
	if ((rc = member_bytes(jwk, "x", cv->len, true, &x, &xlen, prob,
	    err)) != CG_OK ||
	    (rc = member_bytes(jwk, "y", cv->len, true, &y, &ylen, prob,
	    err)) != CG_OK)
		goto out;
	/* The uncompressed point (SEC 1 §2.3.3), the form OpenSSL imports. */
	pt[0] = 0x04;
	memcpy(pt + 1, x, cv->len);
	memcpy(pt + 1 + cv->len, y, cv->len);
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)cv->group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    pt, 1 + 2 * cv->len);
	params[2] = OSSL_PARAM_construct_end();
	if ((*outp = fromdata("EC", params)) == NULL) {
		rc = acme_refuse_at(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    CG_ERR_OPENSSL, __func__, __LINE__,
		    "EC public key is not a point on %s", cv->crv);
		goto out;
	}
	rc = CG_OK;
out:
	cg_free(x);
	cg_free(y);
	return rc;
}

static enum cg_code
okp_import(const json_t *jwk, const char *crv, EVP_PKEY **outp,
    enum acme_problem *prob, struct cg_err *err)
{
	uint8_t		*x = NULL;
	size_t		 xlen = 0;
	enum cg_code	 rc;

	if (strcmp(crv, "Ed25519") != 0)
		return acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    "OKP curve not supported; use Ed25519");
	if ((rc = member_bytes(jwk, "x", ED25519_LEN, true, &x, &xlen, prob,
	    err)) != CG_OK)
		return rc;
	*outp = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x,
	    xlen);
	cg_free(x);
	if (*outp == NULL)
		return acme_refuse_at(prob, err, ACME_P_BAD_PUBLIC_KEY,
		    CG_EINVAL, CG_ERR_OPENSSL, __func__, __LINE__,
		    "Ed25519 key refused");
	return CG_OK;
}

enum cg_code
acme_jwk_to_pkey(const json_t *jwk, EVP_PKEY **outp, enum acme_problem *prob,
    struct cg_err *err)
{
	const json_t	*ktyv, *crvv;
	const char	*kty, *crv;
	size_t		 i;

	*outp = NULL;
	if (!json_is_object(jwk))
		return acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    "JWK is not a JSON object");
	for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]);
	    i++)
		if (json_object_get(jwk, private_members[i]) != NULL)
			return acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY,
			    CG_EINVAL, "JWK has the private member \"%s\"; "
			    "send the public key only", private_members[i]);
	ktyv = json_object_get(jwk, "kty");
	crvv = json_object_get(jwk, "crv");
	if (!json_is_string(ktyv))
		return acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    "JWK has no \"kty\" string");
	kty = json_string_value(ktyv);
	/* strcmp() stops at a NUL; jansson refuses "\u0000" by default. */
	if (strcmp(kty, "RSA") == 0)
		return rsa_import(jwk, outp, prob, err);
	if (strcmp(kty, "EC") != 0 && strcmp(kty, "OKP") != 0)
		return acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    "JWK key type not supported; use RSA, EC or OKP");
	if (!json_is_string(crvv))
		return acme_refuse(prob, err, ACME_P_BAD_PUBLIC_KEY, CG_EINVAL,
		    "JWK has no \"crv\" string");
	crv = json_string_value(crvv);
	if (strcmp(kty, "EC") == 0)
		return ec_import(jwk, crv, outp, prob, err);
	return okp_import(jwk, crv, outp, prob, err);
}

/* ------------------------------------------------------------ export */

/* The required public members of a key, base64url (RFC 7638 §3.2). */
struct jwk_pub {
	const char	*kty;		/* "RSA", "EC", "OKP" */
	const char	*crv;		/* NULL for RSA */
	char		*a;		/* "n" (RSA), "x" (EC, OKP) */
	char		*b;		/* "e" (RSA), "y" (EC), NULL (OKP) */
};

static void
jwk_pub_clear(struct jwk_pub *m)
{
	cg_free(m->a);
	cg_free(m->b);
	memset(m, 0, sizeof(*m));
}

/* A big number as base64url of len bytes (0: its minimal length). */
static enum cg_code
bn_b64(EVP_PKEY *key, const char *param, size_t len, char **outp,
    struct cg_err *err)
{
	BIGNUM		*bn = NULL;
	uint8_t		*buf = NULL;
	enum cg_code	 rc;

	*outp = NULL;
	if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot read %s", param);
	if (len == 0)
		len = (size_t)BN_num_bytes(bn);
	if (len == 0)
		len = 1;	/* zero is one zero byte (RFC 7518 §2) */
	if ((buf = cg_malloc(len)) == NULL)
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	else if (BN_bn2binpad(bn, buf, (int)len) < 0)
		rc = cg_err_set(err, CG_ECRYPTO, "%s does not fit", param);
	else
		rc = acme_b64url_encode(buf, len, outp, err);
	cg_free(buf);
	BN_free(bn);
	return rc;
}

static enum cg_code
jwk_pub_get(EVP_PKEY *key, struct jwk_pub *m, struct cg_err *err)
{
	const struct acme_curve	*cv;
	uint8_t			 raw[ED25519_LEN];
	size_t			 rawlen = sizeof(raw);
	enum cg_code		 rc;

	memset(m, 0, sizeof(*m));
	if (key == NULL)
		return cg_err_set(err, CG_EINVAL, "no key");
	if (EVP_PKEY_is_a(key, "RSA")) {
		m->kty = "RSA";
		if ((rc = bn_b64(key, OSSL_PKEY_PARAM_RSA_N, 0, &m->a,
		    err)) != CG_OK ||
		    (rc = bn_b64(key, OSSL_PKEY_PARAM_RSA_E, 0, &m->b,
		    err)) != CG_OK)
			goto fail;
		return CG_OK;
	}
	if ((cv = acme_curve_of(key)) != NULL) {
		m->kty = "EC";
		m->crv = cv->crv;
		if ((rc = bn_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, cv->len, &m->a,
		    err)) != CG_OK ||
		    (rc = bn_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, cv->len, &m->b,
		    err)) != CG_OK)
			goto fail;
		return CG_OK;
	}
	if (EVP_PKEY_is_a(key, "ED25519")) {
		m->kty = "OKP";
		m->crv = "Ed25519";
		if (EVP_PKEY_get_raw_public_key(key, raw, &rawlen) != 1 ||
		    rawlen != ED25519_LEN) {
			rc = cg_err_crypto(err, CG_ECRYPTO,
			    "cannot read the Ed25519 key");
			goto fail;
		}
		if ((rc = acme_b64url_encode(raw, rawlen, &m->a, err)) != CG_OK)
			goto fail;
		return CG_OK;
	}
	return cg_err_set(err, CG_EINVAL,
	    "key type not supported for a JWK");
fail:
	jwk_pub_clear(m);
	return rc;
}

enum cg_code
acme_jwk_from_pkey(EVP_PKEY *key, json_t **outp, struct cg_err *err)
{
	struct jwk_pub	 m;
	enum cg_code	 rc;

	*outp = NULL;
	if ((rc = jwk_pub_get(key, &m, err)) != CG_OK)
		return rc;
	if (strcmp(m.kty, "RSA") == 0)
		*outp = json_pack("{s:s, s:s, s:s}", "kty", m.kty, "n", m.a,
		    "e", m.b);
	else if (m.b != NULL)
		*outp = json_pack("{s:s, s:s, s:s, s:s}", "kty", m.kty,
		    "crv", m.crv, "x", m.a, "y", m.b);
	else
		*outp = json_pack("{s:s, s:s, s:s}", "kty", m.kty, "crv",
		    m.crv, "x", m.a);
	jwk_pub_clear(&m);
	if (*outp == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

enum cg_code
acme_jwk_thumbprint(EVP_PKEY *key, char out[ACME_THUMBPRINT_LEN + 1],
    struct cg_err *err)
{
	struct jwk_pub	 m;
	char		*json = NULL, *b64 = NULL;
	uint8_t		 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	enum cg_code	 rc;

	out[0] = '\0';
	if ((rc = jwk_pub_get(key, &m, err)) != CG_OK)
		return rc;
	/*
	 * The required members in lexicographic order, no whitespace
	 * (RFC 7638 §3.3).  Every value is base64url or one of our own
	 * names, so none needs escaping.
	 */
	if (strcmp(m.kty, "RSA") == 0)
		json = cg_asprintf("{\"e\":\"%s\",\"kty\":\"RSA\","
		    "\"n\":\"%s\"}", m.b, m.a);
	else if (m.b != NULL)
		json = cg_asprintf("{\"crv\":\"%s\",\"kty\":\"EC\","
		    "\"x\":\"%s\",\"y\":\"%s\"}", m.crv, m.a, m.b);
	else
		json = cg_asprintf("{\"crv\":\"%s\",\"kty\":\"OKP\","
		    "\"x\":\"%s\"}", m.crv, m.a);
	jwk_pub_clear(&m);
	if (json == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	if (EVP_Digest(json, strlen(json), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != 32)
		rc = cg_err_crypto(err, CG_ECRYPTO, "SHA-256 failed");
	else if ((rc = acme_b64url_encode(md, mdlen, &b64, err)) == CG_OK)
		memcpy(out, b64, ACME_THUMBPRINT_LEN + 1);
	cg_free(b64);
	cg_free(json);
	return rc;
}
