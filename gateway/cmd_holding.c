/*
 * cmd_holding.c - `certgw holding`: the client certificates that were
 * presented on an `accept` route and mapped to nobody wait here for an
 * admin.  list shows them; accept maps one to an identity (by SHA-256,
 * pinned when self-signed) and marks it accepted in one transaction;
 * reject marks it rejected.  Every decision is audited.  Capturing the
 * certificates is the gateway's job, not this file's.
 */
#include "cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>

struct hopts {
	const char	*config;
	const char	*dir;
	const char	*user;
	const char	*status;
	bool		 json;
	char		**args;
};

static int
hopts_parse(int argc, char **argv, const char *sub, const char *allowed,
    int nargs, const char *usage, struct hopts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "user", required_argument, NULL, 'u' },
		{ "status", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char	 cmd[32];
	int	 c;

	snprintf(cmd, sizeof(cmd), "holding %s", sub);
	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (strchr("jus", c) != NULL && strchr(allowed, c) == NULL)
			return cmd_usage_error(cmd, "option not taken here: "
			    "%s", argv[optind - 1]);
		switch (c) {
		case 'j': o->json = true; break;
		case 'u': o->user = optarg; break;
		case 's': o->status = optarg; break;
		case 'c': o->config = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'h':
			printf("usage: certgw holding %s\n", usage);
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

static const char *const hold_status[] = {
	[CA_HOLD_PENDING] = "pending",
	[CA_HOLD_ACCEPTED] = "accepted",
	[CA_HOLD_REJECTED] = "rejected",
};

static const char *
status_name(int s)
{
	return s >= 0 && s <= CA_HOLD_REJECTED ? hold_status[s] : "?";
}

/* ------------------------------------------------------------- list */

struct hlist {
	bool		 json;
	json_t		*arr;
};

static enum cg_code
hold_row(void *arg, const struct ca_holding *h)
{
	struct hlist	*hl = arg;
	char		 fs[32], ls[32], na[32], da[32];
	json_t		*obj;

	cg_time_fmt(h->first_seen, fs, sizeof(fs));
	cg_time_fmt(h->last_seen, ls, sizeof(ls));
	cg_time_fmt(h->not_after, na, sizeof(na));
	cg_time_fmt(h->decided_at, da, sizeof(da));
	if (hl->json) {
		obj = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
		    "s:I, s:s, s:s?, s:s?}", "id", (json_int_t)h->id, "sha256",
		    h->sha256, "subject", h->subject, "issuer", h->issuer,
		    "not_after", na, "first_seen", fs, "last_seen", ls,
		    "source", h->source, "count", (json_int_t)h->count,
		    "status", status_name(h->status), "decided_by",
		    h->decided_by[0] != '\0' ? h->decided_by : NULL,
		    "decided_at", h->decided_at != 0 ? da : NULL);
		if (obj == NULL || json_array_append_new(hl->arr, obj) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	printf("%-5lld  %-8s  %5lld  %-20s  %-20s  %s\n"
	    "       subject %s\n       issuer  %s\n       sha256  %s\n",
	    (long long)h->id, status_name(h->status), (long long)h->count,
	    fs, ls, h->source, h->subject, h->issuer, h->sha256);
	return CG_OK;
}

static int
holding_list(int argc, char **argv)
{
	struct hopts	 o;
	struct cmd_ctx	 ctx;
	struct hlist	 hl = { 0 };
	struct cg_err	 err = { 0 };
	int		 ret, status = CA_HOLD_PENDING;

	ret = hopts_parse(argc, argv, "list", "js", 0, "list [--status "
	    "pending|accepted|rejected|all] [--json]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (o.status != NULL) {
		if (strcmp(o.status, "all") == 0)
			status = -1;
		else if (strcmp(o.status, "pending") == 0)
			status = CA_HOLD_PENDING;
		else if (strcmp(o.status, "accepted") == 0)
			status = CA_HOLD_ACCEPTED;
		else if (strcmp(o.status, "rejected") == 0)
			status = CA_HOLD_REJECTED;
		else
			return cmd_usage_error("holding list", "--status: "
			    "expected pending, accepted, rejected or all");
	}
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	hl.json = o.json;
	if (hl.json && (hl.arr = json_array()) == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		ret = CMD_EXIT_FAIL;
		goto out;
	}
	if (!hl.json)
		printf("%-5s  %-8s  %5s  %-20s  %-20s  %s\n", "ID", "STATUS",
		    "COUNT", "FIRST SEEN", "LAST SEEN", "SOURCE");
	if (ca_store_holding_list(ctx.st, status, hold_row, &hl, &err) !=
	    CG_OK)
		ret = cmd_fail("holding list", &err);
	else if (hl.json && !cmd_json_print(hl.arr))
		ret = CMD_EXIT_FAIL;
out:
	json_decref(hl.arr);
	cmd_ctx_close(&ctx);
	return ret;
}

/* --------------------------------------------------- accept, reject */

static bool
id_parse(const char *cmd, const char *s, int64_t *idp)
{
	uint64_t	 v;

	if (!cg_parse_u64(s, strlen(s), INT64_MAX, &v) || v == 0) {
		cmd_usage_error(cmd, "ID: expected the number `certgw holding "
		    "list` shows");
		return false;
	}
	*idp = (int64_t)v;
	return true;
}

/*
 * The held certificate id, still pending; prints why not.  *hp is the
 * caller's.
 */
static bool
pending_get(struct cmd_ctx *ctx, const char *cmd, int64_t id,
    struct ca_holding **hp)
{
	struct cg_err	 err = { 0 };

	if (ca_store_holding_get(ctx->st, id, hp, &err) != CG_OK) {
		if (err.code == CG_ENOTFOUND)
			fprintf(stderr, "certgw: %s: no held certificate with "
			    "id %lld\n", cmd, (long long)id);
		else
			cmd_fail(cmd, &err);
		return false;
	}
	if ((*hp)->status != CA_HOLD_PENDING) {
		fprintf(stderr, "certgw: %s: held certificate %lld was %s "
		    "already (by %s)\n", cmd, (long long)id,
		    status_name((*hp)->status), (*hp)->decided_by);
		ca_holding_free(*hp);
		*hp = NULL;
		return false;
	}
	return true;
}

static int
holding_accept(int argc, char **argv)
{
	struct hopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_holding	*h = NULL;
	struct ca_identity	*i = NULL;
	struct cg_err		 err = { 0 };
	int64_t			 id, mapid = 0;
	bool			 pinned;
	int			 ret;

	ret = hopts_parse(argc, argv, "accept", "u", 1, "accept ID --user "
	    "NAME", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (o.user == NULL)
		return cmd_usage_error("holding accept", "--user NAME is "
		    "required: the identity the certificate is for");
	if (!id_parse("holding accept", o.args[0], &id))
		return CMD_EXIT_USAGE;
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	if (!pending_get(&ctx, "holding accept", id, &h))
		goto out;
	if (ca_store_identity_get(ctx.st, o.user, 0, &i, &err) != CG_OK) {
		if (err.code == CG_ENOTFOUND)
			fprintf(stderr, "certgw: holding accept: no identity "
			    "%s (add it with `certgw user add %s`)\n", o.user,
			    o.user);
		else
			cmd_fail("holding accept", &err);
		goto out;
	}
	/* Mapping, decision and audit row: all or nothing. */
	if (ca_holding_accept(ctx.st, h, i, ctx.actor, true, &mapid, &pinned,
	    &err) != CG_OK) {
		cmd_fail("holding accept", &err);
		goto out;
	}
	printf("accepted held certificate %lld: mapped sha256 %s to %s "
	    "(mapping %lld%s)\n", (long long)id, h->sha256, i->name,
	    (long long)mapid, pinned ? ", pinned: self-signed" : "");
	ret = CMD_EXIT_OK;
out:
	ca_identity_free(i);
	ca_holding_free(h);
	cmd_ctx_close(&ctx);
	return ret;
}

static int
holding_reject(int argc, char **argv)
{
	struct hopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_holding	*h = NULL;
	struct cg_err		 err = { 0 };
	int64_t			 id;
	int			 ret;

	ret = hopts_parse(argc, argv, "reject", "", 1, "reject ID", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!id_parse("holding reject", o.args[0], &id))
		return CMD_EXIT_USAGE;
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	if (!pending_get(&ctx, "holding reject", id, &h))
		goto out;
	if (ca_store_begin(ctx.st, &err) != CG_OK ||
	    ca_store_holding_decide(ctx.st, id, CA_HOLD_REJECTED, ctx.actor,
	    cg_now(), &err) != CG_OK ||
	    ca_store_audit_add(ctx.st, ctx.actor, "holding-reject", o.args[0],
	    "ok", h->sha256, &err) != CG_OK ||
	    ca_store_commit(ctx.st, &err) != CG_OK) {
		ca_store_rollback(ctx.st);
		cmd_fail("holding reject", &err);
		goto out;
	}
	printf("rejected held certificate %lld (%s)\n", (long long)id,
	    h->subject);
	ret = CMD_EXIT_OK;
out:
	ca_holding_free(h);
	cmd_ctx_close(&ctx);
	return ret;
}

int
cmd_holding(int argc, char **argv)
{
	static const struct cmd subs[] = {
		{ "list", holding_list, "held client certificates" },
		{ "accept", holding_accept,
		    "map one to an identity (--user NAME)" },
		{ "reject", holding_reject, "refuse one for good" },
	};

	return cmd_sub("holding", subs, sizeof(subs) / sizeof(subs[0]), argc,
	    argv);
}
