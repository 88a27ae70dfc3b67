/*
 * ca_import.c - a user's certificate an admin was handed, mapped to an
 * identity (`certgw user import-cert`, POST /admin/v1/identities/{name}/
 * certificates): which certificates are taken, when a CA-signed one is
 * trusted enough to be mapped, and the mappings with their audit row.
 * Also the trust store such a certificate must chain to: the client CA
 * file plus the store's trust anchors (ca/ca_trust.c makes those).
 */
#include "ca_int.h"

#include "certgw/store.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* ------------------------------------------------------ client trust */

static enum cg_code
anchor_add(void *arg, const struct ca_trust_anchor *t)
{
	X509_STORE		*store = arg;
	const unsigned char	*p = t->der;
	X509			*x;
	int			 ok;

	x = d2i_X509(NULL, &p, (long)t->der_len);
	if (x == NULL || p != t->der + t->der_len) {
		X509_free(x);
		return CG_EINVAL;
	}
	/* A CA the file has already is no error (OpenSSL 3 ignores it). */
	ok = X509_STORE_add_cert(store, x);
	X509_free(x);
	return ok == 1 ? CG_OK : CG_ECRYPTO;
}

enum cg_code
ca_client_trust_store(const char *file, struct ca_store *st,
    X509_STORE **storep, struct cg_err *err)
{
	X509_STORE	*store;
	enum cg_code	 rc;

	*storep = NULL;
	if ((store = X509_STORE_new()) == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	/*
	 * The configured file is the admin's, as the TLS listener loads it:
	 * a bundle of any size, PEM.
	 */
	rc = CG_OK;
	if (file != NULL && X509_STORE_load_file(store, file) != 1)
		rc = cg_err_crypto(err, CG_EIO, "cannot load the client CA "
		    "file %s", file);
	if (rc == CG_OK) {
		rc = ca_store_trust_list(st, anchor_add, store, err);
		if (rc != CG_OK && err->msg[0] == '\0')
			cg_err_set(err, rc, "a trusted CA in the store cannot "
			    "be read");
	}
	if (rc != CG_OK) {
		X509_STORE_free(store);
		return rc;
	}
	/*
	 * A trusted intermediate is an anchor of its own (`trust add` of an
	 * issuing CA, not its root), and a certificate is judged for TLS
	 * client use.
	 */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_set_purpose(store, X509_PURPOSE_SSL_CLIENT);
	*storep = store;
	return CG_OK;
}

/* ------------------------------------------------------------ import */

void
ca_cert_import_clear(struct ca_cert_import *imp)
{
	X509_free(imp->cert);
	sk_X509_pop_free(imp->extra, X509_free);
	cg_free(imp->cn);
	memset(imp, 0, sizeof(*imp));
}

enum cg_code
ca_cert_import_check(STACK_OF(X509) *certs, bool thumb_only,
    struct ca_cert_import *imp, struct cg_err *err)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	X509		*x, *c;
	int		 i;

	memset(imp, 0, sizeof(*imp));
	imp->thumb_only = thumb_only;
	if (certs == NULL || sk_X509_num(certs) < 1)
		return cg_err_set(err, CG_EINVAL, "no certificate");
	x = sk_X509_value(certs, 0);
	if (X509_get_extension_flags(x) & EXFLAG_CA)
		return cg_err_set(err, CG_EINVAL, "the certificate is a CA "
		    "certificate; a CA is trusted with `certgw trust add`");
	if (X509_cmp_time(X509_get0_notAfter(x), NULL) <= 0)
		return cg_err_set(err, CG_EINVAL, "the certificate has "
		    "expired");
	if (X509_cmp_time(X509_get0_notBefore(x), NULL) > 0)
		return cg_err_set(err, CG_EINVAL, "the certificate is not "
		    "valid yet");
	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot hash the "
		    "certificate");
	cg_hex_encode(md, mdlen, imp->sha256, false);
	/* The others are the intermediates the verification may use. */
	if ((imp->extra = sk_X509_new_null()) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (i = 1; i < sk_X509_num(certs); i++) {
		c = sk_X509_value(certs, i);
		if (X509_up_ref(c) != 1 || sk_X509_push(imp->extra, c) <= 0) {
			X509_free(c);
			ca_cert_import_clear(imp);
			return cg_err_set(err, CG_ENOMEM, "out of memory");
		}
	}
	if (X509_up_ref(x) != 1) {
		ca_cert_import_clear(imp);
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	imp->cert = x;
	/* Self-signed: nothing vouches for it but its thumbprint. */
	imp->self_signed = X509_self_signed(x, 1) == 1;
	return CG_OK;
}

/* The subject's common name as UTF-8; NULL when there is none. */
static char *
cert_cn(X509 *x)
{
	X509_NAME	*n = X509_get_subject_name(x);
	unsigned char	*utf8 = NULL;
	char		*cn = NULL;
	int		 idx, len;

	idx = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	if (idx < 0)
		return NULL;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(n, idx)));
	if (len > 0 && len <= CA_IDENT_DN_MAX && memchr(utf8, '\0', len) ==
	    NULL)
		cn = cg_strndup((const char *)utf8, (size_t)len);
	OPENSSL_free(utf8);
	return cn;
}

enum cg_code
ca_cert_import_verify(struct ca_cert_import *imp, X509_STORE *trust,
    struct cg_err *err)
{
	X509_STORE_CTX	*vctx = NULL;
	char		*issuer = NULL;
	enum cg_code	 rc = CG_OK;
	int		 e;

	if (imp->self_signed)
		return CG_OK;
	if ((vctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(vctx, trust, imp->cert, imp->extra) != 1 ||
	    X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot verify the "
		    "certificate");
		goto out;
	}
	if (X509_verify_cert(vctx) != 1) {
		e = X509_STORE_CTX_get_error(vctx);
		switch (e) {
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		case X509_V_ERR_CERT_UNTRUSTED:
			if (ca_name_rfc2253(X509_get_issuer_name(imp->cert),
			    &issuer, err) != CG_OK) {
				rc = err->code;
				goto out;
			}
			rc = cg_err_set(err, CG_EAUTH, "the issuing CA "
			    "\"%.*s\" is not trusted; trust it first with: "
			    "certgw trust add CA.pem", CA_IDENT_DN_MAX, issuer);
			break;
		case X509_V_ERR_CERT_HAS_EXPIRED:
			rc = cg_err_set(err, CG_EAUTH, "a certificate of its "
			    "chain (depth %d) has expired",
			    X509_STORE_CTX_get_error_depth(vctx));
			break;
		default:
			rc = cg_err_set(err, CG_EAUTH, "the certificate does "
			    "not verify: %s", X509_verify_cert_error_string(e));
			break;
		}
		goto out;
	}
	/* By name too, so that a renewal from that CA maps as well. */
	if (!imp->thumb_only && (imp->cn = cert_cn(imp->cert)) == NULL)
		rc = cg_err_set(err, CG_EINVAL, "the certificate has no common "
		    "name to map; map it by its SHA-256 alone "
		    "(--thumbprint-only, or \"thumbprint_only\": true)");
out:
	cg_free(issuer);
	X509_STORE_CTX_free(vctx);
	return rc;
}

/* A name as RFC 2253 text for a mapping row: "" when unreadable or too
   long, as the row allows no more. */
static char *
map_name(const X509_NAME *n)
{
	char	*s = NULL;

	if (ca_name_rfc2253(n, &s, NULL) != CG_OK || strlen(s) >
	    CA_IDENT_DN_MAX) {
		cg_free(s);
		s = cg_strdup("");
	}
	return s;
}

enum cg_code
ca_cert_import_store(struct ca_store *st, const struct ca_identity *i,
    struct ca_cert_import *imp, const char *actor, struct cg_err *err)
{
	struct ca_ident_map	 m;
	unsigned char		*der = NULL;
	int			 len;
	enum cg_code		 rc;

	memset(&m, 0, sizeof(m));
	imp->map_ids[0] = imp->map_ids[1] = 0;
	if ((len = i2d_X509(imp->cert, &der)) <= 0)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode the "
		    "certificate");
	m.identity_id = i->id;
	m.kind = CA_MAP_SHA256;
	m.value = imp->sha256;
	m.pinned = imp->self_signed;
	m.der = der;
	m.der_len = (size_t)len;
	m.source = "import";
	m.subject = map_name(X509_get_subject_name(imp->cert));
	m.issuer = map_name(X509_get_issuer_name(imp->cert));
	if (m.subject == NULL || m.issuer == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	if (ca_time_unix(X509_get0_notAfter(imp->cert), &m.not_after, NULL) !=
	    CG_OK)
		m.not_after = 0;
	if ((rc = ca_store_begin(st, err)) != CG_OK)
		goto out;
	rc = ca_store_map_add(st, &m, &imp->map_ids[0], err);
	if (rc == CG_OK && !imp->self_signed && !imp->thumb_only) {
		m.kind = CA_MAP_CN;
		m.value = imp->cn;
		m.der = NULL;
		m.der_len = 0;
		rc = ca_store_map_add(st, &m, &imp->map_ids[1], err);
	}
	if (rc == CG_OK && actor != NULL)
		rc = ca_store_audit_add(st, actor, "user-import-cert",
		    i->name, "ok", imp->sha256, err);
	if (rc == CG_OK)
		rc = ca_store_commit(st, err);
	if (rc != CG_OK)
		ca_store_rollback(st);
out:
	cg_free(m.subject);
	cg_free(m.issuer);
	OPENSSL_free(der);
	return rc;
}

/* ---------------------------------------------------- holding tank */

enum cg_code
ca_holding_accept(struct ca_store *st, const struct ca_holding *h,
    const struct ca_identity *i, const char *actor, bool audit,
    int64_t *mapidp, bool *pinnedp, struct cg_err *err)
{
	struct ca_ident_map	 m;
	const unsigned char	*p = h->der;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	char			 hex[2 * EVP_MAX_MD_SIZE + 1], target[32];
	X509			*x;
	enum cg_code		 rc;

	*mapidp = 0;
	x = d2i_X509(NULL, &p, (long)h->der_len);
	if (x == NULL || X509_digest(x, EVP_sha256(), md, &mdlen) != 1 ||
	    (cg_hex_encode(md, mdlen, hex, false), strcmp(hex, h->sha256)) !=
	    0) {
		X509_free(x);
		return cg_err_set(err, CG_EINVAL, "held certificate %lld is "
		    "damaged in the store", (long long)h->id);
	}
	/* Self-signed: nothing else vouches for it; its thumbprint must. */
	*pinnedp = X509_self_signed(x, 1) == 1;
	X509_free(x);
	memset(&m, 0, sizeof(m));
	m.identity_id = i->id;
	m.kind = CA_MAP_SHA256;
	m.value = h->sha256;
	m.pinned = *pinnedp;
	m.subject = h->subject;
	m.issuer = h->issuer;
	m.not_after = h->not_after;
	m.der = h->der;
	m.der_len = h->der_len;
	m.source = "holding";
	snprintf(target, sizeof(target), "%lld", (long long)h->id);
	if ((rc = ca_store_begin(st, err)) != CG_OK)
		return rc;
	rc = ca_store_map_add(st, &m, mapidp, err);
	if (rc == CG_OK)
		rc = ca_store_holding_decide(st, h->id, CA_HOLD_ACCEPTED, actor,
		    cg_now(), err);
	if (rc == CG_OK && audit)
		rc = ca_store_audit_add(st, actor, "holding-accept", target,
		    "ok", i->name, err);
	if (rc == CG_OK)
		rc = ca_store_commit(st, err);
	if (rc != CG_OK)
		ca_store_rollback(st);
	return rc;
}
