/*
 * est_wire.c - EST wire formats, all pure functions: request body decoding
 * (base64 PKCS#10, RFC 8951 §3), path parsing, PKCS#7 certs-only, CsrAttrs
 * DER and the serverkeygen multipart body.  No HTTP, no authentication, no
 * issuance: those are est_server.c, est_auth.c and est_enroll.c.
 */
#include "est_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/objects.h>

#define EST_OID_DER_MAX		32	/* one encoded OBJECT IDENTIFIER */
#define EST_ATTRS_MAX		16	/* items in one CsrAttrs */
#define EST_ITEM_MAX		128	/* bytes of one CsrAttrs item */
#define EST_P7_MAX		(16 * 1024 * 1024) /* one certs-only PKCS#7 */

static const char *const op_names[EST_OP__MAX] = {
	[EST_OP_CACERTS] = "cacerts",
	[EST_OP_SIMPLEENROLL] = "simpleenroll",
	[EST_OP_SIMPLEREENROLL] = "simplereenroll",
	[EST_OP_SERVERKEYGEN] = "serverkeygen",
	[EST_OP_CSRATTRS] = "csrattrs",
};

const char *
est_op_name(enum est_op op)
{
	return (unsigned)op < EST_OP__MAX ? op_names[op] : "unknown";
}

/* ---------------------------------------------------------- bodies */

/* NULL, or "base64" with blanks around it (RFC 8951 §3). */
static bool
cte_is_base64(const char *cte)
{
	size_t	 len;

	if (cte == NULL)
		return true;
	while (*cte == ' ' || *cte == '\t')
		cte++;
	len = strlen(cte);
	while (len > 0 && (cte[len - 1] == ' ' || cte[len - 1] == '\t'))
		len--;
	return len == 6 && strncasecmp(cte, "base64", 6) == 0;
}

enum cg_code
est_body_decode(const uint8_t *body, size_t len, const char *cte,
    struct ca_csr **csrp, struct cg_err *err)
{
	uint8_t		*der = NULL;
	size_t		 dlen = 0;
	enum cg_code	 rc;

	*csrp = NULL;
	if (len > EST_BODY_MAX)
		return cg_err_set(err, CG_ETOOBIG, "request body too large");
	if (!cte_is_base64(cte))
		return cg_err_set(err, CG_EINVAL, "Content-Transfer-Encoding "
		    "must be base64");
	if (len == 0)
		return cg_err_set(err, CG_EINVAL, "empty request body");
	rc = cg_base64_decode((const char *)body, len, false, CA_CSR_MAX,
	    &der, &dlen, err);
	if (rc == CG_EINVAL) {
		cg_err_clear(err);
		rc = cg_err_set(err, CG_EINVAL, "request body is not base64");
	}
	if (rc != CG_OK)
		goto out;
	rc = ca_csr_parse(der, dlen, csrp, err);
out:
	cg_free(der);
	return rc;
}

/* ------------------------------------------------------------ paths */

static bool
label_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static bool
op_lookup(const char *s, enum est_op *opp)
{
	unsigned	 i;

	for (i = 0; i < EST_OP__MAX; i++) {
		if (strcmp(s, op_names[i]) == 0) {
			*opp = (enum est_op)i;
			return true;
		}
	}
	return false;
}

enum cg_code
est_path_parse(const char *rest, char label[EST_LABEL_MAX], enum est_op *opp,
    struct cg_err *err)
{
	const char	*slash;
	size_t		 llen, i;

	snprintf(label, EST_LABEL_MAX, "default");
	slash = strchr(rest, '/');
	if (slash == NULL) {
		if (!op_lookup(rest, opp))
			return cg_err_set(err, CG_ENOTFOUND, "unknown EST "
			    "operation");
		return CG_OK;
	}
	llen = (size_t)(slash - rest);
	if (llen == 0 || llen >= EST_LABEL_MAX)
		return cg_err_set(err, CG_ENOTFOUND, "unknown EST label");
	for (i = 0; i < llen; i++)
		if (!label_char_ok(rest[i]))
			return cg_err_set(err, CG_ENOTFOUND, "unknown EST "
			    "label");
	if (!op_lookup(slash + 1, opp))
		return cg_err_set(err, CG_ENOTFOUND, "unknown EST operation");
	memcpy(label, rest, llen);
	label[llen] = '\0';
	return CG_OK;
}

/* --------------------------------------------------------------- DER */

/* Bytes in the DER tag and minimal definite length of a len-byte body. */
static size_t
der_hdr_len(size_t len)
{
	size_t	 n = 2;

	if (len >= 0x80)
		for (; len > 0; len >>= 8)
			n++;
	return n;
}

/* Write that tag and length at p (der_hdr_len(len) bytes); their count. */
static size_t
der_hdr_put(uint8_t *p, uint8_t tag, size_t len)
{
	size_t	 n = 0, nb, i;

	nb = der_hdr_len(len) - 2;
	p[n++] = tag;
	if (nb == 0) {
		p[n++] = (uint8_t)len;
		return n;
	}
	p[n++] = (uint8_t)(0x80 | nb);
	for (i = nb; i > 0; i--)
		p[n++] = (uint8_t)(len >> (8 * (i - 1)));
	return n;
}

/* ------------------------------------------------------------ PKCS#7 */

/* ContentType id-signedData (RFC 5652 §5.1). */
static const uint8_t p7_oid_signed[] = {
	0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
};
/*
 * SignedData up to the certificates: version 1, digestAlgorithms empty,
 * encapContentInfo id-data with the eContent absent.
 */
static const uint8_t p7_sd_head[] = {
	0x02, 0x01, 0x01,
	0x31, 0x00,
	0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x07, 0x01,
};
/* SignedData after the certificates: signerInfos empty. */
static const uint8_t p7_sd_tail[] = {
	0x31, 0x00,
};

/*
 * A degenerate SignedData (RFC 5652 §5.2, RFC 7030 §4.1.3) of n
 * certificates, given either as X509s (certs) or as DER (ders, lens).  It
 * is encoded here rather than through a PKCS7 object so that each
 * certificate's DER is copied once (i2d_X509() of a signed certificate
 * gives its cached encoding):
 *
 *	ContentInfo ::= SEQUENCE { id-signedData, [0] EXPLICIT SEQUENCE {
 *	    1, SET {}, SEQUENCE { id-data }, [0] IMPLICIT certificates,
 *	    SET {} } }
 *
 * The certificates keep their order; with n 0 the [0] is left out.  The
 * bytes are those i2d_PKCS7() gives for the same certificates.
 */
static enum cg_code
p7_build(X509 *const *certs, const uint8_t *const *ders, const size_t *lens,
    size_t n, uint8_t **derp, size_t *lenp, struct cg_err *err)
{
	uint8_t		*der, *p;
	size_t		 clen = 0, sdlen, seqlen, cilen, total, i, len;
	int		 ilen;

	*derp = NULL;
	*lenp = 0;
	for (i = 0; i < n; i++) {
		if (certs != NULL) {
			if (certs[i] == NULL)
				return cg_err_set(err, CG_EINVAL,
				    "no certificate");
			if ((ilen = i2d_X509(certs[i], NULL)) <= 0)
				return cg_err_crypto(err, CG_ECRYPTO, "cannot "
				    "encode a certificate");
			len = (size_t)ilen;
		} else {
			if (ders[i] == NULL || lens[i] == 0)
				return cg_err_set(err, CG_EINVAL,
				    "no certificate");
			len = lens[i];
		}
		if (len > EST_P7_MAX - clen)
			return cg_err_set(err, CG_EINVAL, "PKCS#7 too large");
		clen += len;
	}
	sdlen = sizeof(p7_sd_head) + sizeof(p7_sd_tail);
	if (n > 0)
		sdlen += der_hdr_len(clen) + clen;
	seqlen = der_hdr_len(sdlen) + sdlen;
	cilen = sizeof(p7_oid_signed) + der_hdr_len(seqlen) + seqlen;
	total = der_hdr_len(cilen) + cilen;
	if (total > EST_P7_MAX)
		return cg_err_set(err, CG_EINVAL, "PKCS#7 too large");
	if ((der = cg_malloc(total)) == NULL)
		return cg_err_set(err, CG_ENOMEM, "cannot encode PKCS#7");

	p = der;
	p += der_hdr_put(p, 0x30, cilen);
	memcpy(p, p7_oid_signed, sizeof(p7_oid_signed));
	p += sizeof(p7_oid_signed);
	p += der_hdr_put(p, 0xa0, seqlen);
	p += der_hdr_put(p, 0x30, sdlen);
	memcpy(p, p7_sd_head, sizeof(p7_sd_head));
	p += sizeof(p7_sd_head);
	if (n > 0)
		p += der_hdr_put(p, 0xa0, clen);
	for (i = 0; i < n; i++) {
		if (certs == NULL) {
			memcpy(p, ders[i], lens[i]);
			p += lens[i];
		} else if (i2d_X509(certs[i], &p) <= 0) {
			cg_free(der);
			return cg_err_crypto(err, CG_ECRYPTO, "cannot encode "
			    "a certificate");
		}
	}
	memcpy(p, p7_sd_tail, sizeof(p7_sd_tail));
	p += sizeof(p7_sd_tail);
	if ((size_t)(p - der) != total) {
		cg_free(der);
		return cg_err_set(err, CG_EINTERNAL, "PKCS#7 length mismatch");
	}
	*derp = der;
	*lenp = total;
	return CG_OK;
}

enum cg_code
est_p7_certs(X509 *const *certs, size_t n, uint8_t **derp, size_t *lenp,
    struct cg_err *err)
{
	return p7_build(certs, NULL, NULL, n, derp, lenp, err);
}

/* Each ders[i] must be one certificate's DER; it is copied unchecked. */
enum cg_code
est_p7_certs_der(const uint8_t *const *ders, const size_t *lens, size_t n,
    uint8_t **derp, size_t *lenp, struct cg_err *err)
{
	return p7_build(NULL, ders, lens, n, derp, lenp, err);
}

enum cg_code
est_b64_wrap(const uint8_t *in, size_t len, struct cg_buf *out,
    struct cg_err *err)
{
	char		*b64 = NULL;
	size_t		 blen, off, n;
	enum cg_code	 rc;

	rc = cg_base64_encode(in, len, &b64, err);
	if (rc != CG_OK)
		goto out;
	blen = strlen(b64);
	for (off = 0; off < blen && rc == CG_OK; off += n) {
		n = blen - off < EST_B64_LINE ? blen - off : EST_B64_LINE;
		rc = cg_buf_add(out, b64 + off, n, err);
		if (rc == CG_OK)
			rc = cg_buf_add(out, "\r\n", 2, err);
	}
out:
	if (b64 != NULL)
		OPENSSL_cleanse(b64, strlen(b64));
	cg_free(b64);
	return rc;
}

/* ---------------------------------------------------------- CsrAttrs */

/* DER tag and definite length of a body of len bytes into out. */
static enum cg_code
der_header(uint8_t tag, size_t len, struct cg_buf *out, struct cg_err *err)
{
	uint8_t	 h[6];

	if (der_hdr_len(len) > sizeof(h))
		return cg_err_set(err, CG_ETOOBIG, "DER too long");
	return cg_buf_add(out, h, der_hdr_put(h, tag, len), err);
}

/* The DER OBJECT IDENTIFIER for nid, appended to out. */
static enum cg_code
der_oid(int nid, struct cg_buf *out, struct cg_err *err)
{
	const ASN1_OBJECT	*obj;
	unsigned char		 der[EST_OID_DER_MAX], *p = der;
	int			 len;

	obj = OBJ_nid2obj(nid);
	if (obj == NULL || (len = i2d_ASN1_OBJECT(obj, NULL)) <= 0 ||
	    (size_t)len > sizeof(der) || i2d_ASN1_OBJECT(obj, &p) != len)
		return cg_err_crypto(err, CG_EINTERNAL, "cannot encode OID %d",
		    nid);
	return cg_buf_add(out, der, (size_t)len, err);
}

/* Attribute ::= SEQUENCE { type OID, values SET OF OID } */
static enum cg_code
der_attr(int type, const int *vals, size_t nvals, struct cg_buf *out,
    struct cg_err *err)
{
	struct cg_buf	 set, seq;
	size_t		 i;
	enum cg_code	 rc = CG_OK;

	cg_buf_init(&set, EST_ITEM_MAX);
	cg_buf_init(&seq, EST_ITEM_MAX);
	for (i = 0; i < nvals && rc == CG_OK; i++)
		rc = der_oid(vals[i], &set, err);
	if (rc == CG_OK)
		rc = der_oid(type, &seq, err);
	if (rc == CG_OK)
		rc = der_header(0x31, set.len, &seq, err);
	if (rc == CG_OK)
		rc = cg_buf_add(&seq, set.data, set.len, err);
	if (rc == CG_OK)
		rc = der_header(0x30, seq.len, out, err);
	if (rc == CG_OK)
		rc = cg_buf_add(out, seq.data, seq.len, err);
	cg_buf_cleanup(&seq);
	cg_buf_cleanup(&set);
	return rc;
}

/* The key-type item: EC-only, RSA-only or Ed25519-only profiles. */
static enum cg_code
csrattrs_key(const struct ca_profile *p, struct cg_buf *items, size_t *n,
    struct cg_err *err)
{
	static const int curve_nid[] = {
		[CA_KEY_EC_P256] = NID_X9_62_prime256v1,
		[CA_KEY_EC_P384] = NID_secp384r1,
		[CA_KEY_EC_P521] = NID_secp521r1,
	};
	const uint32_t	 ec = 1u << CA_KEY_EC_P256 | 1u << CA_KEY_EC_P384 |
	    1u << CA_KEY_EC_P521;
	int		 curves[3];
	size_t		 nc = 0;
	unsigned	 t;

	if (p->key_types == 1u << CA_KEY_RSA) {
		(*n)++;
		return der_oid(NID_rsaEncryption, items, err);
	}
	if (p->key_types == 1u << CA_KEY_ED25519) {
		(*n)++;
		return der_oid(NID_ED25519, items, err);
	}
	if (p->key_types == 0 || (p->key_types & ~ec) != 0)
		return CG_OK;		/* mixed families: let the client pick */
	for (t = CA_KEY_EC_P256; t <= CA_KEY_EC_P521; t++)
		if (p->key_types & (1u << t))
			curves[nc++] = curve_nid[t];
	(*n)++;
	return der_attr(NID_X9_62_id_ecPublicKey, curves, nc, items, err);
}

enum cg_code
est_csrattrs_encode(const struct ca_profile *p, bool tls_unique,
    uint8_t **derp, size_t *lenp, struct cg_err *err)
{
	struct cg_buf	 items, out;
	size_t		 n = 0;
	enum cg_code	 rc;

	*derp = NULL;
	*lenp = 0;
	cg_buf_init(&items, EST_ATTRS_MAX * EST_ITEM_MAX);
	cg_buf_init(&out, EST_ATTRS_MAX * EST_ITEM_MAX + 8);
	rc = csrattrs_key(p, &items, &n, err);
	if (rc == CG_OK && tls_unique && n++ < EST_ATTRS_MAX)
		rc = der_oid(NID_pkcs9_challengePassword, &items, err);
	if (rc == CG_OK && p->san_types != 0 && n++ < EST_ATTRS_MAX)
		rc = der_oid(NID_ext_req, &items, err);
	if (rc == CG_OK && (p->key_types & (1u << CA_KEY_EC_P256 |
	    1u << CA_KEY_EC_P384 | 1u << CA_KEY_EC_P521)) && n++ < EST_ATTRS_MAX)
		rc = der_oid(NID_ecdsa_with_SHA256, &items, err);
	if (rc == CG_OK && (p->key_types & 1u << CA_KEY_RSA) &&
	    n++ < EST_ATTRS_MAX)
		rc = der_oid(NID_sha256WithRSAEncryption, &items, err);
	if (rc != CG_OK || n == 0)
		goto out;
	rc = der_header(0x30, items.len, &out, err);
	if (rc == CG_OK)
		rc = cg_buf_add(&out, items.data, items.len, err);
	if (rc == CG_OK)
		*derp = cg_buf_steal(&out, lenp);
out:
	cg_buf_cleanup(&out);
	cg_buf_cleanup(&items);
	return rc;
}

/* --------------------------------------------------------- multipart */

static enum cg_code
part_add(struct cg_buf *out, const char *boundary, const char *ctype,
    const uint8_t *data, size_t len, struct cg_err *err)
{
	enum cg_code	 rc;

	rc = cg_buf_printf(out, err, "--%s\r\nContent-Type: %s\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", boundary, ctype);
	if (rc == CG_OK)
		rc = est_b64_wrap(data, len, out, err);
	return rc;
}

enum cg_code
est_multipart_build(const uint8_t *key, size_t klen, const uint8_t *p7,
    size_t plen, const char *boundary, struct cg_buf *out,
    struct cg_err *err)
{
	enum cg_code	 rc;

	if (strlen(boundary) == 0 || strlen(boundary) >= EST_BOUNDARY_MAX)
		return cg_err_set(err, CG_EINVAL, "bad multipart boundary");
	/* RFC 7030 §4.4.2: the private key first, then the certificate. */
	rc = part_add(out, boundary, "application/pkcs8", key, klen, err);
	if (rc == CG_OK)
		rc = part_add(out, boundary,
		    "application/pkcs7-mime; smime-type=certs-only", p7, plen,
		    err);
	if (rc == CG_OK)
		rc = cg_buf_printf(out, err, "--%s--\r\n", boundary);
	return rc;
}
