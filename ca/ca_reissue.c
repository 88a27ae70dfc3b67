/*
 * ca_reissue.c - operator reissue (`certgw cert reissue`): a new
 * certificate for the subject, SANs and key of one already issued, or
 * with a new key of the same type, through the one issuance path.  The
 * store keeps no CSR for issued certificates (only pending requests keep
 * theirs), so the request is rebuilt from the certificate itself.
 */
#include "certgw/ca.h"

#include <string.h>

#include <openssl/x509v3.h>

#include "certgw/store.h"
#include "ca_int.h"

#define RSA_BITS_MIN	2048		/* a new key is never weaker */

/* ------------------------------------------------------------- keys */

enum cg_code
ca_key_generate_like(EVP_PKEY *pub, EVP_PKEY **keyp, struct cg_err *err)
{
	static const char *const curve[CA_KEY__MAX] = {
		[CA_KEY_EC_P256] = "P-256",
		[CA_KEY_EC_P384] = "P-384",
		[CA_KEY_EC_P521] = "P-521",
	};
	enum ca_key_type	 kt;
	int			 bits;

	*keyp = NULL;
	if (pub == NULL || !ca_key_classify(pub, &kt, &bits))
		return cg_err_set(err, CG_EINVAL, "the certificate's key is of "
		    "a type certgw cannot generate");
	switch (kt) {
	case CA_KEY_RSA:
		if (bits < RSA_BITS_MIN)
			bits = RSA_BITS_MIN;
		if (bits > CA_RSA_BITS_MAX)
			return cg_err_set(err, CG_EINVAL, "RSA key of %d bits "
			    "is too large", bits);
		*keyp = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
		break;
	case CA_KEY_ED25519:
		*keyp = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		*keyp = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve[kt]);
		break;
	}
	if (*keyp == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot generate a key");
	return CG_OK;
}

/* ---------------------------------------------------------- request */

/*
 * An unsigned request holding cert's subject and subjectAltName and the
 * public half of key (or cert's own key).  It never leaves the process and
 * needs no self-signature: nobody here holds the old private key, and the
 * CA core reads a request's subject, SANs and key only.
 */
static enum cg_code
csr_from_cert(X509 *cert, EVP_PKEY *key, struct ca_csr **csrp,
    struct cg_err *err)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION	*san;
	struct ca_csr	*csr;
	EVP_PKEY	*pub;
	enum cg_code	 rc = CG_OK;
	int		 idx;

	*csrp = NULL;
	pub = key != NULL ? key : X509_get0_pubkey(cert);
	if (pub == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot read the "
		    "certificate's key");
	csr = cg_calloc(1, sizeof(*csr));
	if (csr == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	csr->req = X509_REQ_new();
	if (csr->req == NULL ||
	    X509_REQ_set_version(csr->req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(csr->req,
	    X509_get_subject_name(cert)) != 1 ||
	    X509_REQ_set_pubkey(csr->req, pub) != 1 ||
	    EVP_PKEY_up_ref(pub) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot build the request");
		goto out;
	}
	csr->pub = pub;
	idx = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1);
	if (idx >= 0) {
		san = X509_get_ext(cert, idx);
		exts = sk_X509_EXTENSION_new_null();
		if (exts == NULL || san == NULL ||
		    sk_X509_EXTENSION_push(exts, san) <= 0 ||
		    X509_REQ_add_extensions(csr->req, exts) != 1)
			rc = cg_err_crypto(err, CG_ECRYPTO, "cannot copy the "
			    "subjectAltName");
		/* san is borrowed from cert: free the stack only. */
		sk_X509_EXTENSION_free(exts);
	}
out:
	if (rc != CG_OK)
		ca_csr_free(csr);
	else
		*csrp = csr;
	return rc;
}

/* --------------------------------------------------------- issuance */

struct reissue_hook {
	const struct ca_reissue_req *req;
};

/* The identity mapping of the old certificate follows it. */
static enum cg_code
map_follow(struct ca_store *st, const struct ca_reissue_req *rq,
    const struct ca_cert_rec *rec, struct cg_err *err)
{
	struct ca_ident_map	*old = NULL, m;
	enum cg_code		 rc;

	rc = ca_store_map_find(st, CA_MAP_SHA256, rq->old->sha256, &old, err);
	if (rc == CG_ENOTFOUND) {
		cg_err_clear(err);
		return CG_OK;
	}
	if (rc != CG_OK)
		return rc;
	memset(&m, 0, sizeof(m));
	m.identity_id = old->identity_id;
	m.kind = CA_MAP_SHA256;
	m.value = rec->sha256;
	m.subject = rec->subject;
	m.issuer = rec->issuer;
	m.not_after = rec->not_after;
	m.der = rec->der;
	m.der_len = rec->der_len;
	m.source = "reissue";
	rc = ca_store_map_add(st, &m, NULL, err);
	/* A revoked certificate authenticates nobody: its mapping moves. */
	if (rc == CG_OK && rq->revoke_old)
		rc = ca_store_map_delete(st, old->id, err);
	ca_ident_map_free(old);
	return rc;
}

/*
 * Inside the issuance transaction: the old certificate is still there and
 * not revoked (another process may have revoked it since the check), the
 * reissue is audited with both serials, the mapping follows, and with
 * revoke_old the old one is revoked, all or nothing with the new record.
 */
static enum cg_code
reissue_hook(void *arg, struct ca_store *st, const struct ca_cert_rec *rec,
    struct cg_err *err)
{
	const struct ca_reissue_req	*rq = ((struct reissue_hook *)arg)->req;
	struct ca_cert_rec		*now = NULL;
	char				*detail;
	enum cg_code			 rc;

	rc = ca_store_cert_get(st, rq->old->serial, &now, err);
	if (rc == CG_OK && now->status == CA_CERT_REVOKED)
		rc = cg_err_set(err, CG_ECONFLICT, "certificate %s is revoked; "
		    "a revoked certificate is not reissued", now->serial);
	ca_cert_rec_free(now);
	if (rc != CG_OK)
		return rc;
	detail = cg_asprintf("old=%s key=%s profile=%s%s", rq->old->serial,
	    rq->key != NULL ? "new" : "same", rq->profile->name,
	    rq->revoke_old ? " revoke_old=superseded" : "");
	if (detail == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_audit_add(st, rq->actor, "reissue", rec->serial, "ok",
	    detail, err);
	cg_free(detail);
	if (rc == CG_OK)
		rc = map_follow(st, rq, rec, err);
	if (rc == CG_OK && rq->revoke_old) {
		detail = cg_asprintf("reason=superseded reissued=%s",
		    rec->serial);
		if (detail == NULL)
			return cg_err_set(err, CG_ENOMEM, "out of memory");
		rc = ca_store_cert_revoke(st, rq->old->serial,
		    CA_REASON_SUPERSEDED, cg_now(), err);
		if (rc == CG_OK)
			rc = ca_store_audit_add(st, rq->actor, "revoke",
			    rq->old->serial, "ok", detail, err);
		cg_free(detail);
	}
	return rc;
}

enum cg_code
ca_reissue(struct ca *ca, struct ca_store *st,
    const struct ca_reissue_req *rq, struct ca_issued **outp,
    struct cg_err *err)
{
	const unsigned char	*p;
	struct ca_issue_req	 req;
	struct reissue_hook	 h = { rq };
	struct ca_csr		*csr = NULL;
	X509			*old = NULL;
	enum cg_code		 rc;

	*outp = NULL;
	if (ca == NULL || st == NULL || rq == NULL || rq->old == NULL ||
	    rq->profile == NULL || rq->actor == NULL)
		return cg_err_set(err, CG_EINVAL, "incomplete reissue request");
	if (rq->old->status == CA_CERT_REVOKED)
		return cg_err_set(err, CG_ECONFLICT, "certificate %s is "
		    "revoked; a revoked certificate is not reissued",
		    rq->old->serial);
	p = rq->old->der;
	old = d2i_X509(NULL, &p, (long)rq->old->der_len);
	if (old == NULL || p != rq->old->der + rq->old->der_len) {
		rc = cg_err_crypto(err, CG_EINVAL, "certificate %s in the "
		    "store does not decode", rq->old->serial);
		goto out;
	}
	rc = csr_from_cert(old, rq->key, &csr, err);
	if (rc != CG_OK)
		goto out;
	req.csr = csr;
	req.profile = rq->profile;
	req.protocol = "cli";
	req.requester = rq->actor;
	rc = ca_issue_hooked(ca, st, &req, reissue_hook, &h, outp, err);
	if (rc == CG_OK)
		cg_log_info("event=reissue serial=%s old=%s key=%s%s",
		    (*outp)->serial, rq->old->serial,
		    rq->key != NULL ? "new" : "same",
		    rq->revoke_old ? " revoked_old=superseded" : "");
out:
	ca_csr_free(csr);
	X509_free(old);
	return rc;
}
