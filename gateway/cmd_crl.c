/*
 * cmd_crl.c - `certgw crl` and `certgw audit`: a freshly signed CRL from the
 * local store, and the audit log.  `serve` publishes its own CRL at /crl;
 * this is the offline equivalent and the admin's look at the record.
 */
#include "cmd.h"

#include <getopt.h>
#include <string.h>

#include <jansson.h>
#include <openssl/pem.h>

static int
write_crl_pem(const uint8_t *der, size_t len)
{
	const unsigned char	*p = der;
	X509_CRL		*crl;
	BIO			*out;
	int			 ok;

	crl = d2i_X509_CRL(NULL, &p, (long)len);
	out = BIO_new_fp(stdout, BIO_NOCLOSE);
	ok = crl != NULL && out != NULL && PEM_write_bio_X509_CRL(out, crl) == 1;
	BIO_free(out);
	X509_CRL_free(crl);
	return ok ? CMD_EXIT_OK : CMD_EXIT_FAIL;
}

int
cmd_crl(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_ctx	 ctx;
	struct cg_err	 err = { 0 };
	const char	*config = NULL, *dir = NULL, *out = NULL;
	uint8_t		*der = NULL;
	size_t		 len;
	int64_t		 next;
	int		 c, ret = CMD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw crl [--out FILE] [--config F | "
			    "--dir D]\n\nSign a CRL of every revoked, unexpired "
			    "certificate.  With --out it is\nwritten as DER to "
			    "FILE; otherwise as PEM to standard output.\n");
			return CMD_EXIT_OK;
		default: return cmd_usage_error("crl", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("crl", "unexpected argument '%s'",
		    argv[optind]);
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE | CMD_NEED_CA))
		return CMD_EXIT_FAIL;
	if (ca_crl_make(ctx.ca, ctx.st, &der, &len, &next, &err) != CG_OK) {
		cmd_fail("cannot make the CRL", &err);
		goto out;
	}
	if (out == NULL) {
		ret = write_crl_pem(der, len);
	} else if (cg_file_write(out, der, len, 0644, false, &err) != CG_OK) {
		cmd_fail("cannot write the CRL", &err);
	} else {
		ret = CMD_EXIT_OK;
	}
out:
	cg_free(der);
	cmd_ctx_close(&ctx);
	return ret;
}

struct audit_state {
	json_t		*arr;		/* rows for --json, or NULL */
};

static enum cg_code
audit_row(void *arg, const struct ca_audit_rec *r)
{
	struct audit_state	*as = arg;
	char			 at[32];
	json_t			*o;

	cg_time_fmt(r->at, at, sizeof(at));
	if (as->arr != NULL) {
		o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
		    (json_int_t)r->id, "at", at, "actor", r->actor, "action",
		    r->action, "target", r->target, "outcome", r->outcome,
		    "detail", r->detail);
		if (o == NULL || json_array_append_new(as->arr, o) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	printf("%s  %-16s  %-8s  %-8s  %-40s  %s\n", at, r->actor, r->action,
	    r->outcome, r->target[0] != '\0' ? r->target : "-", r->detail);
	return CG_OK;
}

int
cmd_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct audit_state	 as = { NULL };
	struct cmd_ctx		 ctx;
	struct cg_err		 err = { 0 };
	const char		*config = NULL, *dir = NULL;
	int64_t			 since = 0;
	bool			 json = false;
	int			 c, ret = CMD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!cg_parse_duration(optarg, &since))
				return cmd_usage_error("audit", "bad duration "
				    "'%s' (e.g. 1h, 7d)", optarg);
			break;
		case 'j': json = true; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw audit [--since 1h] [--json] "
			    "[--config F | --dir D]\n\nThe audit log: every "
			    "issuance (and refusal), revocation and admin "
			    "action.\n");
			return CMD_EXIT_OK;
		default: return cmd_usage_error("audit", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("audit", "unexpected argument '%s'",
		    argv[optind]);
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	if (json && (as.arr = json_array()) == NULL)
		goto out;
	if (!json)
		printf("%-20s  %-16s  %-8s  %-8s  %-40s  %s\n", "AT", "ACTOR",
		    "ACTION", "OUTCOME", "TARGET", "DETAIL");
	if (ca_store_audit_list(ctx.st, since > 0 ? cg_now() - since : 0,
	    audit_row, &as, &err) != CG_OK) {
		cmd_fail("cannot read the audit log", &err);
		goto out;
	}
	if (json && !cmd_json_print(as.arr))
		goto out;
	ret = CMD_EXIT_OK;
out:
	json_decref(as.arr);
	cmd_ctx_close(&ctx);
	return ret;
}
