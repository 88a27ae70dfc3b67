/*
 * gw_auth.c - what a presented client certificate is worth: the chain
 * against the client trust (the listener's client CA file plus the CAs an
 * admin trusted with `certgw trust add`, or a route's own CA file), the
 * dates, the key usage, revocation (this gateway's store for what it
 * issued, the configured CRLs for external CAs) and self-signed
 * certificates pinned to one identity.  The verdict is one of the four
 * refusal reasons or OK; gw_req.c applies it per route.
 *
 * The TLS handshake lets every certificate through (gw_tls.c records its
 * own verdict only for the log); the decision is made here, per request,
 * because the trust changes while the server runs.
 */
#include "gw_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#define GW_CRL_FILE_MAX		(16 * 1024 * 1024)	/* client_crl bytes */
#define GW_CRLS_MAX		256	/* CRLs in client_crl */
#define GW_TRUST_FILES_MAX	16	/* distinct route CA files cached */

/* The listener's client trust and CRLs, per loop thread. */
struct gw_auth_thr {
	X509_STORE	*xs;		/* CA file + trust anchors */
	struct timespec	 ca_mtime;	/* of the CA file when built */
	int64_t		 rev;		/* identity revision when built */
	STACK_OF(X509_CRL) *crls;	/* client_crl, or NULL */
	struct timespec	 crl_mtime;	/* of client_crl when read */
	bool		 crl_tried;	/* read (or failed) once */
};

/* A route's own client CA file, shared by the loop threads. */
struct trust_file_ent {
	char		*path;
	struct timespec	 mtime;
	X509_STORE	*xs;		/* one reference held here */
};

static pthread_mutex_t	 files_mu = PTHREAD_MUTEX_INITIALIZER;
static struct trust_file_ent files[GW_TRUST_FILES_MAX]; /* guarded */

static const char *const verdict_codes[] = {
	[GW_CV_NONE] = "client_cert_required",
	[GW_CV_OK] = "ok",
	[GW_CV_REVOKED] = "client_cert_revoked",
	[GW_CV_UNTRUSTED] = "client_cert_untrusted",
	[GW_CV_EXPIRED] = "client_cert_expired",
};

const char *
gw_cert_verdict_code(enum gw_cert_verdict v)
{
	if ((size_t)v >= sizeof(verdict_codes) / sizeof(verdict_codes[0]))
		return "client_cert_untrusted";
	return verdict_codes[v];
}

static bool
mtime_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* ------------------------------------------------------- trust stores */

static void
thr_trust_drop(struct gw_auth_thr *a)
{
	X509_STORE_free(a->xs);
	a->xs = NULL;
}

/*
 * The listener trust for this thread, rebuilt when the CA file or the
 * identity revision (trust anchors are part of it) moved.
 */
static X509_STORE *
thr_trust(struct gw_thread *th, const struct gw_config *conf,
    struct cg_err *err)
{
	struct gw_auth_thr	*a = th->auth;
	const char		*file = gw_config_client_ca_file(conf);
	struct stat		 sb;
	int64_t			 rev = 0;
	X509_STORE		*xs;

	if (file == NULL || stat(file, &sb) != 0) {
		cg_err_set(err, CG_EIO, "cannot read the client CA file");
		return NULL;
	}
	if (ca_store_ident_revision(th->store, &rev, err) != CG_OK)
		return NULL;
	if (a->xs != NULL && a->rev == rev && mtime_eq(&a->ca_mtime,
	    &sb.st_mtim))
		return a->xs;
	thr_trust_drop(a);
	/* The same trust `certgw user import-cert` checks against. */
	if (ca_client_trust_store(file, th->store, &xs, err) != CG_OK)
		return NULL;
	a->xs = xs;
	a->rev = rev;
	a->ca_mtime = sb.st_mtim;
	return xs;
}

/* A route's CA file, built once per file version; a reference to free. */
static X509_STORE *
file_trust(const char *path)
{
	struct stat	 sb;
	X509_STORE	*xs = NULL;
	size_t		 i, slot = GW_TRUST_FILES_MAX;
	bool		 built = false;

	if (stat(path, &sb) != 0)
		return NULL;
	pthread_mutex_lock(&files_mu);
	for (i = 0; i < GW_TRUST_FILES_MAX; i++) {
		if (files[i].path == NULL) {
			slot = slot == GW_TRUST_FILES_MAX ? i : slot;
			continue;
		}
		if (strcmp(files[i].path, path) != 0)
			continue;
		if (mtime_eq(&files[i].mtime, &sb.st_mtim) &&
		    X509_STORE_up_ref(files[i].xs) == 1)
			xs = files[i].xs;
		slot = i;		/* stale: rebuild in place */
		break;
	}
	if (xs == NULL && (xs = X509_STORE_new()) != NULL) {
		if (X509_STORE_load_file(xs, path) != 1) {
			X509_STORE_free(xs);
			xs = NULL;
		}
		built = xs != NULL;
	}
	if (built && slot < GW_TRUST_FILES_MAX &&
	    X509_STORE_up_ref(xs) == 1) {
		X509_STORE_free(files[slot].xs);
		if (files[slot].path == NULL)
			files[slot].path = cg_strdup(path);
		files[slot].xs = files[slot].path != NULL ? xs : NULL;
		files[slot].mtime = sb.st_mtim;
		if (files[slot].path == NULL)
			X509_STORE_free(xs);	/* the cache's reference */
	}
	ERR_clear_error();
	pthread_mutex_unlock(&files_mu);
	return xs;
}

/* ---------------------------------------------------------------- CRLs */

static STACK_OF(X509_CRL) *
crls_read(const char *path)
{
	STACK_OF(X509_CRL)	*sk;
	X509_CRL		*crl;
	BIO			*bio;
	struct stat		 sb;

	if (stat(path, &sb) != 0 || sb.st_size > GW_CRL_FILE_MAX)
		return NULL;
	bio = BIO_new_file(path, "rb");
	sk = sk_X509_CRL_new_null();
	if (bio == NULL || sk == NULL)
		goto fail;
	while (sk_X509_CRL_num(sk) < GW_CRLS_MAX &&
	    (crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL)
		if (sk_X509_CRL_push(sk, crl) <= 0) {
			X509_CRL_free(crl);
			goto fail;
		}
	ERR_clear_error();
	if (sk_X509_CRL_num(sk) == 0) {
		/* Not PEM: one DER CRL. */
		(void)BIO_reset(bio);
		crl = d2i_X509_CRL_bio(bio, NULL);
		if (crl == NULL || sk_X509_CRL_push(sk, crl) <= 0) {
			X509_CRL_free(crl);
			goto fail;
		}
	}
	BIO_free(bio);
	return sk;
fail:
	ERR_clear_error();
	BIO_free(bio);
	sk_X509_CRL_pop_free(sk, X509_CRL_free);
	return NULL;
}

/* The configured client CRLs, re-read when the file changes; may be NULL. */
static STACK_OF(X509_CRL) *
thr_crls(struct gw_thread *th, const struct gw_config *conf)
{
	struct gw_auth_thr	*a = th->auth;
	const char		*path = conf->https.client_crl_file;
	struct stat		 sb;

	if (path == NULL)
		return NULL;
	if (stat(path, &sb) != 0) {
		if (!a->crl_tried)
			cg_log_warn("event=client_crl_unreadable");
		a->crl_tried = true;
		return a->crls;		/* keep the last good ones */
	}
	if (a->crl_tried && mtime_eq(&a->crl_mtime, &sb.st_mtim))
		return a->crls;
	a->crl_tried = true;
	a->crl_mtime = sb.st_mtim;
	sk_X509_CRL_pop_free(a->crls, X509_CRL_free);
	a->crls = crls_read(path);
	if (a->crls == NULL)
		cg_log_warn("event=client_crl_unreadable");
	else
		cg_log_info("event=client_crl_loaded crls=%d",
		    sk_X509_CRL_num(a->crls));
	return a->crls;
}

/* Whether a CRL signed by issuer lists cert. */
static bool
crl_lists(STACK_OF(X509_CRL) *crls, X509 *issuer, X509 *cert)
{
	X509_REVOKED	*rev = NULL;
	X509_CRL	*crl;
	EVP_PKEY	*pk;
	int		 i;

	if (crls == NULL || issuer == NULL)
		return false;
	pk = X509_get0_pubkey(issuer);
	for (i = 0; i < sk_X509_CRL_num(crls); i++) {
		crl = sk_X509_CRL_value(crls, i);
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
		    X509_get_subject_name(issuer)) != 0)
			continue;
		/* Only a CRL the issuer signed counts. */
		if (pk == NULL || X509_CRL_verify(crl, pk) != 1) {
			ERR_clear_error();
			continue;
		}
		if (X509_CRL_get0_by_cert(crl, &rev, cert) == 1)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ checks */

static enum gw_cert_verdict
verify_error(long v, int depth, char *detail, size_t len)
{
	switch (v) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		snprintf(detail, len, "%s%s", depth > 0 ?
		    "a CA certificate in the chain: " : "",
		    v == X509_V_ERR_CERT_HAS_EXPIRED ? "certificate has "
		    "expired" : "certificate is not yet valid");
		return GW_CV_EXPIRED;
	case X509_V_ERR_INVALID_PURPOSE:
		snprintf(detail, len, "the certificate may not be used for "
		    "client authentication (key usage)");
		return GW_CV_UNTRUSTED;
	default:
		snprintf(detail, len, "%s", X509_verify_cert_error_string(v));
		return GW_CV_UNTRUSTED;
	}
}

/* Chain cert to xs for client authentication; *chainp on success. */
static long
chain_verify(X509_STORE *xs, X509 *cert, STACK_OF(X509) **chainp,
    int *depthp)
{
	X509_STORE_CTX	*ctx;
	long		 v = X509_V_ERR_UNSPECIFIED;

	*chainp = NULL;
	*depthp = 0;
	ctx = X509_STORE_CTX_new();
	if (ctx != NULL && X509_STORE_CTX_init(ctx, xs, cert, NULL) == 1 &&
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) == 1) {
		if (X509_verify_cert(ctx) == 1) {
			v = X509_V_OK;
			*chainp = X509_STORE_CTX_get1_chain(ctx);
		} else {
			v = X509_STORE_CTX_get_error(ctx);
			*depthp = X509_STORE_CTX_get_error_depth(ctx);
			if (v == X509_V_OK)
				v = X509_V_ERR_UNSPECIFIED;
		}
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return v;
}

/* A self-signed certificate pinned to an identity: dates and usage. */
static bool
pinned_check(struct gw_thread *th, X509 *cert, const char *sha256,
    struct gw_cert_check *out)
{
	struct ca_ident_map	*m = NULL;
	struct cg_err		 err = { 0 };
	unsigned char		*der = NULL;
	int			 len;
	bool			 same;

	if (ca_store_map_find(th->store, CA_MAP_SHA256, sha256, &m,
	    &err) != CG_OK)
		return false;
	len = i2d_X509(cert, &der);
	same = m->pinned && len > 0 && m->der != NULL &&
	    (size_t)len == m->der_len && memcmp(der, m->der, m->der_len) == 0;
	OPENSSL_free(der);
	ca_ident_map_free(m);
	if (!same)
		return false;
	out->pinned = true;
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		out->verdict = GW_CV_EXPIRED;
		snprintf(out->detail, sizeof(out->detail), "certificate is "
		    "not yet valid");
	} else if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
		out->verdict = GW_CV_EXPIRED;
		snprintf(out->detail, sizeof(out->detail), "certificate has "
		    "expired");
	} else if (X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) !=
	    1) {
		out->verdict = GW_CV_UNTRUSTED;
		snprintf(out->detail, sizeof(out->detail), "the certificate "
		    "may not be used for client authentication (key usage)");
	} else {
		out->verdict = GW_CV_OK;
	}
	return true;
}

/* Revoked in this gateway's store (what it issued), or in a client CRL. */
static void
revocation_check(struct gw_thread *th, const struct gw_config *conf,
    X509 *cert, STACK_OF(X509) *chain, const char *sha256,
    struct gw_cert_check *out)
{
	struct ca_cert_rec	*rec = NULL;
	struct cg_err		 err = { 0 };
	X509			*issuer;
	enum cg_code		 rc;

	rc = ca_store_cert_get(th->store, sha256, &rec, &err);
	if (rc == CG_OK) {
		out->ours = true;
		if (rec->status == CA_CERT_REVOKED) {
			out->verdict = GW_CV_REVOKED;
			snprintf(out->detail, sizeof(out->detail), "revoked "
			    "by this gateway (%s)", ca_reason_name(
			    (enum ca_reason)rec->revoke_reason));
		}
		ca_cert_rec_free(rec);
		return;
	}
	if (rc != CG_ENOTFOUND) {
		/* Fail closed: a store error must not let a revoked one in. */
		cg_log_err_struct(__func__, "client_cert_status", &err);
		out->verdict = GW_CV_UNTRUSTED;
		snprintf(out->detail, sizeof(out->detail), "cannot check "
		    "revocation now");
		return;
	}
	issuer = chain != NULL && sk_X509_num(chain) > 1 ?
	    sk_X509_value(chain, 1) : NULL;
	if (crl_lists(thr_crls(th, conf), issuer, cert)) {
		out->verdict = GW_CV_REVOKED;
		snprintf(out->detail, sizeof(out->detail), "listed in the CRL "
		    "of its issuing CA");
	}
}

void
gw_auth_check(struct gw_thread *th, X509 *cert, const char *trust_file,
    struct gw_cert_check *out)
{
	const struct gw_config	*conf = th->srv->boot->conf;
	STACK_OF(X509)		*chain = NULL;
	X509_STORE		*xs, *owned = NULL;
	struct cg_err		 err = { 0 };
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	int			 depth;
	long			 v;

	memset(out, 0, sizeof(*out));
	if (cert == NULL)
		return;			/* GW_CV_NONE */
	out->verdict = GW_CV_UNTRUSTED;
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1) {
		snprintf(out->detail, sizeof(out->detail), "malformed "
		    "certificate");
		return;
	}
	cg_hex_encode(md, mdlen, out->sha256, false);
	if (trust_file != NULL)
		xs = owned = file_trust(trust_file);
	else
		xs = thr_trust(th, conf, &err);
	if (xs == NULL) {
		cg_log_warn("event=client_trust_unavailable msg=\"%s\"",
		    err.code != CG_OK ? err.msg : "cannot read the CA file");
		snprintf(out->detail, sizeof(out->detail), "the client trust "
		    "cannot be loaded");
		return;
	}
	v = chain_verify(xs, cert, &chain, &depth);
	X509_STORE_free(owned);
	if (v != X509_V_OK) {
		out->self_signed = X509_self_signed(cert, 1) == 1;
		ERR_clear_error();
		/* Pins are the listener's business; a route file is exact. */
		if (out->self_signed && trust_file == NULL &&
		    pinned_check(th, cert, out->sha256, out))
			return;
		out->verdict = verify_error(v, depth, out->detail,
		    sizeof(out->detail));
		return;
	}
	out->self_signed = false;
	out->verdict = GW_CV_OK;
	revocation_check(th, conf, cert, chain, out->sha256, out);
	sk_X509_pop_free(chain, X509_free);
}

void
gw_auth_thread_free(struct gw_thread *th)
{
	struct gw_auth_thr	*a = th->auth;

	if (a == NULL)
		return;
	thr_trust_drop(a);
	sk_X509_CRL_pop_free(a->crls, X509_CRL_free);
	cg_free(a);
	th->auth = NULL;
}

bool
gw_auth_thread_init(struct gw_thread *th)
{
	th->auth = cg_calloc(1, sizeof(*th->auth));
	return th->auth != NULL;
}

void
gw_auth_files_free(void)
{
	size_t	 i;

	pthread_mutex_lock(&files_mu);
	for (i = 0; i < GW_TRUST_FILES_MAX; i++) {
		X509_STORE_free(files[i].xs);
		cg_free(files[i].path);
		memset(&files[i], 0, sizeof(files[i]));
	}
	pthread_mutex_unlock(&files_mu);
}
