/*
 * ca_init.c - `certgw init`'s CA: a self-signed root and, optionally, an
 * issuing intermediate under DIR/ca/, with keys (0600, optionally
 * encrypted) and the chain file.  The fresh keys sign here, once; at run
 * time only ca_signer.c signs.  It writes no config file and no store rows.
 */
#include "certgw/ca.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "ca_int.h"

#define CA_DIR_MODE		0700
#define ROOT_DAYS_DEFAULT	7300
#define ISSUING_DAYS_DEFAULT	3650
#define ISSUING_SUFFIX		" Issuing CA"	/* after the root's CN */
#define ISSUING_CN		"Issuing CA"	/* when the root has none */
#define CA_KU_TEXT		"critical,keyCertSign,cRLSign,digitalSignature"

enum init_file {
	F_ROOT_KEY = 0,
	F_ROOT_PEM,
	F_ISSUING_KEY,
	F_ISSUING_PEM,
	F_CHAIN,
	F__MAX
};

static const char *const file_names[F__MAX] = {
	[F_ROOT_KEY] = "root.key",
	[F_ROOT_PEM] = "root.pem",
	[F_ISSUING_KEY] = "issuing.key",
	[F_ISSUING_PEM] = "issuing.pem",
	[F_CHAIN] = "chain.pem",
};

/* What ca_init_create() is making; freed by init_cleanup(). */
struct init {
	const struct ca_init_opts *opts;	/* borrowed */
	char		*cadir;			/* DIR/ca */
	char		*path[F__MAX];		/* DIR/ca/<file> */
	bool		 written[F__MAX];	/* created by us */
	EVP_PKEY	*root_key;		/* root key pair */
	EVP_PKEY	*iss_key;		/* intermediate key pair */
	X509		*root;			/* root certificate */
	X509		*iss;			/* intermediate, or NULL */
};

/* One CA certificate to make. */
struct ca_spec {
	const X509_NAME	*subject;	/* its subject */
	EVP_PKEY	*key;		/* its key pair */
	X509		*issuer;	/* issuing cert; NULL: self-signed */
	EVP_PKEY	*issuer_key;	/* signs it; NULL: key */
	uint32_t	 days;		/* validity */
	int		 pathlen;	/* basicConstraints pathLen, -1: none */
};

/* -------------------------------------------------------------- names */

static void
trim(char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/* "K=V" (already unescaped) into name, at the front when reverse. */
static enum cg_code
rdn_add(X509_NAME *name, char *tok, size_t len, bool reverse,
    struct cg_err *err)
{
	char	*eq, *key = tok, *val;
	size_t	 klen, vlen;
	int	 nid;

	eq = memchr(tok, '=', len);
	if (eq == NULL)
		return cg_err_set(err, CG_EINVAL, "CA name part without '='");
	klen = (size_t)(eq - tok);
	val = eq + 1;
	vlen = len - klen - 1;
	trim(&key, &klen);
	trim(&val, &vlen);
	key[klen] = '\0';
	val[vlen] = '\0';
	nid = OBJ_txt2nid(key);
	if (!ca_subject_attr_is_valid(key) || vlen == 0)
		return cg_err_set(err, CG_EINVAL, "CA name has a bad attribute "
		    "'%.32s'", key);
	if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
	    (unsigned char *)val, (int)vlen, reverse ? 0 : -1, 0) != 1)
		return cg_err_crypto(err, CG_EINVAL, "CA name attribute '%s' "
		    "has a bad value (too long?)", key);
	return CG_OK;
}

/*
 * "CN=x, O=y" (RFC 4514 order: most specific first) or "/O=y/CN=x"
 * (OpenSSL order).  A backslash escapes the next character.
 */
static enum cg_code
rdns_parse(const char *s, char sep, bool reverse, X509_NAME *name,
    struct cg_err *err)
{
	char		 tok[CA_SUBJECT_MAX + 1];
	size_t		 n = 0;
	enum cg_code	 rc = CG_OK;

	for (;; s++) {
		if (*s == '\\' && s[1] != '\0') {
			s++;
		} else if (*s == sep || *s == '\0') {
			tok[n] = '\0';
			rc = rdn_add(name, tok, n, reverse, err);
			n = 0;
			if (rc != CG_OK || *s == '\0')
				break;
			continue;
		}
		if (n >= CA_SUBJECT_MAX)
			return cg_err_set(err, CG_EINVAL,
			    "CA name is too long");
		tok[n++] = *s;
	}
	return rc;
}

/* Does s start with "<known attribute>="? */
static bool
is_dn_text(const char *s)
{
	char	 key[32];
	char	*k = key;
	size_t	 len;
	const char *eq = strchr(s, '=');

	if (eq == NULL || (size_t)(eq - s) >= sizeof(key))
		return false;
	len = (size_t)(eq - s);
	memcpy(key, s, len);
	trim(&k, &len);
	k[len] = '\0';
	return ca_subject_attr_is_valid(k);
}

static enum cg_code
name_parse(const char *s, X509_NAME **outp, struct cg_err *err)
{
	X509_NAME	*name;
	enum cg_code	 rc = CG_OK;

	*outp = NULL;
	if (s == NULL || *s == '\0' || strlen(s) > CA_SUBJECT_MAX)
		return cg_err_set(err, CG_EINVAL, "CA name must be 1 to %d "
		    "characters", CA_SUBJECT_MAX);
	name = X509_NAME_new();
	if (name == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	if (s[0] == '/')
		rc = rdns_parse(s + 1, '/', false, name, err);
	else if (is_dn_text(s))
		rc = rdns_parse(s, ',', true, name, err);
	else if (X509_NAME_add_entry_by_NID(name, NID_commonName,
	    MBSTRING_UTF8, (const unsigned char *)s, -1, -1, 0) != 1)
		rc = cg_err_crypto(err, CG_EINVAL, "CA name is not a valid "
		    "common name (at most 64 characters)");
	if (rc == CG_OK && X509_NAME_entry_count(name) == 0)
		rc = cg_err_set(err, CG_EINVAL, "CA name is empty");
	if (rc != CG_OK) {
		X509_NAME_free(name);
		return rc;
	}
	*outp = name;
	return CG_OK;
}

/* The root's name with " Issuing CA" appended to its (last) CN. */
static enum cg_code
issuing_name(const X509_NAME *root, X509_NAME **outp, struct cg_err *err)
{
	X509_NAME	*name;
	X509_NAME_ENTRY	*old = NULL;
	unsigned char	*utf8 = NULL;
	char		*cn = NULL;
	int		 idx = -1, i, len = 0;
	enum cg_code	 rc = CG_OK;

	*outp = NULL;
	name = X509_NAME_dup(root);
	if (name == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	/* The last CN is the most specific one. */
	for (i = X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0;
	    i = X509_NAME_get_index_by_NID(name, NID_commonName, i))
		idx = i;
	if (idx >= 0) {
		len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
		    X509_NAME_get_entry(name, idx)));
		old = X509_NAME_delete_entry(name, idx);
	}
	cn = cg_asprintf("%.*s%s", len > 0 ? len : 0,
	    len > 0 ? (char *)utf8 : "", idx >= 0 ? ISSUING_SUFFIX :
	    ISSUING_CN);
	if (cn == NULL || X509_NAME_add_entry_by_NID(name, NID_commonName,
	    MBSTRING_UTF8, (unsigned char *)cn, -1, idx, 0) != 1) {
		rc = cg_err_crypto(err, CG_EINVAL, "the issuing CA name is too "
		    "long (a CN holds 64 characters)");
		X509_NAME_free(name);
		name = NULL;
	}
	*outp = name;
	cg_free(cn);
	OPENSSL_free(utf8);
	X509_NAME_ENTRY_free(old);
	return rc;
}

/* ------------------------------------------------------ certificates */

static enum cg_code
spec_validity(const struct ca_spec *sp, X509 *x, struct cg_err *err)
{
	int64_t		 now = cg_now(), end, cap;
	enum cg_code	 rc;

	end = now + (int64_t)sp->days * CA_DAY_S;
	if (sp->issuer != NULL) {
		rc = ca_time_unix(X509_get0_notAfter(sp->issuer), &cap, err);
		if (rc != CG_OK)
			return rc;
		if (end > cap)
			end = cap;
	}
	if (ASN1_TIME_set(X509_getm_notBefore(x),
	    (time_t)(now - CA_BACKDATE_S)) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)end) == NULL)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot set validity");
	return CG_OK;
}

static enum cg_code
spec_exts(const struct ca_spec *sp, X509 *x, struct cg_err *err)
{
	X509V3_CTX	 v3;
	char		 bc[48];
	enum cg_code	 rc;

	X509V3_set_ctx(&v3, sp->issuer != NULL ? sp->issuer : x, x, NULL,
	    NULL, 0);
	if (sp->pathlen >= 0)
		snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d",
		    sp->pathlen);
	else
		snprintf(bc, sizeof(bc), "critical,CA:TRUE");
	rc = ca_cert_add_ext(x, X509V3_EXT_nconf_nid(NULL, &v3,
	    NID_basic_constraints, bc), "basicConstraints", err);
	if (rc == CG_OK)
		rc = ca_cert_add_ext(x, X509V3_EXT_nconf_nid(NULL, &v3,
		    NID_key_usage, CA_KU_TEXT), "keyUsage", err);
	if (rc == CG_OK)
		rc = ca_cert_add_ext(x, X509V3_EXT_nconf_nid(NULL, &v3,
		    NID_subject_key_identifier, "hash"),
		    "subjectKeyIdentifier", err);
	if (rc == CG_OK && sp->issuer != NULL)
		rc = ca_cert_add_ext(x, X509V3_EXT_nconf_nid(NULL, &v3,
		    NID_authority_key_identifier, "keyid:always"),
		    "authorityKeyIdentifier", err);
	return rc;
}

static enum cg_code
ca_cert_make(const struct ca_spec *sp, X509 **outp, struct cg_err *err)
{
	X509		*x = NULL;
	ASN1_INTEGER	*serial = NULL;
	EVP_MD_CTX	*mctx = NULL;
	char		 hex[CA_SERIAL_HEX_MAX];
	enum cg_code	 rc;

	*outp = NULL;
	rc = ca_serial_random(&serial, hex, err);
	if (rc != CG_OK)
		return rc;
	x = X509_new();
	if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_set_serialNumber(x, serial) != 1 ||
	    X509_set_subject_name(x, sp->subject) != 1 ||
	    X509_set_issuer_name(x, sp->issuer != NULL ?
	    X509_get_subject_name(sp->issuer) : sp->subject) != 1 ||
	    X509_set_pubkey(x, sp->key) != 1) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot build CA cert");
		goto out;
	}
	rc = spec_validity(sp, x, err);
	if (rc == CG_OK)
		rc = spec_exts(sp, x, err);
	if (rc == CG_OK)
		rc = ca_sign_ctx_new(sp->issuer_key != NULL ? sp->issuer_key :
		    sp->key, &mctx, err);
	if (rc != CG_OK)
		goto out;
	if (X509_sign_ctx(x, mctx) <= 0) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot sign CA cert");
		goto out;
	}
	*outp = x;
	x = NULL;
	rc = CG_OK;
out:
	EVP_MD_CTX_free(mctx);
	ASN1_INTEGER_free(serial);
	X509_free(x);
	return rc;
}

/* --------------------------------------------------------- the files */

static bool
file_used(const struct init *in, enum init_file f)
{
	return in->opts->intermediate ||
	    (f != F_ISSUING_KEY && f != F_ISSUING_PEM);
}

static enum cg_code
paths_make(struct init *in, struct cg_err *err)
{
	struct stat	 sb;
	int		 f;

	in->cadir = cg_path_join(in->opts->dir, "ca");
	if (in->cadir == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	for (f = 0; f < F__MAX; f++) {
		in->path[f] = cg_asprintf("%s/%s", in->cadir, file_names[f]);
		if (in->path[f] == NULL)
			return cg_err_set(err, CG_ENOMEM, "out of memory");
		if (!file_used(in, (enum init_file)f))
			continue;
		if (lstat(in->path[f], &sb) == 0)
			return cg_err_set(err, CG_ECONFLICT, "a CA already "
			    "exists in %s; refusing to overwrite", in->cadir);
		if (errno != ENOENT)
			return cg_err_errno(err, CG_EIO, "cannot check %s",
			    in->path[f]);
	}
	return CG_OK;
}

static enum cg_code
files_write(struct init *in, struct cg_err *err)
{
	const char	*pass = in->opts->passphrase;
	X509		*chain[2];
	size_t		 n = 0;
	enum cg_code	 rc;

	rc = ca_key_write(in->path[F_ROOT_KEY], in->root_key, pass, err);
	in->written[F_ROOT_KEY] = rc == CG_OK;
	if (rc == CG_OK)
		rc = ca_certs_write(in->path[F_ROOT_PEM], &in->root, 1, err);
	in->written[F_ROOT_PEM] = rc == CG_OK;
	if (rc == CG_OK && in->iss != NULL) {
		rc = ca_key_write(in->path[F_ISSUING_KEY], in->iss_key, pass,
		    err);
		in->written[F_ISSUING_KEY] = rc == CG_OK;
		if (rc == CG_OK)
			rc = ca_certs_write(in->path[F_ISSUING_PEM], &in->iss,
			    1, err);
		in->written[F_ISSUING_PEM] = rc == CG_OK;
	}
	if (rc != CG_OK)
		return rc;
	if (in->iss != NULL)
		chain[n++] = in->iss;
	chain[n++] = in->root;
	rc = ca_certs_write(in->path[F_CHAIN], chain, n, err);
	in->written[F_CHAIN] = rc == CG_OK;
	return rc;
}

static enum cg_code
conf_fill(const struct init *in, struct ca_config *conf, struct cg_err *err)
{
	const char	*pem = file_names[in->iss != NULL ? F_ISSUING_PEM :
			    F_ROOT_PEM];
	const char	*key = file_names[in->iss != NULL ? F_ISSUING_KEY :
			    F_ROOT_KEY];
	char		*c, *k, *ch;

	c = cg_asprintf("ca/%s", pem);
	k = cg_asprintf("ca/%s", key);
	ch = cg_asprintf("ca/%s", file_names[F_CHAIN]);
	if (c == NULL || k == NULL || ch == NULL) {
		cg_free(c);
		cg_free(k);
		cg_free(ch);
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	}
	cg_free(conf->cert_file);
	cg_free(conf->key_file);
	cg_free(conf->chain_file);
	conf->cert_file = c;
	conf->key_file = k;
	conf->chain_file = ch;
	return CG_OK;
}

/* ---------------------------------------------------------- creation */

static enum cg_code
certs_make(struct init *in, struct cg_err *err)
{
	const struct ca_init_opts	*o = in->opts;
	X509_NAME			*rname = NULL, *iname = NULL;
	struct ca_spec			 sp;
	enum cg_code			 rc;

	rc = name_parse(o->name, &rname, err);
	if (rc == CG_OK)
		rc = ca_key_generate(o->key_type, &in->root_key, err);
	if (rc != CG_OK)
		goto out;
	memset(&sp, 0, sizeof(sp));
	sp.subject = rname;
	sp.key = in->root_key;
	sp.days = o->root_days != 0 ? o->root_days : ROOT_DAYS_DEFAULT;
	sp.pathlen = o->intermediate ? 1 : 0;
	rc = ca_cert_make(&sp, &in->root, err);
	if (rc != CG_OK || !o->intermediate)
		goto out;
	rc = issuing_name(rname, &iname, err);
	if (rc == CG_OK)
		rc = ca_key_generate(o->key_type, &in->iss_key, err);
	if (rc != CG_OK)
		goto out;
	sp.subject = iname;
	sp.key = in->iss_key;
	sp.issuer = in->root;
	sp.issuer_key = in->root_key;
	sp.days = o->issuing_days != 0 ? o->issuing_days :
	    ISSUING_DAYS_DEFAULT;
	sp.pathlen = 0;
	rc = ca_cert_make(&sp, &in->iss, err);
out:
	X509_NAME_free(iname);
	X509_NAME_free(rname);
	return rc;
}

static void
init_cleanup(struct init *in, bool failed)
{
	int	 f;

	for (f = 0; f < F__MAX; f++) {
		/* Leave nothing half-made behind. */
		if (failed && in->written[f])
			unlink(in->path[f]);
		cg_free(in->path[f]);
	}
	cg_free(in->cadir);
	X509_free(in->iss);
	X509_free(in->root);
	EVP_PKEY_free(in->iss_key);
	EVP_PKEY_free(in->root_key);
}

static enum cg_code
opts_check(const struct ca_init_opts *o, struct cg_err *err)
{
	if (o == NULL || o->dir == NULL || *o->dir == '\0')
		return cg_err_set(err, CG_EINVAL, "no directory for the CA");
	if ((unsigned)o->key_type >= CA_INIT__MAX)
		return cg_err_set(err, CG_EINVAL, "unknown CA key type");
	if (o->root_days > CA_VALIDITY_DAYS_MAX ||
	    o->issuing_days > CA_VALIDITY_DAYS_MAX)
		return cg_err_set(err, CG_EINVAL, "CA validity is longer than "
		    "%d days", CA_VALIDITY_DAYS_MAX);
	return CG_OK;
}

enum cg_code
ca_init_create(const struct ca_init_opts *opts, struct ca_config *conf,
    struct cg_err *err)
{
	struct init	 in;
	enum cg_code	 rc;

	memset(&in, 0, sizeof(in));
	in.opts = opts;
	rc = opts_check(opts, err);
	if (rc != CG_OK || conf == NULL)
		return rc != CG_OK ? rc :
		    cg_err_set(err, CG_EINVAL, "no config to fill");
	rc = paths_make(&in, err);
	if (rc == CG_OK)
		rc = certs_make(&in, err);
	if (rc == CG_OK)
		rc = cg_mkdir_p(in.cadir, CA_DIR_MODE, err);
	if (rc == CG_OK)
		rc = files_write(&in, err);
	if (rc == CG_OK)
		rc = conf_fill(&in, conf, err);
	init_cleanup(&in, rc != CG_OK);
	return rc;
}
