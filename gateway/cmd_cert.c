/*
 * cmd_cert.c - `certgw cert list|show|revoke`: the admin's view of what the
 * CA has issued, read from the local store, and revocation through the CA
 * core (which records it and its audit row in one transaction).
 */
#include "cmd.h"

#include <getopt.h>
#include <string.h>

#include <jansson.h>
#include <openssl/pem.h>

struct list_state {
	bool		 json;		/* --json */
	json_t		*arr;		/* rows collected for --json */
	int64_t		 now;		/* reference time for "expired" */
	size_t		 count;		/* rows printed */
};

static const char *
status_word(const struct ca_cert_rec *r, int64_t now)
{
	if (r->status == CA_CERT_REVOKED)
		return "revoked";
	if (r->not_after < now)
		return "expired";
	return "valid";
}

static json_t *
rec_json(const struct ca_cert_rec *r, int64_t now)
{
	char	 nb[32], na[32], ia[32], ra[32];

	cg_time_fmt(r->not_before, nb, sizeof(nb));
	cg_time_fmt(r->not_after, na, sizeof(na));
	cg_time_fmt(r->issued_at, ia, sizeof(ia));
	cg_time_fmt(r->revoked_at, ra, sizeof(ra));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:s, s:s?, s:s?}",
	    "serial", r->serial, "status", status_word(r, now),
	    "subject", r->subject, "issuer", r->issuer, "sans", r->sans,
	    "not_before", nb, "not_after", na, "issued_at", ia,
	    "profile", r->profile, "protocol", r->protocol,
	    "requester", r->requester, "sha1", r->sha1, "sha256", r->sha256,
	    "revoked_at", r->status == CA_CERT_REVOKED ? ra : NULL,
	    "revocation_reason", r->status == CA_CERT_REVOKED ?
	    ca_reason_name((enum ca_reason)r->revoke_reason) : NULL);
}

static enum cg_code
list_row(void *arg, const struct ca_cert_rec *r)
{
	struct list_state	*ls = arg;
	char			 na[32];
	json_t			*o;

	ls->count++;
	if (ls->json) {
		o = rec_json(r, ls->now);
		if (o == NULL || json_array_append_new(ls->arr, o) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	cg_time_fmt(r->not_after, na, sizeof(na));
	printf("%-40s  %-7s  %-20s  %-12s  %-5s  %s%s%s\n", r->serial,
	    status_word(r, ls->now), na, r->profile, r->protocol,
	    r->subject[0] != '\0' ? r->subject : "-",
	    r->sans[0] != '\0' ? "  " : "", r->sans);
	return CG_OK;
}

static int
cert_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "status", required_argument, NULL, 's' },
		{ "expiring-within", required_argument, NULL, 'e' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca_cert_filter	 f = { .status = -1 };
	struct list_state	 ls = { 0 };
	struct cmd_ctx		 ctx;
	struct cg_err		 err = { 0 };
	const char		*config = NULL, *dir = NULL;
	int64_t			 within = 0;
	uint64_t		 lim;
	int			 c, ret = CMD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			f.profile = optarg;
			break;
		case 's':
			if (strcmp(optarg, "valid") == 0)
				f.status = CA_CERT_VALID;
			else if (strcmp(optarg, "revoked") == 0)
				f.status = CA_CERT_REVOKED;
			else if (strcmp(optarg, "expired") == 0)
				f.status = CA_FILTER_EXPIRED;
			else
				return cmd_usage_error("cert list", "--status "
				    "is valid, revoked or expired");
			break;
		case 'e':
			if (!cg_parse_duration(optarg, &within))
				return cmd_usage_error("cert list", "bad "
				    "duration '%s' (e.g. 30d, 12h)", optarg);
			break;
		case 'l':
			if (!cg_parse_u64(optarg, strlen(optarg), 1000000, &lim))
				return cmd_usage_error("cert list", "bad limit");
			f.limit = (size_t)lim;
			break;
		case 'j':
			ls.json = true;
			break;
		case 'c':
			config = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			printf("usage: certgw cert list [--profile P] [--status "
			    "valid|revoked|expired]\n        [--expiring-within "
			    "30d] [--limit N] [--json] [--config F | --dir D]\n");
			return CMD_EXIT_OK;
		default:
			return cmd_usage_error("cert list", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("cert list", "unexpected argument '%s'",
		    argv[optind]);
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ls.now = f.now = cg_now();
	if (within > 0)
		f.expiring_before = f.now + within;
	ls.arr = json_array();
	if (!ls.json)
		printf("%-40s  %-7s  %-20s  %-12s  %-5s  %s\n", "SERIAL",
		    "STATUS", "NOT_AFTER", "PROFILE", "PROTO", "SUBJECT  SANS");
	if (ls.arr == NULL ||
	    ca_store_cert_list(ctx.st, &f, list_row, &ls, &err) != CG_OK) {
		cmd_fail("cannot list certificates", &err);
		goto out;
	}
	if (ls.json && !cmd_json_print(ls.arr))
		goto out;
	ret = CMD_EXIT_OK;
out:
	json_decref(ls.arr);
	cmd_ctx_close(&ctx);
	return ret;
}

static int
show_rec(const struct ca_cert_rec *r, char fmt)
{
	const unsigned char	*p = r->der;
	X509			*x;
	BIO			*out;
	json_t			*o;
	int			 ok;

	if (fmt == 'D')
		return fwrite(r->der, 1, r->der_len, stdout) == r->der_len ?
		    CMD_EXIT_OK : CMD_EXIT_FAIL;
	if (fmt == 'j') {
		o = rec_json(r, cg_now());
		ok = cmd_json_print(o);
		json_decref(o);
		return ok ? CMD_EXIT_OK : CMD_EXIT_FAIL;
	}
	x = d2i_X509(NULL, &p, (long)r->der_len);
	out = BIO_new_fp(stdout, BIO_NOCLOSE);
	ok = x != NULL && out != NULL;
	if (ok && fmt == 'P') {
		ok = PEM_write_bio_X509(out, x) == 1;
	} else if (ok) {
		BIO_printf(out, "serial:     %s\nstatus:     %s\n"
		    "profile:    %s\nprotocol:   %s\nrequester:  %s\n"
		    "sha256:     %s\nsha1:       %s\n", r->serial,
		    status_word(r, cg_now()), r->profile, r->protocol,
		    r->requester, r->sha256, r->sha1);
		if (r->status == CA_CERT_REVOKED)
			BIO_printf(out, "revoked:    %s\n", ca_reason_name(
			    (enum ca_reason)r->revoke_reason));
		ok = X509_print_ex(out, x, XN_FLAG_ONELINE, 0) == 1;
	}
	BIO_free(out);
	X509_free(x);
	return ok ? CMD_EXIT_OK : CMD_EXIT_FAIL;
}

static int
cert_show(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pem", no_argument, NULL, 'P' },
		{ "der", no_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ca_cert_rec	*r = NULL;
	struct cmd_ctx		 ctx;
	struct cg_err		 err = { 0 };
	const char		*config = NULL, *dir = NULL;
	char			 fmt = 't';
	int			 c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'P': case 'D': case 'j': fmt = (char)c; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw cert show SERIAL|SHA256 [--pem | "
			    "--der | --json] [--config F | --dir D]\n");
			return CMD_EXIT_OK;
		default: return cmd_usage_error("cert show", "bad option");
		}
	}
	if (optind + 1 != argc)
		return cmd_usage_error("cert show", "expected one SERIAL or "
		    "SHA256");
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	if (ca_store_cert_get(ctx.st, argv[optind], &r, &err) != CG_OK)
		ret = cmd_fail(argv[optind], &err);
	else
		ret = show_rec(r, fmt);
	ca_cert_rec_free(r);
	cmd_ctx_close(&ctx);
	return ret;
}

static int
cert_revoke(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd_ctx		 ctx;
	struct cg_err		 err = { 0 };
	const char		*config = NULL, *dir = NULL;
	enum ca_reason		 reason = CA_REASON_UNSPECIFIED;
	int			 c, ret = CMD_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!ca_reason_parse(optarg, &reason))
				return cmd_usage_error("cert revoke", "unknown "
				    "reason '%s' (unspecified, keyCompromise, "
				    "cACompromise, affiliationChanged, "
				    "superseded, cessationOfOperation, "
				    "certificateHold, privilegeWithdrawn, "
				    "aACompromise)", optarg);
			break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw cert revoke SERIAL|SHA256 "
			    "[--reason R] [--config F | --dir D]\n");
			return CMD_EXIT_OK;
		default: return cmd_usage_error("cert revoke", "bad option");
		}
	}
	if (optind + 1 != argc)
		return cmd_usage_error("cert revoke", "expected one SERIAL or "
		    "SHA256");
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE | CMD_NEED_CA))
		return CMD_EXIT_FAIL;
	if (ca_revoke(ctx.ca, ctx.st, argv[optind], reason, ctx.actor, &err) !=
	    CG_OK)
		ret = cmd_fail("cannot revoke", &err);
	else
		printf("revoked %s reason=%s\n", argv[optind],
		    ca_reason_name(reason));
	cmd_ctx_close(&ctx);
	return ret;
}

static const struct cmd cert_subs[] = {
	{ "list", cert_list, "certificates in the store, filtered" },
	{ "show", cert_show, "one certificate by serial or SHA-256" },
	{ "revoke", cert_revoke, "revoke one, with a reason" },
};

int
cmd_cert(int argc, char **argv)
{
	return cmd_sub("cert", cert_subs,
	    sizeof(cert_subs) / sizeof(cert_subs[0]), argc, argv);
}
