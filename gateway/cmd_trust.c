/*
 * cmd_trust.c - `certgw trust`: the CAs trusted for client certificates
 * besides the configured client CA file (add, list, remove; audited),
 * and what other commands need to judge a certificate file: reading it
 * and naming it.  The trust a client certificate must chain to is
 * ca_client_trust_store() (ca/ca_import.c).
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* -------------------------------------------------- shared helpers */

void
cmd_name_text(const X509_NAME *n, char *out, size_t cap)
{
	BIO	*bio = BIO_new(BIO_s_mem());
	int	 len = -1;

	out[0] = '\0';
	if (bio != NULL && X509_NAME_print_ex(bio, n, 0, XN_FLAG_RFC2253) >=
	    0 && BIO_pending(bio) < (int)cap)
		len = BIO_read(bio, out, (int)cap - 1);
	out[len > 0 ? len : 0] = '\0';
	BIO_free(bio);
}

bool
cmd_cert_file_load(const char *what, const char *path,
    STACK_OF(X509) **certsp)
{
	struct cg_err	 err = { 0 };
	uint8_t		*data = NULL;
	size_t		 len = 0;
	enum cg_code	 rc;

	*certsp = NULL;
	/* One byte more than allowed, so that too big is told apart. */
	rc = cg_file_read(path, CA_CERT_PEM_MAX + 1, &data, &len, &err);
	if (rc == CG_OK)
		rc = ca_cert_file_parse(data, len, certsp, &err);
	if (data != NULL) {
		/* A file holding a key by mistake: leave no copy behind. */
		OPENSSL_cleanse(data, len);
		cg_free(data);
	}
	if (rc == CG_OK)
		return true;
	fprintf(stderr, "certgw: %s: %s: %s\n", what, path, err.msg);
	if (cmd_verbose && err.detail[0] != '\0')
		fprintf(stderr, "certgw: detail: %s\n", err.detail);
	return false;
}

/* ---------------------------------------------------------- options */

struct topts {
	const char	*config;
	const char	*dir;
	bool		 json;
	char		**args;
};

static int
topts_parse(int argc, char **argv, const char *sub, bool json_ok, int nargs,
    const char *usage, struct topts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char	 cmd[32];
	int	 c;

	snprintf(cmd, sizeof(cmd), "trust %s", sub);
	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (!json_ok)
				return cmd_usage_error(cmd, "option not taken "
				    "here: --json");
			o->json = true;
			break;
		case 'c': o->config = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'h':
			printf("usage: certgw trust %s\n", usage);
			return -1;
		default:
			return cmd_usage_error(cmd, "bad option");
		}
	}
	if (argc - optind != nargs)
		return cmd_usage_error(cmd, "expected %d argument%s", nargs,
		    nargs == 1 ? "" : "s");
	o->args = argv + optind;
	return CMD_EXIT_OK;
}

static json_t *
anchor_json(const struct ca_trust_anchor *t)
{
	char	 na[32], aa[32];

	cg_time_fmt(t->not_after, na, sizeof(na));
	cg_time_fmt(t->added_at, aa, sizeof(aa));
	return json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)t->id,
	    "sha256", t->sha256, "subject", t->subject, "not_after", na,
	    "added_at", aa);
}

/* -------------------------------------------------------------- add */

static int
trust_add(int argc, char **argv)
{
	struct topts		 o;
	struct cmd_ctx		 ctx;
	struct ca_trust_anchor	 t;
	struct cg_err		 err = { 0 };
	uint8_t			*data = NULL;
	size_t			 len = 0;
	int64_t			 id = 0;
	int			 ret;
	json_t			*obj;

	memset(&t, 0, sizeof(t));
	ret = topts_parse(argc, argv, "add", true, 1, "add CA.pem [--json]",
	    &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	/* One byte more than allowed, so that too big is told apart. */
	if (cg_file_read(o.args[0], CA_CERT_PEM_MAX + 1, &data, &len,
	    &err) == CG_OK)
		ca_trust_anchor_make(data, len, &t, &err);
	if (data != NULL) {
		/* A file holding a key by mistake: leave no copy behind. */
		OPENSSL_cleanse(data, len);
		cg_free(data);
	}
	if (err.code != CG_OK) {
		fprintf(stderr, "certgw: trust add: %s: %s\n", o.args[0],
		    err.msg);
		return CMD_EXIT_FAIL;
	}
	ret = CMD_EXIT_FAIL;
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		goto out_anchor;
	if (ca_store_trust_add(ctx.st, &t, &id, &err) != CG_OK) {
		if (err.code == CG_ECONFLICT)
			fprintf(stderr, "certgw: trust add: %s is already "
			    "trusted\n", t.subject);
		else
			cmd_fail("trust add", &err);
		goto out;
	}
	if (ca_store_audit_add(ctx.st, ctx.actor, "trust-add", t.sha256, "ok",
	    t.subject, &err) != CG_OK)
		cmd_fail("audit", &err);
	if (o.json) {
		t.id = id;
		t.added_at = cg_now();
		obj = anchor_json(&t);
		ret = cmd_json_print(obj) ? CMD_EXIT_OK : CMD_EXIT_FAIL;
		json_decref(obj);
	} else {
		printf("trusted %s for client certificates (id %lld, sha256 "
		    "%s)\n", t.subject, (long long)id, t.sha256);
		ret = CMD_EXIT_OK;
	}
out:
	cmd_ctx_close(&ctx);
out_anchor:
	ca_trust_anchor_clear(&t);
	return ret;
}

/* ------------------------------------------------------------- list */

struct tlist {
	bool		 json;
	json_t		*arr;
};

static enum cg_code
trust_row(void *arg, const struct ca_trust_anchor *t)
{
	struct tlist	*tl = arg;
	char		 na[32];
	json_t		*obj;

	if (tl->json) {
		obj = anchor_json(t);
		if (obj == NULL || json_array_append_new(tl->arr, obj) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	cg_time_fmt(t->not_after, na, sizeof(na));
	printf("%-5lld  %-20s  %s\n       sha256 %s\n", (long long)t->id, na,
	    t->subject, t->sha256);
	return CG_OK;
}

static int
trust_list(int argc, char **argv)
{
	struct topts	 o;
	struct cmd_ctx	 ctx;
	struct tlist	 tl = { 0 };
	struct cg_err	 err = { 0 };
	int		 ret;

	ret = topts_parse(argc, argv, "list", true, 0, "list [--json]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	tl.json = o.json;
	if (tl.json && (tl.arr = json_array()) == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		ret = CMD_EXIT_FAIL;
		goto out;
	}
	if (!tl.json)
		printf("%-5s  %-20s  %s\n", "ID", "NOT AFTER", "SUBJECT");
	if (ca_store_trust_list(ctx.st, trust_row, &tl, &err) != CG_OK)
		ret = cmd_fail("trust list", &err);
	else if (tl.json && !cmd_json_print(tl.arr))
		ret = CMD_EXIT_FAIL;
out:
	json_decref(tl.arr);
	cmd_ctx_close(&ctx);
	return ret;
}

/* ----------------------------------------------------------- remove */

static int
trust_remove(int argc, char **argv)
{
	struct topts	 o;
	struct cmd_ctx	 ctx;
	struct cg_err	 err = { 0 };
	uint64_t	 id;
	int		 ret;

	ret = topts_parse(argc, argv, "remove", false, 1, "remove ID", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cg_parse_u64(o.args[0], strlen(o.args[0]), INT64_MAX, &id) ||
	    id == 0)
		return cmd_usage_error("trust remove", "ID: expected the "
		    "number `certgw trust list` shows");
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	if (ca_store_trust_delete(ctx.st, (int64_t)id, &err) != CG_OK) {
		if (err.code == CG_ENOTFOUND)
			fprintf(stderr, "certgw: trust remove: no trusted CA "
			    "with id %llu\n", (unsigned long long)id);
		else
			cmd_fail("trust remove", &err);
		ret = CMD_EXIT_FAIL;
	} else {
		if (ca_store_audit_add(ctx.st, ctx.actor, "trust-remove",
		    o.args[0], "ok", NULL, &err) != CG_OK)
			cmd_fail("audit", &err);
		printf("no longer trusted: CA %llu\n", (unsigned long long)id);
	}
	cmd_ctx_close(&ctx);
	return ret;
}

int
cmd_trust(int argc, char **argv)
{
	static const struct cmd subs[] = {
		{ "add", trust_add,
		    "trust a CA (PEM or DER) for client certificates" },
		{ "list", trust_list, "the CAs trusted here" },
		{ "remove", trust_remove, "stop trusting one" },
	};

	return cmd_sub("trust", subs, sizeof(subs) / sizeof(subs[0]), argc,
	    argv);
}
