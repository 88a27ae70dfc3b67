/*
 * scep_op.c - PKIOperation (RFC 8894 §3.3): PKCSReq and RenewalReq with a
 * challenge password (static or one-time) or signed by a certificate this
 * CA issued (renewal), CertPoll for requests waiting on an administrator,
 * GetCert and GetCRL.  Every answer to a message we could read is a signed
 * CertRep; transactions make a repeated request get the same answer and a
 * reused transactionID with another request a FAILURE.
 */
#include "scep_int.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#define SCEP_REQUESTER_MAX	256

/* What the CertRep will say. */
struct answer {
	enum scep_status	 status;
	enum scep_fail		 fail;
	X509			*cert;		/* SUCCESS: owned */
	X509_CRL		*crl;		/* GetCRL SUCCESS: owned */
};

static void
answer_cleanup(struct answer *a)
{
	X509_free(a->cert);
	X509_CRL_free(a->crl);
}

static void
fail_with(struct answer *a, enum scep_fail f, const char *why,
    const struct scep_call *call, const char *tid)
{
	char	 q[256], t[SCEP_TID_MAX + 8];

	a->status = SCEP_ST_FAILURE;
	a->fail = f;
	cg_log_info("event=scep_failure service=%s peer=%s tid=%s fail=%s "
	    "why=%s", call->svc->name, gw_req_peer(call->req),
	    cg_logfmt_quote(tid, t, sizeof(t)), scep_fail_name(f),
	    cg_logfmt_quote(why, q, sizeof(q)));
}

/* Sign and send the CertRep. */
static void
reply(struct scep_call *call, const struct scep_req_hdr *hdr, X509 *signer,
    int cipher_nid, const struct answer *a)
{
	struct scep_rep	 rep;
	X509		*certs[1];
	uint8_t		*der = NULL;
	size_t		 len = 0;
	struct cg_err	 err = { 0 };

	memset(&rep, 0, sizeof(rep));
	rep.status = a->status;
	rep.fail = a->fail;
	rep.transaction_id = hdr->transaction_id;
	rep.recipient_nonce = hdr->sender_nonce;
	rep.recipient = signer;
	/* The client's cipher, but never weaker than DES3 (RFC 8894 §3.5.2:
	   AES when it can, DES3 when it offers nothing better). */
	rep.cipher_nid = cipher_nid == NID_des_cbc ? NID_des_ede3_cbc :
	    cipher_nid;
	rep.md_nid = hdr->md_nid;
	if (a->cert != NULL) {
		certs[0] = a->cert;
		rep.certs = certs;
		rep.ncerts = 1;
	}
	rep.crl = a->crl;
	if (scep_rep_make(&rep, &call->ss->id, &der, &len, &err) != CG_OK) {
		cg_log_err_struct(__func__, "CertRep", &err);
		scep_reply_text(call, 500, "internal error");
		return;
	}
	gw_req_reply(call->req, 200, SCEP_CT_PKI, der, len);
	cg_free(der);
}

/* ------------------------------------------------------------ helpers */

static X509 *
cert_load(struct scep_call *call, const char *serial)
{
	struct ca_cert_rec	*rec = NULL;
	const unsigned char	*p;
	X509			*x = NULL;

	if (ca_store_cert_get(gw_req_store(call->req), serial, &rec, NULL) ==
	    CG_OK) {
		p = rec->der;
		x = d2i_X509(NULL, &p, (long)rec->der_len);
	}
	ca_cert_rec_free(rec);
	return x;
}

static void
hex_of(const uint8_t *b, size_t n, char *out)
{
	cg_hex_encode(b, n, out, false);
}

/*
 * What makes a request "the same request" (RFC 8894 §3.2.1.1): what its
 * CSR asks for (the CertificationRequestInfo: key, subject, attributes,
 * not the signature, which an ECDSA client makes afresh) and the
 * certificate that signed the message.  Not the whole message: a client
 * resending after a lost reply must use a fresh senderNonce, so the bytes
 * differ.
 */
static bool
req_fingerprint(const struct scep_req *req, char out[2 * SCEP_SHA256_LEN + 1])
{
	uint8_t		 md[SCEP_SHA256_LEN];
	uint8_t		*tbs = NULL, *cert = NULL;
	int		 tbslen, certlen;
	EVP_MD_CTX	*ctx;
	bool		 ok;

	tbslen = i2d_re_X509_REQ_tbs(ca_csr_get0_req(req->csr), &tbs);
	certlen = i2d_X509(req->signer, &cert);
	ctx = EVP_MD_CTX_new();
	ok = tbslen > 0 && certlen > 0 && ctx != NULL &&
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, tbs, (size_t)tbslen) == 1 &&
	    EVP_DigestUpdate(ctx, cert, (size_t)certlen) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(tbs);
	OPENSSL_free(cert);
	if (ok)
		cg_hex_encode(md, sizeof(md), out, false);
	return ok;
}

/* Upper-case hex of a serial, as the store writes it. */
static bool
serial_hex(const ASN1_INTEGER *ai, char out[CA_SERIAL_HEX_MAX + 2])
{
	BIGNUM	*bn = ASN1_INTEGER_to_BN(ai, NULL);
	char	*h = bn != NULL ? BN_bn2hex(bn) : NULL;
	bool	 ok = h != NULL && strlen(h) <= CA_SERIAL_HEX_MAX + 1 &&
		    h[0] != '-';

	if (ok)
		memcpy(out, h, strlen(h) + 1);
	OPENSSL_free(h);
	BN_free(bn);
	return ok;
}

/*
 * Is the signer a valid, unrevoked certificate this CA issued under the
 * service's profile, for the same subject and SANs as the CSR (unless the
 * profile lets a renewal change them, as EST's re-enrollment does)?
 */
static bool
signer_is_ours(struct scep_call *call, const struct scep_req *req,
    char *serial)
{
	X509			*signer = req->signer;
	const struct ca_profile	*prof;
	struct ca_cert_rec	*rec = NULL;
	uint8_t			*der = NULL;
	int			 len;
	bool			 ok = false;

	if (!serial_hex(X509_get0_serialNumber(signer), serial) ||
	    X509_NAME_cmp(X509_get_issuer_name(signer), X509_get_subject_name(
	    ca_get0_cert(gw_req_ca(call->req)))) != 0 ||
	    ca_store_cert_get(gw_req_store(call->req), serial, &rec, NULL) !=
	    CG_OK)
		goto out;
	len = i2d_X509(signer, &der);
	ok = len > 0 && (size_t)len == rec->der_len &&
	    memcmp(der, rec->der, rec->der_len) == 0 &&
	    rec->status == CA_CERT_VALID && rec->not_after > call->now &&
	    rec->not_before <= call->now &&
	    strcmp(rec->profile, call->svc->profile) == 0;
	prof = gw_config_profile(call->conf, call->svc->profile);
	if (ok && (prof == NULL || (!prof->reenroll_allow_changes &&
	    ca_csr_matches_cert(req->csr, signer, NULL) != CG_OK)))
		ok = false;
out:
	OPENSSL_free(der);
	ca_cert_rec_free(rec);
	return ok;
}

static bool
subject_matches(const char *re, const struct ca_csr *csr)
{
	X509_NAME	*n = X509_REQ_get_subject_name(ca_csr_get0_req(csr));
	char		 text[CA_SUBJECT_MAX + 1];
	BIO		*bio;
	regex_t		 rx;
	int		 len;
	bool		 ok = false;

	if (re[0] == '\0')
		return true;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || X509_NAME_print_ex(bio, n, 0, XN_FLAG_RFC2253) < 0)
		goto out;
	len = BIO_read(bio, text, sizeof(text) - 1);
	if (len < 0)
		len = 0;
	text[len] = '\0';
	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
		goto out;
	ok = regexec(&rx, text, 0, NULL, 0) == 0;
	regfree(&rx);
out:
	BIO_free(bio);
	return ok;
}

/*
 * The challenge password: the service's static one (constant time), or a
 * one-time challenge from the store, spent now.  requester gets who this
 * was.  false with a reason on refusal.
 */
static bool
challenge_ok(struct scep_call *call, const struct scep_req *req,
    char *requester, size_t rlen, const char **why)
{
	const struct gw_scep_service *svc = call->svc;
	struct ca_scep_challenge *c = NULL;
	uint8_t		 md[SHA256_DIGEST_LENGTH];
	char		 hash[2 * SHA256_DIGEST_LENGTH + 1];
	char		*stat = NULL;
	struct ca_store	*st = gw_req_store(call->req);
	struct cg_err	 err = { 0 };
	bool		 ok = false;

	*why = "no challenge password";
	if (req->challenge == NULL || req->challenge_len == 0)
		return false;
	*why = "wrong challenge password";
	if ((svc->challenge_file != NULL || svc->challenge_env != NULL) &&
	    cg_secret_load(svc->challenge_file, svc->challenge_env, &stat,
	    &err) == CG_OK && strlen(stat) == req->challenge_len &&
	    CRYPTO_memcmp(stat, req->challenge, req->challenge_len) == 0) {
		snprintf(requester, rlen, "scep:%s:static", svc->name);
		ok = true;
	}
	cg_secret_free(stat);
	if (ok || !svc->dynamic)
		return ok;
	SHA256((const unsigned char *)req->challenge, req->challenge_len, md);
	hex_of(md, sizeof(md), hash);
	if (ca_store_begin(st, &err) != CG_OK)
		return false;
	cg_err_clear(&err);
	if (ca_store_scep_challenge_use(st, svc->name, hash, call->now,
	    req->hdr.transaction_id, &c, &err) != CG_OK) {
		ca_store_rollback(st);
		cg_log_info("event=scep_challenge_refused service=%s tid=%s "
		    "msg=\"%s\" %s", svc->name, req->hdr.transaction_id,
		    err.msg, err.detail);
		*why = "unknown, used or expired one-time challenge";
		return false;
	}
	if (!subject_matches(c->subject_regex, req->csr)) {
		/* The challenge stays unused for a request that fits it. */
		ca_store_rollback(st);
		*why = "subject not allowed by the one-time challenge";
	} else if (ca_store_commit(st, &err) == CG_OK) {
		snprintf(requester, rlen, "scep:%s:challenge:%lld", svc->name,
		    (long long)c->id);
		ok = true;
	}
	ca_scep_challenge_free(c);
	return ok;
}

/* ------------------------------------------------------ enrollment */

static enum scep_status
status_of_enroll(const struct ca_enroll_result *res)
{
	return res->state == CA_ENROLL_ISSUED ? SCEP_ST_SUCCESS :
	    res->state == CA_ENROLL_PENDING ? SCEP_ST_PENDING :
	    SCEP_ST_FAILURE;
}

/* The transaction row for req and its answer; hash is its fingerprint. */
static void
txn_fill(struct ca_scep_txn *t, const struct scep_call *call,
    const struct scep_req_hdr *hdr, const char *hash,
    enum scep_status status, enum scep_fail fail, const char *serial,
    int64_t pending_id, const char *requester)
{
	memset(t, 0, sizeof(*t));
	t->service = (char *)call->svc->name;
	t->transaction_id = (char *)hdr->transaction_id;
	t->request_sha256 = (char *)hash;
	t->message_type = hdr->type == SCEP_MT_RENEWALREQ ?
	    CA_SCEP_MSG_RENEWAL : CA_SCEP_MSG_PKCSREQ;
	t->status = (int)status;
	t->fail_info = status == SCEP_ST_FAILURE ? (int)fail : -1;
	t->cert_serial = (char *)(serial != NULL ? serial : "");
	t->pending_id = pending_id;
	t->requester = (char *)requester;
	t->created_at = call->now;
}

static void
txn_record(struct scep_call *call, const struct scep_req *req,
    const struct answer *a, const char *serial, int64_t pending_id,
    const char *requester)
{
	struct ca_scep_txn	 t;
	char			 hash[2 * SCEP_SHA256_LEN + 1];
	struct cg_err		 err = { 0 };

	if (!req_fingerprint(req, hash)) {
		cg_log_err("event=scep_txn_lost tid=%s msg=\"no fingerprint\"",
		    req->hdr.transaction_id);
		return;
	}
	txn_fill(&t, call, &req->hdr, hash, a->status, a->fail, serial,
	    pending_id, requester);
	if (ca_store_scep_txn_insert(gw_req_store(call->req), &t, &err) !=
	    CG_OK)
		cg_log_err_struct(__func__, "SCEP transaction not recorded",
		    &err);
}

/* A transaction seen before: the answer it got, brought up to date. */
static void
txn_answer(struct scep_call *call, struct ca_scep_txn *t, struct answer *a)
{
	struct ca_pending_rec	*p = NULL;
	const char		*serial = t->cert_serial;

	a->status = (enum scep_status)t->status;
	a->fail = t->fail_info >= 0 ? (enum scep_fail)t->fail_info :
	    SCEP_FAIL_BADREQUEST;
	if (t->status == CA_SCEP_STATUS_PENDING && t->pending_id != 0 &&
	    ca_store_pending_get(gw_req_store(call->req), t->pending_id, &p,
	    NULL) == CG_OK) {
		if (p->status == CA_PENDING_APPROVED) {
			a->status = SCEP_ST_SUCCESS;
			serial = p->cert_serial;
		} else if (p->status == CA_PENDING_REJECTED) {
			a->status = SCEP_ST_FAILURE;
			a->fail = SCEP_FAIL_BADREQUEST;
		}
		if (a->status != SCEP_ST_PENDING)
			ca_store_scep_txn_update(gw_req_store(call->req),
			    call->svc->name, t->transaction_id,
			    (int)a->status, a->status == SCEP_ST_FAILURE ?
			    (int)a->fail : -1, a->status == SCEP_ST_SUCCESS ?
			    serial : NULL, t->pending_id, call->now, NULL);
	}
	if (a->status == SCEP_ST_SUCCESS) {
		a->cert = cert_load(call, serial);
		if (a->cert == NULL) {
			a->status = SCEP_ST_FAILURE;
			a->fail = SCEP_FAIL_BADCERTID;
		}
	}
	ca_pending_rec_free(p);
}

/* After an issuance: the renewed certificate revoked if asked, a log line. */
static void
issued(struct scep_call *call, const char *tid, enum scep_status status,
    const char *serial, const char *requester, const char *old)
{
	struct cg_err	 err = { 0 };

	if (old != NULL && status == SCEP_ST_SUCCESS &&
	    call->svc->revoke_renewed &&
	    ca_revoke(gw_req_ca(call->req), gw_req_store(call->req), old,
	    CA_REASON_SUPERSEDED, requester, &err) != CG_OK)
		cg_log_err_struct(__func__, "renewed certificate not revoked",
		    &err);
	cg_log_info("event=scep_enroll service=%s tid=%s status=%d "
	    "requester=%s serial=%s", call->svc->name, tid, (int)status,
	    requester, serial != NULL ? serial : "-");
}

/*
 * An enrollment in the group commit: what the reply needs once the
 * certificate is durable, copied out of the request, which is gone by
 * then.  The transaction row is written in the certificate's own
 * transaction (staged_txn), so a resend finds one exactly when the
 * certificate exists.
 */
struct staged_enroll {
	struct scep_server		*ss;
	const struct gw_scep_service	*svc;	/* in the request's snapshot */
	struct scep_req_hdr		 hdr;	/* the request's */
	X509				*signer; /* reply recipient, owned */
	int				 cipher_nid;
	int64_t				 now;
	bool				 renewal;
	char				 hash[2 * SCEP_SHA256_LEN + 1];
	char				 requester[SCEP_REQUESTER_MAX];
	char				 old[CA_SERIAL_HEX_MAX + 2];
};

static enum cg_code
staged_txn(void *arg, struct ca_store *st, const struct ca_cert_rec *rec,
    struct cg_err *err)
{
	struct staged_enroll	*se = arg;
	struct scep_call	 call = { .svc = se->svc, .now = se->now };
	struct ca_scep_txn	 t;

	txn_fill(&t, &call, &se->hdr, se->hash, SCEP_ST_SUCCESS,
	    SCEP_FAIL_BADREQUEST, rec->serial, 0, se->requester);
	return ca_store_scep_txn_insert(st, &t, err);
}

static void
staged_done(struct gw_req *req, void *arg, struct ca_staged *staged)
{
	struct staged_enroll	*se = arg;
	struct scep_call	 call = { .req = req, .ss = se->ss,
				    .svc = se->svc, .now = se->now };
	struct ca_issued	*is = NULL;
	struct answer		 a;
	struct cg_err		 err = { 0 };
	const char		*tid = se->hdr.transaction_id;

	call.conf = gw_req_config(req);
	memset(&a, 0, sizeof(a));
	if (ca_staged_result(staged, &is, &err) != CG_OK) {
		/* Nothing was recorded, not even the transaction: a resend
		   is a new attempt. */
		fail_with(&a, SCEP_FAIL_BADREQUEST, err.msg, &call, tid);
	} else if ((a.cert = X509_dup(ca_issued_get0_cert(is))) == NULL) {
		fail_with(&a, SCEP_FAIL_BADREQUEST, "out of memory", &call,
		    tid);
	} else {
		a.status = SCEP_ST_SUCCESS;
		issued(&call, tid, a.status, is->serial, se->requester,
		    se->renewal ? se->old : NULL);
	}
	reply(&call, &se->hdr, se->signer, se->cipher_nid, &a);
	answer_cleanup(&a);
	ca_issued_free(is);
	X509_free(se->signer);
	cg_free(se);
}

/*
 * Without manual approval: sign now, record with others in one
 * transaction, answer from staged_done().  false when nothing was handed
 * over; a has the answer then.
 */
static bool
enroll_grouped(struct scep_call *call, const struct scep_req *req,
    const struct ca_issue_req *ir, bool renewal, const char *old,
    struct answer *a)
{
	struct staged_enroll	*se = NULL;
	struct ca_staged	*staged = NULL;
	struct cg_err		 err = { 0 };
	const char		*tid = req->hdr.transaction_id;

	if (ca_issue_stage(gw_req_ca(call->req), gw_req_store(call->req), ir,
	    &staged, &err) != CG_OK) {
		fail_with(a, SCEP_FAIL_BADREQUEST, err.msg, call, tid);
		txn_record(call, req, a, NULL, 0, ir->requester);
		return false;
	}
	if ((se = cg_calloc(1, sizeof(*se))) == NULL ||
	    !req_fingerprint(req, se->hash) || X509_up_ref(req->signer) != 1) {
		ca_staged_free(staged);
		cg_free(se);
		fail_with(a, SCEP_FAIL_BADREQUEST, "out of memory", call, tid);
		return false;
	}
	se->ss = call->ss;
	se->svc = call->svc;
	se->hdr = req->hdr;
	se->signer = req->signer;
	se->cipher_nid = req->cipher_nid;
	se->now = call->now;
	se->renewal = renewal;
	snprintf(se->requester, sizeof(se->requester), "%s", ir->requester);
	snprintf(se->old, sizeof(se->old), "%s", renewal ? old : "");
	ca_staged_set_hook(staged, staged_txn, se);
	gw_req_commit(call->req, staged, staged_done, se);
	return true;
}

/* false: a holds the answer; true: the group commit will answer. */
static bool
enroll(struct scep_call *call, const struct scep_req *req, struct answer *a)
{
	struct ca_enroll_result	 res = { 0 };
	struct ca_issue_req	 ir;
	const struct ca_profile	*prof;
	char			 requester[SCEP_REQUESTER_MAX];
	char			 old[CA_SERIAL_HEX_MAX + 2];
	const char		*why = NULL;
	struct cg_err		 err = { 0 };
	bool			 renewal;
	const char		*tid = req->hdr.transaction_id;

	/* §3.3.1.2: signed by a certificate we issued is a renewal. */
	renewal = call->svc->renewal && signer_is_ours(call, req, old);
	if (renewal)
		snprintf(requester, sizeof(requester), "scep:%s:renew:%s",
		    call->svc->name, old);
	else if (call->svc->renewal_only ||
	    !challenge_ok(call, req, requester, sizeof(requester), &why)) {
		fail_with(a, SCEP_FAIL_BADREQUEST, why != NULL ? why :
		    "renewals only", call, tid);
		return false;
	}
	prof = gw_config_profile(call->conf, call->svc->profile);
	memset(&ir, 0, sizeof(ir));
	ir.csr = req->csr;
	ir.profile = prof;
	ir.protocol = "scep";
	ir.requester = requester;
	if (prof != NULL && !prof->manual_approval)
		return enroll_grouped(call, req, &ir, renewal, old, a);
	if (prof == NULL || ca_enroll(gw_req_ca(call->req),
	    gw_req_store(call->req), &ir, &res, &err) != CG_OK) {
		fail_with(a, SCEP_FAIL_BADREQUEST, prof == NULL ? "no profile" :
		    err.msg, call, tid);
		txn_record(call, req, a, NULL, 0, requester);
		return false;
	}
	a->status = status_of_enroll(&res);
	a->fail = SCEP_FAIL_BADREQUEST;
	if (res.issued != NULL) {
		a->cert = X509_dup(ca_issued_get0_cert(res.issued));
		if (a->cert == NULL)
			fail_with(a, SCEP_FAIL_BADREQUEST, "out of memory",
			    call, tid);
	}
	txn_record(call, req, a, res.issued != NULL ? res.issued->serial :
	    NULL, res.pending_id, requester);
	issued(call, tid, a->status, res.issued != NULL ?
	    res.issued->serial : NULL, requester, renewal ? old : NULL);
	ca_enroll_result_cleanup(&res);
	return false;
}

static bool
op_enroll(struct scep_call *call, const struct scep_req *req,
    struct answer *a)
{
	struct ca_scep_txn	*t = NULL;
	char			 hash[2 * SCEP_SHA256_LEN + 1];
	char			 old[CA_SERIAL_HEX_MAX + 2];
	bool			 later = false;

	if (ca_store_scep_txn_get(gw_req_store(call->req), call->svc->name,
	    req->hdr.transaction_id, &t, NULL) != CG_OK)
		return enroll(call, req, a);
	if (!req_fingerprint(req, hash)) {
		fail_with(a, SCEP_FAIL_BADREQUEST, "out of memory", call,
		    req->hdr.transaction_id);
		ca_scep_txn_free(t);
		return false;
	}
	/* §3.2.1.1: the same request again gets the same answer. */
	if (strcmp(hash, t->request_sha256) == 0) {
		txn_answer(call, t, a);
	} else if (t->status != CA_SCEP_STATUS_PENDING &&
	    call->svc->renewal && signer_is_ours(call, req, old) &&
	    ca_store_scep_txn_forget(gw_req_store(call->req), call->svc->name,
	    req->hdr.transaction_id, NULL) == CG_OK) {
		/* A renewal under a settled transaction's ID starts a new
		   one: certmonger derives the ID from the key and reuses it
		   when it resubmits.  Anything else keeps the old answer. */
		later = enroll(call, req, a);
	} else {
		fail_with(a, SCEP_FAIL_BADREQUEST, "transactionID already "
		    "used for another request", call,
		    req->hdr.transaction_id);
	}
	ca_scep_txn_free(t);
	return later;
}

static void
op_poll(struct scep_call *call, const struct scep_req *req, struct answer *a)
{
	struct ca_scep_txn	*t = NULL;

	if (ca_store_scep_txn_get(gw_req_store(call->req), call->svc->name,
	    req->hdr.transaction_id, &t, NULL) != CG_OK) {
		fail_with(a, SCEP_FAIL_BADCERTID, "no such transaction", call,
		    req->hdr.transaction_id);
		return;
	}
	txn_answer(call, t, a);
	ca_scep_txn_free(t);
}

static bool
issuer_is_ours(struct scep_call *call, const X509_NAME *issuer)
{
	return issuer != NULL && X509_NAME_cmp(issuer, X509_get_subject_name(
	    ca_get0_cert(gw_req_ca(call->req)))) == 0;
}

static void
op_getcert(struct scep_call *call, const struct scep_req *req,
    struct answer *a)
{
	char	 serial[CA_SERIAL_HEX_MAX + 2];

	if (!issuer_is_ours(call, req->issuer) ||
	    !serial_hex(req->serial, serial) ||
	    (a->cert = cert_load(call, serial)) == NULL) {
		fail_with(a, SCEP_FAIL_BADCERTID, "no such certificate", call,
		    req->hdr.transaction_id);
		return;
	}
	a->status = SCEP_ST_SUCCESS;
}

static void
op_getcrl(struct scep_call *call, const struct scep_req *req,
    struct answer *a)
{
	uint8_t			*der = NULL;
	size_t			 len = 0;
	int64_t			 next;
	const unsigned char	*p;
	struct cg_err		 err = { 0 };

	if (!issuer_is_ours(call, req->issuer)) {
		fail_with(a, SCEP_FAIL_BADCERTID, "not a certificate of this "
		    "CA", call, req->hdr.transaction_id);
		return;
	}
	if (ca_crl_make(gw_req_ca(call->req), gw_req_store(call->req), &der,
	    &len, &next, &err) == CG_OK) {
		p = der;
		a->crl = d2i_X509_CRL(NULL, &p, (long)len);
	}
	cg_free(der);
	if (a->crl == NULL)
		fail_with(a, SCEP_FAIL_BADREQUEST, "no CRL", call,
		    req->hdr.transaction_id);
	else
		a->status = SCEP_ST_SUCCESS;
}

/* ------------------------------------------------------- PKIOperation */

/*
 * RFC 8894 §3.3.2.2 badTime: a signingTime, when the client sent one, not
 * further from our clock than the service allows.  A message captured and
 * sent again much later is refused even with a fresh transaction.
 */
static bool
time_ok(const struct scep_call *call, const struct scep_req *req)
{
	int64_t	 skew = (int64_t)call->svc->max_clock_skew_s;
	int64_t	 d = req->signing_time - call->now;

	return skew == 0 || req->signing_time == 0 || (d <= skew &&
	    d >= -skew);
}

/*
 * The operation a readable, signature-checked message asks for.  true
 * when the answer comes later (group commit); a holds it otherwise.
 */
static bool
dispatch(struct scep_call *call, const struct scep_req *req, struct answer *a)
{
	switch (req->hdr.type) {
	case SCEP_MT_PKCSREQ:
	case SCEP_MT_RENEWALREQ:
		return op_enroll(call, req, a);
	case SCEP_MT_CERTPOLL:
		op_poll(call, req, a);
		break;
	case SCEP_MT_GETCERT:
		op_getcert(call, req, a);
		break;
	case SCEP_MT_GETCRL:
		op_getcrl(call, req, a);
		break;
	default:
		fail_with(a, SCEP_FAIL_BADREQUEST, "unsupported message type",
		    call, req->hdr.transaction_id);
		break;
	}
	return false;
}

void
scep_op_pki(struct scep_call *call, const uint8_t *der, size_t len)
{
	struct scep_req		*req = NULL;
	struct scep_req_hdr	 hdr;
	struct answer		 a;
	enum scep_fail		 fail = SCEP_FAIL_BADREQUEST;
	struct cg_err		 err = { 0 };

	memset(&hdr, 0, sizeof(hdr));
	memset(&a, 0, sizeof(a));
	if (scep_req_parse_ex(der, len, &call->ss->id, call->svc->legacy_des ?
	    SCEP_PARSE_LEGACY_DES : 0, &req, &hdr, &fail, &err) != CG_OK) {
		if (!hdr.ok) {
			scep_reply_text(call, err.code == CG_ETOOBIG ? 413 :
			    400, err.msg[0] != '\0' ? err.msg :
			    "not a SCEP PKIMessage");
			return;
		}
		/* Readable enough to answer: a signed FAILURE. */
		fail_with(&a, fail, err.msg, call, hdr.transaction_id);
		reply(call, &hdr, NULL, 0, &a);
		return;
	}
	if (!time_ok(call, req))
		fail_with(&a, SCEP_FAIL_BADTIME, "signingTime too far from "
		    "now", call, req->hdr.transaction_id);
	else if (dispatch(call, req, &a))
		goto out;		/* staged_done() answers */
	reply(call, &req->hdr, req->signer, req->cipher_nid, &a);
out:
	answer_cleanup(&a);
	scep_req_free(req);
}
