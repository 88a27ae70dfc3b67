/*
 * cmd_user_cert.c - `certgw user import-cert` and `certgw user issue`:
 * mapping an identity to a certificate file after checking its chain (the
 * checks are ca/ca_import.c's, shared with the admin API), and
 * issuing it a new key and certificate as PKCS#12, mapped by SHA-256.
 * Mapping by a pasted thumbprint or name (add-cert), and the option
 * parser, stay in cmd_user.c.
 */
#include "cmd_user.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* -------------------------------------------------------------- helpers */

/* Where a certificate came from, as a mapping row records it. */
static void
map_from_cert(struct ca_ident_map *m, X509 *x, char *subject, char *issuer,
    size_t cap)
{
	cmd_name_text(X509_get_subject_name(x), subject, cap);
	cmd_name_text(X509_get_issuer_name(x), issuer, cap);
	m->subject = subject;
	m->issuer = issuer;
	if (ca_time_unix(X509_get0_notAfter(x), &m->not_after, NULL) !=
	    CG_OK)
		m->not_after = 0;
}

/* --------------------------------------------------------- import-cert */

/*
 * The checks and the mappings are the library's (ca/ca_import.c), shared
 * with POST /admin/v1/identities/{name}/certificates; this is the file,
 * the identity and the words.
 */
int
user_import_cert(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct ca_cert_import	 imp;
	struct cg_err		 err = { 0 };
	STACK_OF(X509)		*certs = NULL;
	X509_STORE		*trust = NULL;
	int			 ret;

	memset(&imp, 0, sizeof(imp));
	ret = uopts_parse(argc, argv, "import-cert", UOPT_THUMBONLY, 2,
	    "import-cert NAME FILE [--thumbprint-only]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cmd_cert_file_load("import-cert", o.args[1], &certs))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		goto out_certs;
	if (!user_ident_get(&ctx, "import-cert", o.args[0], &i))
		goto out;
	if (ca_cert_import_check(certs, o.thumb_only, &imp, &err) != CG_OK)
		goto fail;
	if (!imp.self_signed &&
	    (ca_client_trust_store(gw_config_client_ca_file(ctx.conf), ctx.st,
	    &trust, &err) != CG_OK ||
	    ca_cert_import_verify(&imp, trust, &err) != CG_OK))
		goto fail;
	if (ca_cert_import_store(ctx.st, i, &imp, ctx.actor, &err) != CG_OK)
		goto fail;
	if (imp.self_signed)
		printf("pinned self-signed certificate sha256 %s to %s "
		    "(mapping %lld); it is trusted for %s alone\n", imp.sha256,
		    i->name, (long long)imp.map_ids[0], i->name);
	else if (imp.thumb_only)
		printf("mapped sha256 %s to %s (mapping %lld)\n", imp.sha256,
		    i->name, (long long)imp.map_ids[0]);
	else
		printf("mapped sha256 %s (mapping %lld) and cn %s (mapping "
		    "%lld) to %s\n", imp.sha256, (long long)imp.map_ids[0],
		    imp.cn, (long long)imp.map_ids[1], i->name);
	ret = CMD_EXIT_OK;
	goto out;
fail:
	cmd_fail("import-cert", &err);
out:
	X509_STORE_free(trust);
	ca_cert_import_clear(&imp);
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
out_certs:
	sk_X509_pop_free(certs, X509_free);
	return ret;
}

/* -------------------------------------------------------------- issue */

#define ISSUE_PASSWORD_LEN	24
#define ISSUE_P12_MAX		(256 * 1024)

/* Does the profile name sn among the subject attributes it allows? */
static bool
profile_allows_attr(const struct ca_profile *p, const char *sn)
{
	size_t	 k;

	for (k = 0; k < p->subject_allowed.n; k++)
		if (strcmp(p->subject_allowed.v[k], sn) == 0)
			return true;
	return false;
}

/*
 * A request for key: subject CN=cn, and with email an emailAddress
 * attribute (attr) and an email SAN (san).  It is the CLI's own request
 * for its own key: the signature only has to be valid.
 */
static enum cg_code
issue_csr(EVP_PKEY *key, const char *cn, const char *email, bool attr,
    bool san, struct ca_csr **csrp, struct cg_err *err)
{
	X509_REQ		*req;
	X509_NAME		*name;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES		*gens = NULL;
	GENERAL_NAME		*gn;
	ASN1_IA5STRING		*ia5;
	unsigned char		*der = NULL;
	int			 len;
	enum cg_code		 rc = CG_ECRYPTO;

	*csrp = NULL;
	if ((req = X509_REQ_new()) == NULL ||
	    X509_REQ_set_pubkey(req, key) != 1)
		goto out;
	name = X509_REQ_get_subject_name(req);
	if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1)
		goto out;
	if (email != NULL && attr && X509_NAME_add_entry_by_NID(name,
	    NID_pkcs9_emailAddress, MBSTRING_ASC, (const unsigned char *)email,
	    -1, -1, 0) != 1)
		goto out;
	if (email != NULL && san) {
		gens = GENERAL_NAMES_new();
		gn = GENERAL_NAME_new();
		ia5 = ASN1_IA5STRING_new();
		if (gens == NULL || gn == NULL || ia5 == NULL ||
		    ASN1_STRING_set(ia5, email, -1) != 1) {
			GENERAL_NAME_free(gn);
			ASN1_IA5STRING_free(ia5);
			goto out;
		}
		GENERAL_NAME_set0_value(gn, GEN_EMAIL, ia5);
		if (!sk_GENERAL_NAME_push(gens, gn)) {
			GENERAL_NAME_free(gn);
			goto out;
		}
		if (X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0,
		    X509V3_ADD_DEFAULT) != 1 ||
		    X509_REQ_add_extensions(req, exts) != 1)
			goto out;
	}
	if (X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
	    (len = i2d_X509_REQ(req, &der)) <= 0)
		goto out;
	rc = ca_csr_parse(der, (size_t)len, csrp, err);
out:
	if (rc == CG_ECRYPTO)
		cg_err_crypto(err, CG_ECRYPTO, "cannot make the request");
	OPENSSL_free(der);
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return rc;
}

/*
 * The request for the identity: with its email address where the
 * profile takes one, else without (and says so).
 */
static enum cg_code
issue_request(const struct ca_profile *p, const struct ca_identity *i,
    EVP_PKEY *key, struct ca_csr **csrp, struct cg_err *err)
{
	struct cg_err	 perr = { 0 };
	bool		 attr, san;
	enum cg_code	 rc;

	attr = profile_allows_attr(p, "emailAddress");
	san = (p->san_types & CA_SAN_EMAIL) != 0;
	if (i->email[0] != '\0' && (attr || san)) {
		rc = issue_csr(key, i->name, i->email, attr, san, csrp, err);
		if (rc != CG_OK)
			return rc;
		if (ca_policy_check(p, *csrp, &perr) == CG_OK)
			return CG_OK;
		ca_csr_free(*csrp);
		*csrp = NULL;
		fprintf(stderr, "certgw: user issue: note: profile %s refuses "
		    "the email address (%s); issuing without it\n", p->name,
		    perr.msg);
	}
	return issue_csr(key, i->name, NULL, false, false, csrp, err);
}

/*
 * The key is issued, then the file written, then the mapping made: a
 * failure after the issuance says what to revoke or map by hand.
 */
static int
issue_finish(struct cmd_ctx *ctx, const struct uopts *o,
    const struct ca_identity *i, EVP_PKEY *key, struct ca_issued *is,
    const char *out, const char *pw)
{
	struct ca_ident_map	 m;
	struct cg_buf		 p12;
	struct cg_err		 err = { 0 };
	X509			*x;
	char			 subject[CA_IDENT_DN_MAX + 1];
	char			 issuer[CA_IDENT_DN_MAX + 1];
	int64_t			 mapid = 0;
	int			 ret = CMD_EXIT_FAIL;

	cg_buf_init(&p12, ISSUE_P12_MAX);
	if ((x = ca_issued_get0_cert(is)) == NULL ||
	    ca_pkcs12_make(key, x, ca_get0_chain(ctx->ca), pw, i->name, &p12,
	    &err) != CG_OK ||
	    cg_file_write(out, p12.data, p12.len, 0600, !o->force, &err) !=
	    CG_OK) {
		cmd_fail("user issue", &err);
		fprintf(stderr, "certgw: user issue: certificate %s was issued "
		    "but its key is lost; revoke it with `certgw cert revoke "
		    "%s`\n", is->serial, is->serial);
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.identity_id = i->id;
	m.kind = CA_MAP_SHA256;
	m.value = is->sha256;
	m.der = is->der;
	m.der_len = is->der_len;
	m.source = "issue";
	map_from_cert(&m, x, subject, issuer, sizeof(subject));
	if (ca_store_begin(ctx->st, &err) != CG_OK ||
	    ca_store_map_add(ctx->st, &m, &mapid, &err) != CG_OK ||
	    ca_store_audit_add(ctx->st, ctx->actor, "user-issue", i->name,
	    "ok", is->serial, &err) != CG_OK ||
	    ca_store_commit(ctx->st, &err) != CG_OK) {
		ca_store_rollback(ctx->st);
		cmd_fail("user issue", &err);
		fprintf(stderr, "certgw: user issue: %s holds certificate %s, "
		    "not mapped; map it with `certgw user add-cert %s "
		    "--thumbprint %s`\n", out, is->serial, i->name,
		    is->sha256);
		goto out;
	}
	printf("issued certificate %s (profile %s) to %s, mapped by sha256 "
	    "%s (mapping %lld)\n", is->serial, o->profile, i->name,
	    is->sha256, (long long)mapid);
	printf("wrote %s (mode 0600): key, certificate and CA chain\n", out);
	if (o->password_file == NULL) {
		printf("password: %s\n", pw);
		printf("This password is shown only once and is not stored; "
		    "give it to %s apart from the file.\n", i->name);
	}
	ret = CMD_EXIT_OK;
out:
	cg_buf_cleanup(&p12);
	return ret;
}

int
user_issue(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct ca_issue_req	 req;
	struct ca_issued	*is = NULL;
	struct ca_csr		*csr = NULL;
	struct cg_err		 err = { 0 };
	const struct ca_profile	*prof;
	enum ca_init_key	 kt = CA_INIT_EC_P256;
	struct stat		 sb;
	EVP_PKEY		*key = NULL;
	char			 rnd[ISSUE_PASSWORD_LEN + 1];
	char			*pw = NULL, *out = NULL;
	int			 ret;

	ret = uopts_parse(argc, argv, "issue", UOPT_PROFILE | UOPT_OUT |
	    UOPT_PWFILE | UOPT_KEYTYPE | UOPT_FORCE, 1, "issue NAME --profile "
	    "P [--out NAME.p12] [--password-file F]\n"
	    "       [--key-type ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096] "
	    "[--force]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (o.profile == NULL)
		return cmd_usage_error("user issue", "--profile is required");
	if (o.key_type != NULL && !ca_init_key_parse(o.key_type, &kt))
		return cmd_usage_error("user issue", "--key-type: expected "
		    "ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096");
	out = o.out != NULL ? cg_strdup(o.out) : cg_asprintf("%s.p12",
	    o.args[0]);
	if (out == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		return CMD_EXIT_FAIL;
	}
	ret = CMD_EXIT_FAIL;
	/* Refused before a key is made or anything issued. */
	if (!o.force && stat(out, &sb) == 0) {
		fprintf(stderr, "certgw: user issue: %s exists already; use "
		    "--force to replace it\n", out);
		goto out_free;
	}
	if (o.password_file != NULL) {
		if (cg_secret_load(o.password_file, NULL, &pw, &err) != CG_OK) {
			cmd_fail("user issue", &err);
			goto out_free;
		}
	} else if (ca_password_random(rnd, sizeof(rnd), &err) != CG_OK) {
		cmd_fail("user issue", &err);
		goto out_free;
	}
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_CA | CMD_NEED_STORE))
		goto out_free;
	if ((prof = gw_config_profile(ctx.conf, o.profile)) == NULL) {
		fprintf(stderr, "certgw: user issue: no profile '%s' in the "
		    "config\n", o.profile);
		goto out;
	}
	if (!user_ident_get(&ctx, "user issue", o.args[0], &i))
		goto out;
	if (i->disabled)
		fprintf(stderr, "certgw: user issue: note: %s is disabled and "
		    "authenticates nobody until `certgw user enable %s`\n",
		    i->name, i->name);
	if (ca_key_generate(kt, &key, &err) != CG_OK ||
	    issue_request(prof, i, key, &csr, &err) != CG_OK) {
		cmd_fail("user issue", &err);
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.csr = csr;
	req.profile = prof;
	req.protocol = "cli";
	req.requester = ctx.actor;
	if (ca_issue(ctx.ca, ctx.st, &req, &is, &err) != CG_OK) {
		cmd_fail("user issue: refused", &err);
		goto out;
	}
	ret = issue_finish(&ctx, &o, i, key, is, out, pw != NULL ? pw : rnd);
out:
	ca_issued_free(is);
	ca_csr_free(csr);
	EVP_PKEY_free(key);
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
out_free:
	OPENSSL_cleanse(rnd, sizeof(rnd));
	cg_secret_free(pw);
	cg_free(out);
	return ret;
}
