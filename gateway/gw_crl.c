/*
 * gw_crl.c - the CRL and CA certificate the gateway serves: built once at
 * start, rebuilt on the control loop when the store's revocation
 * generation changes (CLI revocations from another process included) or
 * nextUpdate comes within a quarter of the validity, and shared with the
 * loop threads as refcounted blobs.  Handlers never build CRLs; signing is
 * ca_crl_make's business.
 */
#include "gw_int.h"

#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

struct gw_blob *
gw_blob_new(const uint8_t *data, size_t len)
{
	struct gw_blob	*b;

	b = cg_malloc(sizeof(*b) + len);
	if (b == NULL)
		return NULL;
	atomic_init(&b->refs, 1);
	b->next_update = 0;
	b->len = len;
	if (len > 0)
		memcpy(b->data, data, len);
	return b;
}

struct gw_blob *
gw_blob_ref(struct gw_blob *b)
{
	if (b != NULL)
		atomic_fetch_add(&b->refs, 1);
	return b;
}

void
gw_blob_unref(struct gw_blob *b)
{
	if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1)
		cg_free(b);
}

void
gw_crl_file_name(const char *cn, char *out, size_t outlen)
{
	size_t		 o = 0;
	bool		 dash = false;
	unsigned char	 ch;

	if (outlen == 0)
		return;
	for (; cn != NULL && *cn != '\0' && o + 1 < outlen; cn++) {
		ch = (unsigned char)*cn;
		if (ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch - 'A' + 'a');
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) {
			dash = true;
			continue;
		}
		if (dash && o > 0) {
			if (o + 2 >= outlen)
				break;
			out[o++] = '-';
		}
		dash = false;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, outlen, "ca");
}

/* The CA's commonName as UTF-8, or "" when it has none. */
static void
cert_cn(X509 *cert, char *out, size_t outlen)
{
	const X509_NAME	*name = X509_get_subject_name(cert);
	X509_NAME_ENTRY	*e;
	unsigned char	*utf8 = NULL;
	int		 idx, n;

	out[0] = '\0';
	idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (idx < 0)
		return;
	e = X509_NAME_get_entry(name, idx);
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
	if (n < 0)
		return;
	snprintf(out, outlen, "%.*s", n, (const char *)utf8);
	OPENSSL_free(utf8);
}

static enum cg_code
ca_der_init(struct gw_server *srv, struct cg_err *err)
{
	X509		*cert = ca_get0_cert(srv->ca);
	unsigned char	*der = NULL;
	char		 cn[GW_SUBJECT_MAX];
	int		 n;

	if (cert == NULL)
		return cg_err_set(err, CG_EINTERNAL, "the CA has no "
		    "certificate");
	n = i2d_X509(cert, &der);
	if (n <= 0 || n > GW_CA_DER_MAX) {
		OPENSSL_free(der);
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode the CA "
		    "certificate");
	}
	srv->ca_der = gw_blob_new(der, (size_t)n);
	OPENSSL_free(der);
	if (srv->ca_der == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	cert_cn(cert, cn, sizeof(cn));
	gw_crl_file_name(cn, srv->crl_name, sizeof(srv->crl_name));
	gw_x509_name_text(X509_get_subject_name(cert), srv->ca_cn,
	    sizeof(srv->ca_cn));
	return CG_OK;
}

/* Build a CRL with the control thread's store and make it current. */
static enum cg_code
crl_build(struct gw_server *srv, struct cg_err *err)
{
	struct gw_blob	*b, *old;
	uint8_t		*der = NULL;
	size_t		 len = 0;
	int64_t		 gen = 0, next = 0;
	enum cg_code	 rc;

	/* Read the generation first: a revocation racing the build is
	 * then seen again on the next tick, never lost. */
	rc = ca_store_revocation_gen(srv->store, &gen, err);
	if (rc != CG_OK)
		return rc;
	rc = ca_crl_make(srv->ca, srv->store, &der, &len, &next, err);
	if (rc != CG_OK)
		return rc;
	b = gw_blob_new(der, len);
	cg_free(der);
	if (b == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	b->next_update = next;
	pthread_mutex_lock(&srv->crl_mu);
	old = srv->crl;
	srv->crl = b;
	srv->crl_gen = gen;
	pthread_mutex_unlock(&srv->crl_mu);
	gw_blob_unref(old);
	return CG_OK;
}

enum cg_code
gw_crl_init(struct gw_server *srv, struct cg_err *err)
{
	enum cg_code	 rc;

	rc = ca_der_init(srv, err);
	if (rc != CG_OK)
		return rc;
	return crl_build(srv, err);
}

struct gw_blob *
gw_crl_get(struct gw_server *srv)
{
	struct gw_blob	*b;

	pthread_mutex_lock(&srv->crl_mu);
	b = gw_blob_ref(srv->crl);
	pthread_mutex_unlock(&srv->crl_mu);
	return b;
}

const char *
gw_crl_stale(int64_t gen, int64_t built_gen, int64_t next_update,
    int64_t validity, int64_t now)
{
	if (gen != built_gen)
		return "revocation";
	/* Reissue with a quarter of the validity left (RFC 5280 §5.1.2.5). */
	if (next_update - now < validity / 4)
		return "next_update";
	return NULL;
}

/* Why the current CRL should be rebuilt now, or NULL. */
static const char *
crl_stale(struct gw_server *srv, int64_t gen)
{
	int64_t		 next, cur;

	pthread_mutex_lock(&srv->crl_mu);
	cur = srv->crl_gen;
	next = srv->crl != NULL ? srv->crl->next_update : 0;
	pthread_mutex_unlock(&srv->crl_mu);
	return gw_crl_stale(gen, cur, next,
	    (int64_t)srv->boot->conf->ca.crl_validity_s, cg_now());
}

void
gw_crl_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_server	*srv = arg;
	struct cg_err		 err = { 0 };
	struct gw_blob		*b;
	const char		*why;
	char			 when[32];
	int64_t			 gen = 0;

	if (ca_store_revocation_gen(srv->store, &gen, &err) != CG_OK) {
		cg_log_err_struct(__func__, "crl_check", &err);
		return;
	}
	why = crl_stale(srv, gen);
	if (why == NULL)
		return;
	if (crl_build(srv, &err) != CG_OK) {
		cg_log_err_struct(__func__, "crl_rebuild", &err);
		return;
	}
	b = gw_crl_get(srv);
	cg_time_fmt(b->next_update, when, sizeof(when));
	cg_log_info("event=crl_rebuilt reason=%s bytes=%zu next_update=%s",
	    why, b->len, when);
	gw_blob_unref(b);
}
