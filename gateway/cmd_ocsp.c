/*
 * cmd_ocsp.c - `certgw ocsp-signer init`: make a delegated OCSP signing
 * key and a certificate for it, issued by the CA through ca_issue() under
 * a built-in profile (digitalSignature, id-kp-OCSPSigning; ca_issue adds
 * id-pkix-ocsp-nocheck for that usage), and write them beside the config
 * as ocsp/signer.key (0600) and ocsp/signer.pem.  The responder itself is
 * ca/ca_ocsp.c and gateway/gw_ocsp.c; without a signer the CA key signs.
 */
#include "cmd.h"

#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define SIGNER_DAYS_DEFAULT	90	/* nocheck: keep it short-lived */
#define SIGNER_CN_MAX		64	/* ub-common-name, RFC 5280 */
#define SIGNER_CN_SUFFIX	" OCSP Signer"
#define SIGNER_DIR		"ocsp"
#define SIGNER_KEY_FILE		"ocsp/signer.key"
#define SIGNER_CERT_FILE	"ocsp/signer.pem"
#define SIGNER_KEY_PEM_MAX	(16 * 1024)

/*
 * "<CA CN> OCSP Signer", the CA's name cut at a UTF-8 boundary so that
 * the whole stays within SIGNER_CN_MAX characters.
 */
static char *
signer_cn(struct ca *ca)
{
	X509_NAME	*name = X509_get_subject_name(ca_get0_cert(ca));
	unsigned char	*utf8 = NULL;
	const char	*cn = "certgw";
	size_t		 room, i, chars;
	char		*out;
	int		 idx, len = -1;

	room = SIGNER_CN_MAX - (sizeof(SIGNER_CN_SUFFIX) - 1);
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
	out = cg_asprintf("%.*s" SIGNER_CN_SUFFIX, (int)i, cn);
	OPENSSL_free(utf8);
	return out;
}

/* Built in, so that no config edit can widen what the signer may do. */
static void
signer_profile(struct ca_profile *p, uint32_t days)
{
	memset(p, 0, sizeof(*p));
	p->name = "ocsp-signer";
	p->validity_days = days;
	p->key_types = 1u << CA_KEY_EC_P256 | 1u << CA_KEY_EC_P384 |
	    1u << CA_KEY_RSA;
	p->rsa_min_bits = 2048;
	p->key_usage = CA_KU_DIGITAL_SIGNATURE;
	p->ext_key_usage = CA_EKU_OCSP_SIGNING;
}

static bool
signer_files_free(const char *kpath, const char *cpath, bool force)
{
	struct stat	 st;

	if (force)
		return true;
	if (stat(kpath, &st) == 0 || stat(cpath, &st) == 0) {
		fprintf(stderr, "certgw ocsp-signer init: %s or %s exists "
		    "already; use --force to replace them\n", SIGNER_KEY_FILE,
		    SIGNER_CERT_FILE);
		return false;
	}
	return true;
}

/* PEM of key (PKCS#8) or cert into path; key files are 0600. */
static enum cg_code
pem_write(const char *path, EVP_PKEY *key, X509 *cert, bool force,
    struct cg_err *err)
{
	BIO		*bio;
	BUF_MEM		*mem = NULL;
	int		 ok;
	enum cg_code	 rc;

	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	ok = key != NULL ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0,
	    NULL, NULL) : PEM_write_bio_X509(bio, cert);
	if (ok != 1 || BIO_get_mem_ptr(bio, &mem) != 1 || mem == NULL ||
	    mem->length > SIGNER_KEY_PEM_MAX) {
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot encode the OCSP "
		    "signer %s", key != NULL ? "key" : "certificate");
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
signer_issue(struct cmd_ctx *ctx, enum ca_init_key kt, uint32_t days,
    EVP_PKEY **keyp, struct ca_issued **isp, struct cg_err *err)
{
	struct ca_profile	 prof;
	struct ca_issue_req	 req;
	struct ca_csr		*csr = NULL;
	uint8_t			*der = NULL;
	size_t			 derlen;
	char			*cn;
	enum cg_code		 rc;

	*keyp = NULL;
	*isp = NULL;
	cn = signer_cn(ctx->ca);
	if (cn == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	rc = ca_key_generate(kt, keyp, err);
	if (rc == CG_OK)
		rc = ca_csr_make(*keyp, cn, NULL, 0, &der, &derlen, err);
	if (rc == CG_OK)
		rc = ca_csr_parse(der, derlen, &csr, err);
	if (rc == CG_OK) {
		signer_profile(&prof, days);
		req.csr = csr;
		req.profile = &prof;
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

static void
signer_snippet(const struct cmd_ctx *ctx, const struct ca_issued *is)
{
	printf("wrote %s (mode 0600) and %s (serial %s)\n", SIGNER_KEY_FILE,
	    SIGNER_CERT_FILE, is->serial);
	if (ctx->conf->ocsp.signer_cert != NULL) {
		printf("%s has an OCSP signer: point ocsp.signer_cert and "
		    "ocsp.signer_key at these files if it does not already, "
		    "then restart certgw serve\n", ctx->conf->path);
		return;
	}
	printf("add to %s, then restart certgw serve:\n"
	    "  \"ocsp\": {\n"
	    "    \"signer_cert\": \"%s\",\n"
	    "    \"signer_key\": \"%s\"\n"
	    "  }\n", ctx->conf->path, SIGNER_CERT_FILE, SIGNER_KEY_FILE);
}

static int
signer_run(struct cmd_ctx *ctx, enum ca_init_key kt, uint32_t days,
    bool force)
{
	struct ca_issued	*is = NULL;
	struct cg_err		 err = { 0 };
	EVP_PKEY		*key = NULL;
	X509			*cert;
	char			*dir, *kpath, *cpath;
	int			 ret = CMD_EXIT_FAIL;

	dir = cg_path_join(ctx->conf->dir, SIGNER_DIR);
	kpath = cg_path_join(ctx->conf->dir, SIGNER_KEY_FILE);
	cpath = cg_path_join(ctx->conf->dir, SIGNER_CERT_FILE);
	if (dir == NULL || kpath == NULL || cpath == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		goto out;
	}
	/* Refused before anything is issued. */
	if (!signer_files_free(kpath, cpath, force))
		goto out;
	if (cg_mkdir_p(dir, 0700, &err) != CG_OK ||
	    signer_issue(ctx, kt, days, &key, &is, &err) != CG_OK) {
		cmd_fail("cannot make the OCSP signer certificate", &err);
		goto out;
	}
	cert = ca_issued_get0_cert(is);
	if (cert == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		goto out;
	}
	if (pem_write(kpath, key, NULL, force, &err) != CG_OK ||
	    pem_write(cpath, NULL, cert, force, &err) != CG_OK) {
		cmd_fail("cannot write the OCSP signer files", &err);
		goto out;
	}
	signer_snippet(ctx, is);
	ret = CMD_EXIT_OK;
out:
	ca_issued_free(is);
	EVP_PKEY_free(key);
	cg_free(dir);
	cg_free(kpath);
	cg_free(cpath);
	return ret;
}

static int
signer_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "days", required_argument, NULL, 'D' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_ctx	 ctx;
	const char	*config = NULL, *dir = NULL;
	enum ca_init_key kt = CA_INIT_EC_P256;
	uint64_t	 days = SIGNER_DAYS_DEFAULT;
	bool		 force = false;
	int		 c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'D':
			if (!cg_parse_u64(optarg, strlen(optarg),
			    CA_VALIDITY_DAYS_MAX, &days) || days == 0)
				return cmd_usage_error("ocsp-signer init",
				    "--days: expected 1 to %d",
				    CA_VALIDITY_DAYS_MAX);
			break;
		case 'k':
			if (!ca_init_key_parse(optarg, &kt))
				return cmd_usage_error("ocsp-signer init",
				    "--key-type: expected ec-p256, ec-p384, "
				    "rsa-2048, rsa-3072 or rsa-4096");
			break;
		case 'f': force = true; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw ocsp-signer init [--days N] "
			    "[--key-type T] [--force]\n"
			    "                               [-c|--config F | "
			    "--dir D]\n"
			    "Makes a delegated OCSP signing key (default "
			    "ec-p256) and its certificate,\nissued by the CA "
			    "(OCSPSigning, ocsp-nocheck), as %s and %s\nbeside "
			    "the config (default %d days, never past the "
			    "CA).\n", SIGNER_KEY_FILE, SIGNER_CERT_FILE,
			    SIGNER_DAYS_DEFAULT);
			return CMD_EXIT_OK;
		default:
			return cmd_usage_error("ocsp-signer init",
			    "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("ocsp-signer init", "unexpected "
		    "argument '%s'", argv[optind]);
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_CA | CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = signer_run(&ctx, kt, (uint32_t)days, force);
	cmd_ctx_close(&ctx);
	return ret;
}

static const struct cmd signer_subs[] = {
	{ "init", signer_init, "make the delegated OCSP signing key and "
	  "certificate" },
};

int
cmd_ocsp_signer(int argc, char **argv)
{
	return cmd_sub("ocsp-signer", signer_subs,
	    sizeof(signer_subs) / sizeof(signer_subs[0]), argc, argv);
}
