/*
 * ca_revoke.c - revocation and CRLs: RFC 5280 reason names, recording a
 * revocation with its audit row, and building the signed v2 CRL from the
 * store (CRL number, AKI, per-entry reason codes).  Serving the CRL over
 * HTTP and deciding when to rebuild it belong to the gateway.
 */
#include "certgw/ca.h"

#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "certgw/store.h"
#include "ca_int.h"

#define REVOKE_ID_MAX	64		/* SHA-256 hex; serials are shorter */

/* RFC 5280 5.3.1; value 7 is unused. */
static const char *const reason_names[CA_REASON__MAX] = {
	[CA_REASON_UNSPECIFIED] = "unspecified",
	[CA_REASON_KEY_COMPROMISE] = "keyCompromise",
	[CA_REASON_CA_COMPROMISE] = "cACompromise",
	[CA_REASON_AFFILIATION_CHANGED] = "affiliationChanged",
	[CA_REASON_SUPERSEDED] = "superseded",
	[CA_REASON_CESSATION_OF_OPERATION] = "cessationOfOperation",
	[CA_REASON_CERTIFICATE_HOLD] = "certificateHold",
	[CA_REASON_REMOVE_FROM_CRL] = "removeFromCRL",
	[CA_REASON_PRIVILEGE_WITHDRAWN] = "privilegeWithdrawn",
	[CA_REASON_AA_COMPROMISE] = "aACompromise",
};

bool
ca_reason_parse(const char *s, enum ca_reason *out)
{
	int	 i;

	if (s == NULL)
		return false;
	for (i = 0; i < CA_REASON__MAX; i++) {
		if (reason_names[i] != NULL &&
		    strcasecmp(reason_names[i], s) == 0) {
			*out = (enum ca_reason)i;
			return true;
		}
	}
	return false;
}

const char *
ca_reason_name(enum ca_reason r)
{
	if ((unsigned)r >= CA_REASON__MAX || reason_names[r] == NULL)
		return "unknown";
	return reason_names[r];
}

/* ---------------------------------------------------------- revoking */

static enum cg_code
revoke_check(const char *id, enum ca_reason reason, const char *actor,
    struct cg_err *err)
{
	if (id == NULL || *id == '\0' ||
	    strnlen(id, REVOKE_ID_MAX + 1) > REVOKE_ID_MAX)
		return cg_err_set(err, CG_EINVAL, "give a serial number or a "
		    "SHA-256 thumbprint");
	if ((unsigned)reason >= CA_REASON__MAX || reason_names[reason] == NULL)
		return cg_err_set(err, CG_EINVAL, "unknown revocation reason");
	/* RFC 5280 5.3.1: removeFromCRL only appears in delta CRLs. */
	if (reason == CA_REASON_REMOVE_FROM_CRL)
		return cg_err_set(err, CG_EINVAL, "removeFromCRL is not a "
		    "reason to revoke a certificate");
	if (actor == NULL ||
	    strnlen(actor, CA_REQUESTER_MAX + 1) > CA_REQUESTER_MAX)
		return cg_err_set(err, CG_EINVAL, "actor must be at most %d "
		    "characters", CA_REQUESTER_MAX);
	return CG_OK;
}

/* The store's look-up, with a message that names the id when unknown. */
static enum cg_code
cert_find(struct ca_store *st, const char *id, struct ca_cert_rec **recp,
    struct cg_err *err)
{
	struct cg_err	 gerr = { 0 };
	enum cg_code	 rc;

	rc = ca_store_cert_get(st, id, recp, &gerr);
	if (rc == CG_ENOTFOUND)		/* id parsed as hex: safe to show */
		return cg_err_set(err, rc, "no certificate has serial or "
		    "SHA-256 thumbprint %s", id);
	if (rc != CG_OK && err != NULL && err->code == CG_OK)
		*err = gerr;
	return rc;
}

enum cg_code
ca_revoke(struct ca *ca, struct ca_store *st, const char *id,
    enum ca_reason reason, const char *actor, struct cg_err *err)
{
	struct ca_cert_rec	*rec = NULL;
	char			*detail = NULL;
	enum cg_code		 rc;

	if (ca == NULL || st == NULL)
		return cg_err_set(err, CG_EINVAL, "no CA or store");
	rc = revoke_check(id, reason, actor, err);
	if (rc != CG_OK)
		return rc;
	rc = cert_find(st, id, &rec, err);
	if (rc != CG_OK)
		goto out;
	if (rec->status == CA_CERT_REVOKED) {
		rc = cg_err_set(err, CG_ECONFLICT,
		    "certificate %s is already revoked", rec->serial);
		goto out;
	}
	detail = cg_asprintf("reason=%s", reason_names[reason]);
	if (detail == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	rc = ca_store_begin(st, err);
	if (rc != CG_OK)
		goto out;
	rc = ca_store_cert_revoke(st, rec->serial, (int)reason, cg_now(), err);
	if (rc == CG_OK)
		rc = ca_store_audit_add(st, actor, "revoke", rec->serial, "ok",
		    detail, err);
	if (rc == CG_OK)
		rc = ca_store_commit(st, err);
	if (rc != CG_OK) {
		ca_store_rollback(st);
		goto out;
	}
	cg_log_info("event=revoke serial=%s reason=%s", rec->serial,
	    reason_names[reason]);
out:
	cg_free(detail);
	ca_cert_rec_free(rec);
	return rc;
}

/* -------------------------------------------------------------- CRLs */

static enum cg_code
asn1_serial_from_hex(const char *hex, ASN1_INTEGER **aip, struct cg_err *err)
{
	BIGNUM	*bn = NULL;
	size_t	 len = strnlen(hex, CA_SERIAL_HEX_MAX);

	*aip = NULL;
	if (len == 0 || len >= CA_SERIAL_HEX_MAX ||
	    BN_hex2bn(&bn, hex) != (int)len) {
		BN_free(bn);
		return cg_err_set(err, CG_EINVAL, "bad serial in the store");
	}
	*aip = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	if (*aip == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	return CG_OK;
}

struct crl_fill {
	X509_CRL	*crl;		/* being built */
	struct cg_err	*err;		/* where a failure is told */
};

static enum cg_code
revoked_entry(X509_REVOKED *rev, const struct ca_cert_rec *rec,
    struct cg_err *err)
{
	ASN1_INTEGER	*serial = NULL;
	ASN1_TIME	*when = NULL;
	ASN1_ENUMERATED	*code = NULL;
	enum cg_code	 rc;

	rc = asn1_serial_from_hex(rec->serial, &serial, err);
	if (rc != CG_OK)
		goto out;
	when = ASN1_TIME_set(NULL, (time_t)rec->revoked_at);
	if (when == NULL || X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
	    X509_REVOKED_set_revocationDate(rev, when) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot build CRL entry");
		goto out;
	}
	/* RFC 5280 5.3.1: omit the extension rather than say unspecified. */
	if (rec->revoke_reason > CA_REASON_UNSPECIFIED &&
	    rec->revoke_reason < CA_REASON__MAX) {
		code = ASN1_ENUMERATED_new();
		if (code == NULL ||
		    ASN1_ENUMERATED_set(code, rec->revoke_reason) != 1 ||
		    X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0,
		    X509V3_ADD_DEFAULT) != 1) {
			rc = cg_err_crypto(err, CG_ECRYPTO,
			    "cannot add reason code");
			goto out;
		}
	}
	rc = CG_OK;
out:
	ASN1_ENUMERATED_free(code);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(serial);
	return rc;
}

static enum cg_code
crl_add_revoked(void *arg, const struct ca_cert_rec *rec)
{
	struct crl_fill	*f = arg;
	X509_REVOKED	*rev;
	enum cg_code	 rc;

	rev = X509_REVOKED_new();
	if (rev == NULL)
		return cg_err_crypto(f->err, CG_ENOMEM, "out of memory");
	rc = revoked_entry(rev, rec, f->err);
	if (rc == CG_OK && X509_CRL_add0_revoked(f->crl, rev) != 1)
		rc = cg_err_crypto(f->err, CG_ENOMEM, "out of memory");
	if (rc != CG_OK)
		X509_REVOKED_free(rev);
	return rc;
}

/* Version, issuer, thisUpdate/nextUpdate. */
static enum cg_code
crl_header(struct ca *ca, X509_CRL *crl, int64_t now, int64_t next,
    struct cg_err *err)
{
	ASN1_TIME	*last = NULL, *nxt = NULL;
	enum cg_code	 rc = CG_OK;

	last = ASN1_TIME_set(NULL, (time_t)now);
	nxt = ASN1_TIME_set(NULL, (time_t)next);
	if (last == NULL || nxt == NULL ||
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl,
	    X509_get_subject_name(ca->cert)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, last) != 1 ||
	    X509_CRL_set1_nextUpdate(crl, nxt) != 1)
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot build CRL");
	ASN1_TIME_free(nxt);
	ASN1_TIME_free(last);
	return rc;
}

/* cRLNumber (RFC 5280 5.2.3) and authorityKeyIdentifier (5.2.1). */
static enum cg_code
crl_exts(struct ca *ca, struct ca_store *st, X509_CRL *crl,
    struct cg_err *err)
{
	ASN1_INTEGER	*num = NULL;
	X509_EXTENSION	*aki = NULL;
	X509V3_CTX	 v3;
	uint64_t	 n;
	enum cg_code	 rc;

	rc = ca_store_crl_number_next(st, &n, err);
	if (rc != CG_OK)
		return rc;
	num = ASN1_INTEGER_new();
	if (num == NULL || ASN1_INTEGER_set_uint64(num, n) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0,
	    X509V3_ADD_DEFAULT) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot add CRL number");
		goto out;
	}
	X509V3_set_ctx(&v3, ca->cert, NULL, NULL, crl, 0);
	aki = X509V3_EXT_nconf_nid(NULL, &v3, NID_authority_key_identifier,
	    "keyid:always");
	if (aki == NULL || X509_CRL_add_ext(crl, aki, -1) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot add CRL AKI");
		goto out;
	}
	rc = CG_OK;
out:
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(num);
	return rc;
}

static enum cg_code
crl_der(X509_CRL *crl, uint8_t **derp, size_t *lenp, struct cg_err *err)
{
	unsigned char	*p;
	uint8_t		*der;
	int		 len;

	len = i2d_X509_CRL(crl, NULL);
	if (len <= 0)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode CRL");
	der = cg_malloc((size_t)len);
	if (der == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	p = der;
	if (i2d_X509_CRL(crl, &p) != len) {
		cg_free(der);
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode CRL");
	}
	*derp = der;
	*lenp = (size_t)len;
	return CG_OK;
}

enum cg_code
ca_crl_make(struct ca *ca, struct ca_store *st, uint8_t **derp,
    size_t *lenp, int64_t *next_updatep, struct cg_err *err)
{
	struct crl_fill	 fill;
	X509_CRL	*crl = NULL;
	int64_t		 now = cg_now(), next;
	enum cg_code	 rc;

	*derp = NULL;
	*lenp = 0;
	if (ca == NULL || st == NULL)
		return cg_err_set(err, CG_EINVAL, "no CA or store");
	next = now + (int64_t)ca->crl_validity_s;
	crl = X509_CRL_new();
	if (crl == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	rc = crl_header(ca, crl, now, next, err);
	if (rc != CG_OK)
		goto out;
	fill.crl = crl;
	fill.err = err;
	rc = ca_store_revoked_list(st, now, crl_add_revoked, &fill, err);
	if (rc != CG_OK)
		goto out;
	if (X509_CRL_sort(crl) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot sort CRL");
		goto out;
	}
	rc = crl_exts(ca, st, crl, err);
	if (rc == CG_OK)
		rc = ca_signer_sign_crl(ca->signer, crl, err);
	if (rc == CG_OK)
		rc = crl_der(crl, derp, lenp, err);
	if (rc == CG_OK && next_updatep != NULL)
		*next_updatep = next;
out:
	X509_CRL_free(crl);
	return rc;
}
