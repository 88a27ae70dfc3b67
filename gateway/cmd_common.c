/*
 * cmd_common.c - helpers shared by the local admin subcommands: locating and
 * loading the config, opening the CA and the store, and reporting errors in
 * one consistent form.  Subcommand logic lives in the cmd_<name>.c files.
 */
#include "cmd.h"

#include <sys/stat.h>

#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

bool cmd_verbose;

bool
cmd_json_print(json_t *o)
{
	bool	 ok;

	ok = o != NULL && json_dumpf(o, stdout, JSON_INDENT(2)) == 0;
	printf("\n");
	return ok;
}

int
cmd_sub(const char *cmd, const struct cmd *subs, size_t n, int argc,
    char **argv)
{
	char	 choices[256];
	size_t	 i, w = 0, len = 0;

	for (i = 0; argc >= 2 && i < n; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(argc - 1, argv + 1);
	choices[0] = '\0';
	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(choices + len, len < sizeof(choices) ?
		    sizeof(choices) - len : 0, "%s%s", i == 0 ? "" :
		    i + 1 == n ? " or " : ", ", subs[i].name);
		if (strlen(subs[i].name) > w)
			w = strlen(subs[i].name);
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("usage: certgw %s ", cmd);
		for (i = 0; i < n; i++)
			printf("%s%s", i == 0 ? "" : "|", subs[i].name);
		printf(" ...\n");
		for (i = 0; i < n; i++)
			printf("  %-*s  %s\n", (int)w, subs[i].name,
			    subs[i].help);
		return CMD_EXIT_OK;
	}
	return cmd_usage_error(cmd, "expected %s", choices);
}

void
cmd_actor(char *out, size_t outlen)
{
	struct passwd	 pw, *res = NULL;
	char		 buf[1024];

	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 &&
	    res != NULL)
		snprintf(out, outlen, "cli:%s", pw.pw_name);
	else
		snprintf(out, outlen, "cli:uid%ld", (long)geteuid());
}

int
cmd_fail(const char *what, const struct cg_err *err)
{
	fprintf(stderr, "certgw: %s: %s\n", what,
	    err->msg[0] != '\0' ? err->msg : cg_code_str(err->code));
	if (cmd_verbose && err->detail[0] != '\0')
		fprintf(stderr, "certgw: detail: %s\n", err->detail);
	return CMD_EXIT_FAIL;
}

int
cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "certgw %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'certgw %s --help')\n", cmd);
	return CMD_EXIT_USAGE;
}

static char *
config_path(const char *config, const char *dir)
{
	const char	*env;

	if (config != NULL)
		return cg_strdup(config);
	if (dir != NULL)
		return cg_path_join(dir, "certgw.json");
	env = getenv("CERTGW_CONFIG");
	if (env != NULL && env[0] != '\0')
		return cg_strdup(env);
	return cg_strdup("certgw.json");
}

bool
cmd_ctx_open(struct cmd_ctx *ctx, const char *config, const char *dir,
    unsigned need)
{
	struct cg_err	 err = { 0 };
	char		*path;

	memset(ctx, 0, sizeof(*ctx));
	cmd_actor(ctx->actor, sizeof(ctx->actor));
	path = config_path(config, dir);
	if (path == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		return false;
	}
	if (gw_config_load(path, &ctx->conf, &err) != CG_OK) {
		fprintf(stderr, "certgw: %s\n", err.msg);
		if (cmd_verbose && err.detail[0] != '\0')
			fprintf(stderr, "certgw: detail: %s\n", err.detail);
		cg_free(path);
		return false;
	}
	cg_free(path);
	if ((need & CMD_NEED_STORE) &&
	    ca_store_open(ctx->conf->store_path, &ctx->st, &err) != CG_OK) {
		cmd_fail("cannot open the store", &err);
		goto fail;
	}
	if ((need & CMD_NEED_CA) && ca_open(&ctx->conf->ca, &ctx->ca, &err) !=
	    CG_OK) {
		cmd_fail("cannot open the CA", &err);
		goto fail;
	}
	/* Certificates issued here are distributed like those of serve. */
	if ((need & CMD_NEED_CA) && ctx->conf->dist.nrules > 0) {
		if (dist_rules_new(&ctx->conf->dist, &ctx->rules, &err) !=
		    CG_OK) {
			cmd_fail("cannot load the distribution rules", &err);
			goto fail;
		}
		ctx->hook.rules = ctx->rules;
		ctx->hook.ca = ctx->ca;
		ca_set_outbox_hook(ctx->ca, dist_outbox_hook, &ctx->hook);
	}
	return true;
fail:
	cmd_ctx_close(ctx);
	return false;
}

void
cmd_ctx_close(struct cmd_ctx *ctx)
{
	ca_free(ctx->ca);
	dist_rules_free(ctx->rules);
	ca_store_close(ctx->st);
	gw_config_free(ctx->conf);
	memset(ctx, 0, sizeof(*ctx));
}

/* ---------------------------------------------- the gateway's own keys */

#define KEYCERT_CN_MAX		64	/* ub-common-name, RFC 5280 */
#define KEYCERT_PEM_MAX		(16 * 1024)

/*
 * "<CA CN><suffix>", the CA's name cut at a UTF-8 boundary so that the
 * whole stays within KEYCERT_CN_MAX characters: an admin sees which CA
 * the certificate speaks for.
 */
static char *
keycert_cn(struct ca *ca, const char *suffix)
{
	X509_NAME	*name = X509_get_subject_name(ca_get0_cert(ca));
	unsigned char	*utf8 = NULL;
	const char	*cn = "certgw";
	size_t		 room, i, chars;
	char		*out;
	int		 idx, len = -1;

	room = KEYCERT_CN_MAX - strlen(suffix);
	idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (idx >= 0)
		len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
		    X509_NAME_get_entry(name, idx)));
	if (len > 0)
		cn = (const char *)utf8;
	for (i = 0, chars = 0; cn[i] != '\0'; i++) {
		if (((unsigned char)cn[i] & 0xc0) == 0x80)
			continue;
		if (chars == room)
			break;
		chars++;
	}
	out = cg_asprintf("%.*s%s", (int)i, cn, suffix);
	OPENSSL_free(utf8);
	return out;
}

/* PEM of key (PKCS#8, mode 0600) or cert (0644), replacing with force. */
static enum cg_code
keycert_write(const char *path, EVP_PKEY *key, X509 *cert, bool force,
    struct cg_err *err)
{
	BIO		*bio;
	BUF_MEM		*mem = NULL;
	int		 ok;
	enum cg_code	 rc;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	ok = key != NULL ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0,
	    NULL, NULL) : PEM_write_bio_X509(bio, cert);
	if (ok != 1 || BIO_get_mem_ptr(bio, &mem) != 1 || mem == NULL ||
	    mem->length > KEYCERT_PEM_MAX) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot encode the %s",
		    key != NULL ? "key" : "certificate");
		goto out;
	}
	rc = cg_file_write(path, mem->data, mem->length, key != NULL ? 0600 :
	    0644, !force, err);
	if (key != NULL)
		OPENSSL_cleanse(mem->data, mem->length);
out:
	BIO_free(bio);
	return rc;
}

/* Key, request, certificate (recorded and audited by ca_issue). */
static enum cg_code
keycert_issue(struct cmd_ctx *ctx, const struct cmd_keycert *kc,
    EVP_PKEY **keyp, struct ca_issued **isp, struct cg_err *err)
{
	struct ca_issue_req	 req;
	struct ca_csr		*csr = NULL;
	uint8_t			*der = NULL;
	size_t			 derlen;
	char			*cn;
	enum cg_code		 rc;

	*keyp = NULL;
	*isp = NULL;
	if ((cn = keycert_cn(ctx->ca, kc->cn_suffix)) == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_key_generate(kc->key_type, keyp, err);
	if (rc == CG_OK)
		rc = ca_csr_make(*keyp, cn, NULL, 0, &der, &derlen, err);
	if (rc == CG_OK)
		rc = ca_csr_parse(der, derlen, &csr, err);
	if (rc == CG_OK) {
		memset(&req, 0, sizeof(req));
		req.csr = csr;
		req.profile = kc->profile;
		req.protocol = "cli";
		req.requester = ctx->actor;
		rc = ca_issue(ctx->ca, ctx->st, &req, isp, err);
	}
	if (rc != CG_OK) {
		EVP_PKEY_free(*keyp);
		*keyp = NULL;
	}
	ca_csr_free(csr);
	cg_free(der);
	cg_free(cn);
	return rc;
}

int
cmd_keycert_make(struct cmd_ctx *ctx, const struct cmd_keycert *kc,
    struct ca_issued **isp)
{
	struct stat	 sb;
	struct cg_err	 err = { 0 };
	EVP_PKEY	*key = NULL;
	X509		*cert;
	char		*dir, *kpath, *cpath;
	int		 ret = CMD_EXIT_FAIL;

	*isp = NULL;
	dir = cg_path_join(ctx->conf->dir, kc->dir);
	kpath = cg_path_join(ctx->conf->dir, kc->key_file);
	cpath = cg_path_join(ctx->conf->dir, kc->cert_file);
	if (dir == NULL || kpath == NULL || cpath == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		goto out;
	}
	/* Refused before anything is issued. */
	if (!kc->force && (stat(kpath, &sb) == 0 || stat(cpath, &sb) == 0)) {
		fprintf(stderr, "certgw %s: %s or %s exists already; use "
		    "--force to replace them\n", kc->cmd, kc->key_file,
		    kc->cert_file);
		goto out;
	}
	if (cg_mkdir_p(dir, 0700, &err) != CG_OK ||
	    keycert_issue(ctx, kc, &key, isp, &err) != CG_OK) {
		cmd_fail(kc->cmd, &err);
		goto out;
	}
	if ((cert = ca_issued_get0_cert(*isp)) == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		goto out;
	}
	if (keycert_write(kpath, key, NULL, kc->force, &err) != CG_OK ||
	    keycert_write(cpath, NULL, cert, kc->force, &err) != CG_OK) {
		cmd_fail(kc->cmd, &err);
		goto out;
	}
	printf("wrote %s (mode 0600) and %s (serial %s)\n", kc->key_file,
	    kc->cert_file, (*isp)->serial);
	ret = CMD_EXIT_OK;
out:
	if (ret != CMD_EXIT_OK) {
		ca_issued_free(*isp);
		*isp = NULL;
	}
	EVP_PKEY_free(key);
	cg_free(dir);
	cg_free(kpath);
	cg_free(cpath);
	return ret;
}
