/*
 * gw_tls.c - the TLS listener's SSL_CTX: protocol floor, server chain and
 * key, and the client-certificate request whose verdict is recorded per
 * connection instead of failing the handshake (routes decide, gw_req.c).
 * Not here: sockets, accepting, HTTP.
 */
#include "gw_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#define GW_KEY_PEM_MAX		(64 * 1024)	/* server key file bytes */
#define GW_SESSION_CTX		"certgw"	/* session id context */

static pthread_once_t	 conn_idx_once = PTHREAD_ONCE_INIT;
static int		 conn_idx = -1;

/* Runs whenever any SSL is freed; ours carry a connection to release. */
static void
conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	if (ptr != NULL)
		gw_conn_release(ptr);
}

static void
conn_idx_init(void)
{
	conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_ex_free);
}

bool
gw_tls_conn_set(SSL *ssl, struct gw_conn *c)
{
	return conn_idx >= 0 && SSL_set_ex_data(ssl, conn_idx, c) == 1;
}

struct gw_conn *
gw_tls_conn_get(const SSL *ssl)
{
	if (conn_idx < 0 || ssl == NULL)
		return NULL;
	return SSL_get_ex_data(ssl, conn_idx);
}

static enum cg_code
tls_key_load(SSL_CTX *ctx, const struct gw_https_conf *h, struct cg_err *err)
{
	EVP_PKEY	*key = NULL;
	enum cg_code	 rc;

	rc = cg_pem_key_load(h->key_file, h->key_pass_file, h->key_pass_env,
	    GW_KEY_PEM_MAX, &key, err);
	if (rc != CG_OK)
		goto out;
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "the TLS private key does "
		    "not match the certificate");
		goto out;
	}
	rc = CG_OK;
out:
	EVP_PKEY_free(key);
	return rc;
}

enum cg_code
gw_tls_ctx_new(const struct gw_config *conf, SSL_CTX **ctxp,
    struct cg_err *err)
{
	SSL_CTX		*ctx = NULL;
	enum cg_code	 rc;

	*ctxp = NULL;
	if (pthread_once(&conn_idx_once, conn_idx_init) != 0 || conn_idx < 0)
		return cg_err_crypto(err, CG_EINTERNAL, "no SSL ex_data "
		    "index");
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		rc = cg_err_crypto(err, CG_ENOMEM, "cannot create a TLS "
		    "context");
		goto out;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot require TLS 1.2");
		goto out;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * TLS 1.3 sends two tickets per handshake by default; a device that
	 * reconnects for each enrollment needs one, and each costs an
	 * encryption.
	 */
	if (SSL_CTX_set_num_tickets(ctx, 1) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot set tickets");
		goto out;
	}
	/* Resumed sessions keep their verify result (RFC 8446 §4.6.1). */
	if (SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)GW_SESSION_CTX,
	    sizeof(GW_SESSION_CTX) - 1) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot set the session "
		    "context");
		goto out;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx,
	    conf->https.cert_file) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot load the TLS "
		    "certificate chain %s", conf->https.cert_file);
		goto out;
	}
	rc = tls_key_load(ctx, &conf->https, err);
	if (rc != CG_OK)
		goto out;
	*ctxp = ctx;
	ctx = NULL;
	rc = CG_OK;
out:
	SSL_CTX_free(ctx);
	return rc;
}

/*
 * Record the first failure on the connection and let the handshake go on:
 * the route's policy decides what an untrusted certificate means.
 */
static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL		*ssl;
	struct gw_conn	*c;

	if (ok == 1)
		return 1;
	ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	c = gw_tls_conn_get(ssl);
	if (c != NULL && c->verify == X509_V_OK) {
		c->verify = X509_STORE_CTX_get_error(xs);
		if (c->verify == X509_V_OK)
			c->verify = X509_V_ERR_UNSPECIFIED;
	}
	return 1;
}

enum cg_code
gw_tls_client_auth(SSL_CTX *ctx, const struct gw_config *conf,
    struct cg_err *err)
{
	STACK_OF(X509_NAME)	*names;
	const char		*file;

	file = gw_config_client_ca_file(conf);
	if (file == NULL)
		return cg_err_set(err, CG_EINVAL, "no client CA file");
	ERR_clear_error();
	names = SSL_load_client_CA_file(file);
	if (names == NULL || sk_X509_NAME_num(names) == 0) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		return cg_err_crypto(err, CG_ECRYPTO, "no CA certificates in "
		    "client CA file %s", file);
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	if (SSL_CTX_load_verify_file(ctx, file) != 1)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot load client CA "
		    "file %s", file);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	SSL_CTX_set_verify_depth(ctx, GW_VERIFY_DEPTH);
	return CG_OK;
}

void
gw_tls_verify_text(long verify, char *out, size_t outlen)
{
	if (verify == X509_V_ERR_CERT_HAS_EXPIRED) {
		snprintf(out, outlen, "client certificate expired");
		return;
	}
	snprintf(out, outlen, "client certificate not trusted: %s",
	    X509_verify_cert_error_string(verify));
}

const char *
gw_tls_version(const SSL *ssl)
{
	switch (SSL_version(ssl)) {
	case TLS1_3_VERSION:
		return "1.3";
	case TLS1_2_VERSION:
		return "1.2";
	default:
		return "other";
	}
}
