/*
 * acme_finalize.c - finalization and download (RFC 8555 §7.4, §7.4.2):
 * the CSR must name exactly the order's identifiers, the CA core signs it
 * under the order's profile, and the order becomes valid in the same
 * transaction that records the certificate (a staged-issuance hook), so
 * an order is never valid without its certificate nor the reverse.  With
 * manual approval the order waits in processing on a pending row.
 */
#include "acme_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

/* The names of a CSR or an order, as "dns:x" / "ip:y" strings. */
struct nameset {
	char	 v[ACME_IDENTIFIERS_MAX + 1][CA_NAME_MAX + 8];
	size_t	 n;
};

static bool
nameset_has(const struct nameset *s, const char *x)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		if (strcasecmp(s->v[i], x) == 0)
			return true;
	return false;
}

static bool
nameset_add(struct nameset *s, const char *type, const char *val, size_t len)
{
	char	 x[CA_NAME_MAX + 8];

	if (len > CA_NAME_MAX || memchr(val, '\0', len) != NULL)
		return false;
	snprintf(x, sizeof(x), "%s:%.*s", type, (int)len, val);
	if (nameset_has(s, x))
		return true;
	if (s->n == ACME_IDENTIFIERS_MAX + 1)
		return false;
	memcpy(s->v[s->n++], x, sizeof(x));
	return true;
}

static bool
csr_san_add(struct nameset *s, const GENERAL_NAME *gn)
{
	const unsigned char	*d;
	char			 ip[INET6_ADDRSTRLEN];
	int			 len;

	if (gn->type == GEN_DNS) {
		d = ASN1_STRING_get0_data(gn->d.dNSName);
		len = ASN1_STRING_length(gn->d.dNSName);
		return nameset_add(s, "dns", (const char *)d, (size_t)len);
	}
	if (gn->type != GEN_IPADD)
		return false;
	d = ASN1_STRING_get0_data(gn->d.iPAddress);
	len = ASN1_STRING_length(gn->d.iPAddress);
	if ((len != 4 && len != 16) || inet_ntop(len == 4 ? AF_INET :
	    AF_INET6, d, ip, sizeof(ip)) == NULL)
		return false;
	return nameset_add(s, "ip", ip, strlen(ip));
}

/* SANs of the CSR (DNS and IP only) and its CN, if any. */
static enum cg_code
csr_names(struct acme_call *call, X509_REQ *req, struct nameset *s,
    char *cn, size_t cnlen, struct cg_err *err)
{
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES		*gens = NULL;
	X509_NAME		*subj = X509_REQ_get_subject_name(req);
	int			 i, idx;
	bool			 ok = true;

	cn[0] = '\0';
	exts = X509_REQ_get_extensions(req);
	if (exts != NULL)
		gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	for (i = 0; ok && gens != NULL && i < sk_GENERAL_NAME_num(gens); i++)
		ok = csr_san_add(s, sk_GENERAL_NAME_value(gens, i));
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (!ok)
		return acme_refuse(&call->prob, err, ACME_P_BAD_CSR, CG_EINVAL,
		    "the CSR names something other than DNS names and IP "
		    "addresses");
	idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (idx >= 0) {
		ASN1_STRING	*d = X509_NAME_ENTRY_get_data(
				    X509_NAME_get_entry(subj, idx));
		int		 len = ASN1_STRING_length(d);

		if (len <= 0 || (size_t)len >= cnlen)
			return acme_refuse(&call->prob, err, ACME_P_BAD_CSR,
			    CG_EINVAL, "the CSR's common name is too long");
		memcpy(cn, ASN1_STRING_get0_data(d), (size_t)len);
		cn[len] = '\0';
	}
	return CG_OK;
}

/* §7.4: the CSR must ask for exactly the order's identifiers. */
static enum cg_code
csr_matches(struct acme_call *call, const struct ca_acme_order *o,
    const struct ca_csr *csr, struct cg_err *err)
{
	struct nameset	*want, *got;
	json_t		*ids;
	const json_t	*v;
	char		 cn[CA_NAME_MAX + 1], x[CA_NAME_MAX + 8];
	size_t		 i;
	enum cg_code	 rc;

	want = cg_calloc(1, sizeof(*want));
	got = cg_calloc(1, sizeof(*got));
	ids = acme_json_load(o->identifiers);
	if (want == NULL || got == NULL || ids == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(ids, i, v) {
		const char	*t = json_string_value(json_object_get(v,
				    "type"));
		const char	*val = json_string_value(json_object_get(v,
				    "value"));

		if (t == NULL || val == NULL ||
		    !nameset_add(want, t, val, strlen(val))) {
			rc = cg_err_set(err, CG_EINTERNAL, "order %s has bad "
			    "identifiers", o->id);
			goto out;
		}
	}
	rc = csr_names(call, ca_csr_get0_req(csr), got, cn, sizeof(cn), err);
	if (rc != CG_OK)
		goto out;
	for (i = 0; i < got->n; i++)
		if (!nameset_has(want, got->v[i])) {
			rc = acme_refuse(&call->prob, err, ACME_P_BAD_CSR,
			    CG_EINVAL, "the CSR names %s, which is not in the "
			    "order", got->v[i]);
			goto out;
		}
	for (i = 0; i < want->n; i++)
		if (!nameset_has(got, want->v[i])) {
			rc = acme_refuse(&call->prob, err, ACME_P_BAD_CSR,
			    CG_EINVAL, "the CSR lacks %s of the order",
			    want->v[i]);
			goto out;
		}
	snprintf(x, sizeof(x), "dns:%s", cn);
	if (cn[0] != '\0' && !nameset_has(want, x)) {
		snprintf(x, sizeof(x), "ip:%s", cn);
		if (!nameset_has(want, x))
			rc = acme_refuse(&call->prob, err, ACME_P_BAD_CSR,
			    CG_EINVAL, "the CSR's common name is not one of "
			    "the order's identifiers");
	}
out:
	json_decref(ids);
	cg_free(want);
	cg_free(got);
	return rc;
}

static enum cg_code
csr_read(struct acme_call *call, struct ca_csr **csrp, struct cg_err *err)
{
	const char	*b64;
	uint8_t		*der = NULL;
	size_t		 len = 0;
	enum cg_code	 rc;

	*csrp = NULL;
	b64 = call->payload != NULL ? json_string_value(json_object_get(
	    call->payload, "csr")) : NULL;
	if (b64 == NULL)
		return acme_refuse(&call->prob, err, ACME_P_MALFORMED,
		    CG_EINVAL, "finalize needs a csr");
	rc = acme_b64url_decode(b64, strlen(b64), CA_CSR_MAX, &der, &len,
	    err);
	if (rc == CG_OK)
		rc = ca_csr_parse(der, len, csrp, err);
	if (rc != CG_OK) {
		cg_err_clear(err);
		rc = acme_refuse(&call->prob, err, ACME_P_BAD_CSR, CG_EINVAL,
		    "csr is not one base64url DER request with a valid "
		    "signature");
	}
	cg_free(der);
	return rc;
}

/* --------------------------------------------------- after the record */

/* What the commit callback needs once the handler's frame is gone. */
struct fin_ctx {
	struct acme_call	 call;		/* copy; no owned pointers */
	char			 order[CA_ACME_ID_MAX + 1];
	char			 acct[CA_ACME_ID_MAX + 1];
	int64_t			 now;
};

/*
 * Inside the certificate's transaction: the order goes from ready to
 * valid.  One write where two transactions would be (ready -> processing
 * before signing, then the record); if another finalize got there first,
 * the compare-and-set fails and this certificate is not recorded.
 */
static enum cg_code
order_hook(void *arg, struct ca_store *st, const struct ca_cert_rec *rec,
    struct cg_err *err)
{
	struct fin_ctx	*fc = arg;
	enum cg_code	 rc;

	/* Stored as pending when its readiness was only ever derived. */
	rc = ca_store_acme_order_transition(st, fc->order, "pending",
	    "processing", NULL, fc->now, err);
	if (rc == CG_ECONFLICT) {
		cg_err_clear(err);
		rc = ca_store_acme_order_transition(st, fc->order, "ready",
		    "processing", NULL, fc->now, err);
	}
	if (rc == CG_OK)
		rc = ca_store_acme_order_set_cert(st, fc->order, rec->serial,
		    fc->now, err);
	return rc;
}

static void
committed(struct gw_req *req, void *arg, struct ca_staged *staged)
{
	struct fin_ctx		*fc = arg;
	struct acme_call	*call = &fc->call;
	struct ca_acme_order	*o = NULL;
	struct ca_issued	*is = NULL;
	struct cg_err		 err = { 0 };
	enum cg_code		 rc;

	call->req = req;
	rc = ca_staged_result(staged, &is, &err);
	if (rc == CG_ECONFLICT) {
		/* The order left "ready" under us: another finalize won. */
		cg_err_clear(&err);
		rc = acme_refuse(&call->prob, &err, ACME_P_ORDER_NOT_READY,
		    CG_EINVAL, "the order is already being finalized");
	} else if (rc == CG_OK) {
		cg_log_info("event=acme_issued order=%s account=%s serial=%s",
		    fc->order, fc->acct, is->serial);
		rc = ca_store_acme_order_get(gw_req_store(req), fc->order, &o,
		    &err);
	}
	if (rc == CG_OK)
		rc = acme_order_reply(call, o, &err);
	if (rc != CG_OK)
		acme_reply_error(call, &err);
	ca_acme_order_free(o);
	ca_issued_free(is);
	cg_free(fc);
}

/* ----------------------------------------------------------- finalize */

static const struct ca_profile *
order_profile(struct acme_call *call, const struct ca_acme_order *o,
    struct ca_profile *copy)
{
	const struct ca_profile	*p = gw_config_profile(call->conf, o->profile);

	if (p == NULL || !call->dir->manual_approval)
		return p;
	/* The directory asks for approval even when the profile does not. */
	*copy = *p;
	copy->manual_approval = true;
	return copy;
}

static enum cg_code
finalize_manual(struct acme_call *call, const struct ca_acme_order *o,
    const struct ca_issue_req *ir, struct cg_err *err)
{
	struct ca_enroll_result	 res = { 0 };
	struct ca_acme_order	*now = NULL;	/* o as it is afterwards */
	int64_t			 pid;
	enum cg_code		 rc;

	rc = ca_store_acme_order_transition(gw_req_store(call->req), o->id,
	    "pending", "processing", NULL, call->now, err);
	if (rc == CG_ECONFLICT) {
		cg_err_clear(err);
		rc = ca_store_acme_order_transition(gw_req_store(call->req),
		    o->id, "ready", "processing", NULL, call->now, err);
	}
	if (rc == CG_OK)
		rc = ca_enroll(gw_req_ca(call->req), gw_req_store(call->req),
		    ir, &res, err);
	if (rc == CG_OK && res.state == CA_ENROLL_PENDING)
		rc = ca_store_acme_order_set_pending(gw_req_store(call->req),
		    o->id, res.pending_id, err);
	else if (rc == CG_OK && res.state == CA_ENROLL_ISSUED)
		rc = ca_store_acme_order_set_cert(gw_req_store(call->req),
		    o->id, res.issued->serial, call->now, err);
	pid = res.pending_id;
	ca_enroll_result_cleanup(&res);
	if (rc == CG_ECONFLICT)
		return acme_refuse(&call->prob, err, ACME_P_ORDER_NOT_READY,
		    CG_EINVAL, "the order is already being finalized");
	if (rc != CG_OK)
		return rc;
	cg_log_info("event=acme_pending order=%s account=%s pending=%lld",
	    o->id, call->acct->id, (long long)pid);
	rc = acme_order_load(call, &now, err);
	if (rc == CG_OK)
		rc = acme_order_reply(call, now, err);
	ca_acme_order_free(now);
	return rc;
}

static enum cg_code
finalize_grouped(struct acme_call *call, const struct ca_acme_order *o,
    const struct ca_issue_req *ir, struct cg_err *err)
{
	struct ca_staged	*staged = NULL;
	struct fin_ctx		*fc;
	enum cg_code		 rc;

	rc = ca_issue_stage(gw_req_ca(call->req), gw_req_store(call->req), ir,
	    &staged, err);
	if (rc == CG_EDENIED || rc == CG_EINVAL) {
		/* The profile's policy (key type, size, names) said no. */
		err->proto = ACME_P_BAD_CSR;
		return rc;
	}
	if (rc != CG_OK)
		return rc;
	/* Nothing is written yet: the order moves in the record (order_hook),
	   and stays ready if the record fails, for the client to retry. */
	fc = cg_calloc(1, sizeof(*fc));
	if (fc == NULL) {
		ca_staged_free(staged);
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	fc->call = *call;
	fc->call.jws = NULL;
	fc->call.key = NULL;
	fc->call.acct = NULL;
	fc->call.payload = NULL;
	snprintf(fc->order, sizeof(fc->order), "%s", o->id);
	snprintf(fc->acct, sizeof(fc->acct), "%s", call->acct->id);
	fc->now = call->now;
	ca_staged_set_hook(staged, order_hook, fc);
	gw_req_commit(call->req, staged, committed, fc);
	return CG_OK;
}

enum cg_code
acme_op_finalize(struct acme_call *call, struct cg_err *err)
{
	struct ca_acme_order	*o = NULL;
	struct ca_csr		*csr = NULL;
	struct ca_profile	 copy;
	struct ca_issue_req	 ir;
	char			 who[CA_REQUESTER_MAX];
	enum cg_code		 rc;

	rc = acme_order_load(call, &o, err);
	if (rc == CG_OK && strcmp(o->status, "ready") != 0)
		rc = acme_refuse(&call->prob, err, ACME_P_ORDER_NOT_READY,
		    CG_EINVAL, "the order is %s, not ready", o->status);
	if (rc == CG_OK)
		rc = csr_read(call, &csr, err);
	if (rc == CG_OK)
		rc = csr_matches(call, o, csr, err);
	/* §11.1: the account key must not become a certificate key. */
	if (rc == CG_OK && EVP_PKEY_eq(ca_csr_get0_pubkey(csr), call->key) == 1)
		rc = acme_refuse(&call->prob, err, ACME_P_BAD_CSR, CG_EINVAL,
		    "the CSR's key is the account key");
	if (rc != CG_OK)
		goto out;
	memset(&ir, 0, sizeof(ir));
	ir.csr = csr;
	ir.profile = order_profile(call, o, &copy);
	ir.protocol = "acme";
	snprintf(who, sizeof(who), "acme:%s", call->acct->id);
	ir.requester = who;
	if (ir.profile == NULL) {
		rc = cg_err_set(err, CG_EINTERNAL, "profile %s is gone",
		    o->profile);
		goto out;
	}
	if (ir.profile->manual_approval)
		rc = finalize_manual(call, o, &ir, err);
	else
		rc = finalize_grouped(call, o, &ir, err);
out:
	ca_csr_free(csr);
	ca_acme_order_free(o);
	return rc;
}

/* ---------------------------------------------------------- download */

/* DER as one PEM "CERTIFICATE" block: no parse, just base64 in lines. */
static enum cg_code
pem_add_der(struct cg_buf *b, const uint8_t *der, size_t len,
    struct cg_err *err)
{
	char		*b64 = NULL;
	size_t		 n, off;
	enum cg_code	 rc;

	rc = cg_base64_encode(der, len, &b64, err);
	if (rc == CG_OK)
		rc = cg_buf_addstr(b, "-----BEGIN CERTIFICATE-----\n", err);
	n = b64 != NULL ? strlen(b64) : 0;
	for (off = 0; rc == CG_OK && off < n; off += 64) {
		rc = cg_buf_add(b, b64 + off, n - off < 64 ? n - off : 64, err);
		if (rc == CG_OK)
			rc = cg_buf_add(b, "\n", 1, err);
	}
	if (rc == CG_OK)
		rc = cg_buf_addstr(b, "-----END CERTIFICATE-----\n", err);
	cg_free(b64);
	return rc;
}

/*
 * §7.4.2: the leaf, then the issuers a client needs: every certificate
 * of the CA's chain but a self-signed root, unless the root issued the
 * leaf itself.  The chain's part is made once per CA and kept.
 */
static enum cg_code
chain_pem(struct acme_call *call, const struct ca_cert_rec *rec,
    struct cg_buf *b, struct cg_err *err)
{
	enum cg_code	 rc;

	rc = acme_chain_pem_get(call->as, gw_req_ca(call->req), err);
	if (rc == CG_OK)
		rc = pem_add_der(b, rec->der, rec->der_len, err);
	if (rc == CG_OK)
		rc = cg_buf_add(b, call->as->chain_pem, call->as->chain_pem_len,
		    err);
	return rc;
}

enum cg_code
acme_op_cert(struct acme_call *call, struct cg_err *err)
{
	struct ca_acme_order	*o = NULL;
	struct ca_cert_rec	*rec = NULL;
	struct cg_buf		 b;
	enum cg_code		 rc;

	cg_buf_init(&b, CA_CERT_PEM_MAX);
	rc = acme_order_load(call, &o, err);
	if (rc == CG_OK && strcmp(o->status, "valid") != 0)
		rc = cg_err_set(err, CG_ENOTFOUND, "no certificate yet");
	if (rc == CG_OK)
		rc = ca_store_cert_get(gw_req_store(call->req), o->cert_serial,
		    &rec, err);
	if (rc == CG_OK)
		rc = chain_pem(call, rec, &b, err);
	if (rc == CG_OK)
		acme_reply_body(call, 200, ACME_CT_PEM_CHAIN, b.data, b.len);
	cg_buf_cleanup(&b);
	ca_cert_rec_free(rec);
	ca_acme_order_free(o);
	return rc;
}
