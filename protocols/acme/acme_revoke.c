/*
 * acme_revoke.c - revocation (RFC 8555 §7.6) and renewal information
 * (RFC 9773): revokeCert signed by the account that ordered the
 * certificate or by the certificate's own key; the ARI certificate
 * identifier, the suggested renewal window, and the newOrder "replaces"
 * check.
 */
#include "acme_int.h"

#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#define ARI_RETRY_S		21600	/* RFC 9773 §4.3: poll every 6 h */

/* "acme:<account id>": the requester ACME records on its certificates. */
static void
requester_of(const char *acct, char *out, size_t outlen)
{
	snprintf(out, outlen, "acme:%s", acct);
}

/* ------------------------------------------------------------ certID */

enum cg_code
acme_ari_certid(const struct acme_call *call, const char *serial, char *out,
    size_t outlen, struct cg_err *err)
{
	const ASN1_OCTET_STRING	*ski;
	BIGNUM			*bn = NULL;
	uint8_t			 b[ACME_SERIAL_DER_MAX + 1];
	int			 n;
	size_t			 off = 1, k;

	ski = X509_get0_subject_key_id(ca_get0_cert(gw_req_ca(call->req)));
	if (ski == NULL || BN_hex2bn(&bn, serial) == 0)
		return cg_err_set(err, CG_EINTERNAL, "no certID for %s", serial);
	n = BN_num_bytes(bn);
	if (n <= 0 || n > ACME_SERIAL_DER_MAX) {
		BN_free(bn);
		return cg_err_set(err, CG_EINTERNAL, "serial %s", serial);
	}
	/* DER INTEGER content: a leading zero keeps it positive. */
	b[0] = 0;
	BN_bn2bin(bn, b + 1);
	BN_free(bn);
	if (b[1] & 0x80)
		off = 0;
	k = (size_t)ASN1_STRING_length(ski);
	if (ACME_B64URL_LEN(k) + 1 + ACME_B64URL_LEN((size_t)n + 1 - off) + 1 >
	    outlen)
		return cg_err_set(err, CG_EINTERNAL, "certID too long");
	k = acme_b64url_encode_to(ASN1_STRING_get0_data(ski), k, out);
	out[k++] = '.';
	k += acme_b64url_encode_to(b + off, (size_t)n + 1 - off, out + k);
	out[k] = '\0';
	return CG_OK;
}

/*
 * RFC 9773 §4.1: base64url(keyIdentifier of the AKI) "." base64url(the
 * serial's DER INTEGER content octets).  The key identifier must be our
 * issuing CA's; the serial is looked up in the store.
 */
static enum cg_code
certid_lookup(struct acme_call *call, const char *certid,
    struct ca_cert_rec **recp, struct cg_err *err)
{
	const ASN1_OCTET_STRING	*ski;
	uint8_t			 aki[ACME_AKI_MAX], ser[ACME_SERIAL_DER_MAX];
	size_t			 akilen = 0, serlen = 0;
	char			 hex[2 * ACME_SERIAL_DER_MAX + 1];
	const uint8_t		*s;
	enum cg_code		 rc;

	*recp = NULL;
	if (acme_certid_decode(certid, strlen(certid), aki, &akilen, ser,
	    &serlen) != CG_OK)
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "not a renewal-info certificate identifier");
	ski = X509_get0_subject_key_id(ca_get0_cert(gw_req_ca(call->req)));
	if (ski == NULL || (size_t)ASN1_STRING_length(ski) != akilen ||
	    memcmp(ASN1_STRING_get0_data(ski), aki, akilen) != 0)
		return cg_err_set(err, CG_ENOTFOUND, "not a certificate of "
		    "this CA");
	/* Leading zero octets of a positive INTEGER carry no value. */
	for (s = ser; serlen > 1 && *s == 0; s++, serlen--)
		;
	cg_hex_encode(s, serlen, hex, true);	/* as the store writes it */
	rc = ca_store_cert_get(gw_req_store(call->req), hex, recp, err);
	if (rc == CG_ENOTFOUND) {
		cg_err_clear(err);
		return cg_err_set(err, CG_ENOTFOUND, "no such certificate");
	}
	return rc;
}

/*
 * The suggested window of rec (RFC 9773 §4.2).  It starts where `certgw
 * cert list` starts to call the certificate update-needed: both come from
 * ca_profile_renew_start() with the record's profile (NULL when no longer
 * configured), so an operator and a client see one renewal date.  It ends
 * half-way from there to notAfter, leaving the other half for retries.
 */
static void
ari_window(const struct ca_profile *p, const struct ca_cert_rec *rec,
    int64_t now, int64_t *startp, int64_t *endp)
{
	int64_t		 start;

	if (rec->status == CA_CERT_REVOKED) {
		/* §4.2: a revoked certificate is due now. */
		*startp = now - 2 * 3600;
		*endp = now - 3600;
		return;
	}
	start = ca_profile_renew_start(p, rec->not_before, rec->not_after);
	*startp = start;
	*endp = start + (rec->not_after - start) / 2;
	if (*endp <= start)
		*endp = start + 1;
}

enum cg_code
acme_op_renewal_info(struct acme_call *call, struct cg_err *err)
{
	struct ca_cert_rec	*rec = NULL;
	int64_t			 start, end;
	json_t			*j = NULL;
	char			 ra[16];
	enum cg_code		 rc;

	rc = certid_lookup(call, call->arg, &rec, err);
	if (rc != CG_OK)
		return rc;
	ari_window(gw_config_profile(call->conf, rec->profile), rec, call->now,
	    &start, &end);
	j = json_pack("{s:{s:o, s:o}}", "suggestedWindow", "start",
	    acme_time_json(start), "end", acme_time_json(end));
	if (j == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(ra, sizeof(ra), "%d", ARI_RETRY_S);
	gw_req_set_header(call->req, "Retry-After", ra);
	rc = acme_reply_json(call, 200, j, NULL, err);
out:
	json_decref(j);
	ca_cert_rec_free(rec);
	return rc;
}

enum cg_code
acme_ari_replaces(struct acme_call *call, char serial[CA_SERIAL_HEX_MAX],
    struct cg_err *err)
{
	const json_t		*r = json_object_get(call->payload, "replaces");
	struct ca_cert_rec	*rec = NULL;
	struct ca_acme_order	*o = NULL;
	char			 who[CA_REQUESTER_MAX];
	enum cg_code		 rc;

	serial[0] = '\0';
	if (r == NULL)
		return CG_OK;
	if (!json_is_string(r) || json_string_length(r) > ACME_ARG_MAX)
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "replaces must be a certificate identifier");
	rc = certid_lookup(call, json_string_value(r), &rec, err);
	if (rc == CG_ENOTFOUND) {
		cg_err_clear(err);
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "replaces names no certificate of this CA");
	}
	if (rc != CG_OK)
		return rc;
	requester_of(call->acct->id, who, sizeof(who));
	if (strcmp(rec->requester, who) != 0) {
		rc = acme_refuse(&call->prob, err, ACME_P_UNAUTHORIZED,
		    CG_EAUTH, "the replaced certificate was not issued to "
		    "this account");
		goto out;
	}
	rc = ca_store_acme_order_find_replacing(gw_req_store(call->req),
	    rec->serial, &o, err);
	if (rc == CG_OK) {
		call->status = 409;
		rc = acme_refuse(&call->prob, err, ACME_P_ALREADY_REPLACED,
		    CG_ECONFLICT, "another order already replaces this "
		    "certificate");
		goto out;
	}
	if (rc != CG_ENOTFOUND)
		goto out;
	cg_err_clear(err);
	snprintf(serial, CA_SERIAL_HEX_MAX, "%s", rec->serial);
	rc = CG_OK;
out:
	ca_acme_order_free(o);
	ca_cert_rec_free(rec);
	return rc;
}

/* -------------------------------------------------------- revokeCert */

/* Reasons a subscriber may give (RFC 8555 §7.6, RFC 5280 §5.3.1). */
static bool
reason_ok(json_int_t r)
{
	return r == CA_REASON_UNSPECIFIED || r == CA_REASON_KEY_COMPROMISE ||
	    r == CA_REASON_AFFILIATION_CHANGED || r == CA_REASON_SUPERSEDED ||
	    r == CA_REASON_CESSATION_OF_OPERATION ||
	    r == CA_REASON_PRIVILEGE_WITHDRAWN;
}

static enum cg_code
revoke_input(struct acme_call *call, X509 **certp, int *reasonp,
    struct cg_err *err)
{
	const char	*b64;
	const json_t	*reason;
	const unsigned char *p;
	uint8_t		*der = NULL;
	size_t		 len = 0;
	enum cg_code	 rc;

	*certp = NULL;
	*reasonp = CA_REASON_UNSPECIFIED;
	b64 = call->payload != NULL ? json_string_value(json_object_get(
	    call->payload, "certificate")) : NULL;
	if (b64 == NULL)
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "revokeCert needs a certificate");
	reason = json_object_get(call->payload, "reason");
	if (reason != NULL) {
		if (!json_is_integer(reason) ||
		    !reason_ok(json_integer_value(reason)))
			return acme_refuse(&call->prob, err,
			    ACME_P_BAD_REVOCATION_REASON, CG_EINVAL,
			    "reason must be 0, 1, 3, 4, 5 or 9");
		*reasonp = (int)json_integer_value(reason);
	}
	rc = acme_b64url_decode(b64, strlen(b64), CA_CERT_PEM_MAX, &der, &len,
	    err);
	if (rc == CG_OK) {
		p = der;
		*certp = d2i_X509(NULL, &p, (long)len);
		if (*certp == NULL || p != der + len) {
			X509_free(*certp);
			*certp = NULL;
			rc = CG_EINVAL;
		}
	}
	cg_free(der);
	if (rc != CG_OK) {
		cg_err_clear(err);
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "certificate is not base64url DER");
	}
	return CG_OK;
}

/* The certificate as we recorded it, byte for byte. */
static enum cg_code
revoke_record(struct acme_call *call, X509 *cert, struct ca_cert_rec **recp,
    struct cg_err *err)
{
	const ASN1_INTEGER	*sn = X509_get0_serialNumber(cert);
	BIGNUM			*bn = ASN1_INTEGER_to_BN(sn, NULL);
	char			*hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	uint8_t			*der = NULL;
	int			 len;
	enum cg_code		 rc;

	*recp = NULL;
	BN_free(bn);
	if (hex == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	rc = ca_store_cert_get(gw_req_store(call->req), hex, recp, err);
	OPENSSL_free(hex);
	if (rc == CG_ENOTFOUND) {
		cg_err_clear(err);
		return cg_err_set(err, CG_ENOTFOUND, "no such certificate");
	}
	if (rc != CG_OK)
		return rc;
	len = i2d_X509(cert, &der);
	if (len <= 0 || (size_t)len != (*recp)->der_len ||
	    memcmp(der, (*recp)->der, (size_t)len) != 0)
		rc = cg_err_set(err, CG_ENOTFOUND, "no such certificate");
	OPENSSL_free(der);
	return rc;
}

enum cg_code
acme_op_revoke(struct acme_call *call, struct cg_err *err)
{
	struct ca_cert_rec	*rec = NULL;
	X509			*cert = NULL;
	char			 who[CA_REQUESTER_MAX], actor[CA_REQUESTER_MAX];
	int			 reason;
	enum cg_code		 rc;

	rc = revoke_input(call, &cert, &reason, err);
	if (rc == CG_OK)
		rc = revoke_record(call, cert, &rec, err);
	if (rc != CG_OK)
		goto out;
	if (call->acct != NULL) {
		requester_of(call->acct->id, who, sizeof(who));
		if (strcmp(rec->requester, who) != 0) {
			rc = acme_refuse(&call->prob, err, ACME_P_UNAUTHORIZED,
			    CG_EAUTH, "the certificate was not issued to "
			    "this account");
			goto out;
		}
		snprintf(actor, sizeof(actor), "%s", who);
	} else if (EVP_PKEY_eq(call->key, X509_get0_pubkey(cert)) != 1) {
		rc = acme_refuse(&call->prob, err, ACME_P_UNAUTHORIZED,
		    CG_EAUTH, "the request is not signed by the "
		    "certificate's key");
		goto out;
	} else {
		snprintf(actor, sizeof(actor), "acme:certificate-key");
	}
	rc = ca_revoke(gw_req_ca(call->req), gw_req_store(call->req),
	    rec->serial, (enum ca_reason)reason, actor, err);
	if (rc == CG_ECONFLICT) {
		cg_err_clear(err);
		rc = acme_refuse(&call->prob, err, ACME_P_ALREADY_REVOKED,
		    CG_EINVAL, "the certificate is already revoked");
	}
	if (rc == CG_OK) {
		cg_log_info("event=acme_revoked serial=%s reason=%d by=%s",
		    rec->serial, reason, actor);
		acme_reply_body(call, 200, NULL, NULL, 0);
	}
out:
	ca_cert_rec_free(rec);
	X509_free(cert);
	return rc;
}
