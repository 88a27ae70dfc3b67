/*
 * ca_enroll.c - enrollment with manual approval (the "holding tank"): a
 * request under a manual profile is stored as pending and answered from
 * its row when asked again; an admin approves (issuing through ca_issue,
 * in the same transaction as the decision) or rejects it.  Also the
 * renewal check that a CSR repeats the subject and SANs of the certificate
 * it replaces.  Protocol framing (EST 202 + Retry-After) is not done here.
 */
#include "certgw/ca.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "certgw/store.h"
#include "ca_int.h"

#define SHA256_HEX		64	/* hex digits of a CSR hash */
#define PENDING_TARGET_MAX	32	/* "pending:<int64>" */
#define SAN_SHOW_MAX		64	/* chars of a SAN shown in a message */
#define SAN_DIFF_MAX		512	/* text listing differing SANs */

/* What an approval writes in the issuance transaction. */
struct approve_arg {
	int64_t		 id;		/* pending row */
	const char	*actor;		/* the admin */
};

/* ------------------------------------------------------------- helpers */

/* Hand a recovered-from error to the caller's err (first set wins). */
static void
err_pass(struct cg_err *err, const struct cg_err *from)
{
	if (err != NULL && err->code == CG_OK)
		*err = *from;
}

static void
pending_target(int64_t id, char *out, size_t outlen)
{
	snprintf(out, outlen, "pending:%lld", (long long)id);
}

static enum cg_code
req_check(struct ca *ca, struct ca_store *st, const struct ca_issue_req *req,
    struct cg_err *err)
{
	if (ca == NULL || st == NULL || req == NULL || req->csr == NULL ||
	    req->profile == NULL || req->profile->name == NULL ||
	    req->protocol == NULL || req->requester == NULL)
		return cg_err_set(err, CG_EINVAL,
		    "incomplete enrollment request");
	if (strnlen(req->protocol, CA_REQUESTER_MAX + 1) > CA_REQUESTER_MAX ||
	    strnlen(req->requester, CA_REQUESTER_MAX + 1) > CA_REQUESTER_MAX)
		return cg_err_set(err, CG_EINVAL, "requester and protocol must "
		    "be at most %d characters", CA_REQUESTER_MAX);
	return CG_OK;
}

/*
 * A copy of the CSR's DER as received (cg_malloc) and its SHA-256 in
 * lower-case hex.
 */
static enum cg_code
csr_der_hash(const struct ca_csr *csr, uint8_t **derp, size_t *lenp,
    char sha[SHA256_HEX + 1], struct cg_err *err)
{
	unsigned char	 dig[EVP_MAX_MD_SIZE];
	unsigned int	 dlen = 0;
	uint8_t		*der = NULL;
	enum cg_code	 rc;
	size_t		 n = csr->der_len;

	*derp = NULL;
	if (csr->der == NULL || n == 0 || n > CA_CSR_MAX)
		return cg_err_set(err, CG_EINVAL, "no CSR bytes");
	der = cg_malloc(n);
	if (der == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	memcpy(der, csr->der, n);
	if (EVP_Digest(der, n, dig, &dlen, EVP_sha256(), NULL) != 1 ||
	    dlen * 2 != SHA256_HEX) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot hash the CSR");
		goto out;
	}
	cg_hex_encode(dig, dlen, sha, false);
	*derp = der;
	*lenp = n;
	der = NULL;
	rc = CG_OK;
out:
	cg_free(der);
	return rc;
}

/* ------------------------------------------------------------ pending */

/* A refusal is audited like ca_issue() audits its own; it returns nothing. */
static void
audit_refusal(struct ca_store *st, const struct ca_issue_req *req,
    const struct cg_err *why, struct cg_err *err)
{
	struct cg_err	 aerr = { 0 };
	char		*detail;

	detail = cg_asprintf("profile=%s protocol=%s reason=%s",
	    req->profile->name, req->protocol, why->msg);
	if (detail == NULL)
		cg_err_set(&aerr, CG_ENOMEM, "out of memory");
	else
		ca_store_audit_add(st, req->requester, "request", "",
		    "refused", detail, &aerr);
	if (aerr.code != CG_OK) {
		cg_err_detail(err, "refusal not audited: %s", aerr.msg);
		cg_log_err_struct(__func__, "audit of a refused request",
		    &aerr);
	}
	cg_free(detail);
}

/* Add the row and its "request" audit row; the caller holds the write. */
static enum cg_code
pending_new(struct ca_store *st, const struct ca_issue_req *req,
    struct ca_pending_rec *r, int64_t *idp, struct cg_err *err)
{
	GENERAL_NAMES	*gens = NULL;
	char		 target[PENDING_TARGET_MAX];
	char		*detail = NULL;
	enum cg_code	 rc;

	rc = ca_name_rfc2253(X509_REQ_get_subject_name(req->csr->req),
	    &r->subject, err);
	if (rc == CG_OK)
		rc = ca_csr_get1_sans(req->csr, &gens, err);
	if (rc == CG_OK)
		rc = ca_sans_text(gens, &r->sans, err);
	if (rc == CG_OK)
		rc = ca_store_pending_add(st, r, idp, err);
	if (rc != CG_OK)
		goto out;
	pending_target(*idp, target, sizeof(target));
	detail = cg_asprintf("profile=%s protocol=%s subject=%s",
	    req->profile->name, req->protocol, r->subject);
	if (detail == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	rc = ca_store_audit_add(st, req->requester, "request", target,
	    "pending", detail, err);
out:
	cg_free(detail);
	GENERAL_NAMES_free(gens);
	return rc;
}

/*
 * Find the newest row for this request or add one, in one write
 * transaction, so two identical requests arriving together make one row.
 */
static enum cg_code
pending_settle(struct ca_store *st, const struct ca_issue_req *req,
    struct ca_pending_rec **recp, bool *fresh, struct cg_err *err)
{
	struct ca_pending_rec	 r;
	struct cg_err		 ferr = { 0 };
	char			 sha[SHA256_HEX + 1];
	int64_t			 id = 0;
	enum cg_code		 rc;

	*recp = NULL;
	*fresh = false;
	memset(&r, 0, sizeof(r));
	rc = csr_der_hash(req->csr, &r.csr_der, &r.csr_len, sha, err);
	if (rc == CG_OK)
		rc = ca_store_begin(st, err);
	if (rc != CG_OK)
		goto out;
	rc = ca_store_pending_find(st, req->protocol, req->profile->name, sha,
	    recp, &ferr);
	if (rc == CG_ENOTFOUND) {
		r.protocol = (char *)req->protocol;
		r.profile = req->profile->name;
		r.requester = (char *)req->requester;
		r.csr_sha256 = sha;
		rc = pending_new(st, req, &r, &id, err);
		if (rc == CG_OK)
			rc = ca_store_pending_get(st, id, recp, err);
		*fresh = rc == CG_OK;
	} else if (rc != CG_OK)
		err_pass(err, &ferr);
	if (rc == CG_OK)
		rc = ca_store_commit(st, err);
	else
		ca_store_rollback(st);
out:
	if (rc != CG_OK) {
		ca_pending_rec_free(*recp);
		*recp = NULL;
		*fresh = false;
	}
	cg_free(r.csr_der);
	cg_free(r.subject);
	cg_free(r.sans);
	return rc;
}

/* The certificate an approval issued, as ca_issue() would have returned it. */
static enum cg_code
issued_load(struct ca_store *st, const char *serial, struct ca_issued **outp,
    struct cg_err *err)
{
	struct ca_cert_rec	*cr = NULL;
	struct ca_issued	*is = NULL;
	const unsigned char	*p;
	enum cg_code		 rc;

	*outp = NULL;
	rc = ca_store_cert_get(st, serial, &cr, err);
	if (rc != CG_OK)
		goto out;
	if (strlen(cr->serial) >= CA_SERIAL_HEX_MAX ||
	    strlen(cr->sha256) != SHA256_HEX) {
		rc = cg_err_set(err, CG_EIO, "store: approved certificate "
		    "record is malformed");
		goto out;
	}
	is = cg_calloc(1, sizeof(*is));
	if (is == NULL) {
		rc = cg_err_set(err, CG_ENOMEM, "out of memory");
		goto out;
	}
	p = cr->der;
	is->cert = d2i_X509(NULL, &p, (long)cr->der_len);
	if (is->cert == NULL || p != cr->der + cr->der_len) {
		rc = cg_err_crypto(err, CG_EIO, "store: approved certificate "
		    "does not parse");
		goto out;
	}
	is->der = cr->der;
	is->der_len = cr->der_len;
	cr->der = NULL;
	memcpy(is->serial, cr->serial, strlen(cr->serial) + 1);
	memcpy(is->sha256, cr->sha256, SHA256_HEX + 1);
	*outp = is;
	is = NULL;
	rc = CG_OK;
out:
	ca_issued_free(is);
	ca_cert_rec_free(cr);
	return rc;
}

/* Policy first: a request the profile refuses is never held. */
static enum cg_code
enroll_policy(struct ca_store *st, const struct ca_issue_req *req,
    struct cg_err *err)
{
	struct cg_err	 perr = { 0 };
	enum cg_code	 rc;

	rc = ca_policy_check(req->profile, req->csr, &perr);
	if (rc == CG_OK)
		return CG_OK;
	err_pass(err, &perr);
	if (rc == CG_EDENIED)
		audit_refusal(st, req, &perr, err);
	return rc;
}

static void
log_pending(const struct ca_issue_req *req, int64_t id)
{
	char	 who[2 * CA_REQUESTER_MAX + 8], proto[2 * CA_REQUESTER_MAX + 8];
	char	 prof[128];

	cg_log_info("event=pending id=%lld profile=%s protocol=%s "
	    "requester=%s", (long long)id,
	    cg_logfmt_quote(req->profile->name, prof, sizeof(prof)),
	    cg_logfmt_quote(req->protocol, proto, sizeof(proto)),
	    cg_logfmt_quote(req->requester, who, sizeof(who)));
}

enum cg_code
ca_enroll(struct ca *ca, struct ca_store *st, const struct ca_issue_req *req,
    struct ca_enroll_result *res, struct cg_err *err)
{
	struct ca_pending_rec	*rec = NULL;
	bool			 fresh = false;
	enum cg_code		 rc;

	memset(res, 0, sizeof(*res));
	rc = req_check(ca, st, req, err);
	if (rc != CG_OK)
		return rc;
	if (!req->profile->manual_approval) {
		rc = ca_issue(ca, st, req, &res->issued, err);
		res->state = CA_ENROLL_ISSUED;
		goto out;
	}
	rc = enroll_policy(st, req, err);
	if (rc == CG_OK)
		rc = pending_settle(st, req, &rec, &fresh, err);
	if (rc != CG_OK)
		goto out;
	res->pending_id = rec->id;
	if (fresh)
		log_pending(req, rec->id);
	switch (rec->status) {
	case CA_PENDING_APPROVED:
		rc = issued_load(st, rec->cert_serial, &res->issued, err);
		res->state = CA_ENROLL_ISSUED;
		break;
	case CA_PENDING_REJECTED:
		res->state = CA_ENROLL_REJECTED;
		break;
	default:
		res->state = CA_ENROLL_PENDING;
		break;
	}
out:
	ca_pending_rec_free(rec);
	if (rc != CG_OK)
		ca_enroll_result_cleanup(res);
	return rc;
}

void
ca_enroll_result_cleanup(struct ca_enroll_result *res)
{
	if (res == NULL)
		return;
	ca_issued_free(res->issued);
	memset(res, 0, sizeof(*res));
}

/* ----------------------------------------------------------- decisions */

/* Runs inside the issuance transaction: decision and audit, or nothing. */
static enum cg_code
approve_hook(void *arg, struct ca_store *st, const struct ca_cert_rec *rec,
    struct cg_err *err)
{
	const struct approve_arg	*a = arg;
	char				 target[PENDING_TARGET_MAX];
	char				*detail;
	enum cg_code			 rc;

	rc = ca_store_pending_decide(st, a->id, CA_PENDING_APPROVED, a->actor,
	    rec->serial, err);
	if (rc != CG_OK)
		return rc;
	pending_target(a->id, target, sizeof(target));
	detail = cg_asprintf("serial=%s profile=%s protocol=%s requester=%s",
	    rec->serial, rec->profile, rec->protocol, rec->requester);
	if (detail == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_store_audit_add(st, a->actor, "approve", target, "ok", detail,
	    err);
	cg_free(detail);
	return rc;
}

static enum cg_code
decision_check(struct ca_store *st, const char *actor, struct cg_err *err)
{
	if (st == NULL || actor == NULL || *actor == '\0')
		return cg_err_set(err, CG_EINVAL,
		    "a decision needs a store and an actor");
	if (strnlen(actor, CA_REQUESTER_MAX + 1) > CA_REQUESTER_MAX)
		return cg_err_set(err, CG_EINVAL, "actor must be at most %d "
		    "characters", CA_REQUESTER_MAX);
	return CG_OK;
}

/* The row, which must still be waiting and belong to profile. */
static enum cg_code
approve_row(struct ca_store *st, int64_t id, const struct ca_profile *profile,
    struct ca_pending_rec **recp, struct cg_err *err)
{
	enum cg_code	 rc;

	rc = ca_store_pending_get(st, id, recp, err);
	if (rc != CG_OK)
		return rc;
	if ((*recp)->status != CA_PENDING_WAITING)
		return cg_err_set(err, CG_ECONFLICT, "pending request %lld is "
		    "already %s", (long long)id,
		    (*recp)->status == CA_PENDING_APPROVED ? "approved" :
		    "rejected");
	if (strcmp((*recp)->profile, profile->name) != 0)
		return cg_err_set(err, CG_EINVAL, "pending request %lld is "
		    "for profile '%s', not '%s'", (long long)id,
		    (*recp)->profile, profile->name);
	return CG_OK;
}

enum cg_code
ca_pending_approve(struct ca *ca, struct ca_store *st, int64_t id,
    const struct ca_profile *profile, const char *actor,
    char serial[CA_SERIAL_HEX_MAX], struct cg_err *err)
{
	struct ca_pending_rec	*rec = NULL;
	struct ca_issued	*is = NULL;
	struct ca_csr		*csr = NULL;
	struct ca_issue_req	 req;
	struct approve_arg	 a = { id, actor };
	enum cg_code		 rc;

	serial[0] = '\0';
	rc = decision_check(st, actor, err);
	if (rc == CG_OK && (ca == NULL || profile == NULL ||
	    profile->name == NULL))
		rc = cg_err_set(err, CG_EINVAL, "approval needs a CA and "
		    "a profile");
	if (rc == CG_OK)
		rc = approve_row(st, id, profile, &rec, err);
	if (rc == CG_OK)
		rc = ca_csr_parse(rec->csr_der, rec->csr_len, &csr, err);
	if (rc != CG_OK)
		goto out;
	/* Recorded as the original request: its protocol and requester. */
	req.csr = csr;
	req.profile = profile;
	req.protocol = rec->protocol;
	req.requester = rec->requester;
	rc = ca_issue_hooked(ca, st, &req, approve_hook, &a, &is, err);
	if (rc != CG_OK)
		goto out;
	memcpy(serial, is->serial, sizeof(is->serial));
	cg_log_info("event=approve id=%lld serial=%s", (long long)id,
	    is->serial);
	rc = CG_OK;
out:
	ca_issued_free(is);
	ca_csr_free(csr);
	ca_pending_rec_free(rec);
	return rc;
}

enum cg_code
ca_pending_reject(struct ca_store *st, int64_t id, const char *actor,
    struct cg_err *err)
{
	char		 target[PENDING_TARGET_MAX];
	enum cg_code	 rc;

	rc = decision_check(st, actor, err);
	if (rc == CG_OK)
		rc = ca_store_begin(st, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_store_pending_decide(st, id, CA_PENDING_REJECTED, actor, NULL,
	    err);
	pending_target(id, target, sizeof(target));
	if (rc == CG_OK)
		rc = ca_store_audit_add(st, actor, "reject", target, "ok", "",
		    err);
	if (rc == CG_OK)
		rc = ca_store_commit(st, err);
	else
		ca_store_rollback(st);
	if (rc == CG_OK)
		cg_log_info("event=reject id=%lld", (long long)id);
	return rc;
}

/* ------------------------------------------------------------ renewal */

static bool
dns_equal(const ASN1_STRING *x, const ASN1_STRING *y)
{
	const unsigned char	*a = ASN1_STRING_get0_data(x);
	const unsigned char	*b = ASN1_STRING_get0_data(y);
	int			 i, n = ASN1_STRING_length(x);
	unsigned char		 ca, cb;

	if (n != ASN1_STRING_length(y))
		return false;
	/* RFC 4343: DNS names compare case-insensitively, in ASCII. */
	for (i = 0; i < n; i++) {
		ca = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i];
		cb = b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i];
		if (ca != cb)
			return false;
	}
	return true;
}

static bool
san_in(const GENERAL_NAME *gn, const GENERAL_NAMES *set)
{
	const GENERAL_NAME	*o;
	int			 i;

	for (i = 0; set != NULL && i < sk_GENERAL_NAME_num(set); i++) {
		o = sk_GENERAL_NAME_value(set, i);
		if (o->type != gn->type)
			continue;
		/* GENERAL_NAME_cmp() only reads, but is not const. */
		if (gn->type == GEN_DNS ? dns_equal(gn->d.dNSName,
		    o->d.dNSName) : GENERAL_NAME_cmp((GENERAL_NAME *)gn,
		    (GENERAL_NAME *)o) == 0)
			return true;
	}
	return false;
}

/*
 * One SAN for a message that may reach the client: type and value, with
 * anything but printable ASCII replaced and long values cut.
 */
static enum cg_code
san_show(const GENERAL_NAME *gn, struct cg_buf *b, struct cg_err *err)
{
	const ASN1_STRING	*v;
	const unsigned char	*d;
	char			 ip[INET6_ADDRSTRLEN], val[SAN_SHOW_MAX + 4];
	int			 i, n;

	if (gn->type == GEN_IPADD) {
		v = gn->d.iPAddress;
		n = ASN1_STRING_length(v);
		if ((n != 4 && n != 16) || inet_ntop(n == 4 ? AF_INET :
		    AF_INET6, ASN1_STRING_get0_data(v), ip, sizeof(ip)) == NULL)
			snprintf(ip, sizeof(ip), "?");
		return cg_buf_printf(b, err, "IP:%s", ip);
	}
	if (gn->type != GEN_DNS && gn->type != GEN_EMAIL &&
	    gn->type != GEN_URI)
		return cg_buf_printf(b, err, "a SAN of type %d", gn->type);
	v = gn->d.ia5;
	d = ASN1_STRING_get0_data(v);
	n = ASN1_STRING_length(v);
	for (i = 0; i < n && i < SAN_SHOW_MAX; i++)
		val[i] = d[i] > 0x20 && d[i] < 0x7f ? (char)d[i] : '?';
	val[i] = '\0';
	if (n > SAN_SHOW_MAX)
		memcpy(val + i, "...", 4);
	return cg_buf_printf(b, err, "%s:%s", gn->type == GEN_DNS ? "DNS" :
	    gn->type == GEN_EMAIL ? "email" : "URI", val);
}

/* Append "<word> X, Y" for each name of from that is not in other. */
static enum cg_code
san_missing(const GENERAL_NAMES *from, const GENERAL_NAMES *other,
    const char *word, struct cg_buf *b, struct cg_err *err)
{
	const GENERAL_NAME	*gn;
	enum cg_code		 rc = CG_OK;
	bool			 first = true;
	int			 i;

	for (i = 0; rc == CG_OK && from != NULL &&
	    i < sk_GENERAL_NAME_num(from); i++) {
		gn = sk_GENERAL_NAME_value(from, i);
		if (san_in(gn, other))
			continue;
		if (first)
			rc = cg_buf_printf(b, err, "%s%s ", b->len > 0 ?
			    "; " : "", word);
		else
			rc = cg_buf_addstr(b, ", ", err);
		if (rc == CG_OK)
			rc = san_show(gn, b, err);
		first = false;
	}
	return rc;
}

static enum cg_code
cert_get1_sans(X509 *cert, GENERAL_NAMES **gensp, struct cg_err *err)
{
	int	 crit = 0;

	*gensp = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	if (*gensp == NULL && crit != -1)
		return cg_err_crypto(err, CG_EINVAL, "the certificate being "
		    "renewed has a malformed or repeated subjectAltName");
	return CG_OK;
}

enum cg_code
ca_csr_matches_cert(const struct ca_csr *csr, X509 *cert, struct cg_err *err)
{
	GENERAL_NAMES	*want = NULL, *got = NULL;
	struct cg_buf	 b;
	struct cg_err	 berr = { 0 };
	enum cg_code	 rc;

	cg_buf_init(&b, SAN_DIFF_MAX);
	if (csr == NULL || cert == NULL)
		return cg_err_set(err, CG_EINVAL, "nothing to compare");
	if (X509_NAME_cmp(X509_REQ_get_subject_name(csr->req),
	    X509_get_subject_name(cert)) != 0)
		return cg_err_set(err, CG_EDENIED, "subject differs from the "
		    "certificate being renewed");
	rc = ca_csr_get1_sans(csr, &got, err);
	if (rc == CG_OK)
		rc = cert_get1_sans(cert, &want, err);
	if (rc != CG_OK)
		goto out;
	/* The text is best effort: a long list is cut at SAN_DIFF_MAX. */
	if (san_missing(got, want, "the request adds", &b, &berr) == CG_OK)
		(void)san_missing(want, got, "the request drops", &b, &berr);
	if (b.len > 0 || berr.code == CG_ETOOBIG)
		rc = cg_err_set(err, CG_EDENIED, "SANs differ: %s%s",
		    b.data != NULL ? (const char *)b.data : "",
		    berr.code == CG_ETOOBIG ? " ..." : "");
	else if (berr.code != CG_OK)
		rc = cg_err_set(err, berr.code, "out of memory");
out:
	cg_buf_cleanup(&b);
	GENERAL_NAMES_free(want);
	GENERAL_NAMES_free(got);
	return rc;
}
