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
#define SIGNER_DIR		"ocsp"
#define SIGNER_KEY_FILE		"ocsp/signer.key"
#define SIGNER_CERT_FILE	"ocsp/signer.pem"

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

static void
signer_snippet(const struct cmd_ctx *ctx)
{
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
	struct ca_profile	 prof;
	struct ca_issued	*is = NULL;
	const struct cmd_keycert kc = {
		.cmd = "ocsp-signer init", .dir = SIGNER_DIR,
		.key_file = SIGNER_KEY_FILE, .cert_file = SIGNER_CERT_FILE,
		.cn_suffix = " OCSP Signer", .key_type = kt, .profile = &prof,
		.force = force,
	};
	int			 ret;

	signer_profile(&prof, days);
	ret = cmd_keycert_make(ctx, &kc, &is);
	if (ret == CMD_EXIT_OK)
		signer_snippet(ctx);
	ca_issued_free(is);
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
