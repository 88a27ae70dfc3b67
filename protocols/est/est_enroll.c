/*
 * est_enroll.c - the EST operations that issue: simpleenroll and
 * simplereenroll (RFC 7030 §4.2) and serverkeygen (§4.4), with the
 * renewal checks, the channel-binding check (§3.5) and the mapping of
 * ca_enroll() outcomes (issued, pending, rejected) onto HTTP.  Policy and
 * signing are the CA core's; encodings are est_wire.c.
 */
#include "est_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define EST_CT_PKCS10		"application/pkcs10"
#define EST_CT_CERTS		"application/pkcs7-mime; smime-type=certs-only"
#define EST_BOUNDARY_RAND	16	/* random bytes in a boundary */
#define EST_PENDING_TEXT_MAX	128	/* the 202 body */
#define EST_CN_MAX		64	/* ub-common-name, RFC 5280 */

/* ------------------------------------------------------------ input */

/* Body -> parsed CSR, with the content checks of RFC 7030 §4.2.1. */
static enum cg_code
csr_read(struct est_call *call, struct ca_csr **csrp, struct cg_err *err)
{
	const char	*ct;
	const uint8_t	*body;
	size_t		 len, n = strlen(EST_CT_PKCS10);

	*csrp = NULL;
	ct = gw_req_header(call->req, "Content-Type");
	if (ct != NULL && (strncasecmp(ct, EST_CT_PKCS10, n) != 0 ||
	    (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' '))) {
		err->proto = 415;
		return cg_err_set(err, CG_EINVAL, "Content-Type must be "
		    EST_CT_PKCS10);
	}
	body = gw_req_body(call->req, &len);
	return est_body_decode(body, len, gw_req_header(call->req,
	    "Content-Transfer-Encoding"), csrp, err);
}

/* The challengePassword attribute's bytes, or false. */
static bool
csr_challenge(const struct ca_csr *csr, const uint8_t **pp, size_t *lenp)
{
	X509_REQ	*req = ca_csr_get0_req(csr);
	X509_ATTRIBUTE	*attr;
	ASN1_TYPE	*t;
	int		 idx;

	idx = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1);
	if (idx < 0 || (attr = X509_REQ_get_attr(req, idx)) == NULL ||
	    X509_ATTRIBUTE_count(attr) != 1 ||
	    (t = X509_ATTRIBUTE_get0_type(attr, 0)) == NULL)
		return false;
	if (t->type != V_ASN1_PRINTABLESTRING && t->type != V_ASN1_UTF8STRING &&
	    t->type != V_ASN1_IA5STRING)
		return false;
	*pp = ASN1_STRING_get0_data(t->value.asn1_string);
	*lenp = (size_t)ASN1_STRING_length(t->value.asn1_string);
	return *pp != NULL;
}

/*
 * RFC 7030 §3.5: the CSR's challengePassword is base64 of the channel
 * binding of this very TLS connection, proving the CSR was made for it.
 */
static enum cg_code
binding_check(struct est_call *call, const struct ca_csr *csr,
    struct cg_err *err)
{
	uint8_t			 bind[GW_TLS_BINDING_MAX];
	enum gw_tls_binding	 kind;
	const uint8_t		*pw;
	char			*want = NULL;
	size_t			 blen = 0, pwlen = 0;
	enum cg_code		 rc;

	if (!call->label->require_tls_unique)
		return CG_OK;
	rc = gw_req_tls_binding(call->req, bind, &blen, &kind, err);
	if (rc != CG_OK)
		return rc == CG_ENOTFOUND ? CG_EDENIED : rc;
	rc = cg_base64_encode(bind, blen, &want, err);
	if (rc != CG_OK)
		goto out;
	if (!csr_challenge(csr, &pw, &pwlen) || pwlen != strlen(want) ||
	    CRYPTO_memcmp(pw, want, pwlen) != 0) {
		rc = cg_err_set(err, CG_EDENIED, "channel binding "
		    "(tls-unique/tls-exporter) does not match");
		goto out;
	}
	rc = CG_OK;
out:
	cg_free(want);
	return rc;
}

/* ------------------------------------------------------------ renewal */

static enum cg_code
renew_rec_check(struct est_call *call, X509 *cert, struct cg_err *err)
{
	struct ca_cert_rec	*rec = NULL;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	char			 hex[2 * EVP_MAX_MD_SIZE + 1];
	enum cg_code		 rc;

	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot hash the client "
		    "certificate");
	cg_hex_encode(md, mdlen, hex, false);
	rc = ca_store_cert_get(gw_req_store(call->req), hex, &rec, err);
	if (rc == CG_ENOTFOUND) {
		cg_err_clear(err);
		rc = cg_err_set(err, CG_EDENIED, "certificate to renew is "
		    "unknown");
	} else if (rc == CG_OK && rec->status == CA_CERT_REVOKED) {
		rc = cg_err_set(err, CG_EDENIED, "certificate to renew is "
		    "revoked");
	} else if (rc == CG_OK && rec->not_after < cg_now()) {
		rc = cg_err_set(err, CG_EDENIED, "certificate to renew is "
		    "expired");
	}
	ca_cert_rec_free(rec);
	return rc;
}

enum cg_code
est_renew_cert_check(struct est_call *call, struct cg_err *err)
{
	X509	*cert;
	long	 v = X509_V_OK;
	enum cg_code rc;

	call->renew = NULL;
	if (gw_req_peer_cert_any(call->req, &v) == NULL)
		return cg_err_set(err, CG_EDENIED, "simplereenroll needs the "
		    "certificate to renew as the TLS client certificate");
	cert = est_auth_peer_cert(call);
	if (cert == NULL) {
		/* The reason code, in the words of a renewal. */
		call->cert_refused = true;
		if (call->chk.verdict == GW_CV_EXPIRED)
			snprintf(call->chk.detail, sizeof(call->chk.detail),
			    "certificate to renew is expired");
		else if (call->chk.verdict == GW_CV_REVOKED)
			snprintf(call->chk.detail, sizeof(call->chk.detail),
			    "certificate to renew is revoked");
		return cg_err_set(err, CG_EDENIED, "%s: %s",
		    gw_cert_verdict_code(call->chk.verdict), call->chk.detail);
	}
	rc = renew_rec_check(call, cert, err);
	if (rc == CG_OK)
		call->renew = cert;
	return rc;
}

/* ------------------------------------------------------------ issuing */

/* The issuance request of an EST call: its profile, as the client. */
static struct ca_issue_req
issue_req(const struct est_call *call, const struct ca_csr *csr)
{
	struct ca_issue_req	 ir = {
		.csr = csr,
		.profile = call->profile,
		.protocol = "est",
		.requester = call->who.requester,
	};

	return ir;
}

/* A policy refusal is the client's fault; EST has no better code. */
static enum cg_code
refusal_is_400(enum cg_code rc, struct cg_err *err)
{
	if (rc == CG_EDENIED && err != NULL)
		err->proto = 400;
	return rc;
}

/* The certificate as base64 PKCS#7 certs-only, built from its DER. */
static enum cg_code
issued_reply(struct gw_req *req, const struct ca_issued *is,
    struct cg_err *err)
{
	const uint8_t	*ders[1] = { is->der };
	size_t		 lens[1] = { is->der_len }, len = 0;
	uint8_t		*der = NULL;
	struct cg_buf	 out;
	enum cg_code	 rc;

	cg_buf_init(&out, EST_REPLY_MAX);
	rc = est_p7_certs_der(ders, lens, 1, &der, &len, err);
	if (rc == CG_OK)
		rc = est_b64_wrap(der, len, &out, err);
	if (rc == CG_OK) {
		gw_req_set_header(req, "Content-Transfer-Encoding", "base64");
		gw_req_reply(req, 200, EST_CT_CERTS, out.data, out.len);
	}
	cg_buf_cleanup(&out);
	cg_free(der);
	return rc;
}

/* 200 with the certificate, 202 while pending, 403 after a rejection. */
static enum cg_code
enroll_reply(struct est_call *call, const struct ca_enroll_result *res,
    struct cg_err *err)
{
	char		 text[EST_PENDING_TEXT_MAX], ra[24];

	if (res->state == CA_ENROLL_REJECTED)
		return cg_err_set(err, CG_EDENIED, "request rejected by an "
		    "administrator");
	if (res->state == CA_ENROLL_PENDING) {
		/* RFC 7030 §4.2.3: 202 and when to come back. */
		snprintf(ra, sizeof(ra), "%u", call->label->retry_after_s);
		snprintf(text, sizeof(text), "request %lld is waiting for "
		    "approval", (long long)res->pending_id);
		gw_req_set_header(call->req, "Retry-After", ra);
		gw_req_reply_text(call->req, 202, text);
		return CG_OK;
	}
	if (res->state != CA_ENROLL_ISSUED || res->issued == NULL)
		return cg_err_set(err, CG_EINTERNAL, "bad enroll state %d",
		    (int)res->state);
	return issued_reply(call->req, res->issued, err);
}

/* Group commit is over for this request: answer it. */
static void
committed(struct gw_req *req, void *arg, struct ca_staged *staged)
{
	struct est_call		 call = { .req = req };
	struct ca_issued	*is = NULL;
	struct cg_err		 err = { 0 };
	enum cg_code		 rc;

	call.op = (enum est_op)(uintptr_t)arg;
	rc = ca_staged_result(staged, &is, &err);
	if (rc == CG_OK)
		rc = issued_reply(req, is, &err);
	if (rc != CG_OK)
		est_reply_error(&call, &err);
	ca_issued_free(is);
}

/*
 * Without manual approval: sign now and let the gateway's group commit
 * record it; the client is answered from committed() once it is durable.
 */
static enum cg_code
enroll_grouped(struct est_call *call, const struct ca_csr *csr,
    struct cg_err *err)
{
	struct ca_issue_req	 ir = issue_req(call, csr);
	struct ca_staged	*staged = NULL;
	enum cg_code		 rc;

	rc = refusal_is_400(ca_issue_stage(gw_req_ca(call->req),
	    gw_req_store(call->req), &ir, &staged, err), err);
	if (rc != CG_OK)
		return rc;
	gw_req_commit(call->req, staged, committed,
	    (void *)(uintptr_t)call->op);
	return CG_OK;
}

/* ca_enroll() under the label's profile, as the authenticated client. */
static enum cg_code
enroll(struct est_call *call, const struct ca_csr *csr,
    struct ca_enroll_result *res, struct cg_err *err)
{
	struct ca_issue_req	 ir = issue_req(call, csr);

	return refusal_is_400(ca_enroll(gw_req_ca(call->req),
	    gw_req_store(call->req), &ir, res, err), err);
}

enum cg_code
est_op_enroll(struct est_call *call, struct cg_err *err)
{
	struct ca_csr		*csr = NULL;
	struct ca_enroll_result	 res = { 0 };
	enum cg_code		 rc;

	rc = csr_read(call, &csr, err);
	if (rc == CG_OK && call->op == EST_OP_SIMPLEREENROLL &&
	    !call->profile->reenroll_allow_changes)
		/* RFC 7030 §4.2.2: same subject and SANs as the old one. */
		rc = ca_csr_matches_cert(csr, call->renew, err);
	if (rc == CG_OK)
		rc = binding_check(call, csr, err);
	if (rc == CG_OK && !call->profile->manual_approval) {
		rc = enroll_grouped(call, csr, err);
		ca_csr_free(csr);
		return rc;
	}
	if (rc == CG_OK)
		rc = enroll(call, csr, &res, err);
	if (rc == CG_OK)
		rc = enroll_reply(call, &res, err);
	ca_enroll_result_cleanup(&res);
	ca_csr_free(csr);
	return rc;
}

/* ------------------------------------------------------ serverkeygen */

/* The names a client asked for: its CN and SANs as "DNS:x" strings. */
struct names {
	char		*cn;			/* or NULL */
	char		*sans[CA_SAN_MAX];	/* owned */
	size_t		 nsans;			/* entries in sans */
};

static void
names_cleanup(struct names *nm)
{
	size_t	 i;

	cg_free(nm->cn);
	for (i = 0; i < nm->nsans; i++)
		cg_free(nm->sans[i]);
	memset(nm, 0, sizeof(*nm));
}

static enum cg_code
name_cn(X509_REQ *req, struct names *nm, struct cg_err *err)
{
	X509_NAME_ENTRY	*e;
	unsigned char	*u = NULL;
	int		 idx, n;

	idx = X509_NAME_get_index_by_NID(X509_REQ_get_subject_name(req),
	    NID_commonName, -1);
	if (idx < 0)
		return CG_OK;
	e = X509_NAME_get_entry(X509_REQ_get_subject_name(req), idx);
	n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
	if (n <= 0 || n > EST_CN_MAX || memchr(u, '\0', (size_t)n) != NULL) {
		OPENSSL_free(u);
		return cg_err_set(err, CG_EINVAL, "bad common name in csr");
	}
	nm->cn = cg_strndup((const char *)u, (size_t)n);
	OPENSSL_free(u);
	return nm->cn != NULL ? CG_OK : cg_err_set(err, CG_ENOMEM,
	    "out of memory");
}

/* One GENERAL_NAME as ca_csr_make() text; CG_EINVAL for other kinds. */
static char *
san_text(const GENERAL_NAME *gn)
{
	static const char *const pfx[] = {
		[GEN_EMAIL] = "email", [GEN_DNS] = "DNS", [GEN_URI] = "URI",
	};
	const ASN1_STRING	*s;
	char			 ip[INET6_ADDRSTRLEN];
	int			 len;

	if (gn->type == GEN_IPADD) {
		s = gn->d.iPAddress;
		len = ASN1_STRING_length(s);
		if ((len != 4 && len != 16) || inet_ntop(len == 4 ? AF_INET :
		    AF_INET6, ASN1_STRING_get0_data(s), ip, sizeof(ip)) == NULL)
			return NULL;
		return cg_asprintf("IP:%s", ip);
	}
	if (gn->type != GEN_EMAIL && gn->type != GEN_DNS && gn->type != GEN_URI)
		return NULL;
	s = gn->d.ia5;
	len = ASN1_STRING_length(s);
	if (len <= 0 || len > CA_NAME_MAX ||
	    memchr(ASN1_STRING_get0_data(s), '\0', (size_t)len) != NULL)
		return NULL;
	return cg_asprintf("%s:%.*s", pfx[gn->type], len,
	    (const char *)ASN1_STRING_get0_data(s));
}

static enum cg_code
names_get(const struct ca_csr *csr, struct names *nm, struct cg_err *err)
{
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES	*gens = NULL;
	X509_REQ	*req = ca_csr_get0_req(csr);
	int		 i, n;
	enum cg_code	 rc;

	rc = name_cn(req, nm, err);
	if (rc != CG_OK)
		return rc;
	exts = X509_REQ_get_extensions(req);
	if (exts != NULL)
		gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
	if (n > CA_SAN_MAX)
		rc = cg_err_set(err, CG_EINVAL, "too many SANs in csr");
	for (i = 0; i < n && rc == CG_OK; i++) {
		nm->sans[nm->nsans] = san_text(sk_GENERAL_NAME_value(gens, i));
		if (nm->sans[nm->nsans] == NULL)
			rc = cg_err_set(err, CG_EINVAL, "unsupported SAN in "
			    "csr");
		else
			nm->nsans++;
	}
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

/* A CSR for the new key with the names the client asked for. */
static enum cg_code
keygen_csr(struct est_call *call, const struct ca_csr *asked,
    EVP_PKEY **keyp, struct ca_csr **csrp, struct cg_err *err)
{
	struct names	 nm = { 0 };
	uint8_t		*der = NULL;
	size_t		 len = 0;
	enum cg_code	 rc;

	*keyp = NULL;
	rc = names_get(asked, &nm, err);
	if (rc == CG_OK)
		rc = ca_key_generate(call->label->serverkeygen_key, keyp, err);
	if (rc == CG_OK)
		rc = ca_csr_make(*keyp, nm.cn, (const char *const *)nm.sans,
		    nm.nsans, &der, &len, err);
	if (rc == CG_OK)
		rc = ca_csr_parse(der, len, csrp, err);
	if (rc != CG_OK) {
		EVP_PKEY_free(*keyp);
		*keyp = NULL;
	}
	cg_free(der);
	names_cleanup(&nm);
	return rc;
}

/* PKCS#8 DER of key into a buffer the caller wipes and frees. */
static enum cg_code
key_pkcs8(EVP_PKEY *key, uint8_t **derp, size_t *lenp, struct cg_err *err)
{
	PKCS8_PRIV_KEY_INFO	*p8;
	unsigned char		*p;
	uint8_t			*der = NULL;
	int			 len;

	*derp = NULL;
	*lenp = 0;
	p8 = EVP_PKEY2PKCS8(key);
	if (p8 == NULL || (len = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL)) <= 0 ||
	    (der = cg_malloc((size_t)len)) == NULL) {
		PKCS8_PRIV_KEY_INFO_free(p8);
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode the key");
	}
	p = der;
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != len) {
		OPENSSL_clear_free(der, (size_t)len);
		PKCS8_PRIV_KEY_INFO_free(p8);
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode the key");
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	*derp = der;
	*lenp = (size_t)len;
	return CG_OK;
}

/* Key and certificate as multipart/mixed (RFC 7030 §4.4.2). */
static enum cg_code
keygen_reply(struct est_call *call, EVP_PKEY *key,
    const struct ca_issued *is, struct cg_err *err)
{
	const uint8_t	*ders[1] = { is->der };
	size_t		 lens[1] = { is->der_len };
	uint8_t		*kder = NULL, *p7 = NULL, rnd[EST_BOUNDARY_RAND];
	size_t		 klen = 0, plen = 0;
	char		 bnd[EST_BOUNDARY_MAX], hex[2 * EST_BOUNDARY_RAND + 1];
	char		 ct[EST_BOUNDARY_MAX + 40];
	struct cg_buf	 out;
	enum cg_code	 rc;

	cg_buf_init(&out, EST_REPLY_MAX);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "no random boundary");
		goto out;
	}
	cg_hex_encode(rnd, sizeof(rnd), hex, false);
	snprintf(bnd, sizeof(bnd), "est-%s", hex);
	snprintf(ct, sizeof(ct), "multipart/mixed; boundary=%s", bnd);
	rc = key_pkcs8(key, &kder, &klen, err);
	if (rc == CG_OK)
		rc = est_p7_certs_der(ders, lens, 1, &p7, &plen, err);
	if (rc == CG_OK)
		rc = est_multipart_build(kder, klen, p7, plen, bnd, &out, err);
	if (rc == CG_OK)
		gw_req_reply(call->req, 200, ct, out.data, out.len);
out:
	cg_buf_cleanup_secret(&out);
	if (kder != NULL)
		OPENSSL_clear_free(kder, klen);
	cg_free(p7);
	return rc;
}

enum cg_code
est_op_serverkeygen(struct est_call *call, struct cg_err *err)
{
	struct ca_csr		*asked = NULL, *csr = NULL;
	struct ca_enroll_result	 res = { 0 };
	EVP_PKEY		*key = NULL;
	enum cg_code		 rc;

	/* A repeat could never match: every attempt makes a new key. */
	if (call->profile->manual_approval)
		return cg_err_set(err, CG_EDENIED, "serverkeygen is not "
		    "available with manual approval");
	rc = csr_read(call, &asked, err);
	if (rc == CG_OK)
		rc = binding_check(call, asked, err);
	if (rc == CG_OK)
		rc = keygen_csr(call, asked, &key, &csr, err);
	if (rc == CG_OK)
		rc = enroll(call, csr, &res, err);
	if (rc == CG_OK && (res.state != CA_ENROLL_ISSUED || res.issued == NULL))
		rc = cg_err_set(err, CG_EINTERNAL, "serverkeygen: not issued");
	if (rc == CG_OK)
		rc = keygen_reply(call, key, res.issued, err);
	ca_enroll_result_cleanup(&res);
	EVP_PKEY_free(key);
	ca_csr_free(csr);
	ca_csr_free(asked);
	return rc;
}
