/*
 * cmd_cert.c - `certgw cert list|show|revoke|reissue`: the admin's view of
 * what the CA has issued, read from the local store, with the renewal
 * status of each certificate; revocation and reissue through the CA core
 * (which records each with its audit rows in one transaction).
 */
#include "cmd.h"

#include <sys/stat.h>

#include <getopt.h>
#include <string.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

struct list_state {
	bool		 json;		/* --json */
	bool		 due_only;	/* --status update-needed */
	json_t		*arr;		/* rows collected for --json */
	const struct gw_config *conf;	/* profiles, for the renewal window */
	int64_t		 now;		/* reference time for "expired" */
	size_t		 limit;		/* --limit applied here, or 0 */
	size_t		 count;		/* rows printed */
};

/*
 * Where the record's renewal window starts: its profile's, by the name it
 * was issued under (the default rule when that profile is gone).  ACME
 * renewal-info starts its window at the same point.
 */
static int64_t
renew_start(const struct gw_config *conf, const struct ca_cert_rec *r)
{
	return ca_profile_renew_start(conf != NULL ?
	    gw_config_profile(conf, r->profile) : NULL, r->not_before,
	    r->not_after);
}

static const char *
status_word(const struct gw_config *conf, const struct ca_cert_rec *r,
    int64_t now)
{
	return ca_cert_status_word(conf != NULL ? gw_config_profile(conf,
	    r->profile) : NULL, r, now);
}

static json_t *
rec_json(const struct gw_config *conf, const struct ca_cert_rec *r,
    int64_t now)
{
	char	 nb[32], na[32], ia[32], ra[32], rs[32];

	cg_time_fmt(r->not_before, nb, sizeof(nb));
	cg_time_fmt(r->not_after, na, sizeof(na));
	cg_time_fmt(r->issued_at, ia, sizeof(ia));
	cg_time_fmt(r->revoked_at, ra, sizeof(ra));
	cg_time_fmt(renew_start(conf, r), rs, sizeof(rs));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:s, s:s, s:s?, s:s?}",
	    "serial", r->serial, "status", status_word(conf, r, now),
	    "subject", r->subject, "issuer", r->issuer, "sans", r->sans,
	    "not_before", nb, "not_after", na, "issued_at", ia,
	    "renew_after", rs, "profile", r->profile, "protocol", r->protocol,
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

	if (ls->due_only && ls->now < renew_start(ls->conf, r))
		return CG_OK;
	/* The store cannot apply --limit to rows filtered out here. */
	if (ls->limit > 0 && ls->count >= ls->limit)
		return CG_OK;
	ls->count++;
	if (ls->json) {
		o = rec_json(ls->conf, r, ls->now);
		if (o == NULL || json_array_append_new(ls->arr, o) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	cg_time_fmt(r->not_after, na, sizeof(na));
	printf("%-40s  %-13s  %-20s  %-12s  %-5s  %s%s%s\n", r->serial,
	    status_word(ls->conf, r, ls->now), na, r->profile, r->protocol,
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
			else if (strcmp(optarg, "update-needed") == 0)
				f.status = CA_CERT_VALID;
			else
				return cmd_usage_error("cert list", "--status "
				    "is valid, update-needed, revoked or "
				    "expired");
			/*
			 * Windows differ per profile: the store lists the
			 * valid ones and list_row() keeps those due.
			 */
			ls.due_only = strcmp(optarg, "update-needed") == 0;
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
			printf("usage: certgw cert list [--profile P]\n"
			    "        [--status valid|update-needed|revoked|"
			    "expired]\n        [--expiring-within 30d] "
			    "[--limit N] [--json] [--config F | --dir D]\n");
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
	ls.conf = ctx.conf;
	if (within > 0)
		f.expiring_before = f.now + within;
	if (ls.due_only) {
		ls.limit = f.limit;
		f.limit = 0;
	}
	ls.arr = json_array();
	if (!ls.json)
		printf("%-40s  %-13s  %-20s  %-12s  %-5s  %s\n", "SERIAL",
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
show_rec(const struct gw_config *conf, const struct ca_cert_rec *r, char fmt)
{
	const unsigned char	*p = r->der;
	X509			*x;
	BIO			*out;
	json_t			*o;
	char			 rs[32];
	int			 ok;

	if (fmt == 'D')
		return fwrite(r->der, 1, r->der_len, stdout) == r->der_len ?
		    CMD_EXIT_OK : CMD_EXIT_FAIL;
	if (fmt == 'j') {
		o = rec_json(conf, r, cg_now());
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
		cg_time_fmt(renew_start(conf, r), rs, sizeof(rs));
		BIO_printf(out, "serial:     %s\nstatus:     %s\n"
		    "renew from: %s\n"
		    "profile:    %s\nprotocol:   %s\nrequester:  %s\n"
		    "sha256:     %s\nsha1:       %s\n", r->serial,
		    status_word(conf, r, cg_now()), rs, r->profile,
		    r->protocol, r->requester, r->sha256, r->sha1);
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
		ret = show_rec(ctx.conf, r, fmt);
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

/* ---------------------------------------------------------- reissue */

#define REISSUE_PW_LEN		24	/* random PKCS#12 password, ~138 bits */

struct reissue_opts {
	const char	*id;		/* SERIAL or SHA256 */
	const char	*profile;	/* --profile, or NULL: the record's */
	const char	*out;		/* --out */
	const char	*pwfile;	/* --password-file */
	bool		 new_key;	/* --new-key */
	bool		 chain;		/* --chain (PEM) */
	bool		 force;		/* --force: replace --out */
	bool		 revoke_old;	/* --revoke-old */
	bool		 json;		/* --json */
};

static void
reissue_usage(FILE *f)
{
	fprintf(f,
"usage: certgw cert reissue SERIAL|SHA256 [--profile P] [--out FILE]\n"
"                           [--chain] [--revoke-old] [--force] [--json]\n"
"       certgw cert reissue SERIAL|SHA256 --new-key --out FILE.p12\n"
"                           [--password-file F] [--profile P]\n"
"                           [--revoke-old] [--force] [--json]\n"
"                           [--config FILE | --dir DIR]\n"
"\n"
"Issue a new certificate with the subject and SANs of an issued one, under\n"
"its profile (or P), with the same key (PEM to --out or standard output),\n"
"or with a new key of the same type (PKCS#12 to --out, protected by the\n"
"password from F or a random one printed once).  The old certificate\n"
"stays valid unless --revoke-old (reason superseded).\n");
}

/* The certificate (and with chain the CA chain) as PEM into b. */
static enum cg_code
pem_of(X509 *x, STACK_OF(X509) *ch, BIO *b, struct cg_err *err)
{
	int	 i;

	if (PEM_write_bio_X509(b, x) != 1)
		return cg_err_crypto(err, CG_ECRYPTO, "cannot encode the "
		    "certificate");
	for (i = 0; ch != NULL && i < sk_X509_num(ch); i++)
		if (PEM_write_bio_X509(b, sk_X509_value(ch, i)) != 1)
			return cg_err_crypto(err, CG_ECRYPTO, "cannot encode "
			    "the chain");
	return CG_OK;
}

/*
 * Same key: the PEM goes to --out (0644) or, without it, to standard
 * output, or into the JSON answer as "pem".
 */
static enum cg_code
reissue_write_pem(struct cmd_ctx *ctx, const struct reissue_opts *o,
    struct ca_issued *is, json_t *j, struct cg_err *err)
{
	BIO		*b;
	BUF_MEM		*mem;
	X509		*x = ca_issued_get0_cert(is);
	enum cg_code	 rc;

	b = BIO_new(BIO_s_mem());
	if (b == NULL || x == NULL) {
		BIO_free(b);
		return cg_err_crypto(err, CG_ENOMEM, "out of memory");
	}
	rc = pem_of(x, o->chain ? ca_get0_chain(ctx->ca) : NULL, b, err);
	if (rc != CG_OK)
		goto out;
	BIO_get_mem_ptr(b, &mem);
	if (o->out != NULL)
		rc = cg_file_write(o->out, mem->data, mem->length, 0644,
		    !o->force, err);
	else if (j != NULL) {
		if (json_object_set_new(j, "pem", json_stringn(mem->data,
		    mem->length)) != 0)
			rc = cg_err_set(err, CG_ENOMEM, "out of memory");
	} else if (fwrite(mem->data, 1, mem->length, stdout) != mem->length ||
	    fflush(stdout) != 0)
		rc = cg_err_errno(err, CG_EIO, "cannot write stdout");
out:
	BIO_free(b);
	return rc;
}

/* New key: PKCS#12 with the chain, 0600, under the password. */
static enum cg_code
reissue_write_p12(struct cmd_ctx *ctx, const struct reissue_opts *o,
    struct ca_issued *is, EVP_PKEY *key, const char *pw, struct cg_err *err)
{
	struct cg_buf	 p12;
	X509		*x = ca_issued_get0_cert(is);
	char		 cn[CA_NAME_MAX + 1];
	enum cg_code	 rc;

	if (x == NULL)
		return cg_err_set(err, CG_ENOMEM, "out of memory");
	/* The friendly name a keystore shows: the CN, else the serial. */
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, sizeof(cn)) <= 0)
		snprintf(cn, sizeof(cn), "%s", is->serial);
	cg_buf_init(&p12, CA_CERT_PEM_MAX + CA_CERT_PEM_MAX);
	rc = ca_pkcs12_make(key, x, ca_get0_chain(ctx->ca), pw, cn, &p12, err);
	if (rc == CG_OK)
		rc = cg_file_write(o->out, p12.data, p12.len, 0600, !o->force,
		    err);
	cg_buf_cleanup_secret(&p12);
	return rc;
}

/* The record, the profile to issue under, and the checks before issuing. */
static int
reissue_prepare(struct cmd_ctx *ctx, const struct reissue_opts *o,
    struct ca_cert_rec **recp, const struct ca_profile **profp)
{
	struct cg_err	 err = { 0 };
	const char	*pname;
	struct stat	 sb;

	if (ca_store_cert_get(ctx->st, o->id, recp, &err) != CG_OK) {
		if (err.code == CG_ENOTFOUND)
			fprintf(stderr, "certgw: cert reissue: no certificate "
			    "has serial or SHA-256 thumbprint %s\n", o->id);
		else
			cmd_fail("cert reissue", &err);
		return CMD_EXIT_FAIL;
	}
	if ((*recp)->status == CA_CERT_REVOKED) {
		fprintf(stderr, "certgw: cert reissue: certificate %s is "
		    "revoked; a revoked certificate is not reissued\n",
		    (*recp)->serial);
		return CMD_EXIT_FAIL;
	}
	pname = o->profile != NULL ? o->profile : (*recp)->profile;
	*profp = gw_config_profile(ctx->conf, pname);
	if (*profp == NULL) {
		fprintf(stderr, "certgw: cert reissue: no profile '%s' in the "
		    "config%s\n", pname, o->profile != NULL ? "" :
		    "; name one with --profile");
		return CMD_EXIT_FAIL;
	}
	/* Refused before anything is issued. */
	if (o->out != NULL && !o->force && stat(o->out, &sb) == 0) {
		fprintf(stderr, "certgw: cert reissue: %s exists already; use "
		    "--force to replace it\n", o->out);
		return CMD_EXIT_FAIL;
	}
	return CMD_EXIT_OK;
}

static int
reissue_parse(int argc, char **argv, struct reissue_opts *o,
    const char **config, const char **dir)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'o' },
		{ "new-key", no_argument, NULL, 'n' },
		{ "password-file", required_argument, NULL, 'w' },
		{ "chain", no_argument, NULL, 'C' },
		{ "force", no_argument, NULL, 'f' },
		{ "revoke-old", no_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	 c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': o->profile = optarg; break;
		case 'o': o->out = optarg; break;
		case 'n': o->new_key = true; break;
		case 'w': o->pwfile = optarg; break;
		case 'C': o->chain = true; break;
		case 'f': o->force = true; break;
		case 'R': o->revoke_old = true; break;
		case 'j': o->json = true; break;
		case 'c': *config = optarg; break;
		case 'd': *dir = optarg; break;
		case 'h': reissue_usage(stdout); return -1;
		default: return cmd_usage_error("cert reissue", "bad option");
		}
	}
	if (optind + 1 != argc)
		return cmd_usage_error("cert reissue", "expected one SERIAL or "
		    "SHA256");
	o->id = argv[optind];
	if (o->new_key && o->out == NULL)
		return cmd_usage_error("cert reissue", "--new-key needs --out "
		    "FILE.p12: the new private key goes there");
	if (!o->new_key && o->pwfile != NULL)
		return cmd_usage_error("cert reissue", "--password-file is for "
		    "--new-key (the PKCS#12 file)");
	if (o->new_key && o->chain)
		return cmd_usage_error("cert reissue", "--chain is for the PEM "
		    "of a same-key reissue (PKCS#12 always holds the chain)");
	return CMD_EXIT_OK;
}

/* A new key of the type of rec's. */
static enum cg_code
key_like(const struct ca_cert_rec *rec, EVP_PKEY **keyp, struct cg_err *err)
{
	const unsigned char	*p = rec->der;
	X509			*x;
	enum cg_code		 rc;

	x = d2i_X509(NULL, &p, (long)rec->der_len);
	if (x == NULL)
		return cg_err_crypto(err, CG_EINVAL, "certificate %s in the "
		    "store does not decode", rec->serial);
	rc = ca_key_generate_like(X509_get0_pubkey(x), keyp, err);
	X509_free(x);
	return rc;
}

static int
cert_reissue(int argc, char **argv)
{
	struct reissue_opts	 o = { 0 };
	struct ca_reissue_req	 rq = { 0 };
	const struct ca_profile	*prof = NULL;
	struct ca_cert_rec	*rec = NULL;
	struct ca_issued	*is = NULL;
	struct cmd_ctx		 ctx;
	struct cg_err		 err = { 0 };
	const char		*config = NULL, *dir = NULL;
	EVP_PKEY		*key = NULL;
	json_t			*j = NULL;
	char			 pwbuf[REISSUE_PW_LEN + 1], *pwfile = NULL;
	const char		*pw = NULL;
	int			 ret;

	ret = reissue_parse(argc, argv, &o, &config, &dir);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	ret = CMD_EXIT_FAIL;
	pwbuf[0] = '\0';
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE | CMD_NEED_CA))
		return CMD_EXIT_FAIL;
	if (reissue_prepare(&ctx, &o, &rec, &prof) != CMD_EXIT_OK)
		goto out;
	if (o.new_key) {
		if (o.pwfile != NULL) {
			if (cg_secret_load(o.pwfile, NULL, &pwfile, &err) !=
			    CG_OK || pwfile[0] == '\0') {
				if (err.code == CG_OK)
					cg_err_set(&err, CG_EINVAL, "the "
					    "password file is empty");
				cmd_fail(o.pwfile, &err);
				goto out;
			}
			pw = pwfile;
		} else if (ca_password_random(pwbuf, sizeof(pwbuf), &err) !=
		    CG_OK) {
			cmd_fail("cert reissue", &err);
			goto out;
		} else
			pw = pwbuf;
		if (key_like(rec, &key, &err) != CG_OK) {
			cmd_fail("cert reissue", &err);
			goto out;
		}
	}
	rq.old = rec;
	rq.profile = prof;
	rq.key = key;
	rq.actor = ctx.actor;
	rq.revoke_old = o.revoke_old;
	if (ca_reissue(ctx.ca, ctx.st, &rq, &is, &err) != CG_OK) {
		cmd_fail("cert reissue: refused", &err);
		goto out;
	}
	fprintf(stderr, "reissued serial=%s old=%s profile=%s sha256=%s "
	    "key=%s%s\n", is->serial, rec->serial, prof->name, is->sha256,
	    key != NULL ? "new" : "same", o.revoke_old ? " old=revoked" : "");
	if (o.json) {
		j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s?}",
		    "serial", is->serial, "old_serial", rec->serial,
		    "profile", prof->name, "sha256", is->sha256,
		    "key", key != NULL ? "new" : "same",
		    "old_revoked", o.revoke_old, "out", o.out);
		if (j == NULL) {
			fprintf(stderr, "certgw: out of memory\n");
			goto out;
		}
	}
	if ((key != NULL ? reissue_write_p12(&ctx, &o, is, key, pw, &err) :
	    reissue_write_pem(&ctx, &o, is, j, &err)) != CG_OK) {
		/* Issued and recorded; only the copy on disk failed. */
		cmd_fail("certificate reissued but not written", &err);
		fprintf(stderr, "certgw: cert reissue: the certificate is "
		    "'certgw cert show %s --pem'%s\n", is->serial, key != NULL ?
		    "; its new key is lost: revoke it and reissue again" : "");
		goto out;
	}
	/* A password we made is shown once, here; one from a file is not. */
	if (j != NULL && pwbuf[0] != '\0' &&
	    json_object_set_new(j, "password", json_string(pwbuf)) != 0) {
		fprintf(stderr, "certgw: out of memory\n");
		goto out;
	}
	if (j != NULL) {
		if (!cmd_json_print(j))
			goto out;
	} else if (key != NULL) {
		printf("wrote %s (PKCS#12, mode 0600)\n", o.out);
		if (pwbuf[0] != '\0')
			printf("password: %s\n", pwbuf);
	}
	ret = CMD_EXIT_OK;
out:
	json_decref(j);
	OPENSSL_cleanse(pwbuf, sizeof(pwbuf));
	cg_secret_free(pwfile);
	EVP_PKEY_free(key);
	ca_issued_free(is);
	ca_cert_rec_free(rec);
	cmd_ctx_close(&ctx);
	return ret;
}

static const struct cmd cert_subs[] = {
	{ "list", cert_list, "certificates in the store, filtered" },
	{ "show", cert_show, "one certificate by serial or SHA-256" },
	{ "revoke", cert_revoke, "revoke one, with a reason" },
	{ "reissue", cert_reissue, "a new certificate for one, same or new "
	    "key" },
};

int
cmd_cert(int argc, char **argv)
{
	return cmd_sub("cert", cert_subs,
	    sizeof(cert_subs) / sizeof(cert_subs[0]), argc, argv);
}
