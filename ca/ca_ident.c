/*
 * ca_ident.c - who a client certificate is.  One-to-one mappings first,
 * most specific first (SHA-256 thumbprint, SHA-1 thumbprint, common
 * name), then the many-to-one rules in their order.  Whether the
 * certificate may be believed at all (its chain, its dates, revocation)
 * is decided before this, by the caller; a mapping never trusts.
 */
#include "certgw/ca.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "certgw/store.h"

/* A name in RFC 2253 form into out; "" when it does not fit. */
static void
name_text(const X509_NAME *n, char *out, size_t cap)
{
	BIO	*bio = BIO_new(BIO_s_mem());
	int	 len = -1;

	out[0] = '\0';
	if (bio != NULL && X509_NAME_print_ex(bio, n, 0, XN_FLAG_RFC2253) >= 0 &&
	    BIO_pending(bio) < (int)cap)
		len = BIO_read(bio, out, (int)cap - 1);
	out[len > 0 ? len : 0] = '\0';
	BIO_free(bio);
}

/* Does name hold an attribute sn (short name) with exactly value? */
static bool
name_has(const X509_NAME *name, const char *sn, size_t snlen,
    const char *value, size_t vlen)
{
	char		 key[64];
	unsigned char	*utf8;
	int		 nid, i = -1, n;
	bool		 found = false;

	if (snlen == 0 || snlen >= sizeof(key))
		return false;
	memcpy(key, sn, snlen);
	key[snlen] = '\0';
	if ((nid = OBJ_txt2nid(key)) == NID_undef)
		return false;
	while (!found && (i = X509_NAME_get_index_by_NID(name, nid, i)) >= 0) {
		n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
		    X509_NAME_get_entry(name, i)));
		if (n < 0)
			continue;
		found = (size_t)n == vlen && memcmp(utf8, value, vlen) == 0;
		OPENSSL_free(utf8);
	}
	return found;
}

bool
ca_ident_rule_matches(const char *issuer, const char *subject, X509 *cert)
{
	char		 text[CA_IDENT_DN_MAX + 1];
	const char	*p, *comma, *eq;

	if (cert == NULL)
		return false;
	if (issuer != NULL && issuer[0] != '\0') {
		name_text(X509_get_issuer_name(cert), text, sizeof(text));
		if (strcmp(text, issuer) != 0)
			return false;
	}
	/* "O=Sales,OU=East": every attribute, in any order. */
	for (p = subject; p != NULL && *p != '\0'; p = comma != NULL ?
	    comma + 1 : NULL) {
		comma = strchr(p, ',');
		eq = memchr(p, '=', comma != NULL ? (size_t)(comma - p) :
		    strlen(p));
		if (eq == NULL || !name_has(X509_get_subject_name(cert), p,
		    (size_t)(eq - p), eq + 1, comma != NULL ?
		    (size_t)(comma - eq - 1) : strlen(eq + 1)))
			return false;
	}
	return true;
}

static bool
thumb(X509 *cert, const EVP_MD *md, char *out)
{
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned int	 n = 0;

	if (X509_digest(cert, md, d, &n) != 1)
		return false;
	cg_hex_encode(d, n, out, false);
	return true;
}

struct rule_walk {
	X509			*cert;
	int64_t			 identity_id;	/* the first match's */
	int64_t			 position;
};

static enum cg_code
rule_try(void *arg, const struct ca_ident_rule *r)
{
	struct rule_walk	*w = arg;

	if (w->identity_id != 0 ||
	    !ca_ident_rule_matches(r->issuer, r->subject, w->cert))
		return CG_OK;
	w->identity_id = r->identity_id;
	w->position = r->position;
	return CG_OK;
}

void
ca_ident_match_cleanup(struct ca_ident_match *m)
{
	if (m == NULL)
		return;
	ca_identity_free(m->ident);
	memset(m, 0, sizeof(*m));
}

enum cg_code
ca_ident_resolve(struct ca_store *st, X509 *cert, struct ca_ident_match *m,
    struct cg_err *err)
{
	struct ca_ident_map	*map = NULL;
	struct rule_walk	 w = { .cert = cert };
	X509_NAME_ENTRY		*e;
	unsigned char		*cn = NULL;
	char			 hex[2 * EVP_MAX_MD_SIZE + 1];
	int			 i, n;
	enum cg_code		 rc = CG_ENOTFOUND;

	memset(m, 0, sizeof(*m));
	if (cert == NULL)
		return cg_err_set(err, CG_EINVAL, "no certificate");
	if (thumb(cert, EVP_sha256(), hex))
		rc = ca_store_map_find(st, CA_MAP_SHA256, hex, &map, err);
	if (rc == CG_ENOTFOUND && thumb(cert, EVP_sha1(), hex)) {
		cg_err_clear(err);
		rc = ca_store_map_find(st, CA_MAP_SHA1, hex, &map, err);
	}
	i = X509_NAME_get_index_by_NID(X509_get_subject_name(cert),
	    NID_commonName, -1);
	if (rc == CG_ENOTFOUND && i >= 0) {
		e = X509_NAME_get_entry(X509_get_subject_name(cert), i);
		n = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(e));
		cg_err_clear(err);
		if (n > 0 && n <= CA_IDENT_TEXT_MAX &&
		    memchr(cn, '\0', (size_t)n) == NULL)
			rc = ca_store_map_find(st, CA_MAP_CN, (char *)cn, &map,
			    err);
		OPENSSL_free(cn);
	}
	if (rc == CG_OK) {
		m->kind = map->kind;
		m->pinned = map->pinned;
		rc = ca_store_identity_get(st, NULL, map->identity_id,
		    &m->ident, err);
		ca_ident_map_free(map);
		return rc;
	}
	if (rc != CG_ENOTFOUND)
		return rc;
	cg_err_clear(err);
	rc = ca_store_rule_list(st, rule_try, &w, err);
	if (rc != CG_OK)
		return rc;
	if (w.identity_id == 0)
		return cg_err_set(err, CG_ENOTFOUND, "the certificate maps to "
		    "no identity");
	m->rule = w.position;
	return ca_store_identity_get(st, NULL, w.identity_id, &m->ident, err);
}
