/*
 * est_auth.c - who is asking, per EST label (RFC 7030 §3.2.3, §3.3.2): a
 * TLS client certificate (checked by the gateway against the label's own
 * client CA or the listener's trust, gw_req_cert_check) or HTTP Basic
 * against est.users, with
 * a small per-thread cache of recent Basic successes so PBKDF2 is not paid
 * on every request.  Not here: channel binding (est_enroll.c), routing.
 */
#include "est_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#define EST_BASIC_SCHEME	"Basic "

/* A Basic success: who, and keyed digests of the password and the hash. */
struct auth_cache_ent {
	bool		 used;			/* slot holds an entry */
	char		 user[EST_USER_MAX];	/* user name */
	uint8_t		 pw_mac[EST_HMAC_LEN];	/* HMAC(key, password) */
	uint8_t		 hash_mac[EST_HMAC_LEN]; /* HMAC(key, stored hash) */
};

static pthread_once_t	 mac_once = PTHREAD_ONCE_INIT;
static uint8_t		 mac_key[EST_HMAC_LEN];	/* per process, random */
static bool		 mac_ok;		/* mac_key is usable */
static _Thread_local struct auth_cache_ent cache[EST_AUTH_CACHE_N];
static _Thread_local unsigned cache_next;	/* round-robin victim */

/* ------------------------------------------------------- Basic cache */

static void
mac_init(void)
{
	mac_ok = RAND_bytes(mac_key, sizeof(mac_key)) == 1;
}

static bool
mac(const void *data, size_t len, uint8_t out[EST_HMAC_LEN])
{
	size_t	 olen = 0;

	if (pthread_once(&mac_once, mac_init) != 0 || !mac_ok)
		return false;
	return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, mac_key,
	    sizeof(mac_key), data, len, out, EST_HMAC_LEN, &olen) != NULL &&
	    olen == EST_HMAC_LEN;
}

/* Whether (user, pw) verified recently against this very hash. */
static bool
cache_hit(const char *user, const uint8_t *pw_mac, const uint8_t *hash_mac)
{
	unsigned	 i;

	for (i = 0; i < EST_AUTH_CACHE_N; i++) {
		if (!cache[i].used || strcmp(cache[i].user, user) != 0)
			continue;
		/* A changed hash in the config no longer matches: re-verify. */
		return CRYPTO_memcmp(cache[i].pw_mac, pw_mac,
		    EST_HMAC_LEN) == 0 && CRYPTO_memcmp(cache[i].hash_mac,
		    hash_mac, EST_HMAC_LEN) == 0;
	}
	return false;
}

static void
cache_put(const char *user, const uint8_t *pw_mac, const uint8_t *hash_mac)
{
	struct auth_cache_ent	*e = NULL;
	unsigned		 i;

	for (i = 0; i < EST_AUTH_CACHE_N && e == NULL; i++)
		if (cache[i].used && strcmp(cache[i].user, user) == 0)
			e = &cache[i];
	if (e == NULL)
		e = &cache[cache_next++ % EST_AUTH_CACHE_N];
	e->used = true;
	snprintf(e->user, sizeof(e->user), "%s", user);
	memcpy(e->pw_mac, pw_mac, EST_HMAC_LEN);
	memcpy(e->hash_mac, hash_mac, EST_HMAC_LEN);
}

/* ---------------------------------------------------------- Basic */

static const struct gw_est_user *
user_find(const struct gw_est_conf *est, const char *name)
{
	size_t	 i;

	for (i = 0; i < est->nusers; i++)
		if (strcmp(est->users[i].name, name) == 0)
			return &est->users[i];
	return NULL;
}

static bool
label_allows(const struct gw_est_label *l, const char *user)
{
	size_t	 i;

	if (l->users.n == 0)
		return true;
	for (i = 0; i < l->users.n; i++)
		if (strcmp(l->users.v[i], user) == 0)
			return true;
	return false;
}

/* Check one password for user, through the cache. */
static enum cg_code
basic_verify(const struct gw_est_user *u, const char *pw, size_t pwlen,
    struct cg_err *err)
{
	uint8_t		 pw_mac[EST_HMAC_LEN], hash_mac[EST_HMAC_LEN];
	bool		 cacheable;
	enum cg_code	 rc;

	cacheable = mac(pw, pwlen, pw_mac) && mac(u->password_hash,
	    strlen(u->password_hash), hash_mac);
	if (cacheable && cache_hit(u->name, pw_mac, hash_mac))
		return CG_OK;
	rc = cg_passwd_verify(pw, pwlen, u->password_hash, err);
	if (rc == CG_OK && cacheable && strlen(u->name) < EST_USER_MAX)
		cache_put(u->name, pw_mac, hash_mac);
	OPENSSL_cleanse(pw_mac, sizeof(pw_mac));
	return rc;
}

/* Decode "Basic base64(user:password)" into cred (wiped by the caller). */
static enum cg_code
basic_decode(const char *authz, uint8_t **credp, size_t *lenp,
    struct cg_err *err)
{
	size_t	 slen = strlen(EST_BASIC_SCHEME), alen = strlen(authz);

	*credp = NULL;
	*lenp = 0;
	if (alen > EST_AUTHZ_MAX)
		return cg_err_set(err, CG_EAUTH, "wrong user name or password");
	if (alen < slen || strncasecmp(authz, EST_BASIC_SCHEME, slen) != 0)
		return cg_err_set(err, CG_EAUTH, "authentication required");
	if (cg_base64_decode(authz + slen, alen - slen, false,
	    CG_PASSWD_MAX + EST_USER_MAX, credp, lenp, NULL) != CG_OK)
		return cg_err_set(err, CG_EAUTH, "wrong user name or password");
	return CG_OK;
}

static enum cg_code
basic_check(struct est_call *call, const char *authz, struct cg_err *err)
{
	const struct gw_est_user *u;
	uint8_t			*cred = NULL, *colon;
	size_t			 len = 0, ulen;
	char			 user[EST_USER_MAX];
	enum cg_code		 rc;

	/* Basic sends the password in the clear: TLS only (RFC 7030 §3.2.3). */
	if (!gw_req_is_tls(call->req))
		return cg_err_set(err, CG_EDENIED, "HTTP Basic needs TLS");
	rc = basic_decode(authz, &cred, &len, err);
	if (rc != CG_OK)
		goto out;
	colon = memchr(cred, ':', len);
	ulen = colon != NULL ? (size_t)(colon - cred) : 0;
	if (colon == NULL || ulen == 0 || ulen >= sizeof(user) ||
	    memchr(cred, '\0', len) != NULL) {
		rc = cg_err_set(err, CG_EAUTH, "wrong user name or password");
		goto out;
	}
	memcpy(user, cred, ulen);
	user[ulen] = '\0';
	u = user_find(&call->conf->est, user);
	if (u == NULL || basic_verify(u, (const char *)colon + 1,
	    len - ulen - 1, NULL) != CG_OK) {
		rc = cg_err_set(err, CG_EAUTH, "wrong user name or password");
		goto out;
	}
	if (!label_allows(call->label, user)) {
		rc = cg_err_set(err, CG_EDENIED, "user not allowed on this "
		    "EST label");
		goto out;
	}
	call->who.kind = EST_WHO_BASIC;
	snprintf(call->who.requester, sizeof(call->who.requester),
	    "est:basic:%s", user);
	rc = CG_OK;
out:
	if (cred != NULL)
		OPENSSL_cleanse(cred, len);
	cg_free(cred);
	return rc;
}

/* ------------------------------------------------ client certificates */

X509 *
est_auth_peer_cert(struct est_call *call)
{
	X509	*cert;

	cert = gw_req_peer_cert_any(call->req, NULL);
	if (cert == NULL) {
		memset(&call->chk, 0, sizeof(call->chk));
		return NULL;
	}
	/* The label's own client CA, else the listener's trust. */
	gw_req_cert_check(call->req, call->label->client_ca_file, &call->chk);
	return call->chk.verdict == GW_CV_OK ? cert : NULL;
}

static enum cg_code
cert_check(struct est_call *call, struct cg_err *err)
{
	X509		*cert;
	char		 subj[CA_REQUESTER_MAX];
	BIO		*bio;
	int		 n;

	cert = est_auth_peer_cert(call);
	if (cert == NULL) {
		call->cert_refused = true;
		return cg_err_set(err, CG_EDENIED, "%s: %s",
		    gw_cert_verdict_code(call->chk.verdict), call->chk.detail);
	}
	/* A trusted certificate nobody knows waits for an admin. */
	gw_req_cert_hold(call->req, &call->chk);
	subj[0] = '\0';
	bio = BIO_new(BIO_s_mem());
	if (bio != NULL && X509_NAME_print_ex(bio, X509_get_subject_name(cert),
	    0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_read(bio, subj, (int)sizeof(subj) - 1);
		subj[n > 0 ? n : 0] = '\0';
	}
	BIO_free(bio);
	call->who.kind = EST_WHO_CERT;
	/* Bounded: a long subject is cut at CA_REQUESTER_MAX. */
	snprintf(call->who.requester, sizeof(call->who.requester),
	    "est:cert:%.*s", (int)(sizeof(call->who.requester) - 10), subj);
	return CG_OK;
}

enum cg_code
est_auth_check(struct est_call *call, struct cg_err *err)
{
	const struct gw_est_label *l = call->label;
	const char	*authz;
	long		 v;
	enum cg_code	 rc;

	call->who.kind = EST_WHO_NONE;
	authz = gw_req_header(call->req, "Authorization");
	if ((l->auth & GW_EST_AUTH_CERT) &&
	    gw_req_peer_cert_any(call->req, &v) != NULL) {
		rc = cert_check(call, err);
		/* A refused certificate may still be followed by Basic. */
		if (rc != CG_EDENIED || authz == NULL ||
		    !(l->auth & GW_EST_AUTH_BASIC))
			return rc;
		call->cert_refused = false;
		cg_err_clear(err);
	}
	if ((l->auth & GW_EST_AUTH_BASIC) && authz != NULL)
		return basic_check(call, authz, err);
	if (!(l->auth & GW_EST_AUTH_BASIC)) {
		memset(&call->chk, 0, sizeof(call->chk));
		snprintf(call->chk.detail, sizeof(call->chk.detail), "client "
		    "certificate required");
		call->cert_refused = true;
		return cg_err_set(err, CG_EDENIED, "client certificate "
		    "required");
	}
	return cg_err_set(err, CG_EAUTH, "authentication required");
}
