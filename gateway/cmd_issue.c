/*
 * cmd_issue.c - `certgw issue --profile P --csr FILE`: issue a certificate
 * from a CSR file through the CA core's one issuance function, exactly as
 * a protocol would; the CLI is just another requester ("cli:<user>").
 */
#include "cmd.h"

#include <getopt.h>
#include <string.h>

#include <openssl/pem.h>

static void
issue_usage(FILE *f)
{
	fprintf(f,
"usage: certgw issue --profile P --csr FILE [--out FILE] [--chain]\n"
"                    [--config FILE | --dir DIR]\n"
"\n"
"Issue a certificate from a PKCS#10 request (PEM or DER) under profile P.\n"
"The certificate is written as PEM to --out (or standard output); its\n"
"serial number goes to standard error.\n"
"\n"
"  --profile P     profile name from the config (required)\n"
"  --csr FILE      the request, PEM or DER (required)\n"
"  --out FILE      where to write the certificate (default: stdout)\n"
"  --chain         append the CA chain after the certificate\n"
"  --config FILE   the configuration; or --dir DIR for DIR/certgw.json\n");
}

static enum cg_code
write_pem(const char *out, struct ca_issued *is, struct ca *ca,
    bool chain, struct cg_err *err)
{
	STACK_OF(X509)	*ch = ca_get0_chain(ca);
	BIO		*b;
	BUF_MEM		*mem;
	enum cg_code	 rc = CG_OK;
	int		 i;

	b = BIO_new(BIO_s_mem());
	if (b == NULL)
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	if (PEM_write_bio_X509(b, ca_issued_get0_cert(is)) != 1)
		rc = cg_err_crypto(err, CG_ECRYPTO, "cannot encode certificate");
	for (i = 0; rc == CG_OK && chain && i < sk_X509_num(ch); i++)
		if (PEM_write_bio_X509(b, sk_X509_value(ch, i)) != 1)
			rc = cg_err_crypto(err, CG_ECRYPTO,
			    "cannot encode the chain");
	if (rc != CG_OK)
		goto out;
	BIO_get_mem_ptr(b, &mem);
	if (out == NULL || strcmp(out, "-") == 0) {
		if (fwrite(mem->data, 1, mem->length, stdout) != mem->length ||
		    fflush(stdout) != 0)
			rc = cg_err_errno(err, CG_EIO, "cannot write stdout");
	} else {
		rc = cg_file_write(out, mem->data, mem->length, 0644, false,
		    err);
	}
out:
	BIO_free(b);
	return rc;
}

int
cmd_issue(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "csr", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "chain", no_argument, NULL, 'C' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*profile = NULL, *csrfile = NULL, *out = NULL;
	const char		*config = NULL, *dir = NULL;
	const struct ca_profile	*prof;
	struct cmd_ctx		 ctx;
	struct ca_issue_req	 req;
	struct ca_issued	*is = NULL;
	struct ca_csr		*csr = NULL;
	struct cg_err		 err = { 0 };
	uint8_t			*data = NULL;
	size_t			 len;
	bool			 chain = false;
	int			 c, ret = CMD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': profile = optarg; break;
		case 'r': csrfile = optarg; break;
		case 'o': out = optarg; break;
		case 'C': chain = true; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h': issue_usage(stdout); return CMD_EXIT_OK;
		default: return cmd_usage_error("issue", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("issue", "unexpected argument '%s'",
		    argv[optind]);
	if (profile == NULL || csrfile == NULL)
		return cmd_usage_error("issue", "--profile and --csr are "
		    "required");
	if (cg_file_read(csrfile, CA_CSR_PEM_MAX, &data, &len, &err) != CG_OK)
		return cmd_fail("cannot read the CSR", &err);
	if (ca_csr_parse_any(data, len, &csr, &err) != CG_OK) {
		cg_free(data);
		return cmd_fail(csrfile, &err);
	}
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_CA | CMD_NEED_STORE))
		goto out_csr;
	prof = gw_config_profile(ctx.conf, profile);
	if (prof == NULL) {
		fprintf(stderr, "certgw issue: no profile '%s' in the "
		    "config\n", profile);
		goto out;
	}
	req.csr = csr;
	req.profile = prof;
	req.protocol = "cli";
	req.requester = ctx.actor;
	if (ca_issue(ctx.ca, ctx.st, &req, &is, &err) != CG_OK) {
		cmd_fail("refused", &err);
		goto out;
	}
	if (write_pem(out, is, ctx.ca, chain, &err) != CG_OK) {
		/* Issued and recorded; only the copy on disk failed. */
		cmd_fail("certificate issued but not written", &err);
		fprintf(stderr, "certgw issue: get it with 'certgw cert show "
		    "%s --pem'\n", is->serial);
		goto out;
	}
	fprintf(stderr, "issued serial=%s profile=%s sha256=%s\n", is->serial,
	    profile, is->sha256);
	ret = CMD_EXIT_OK;
out:
	ca_issued_free(is);
	cmd_ctx_close(&ctx);
out_csr:
	ca_csr_free(csr);
	cg_free(data);
	return ret;
}
