/*
 * cmd_pending.c - `certgw pending list|approve|reject`: the admin's side of
 * manual approval.  Lists the requests held in the store, and approves
 * (issuing through the CA core under the row's profile as the config now
 * defines it) or rejects one.  Clients collect the result by asking again;
 * nothing is sent to them from here.
 */
#include "cmd.h"

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#define CSR_PREFIX_HEX	16	/* hex digits of the CSR hash shown */
#define AGE_TEXT_MAX	24	/* "123456789d" */

struct plist_state {
	bool		 json;		/* --json */
	json_t		*arr;		/* rows collected for --json */
	int64_t		 now;		/* reference time for ages */
};

static const char *const status_words[] = {
	[CA_PENDING_WAITING] = "waiting",
	[CA_PENDING_APPROVED] = "approved",
	[CA_PENDING_REJECTED] = "rejected",
};

static const char *
status_word(enum ca_pending_status s)
{
	if ((unsigned)s >= CA_PENDING__MAX)
		return "unknown";
	return status_words[s];
}

/*
 * Requesters, subjects and SANs come from clients: show printable ASCII
 * only, so a crafted name cannot drive the admin's terminal (and the JSON
 * output stays valid UTF-8).
 */
static char *
safe_dup(const char *s)
{
	char	*d;
	size_t	 i;

	d = cg_strdup(s == NULL ? "" : s);
	for (i = 0; d != NULL && d[i] != '\0'; i++)
		if ((unsigned char)d[i] < 0x20 || (unsigned char)d[i] >= 0x7f)
			d[i] = '?';
	return d;
}

static void
age_text(int64_t secs, char *out, size_t outlen)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(out, outlen, "%" PRId64 "s", secs);
	else if (secs < 3600)
		snprintf(out, outlen, "%" PRId64 "m", secs / 60);
	else if (secs < 86400)
		snprintf(out, outlen, "%" PRId64 "h", secs / 3600);
	else
		snprintf(out, outlen, "%" PRId64 "d", secs / 86400);
}

static json_t *
rec_json(const struct ca_pending_rec *r, int64_t now, const char *requester,
    const char *subject, const char *sans)
{
	char	 ca[32], da[32];

	cg_time_fmt(r->created_at, ca, sizeof(ca));
	cg_time_fmt(r->decided_at, da, sizeof(da));
	return json_pack("{s:I, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s?, s:s?, s:s?}",
	    "id", (json_int_t)r->id, "status", status_word(r->status),
	    "created_at", ca, "age_s", (json_int_t)(now - r->created_at),
	    "protocol", r->protocol, "profile", r->profile,
	    "requester", requester, "subject", subject, "sans", sans,
	    "csr_sha256", r->csr_sha256,
	    "decided_at", r->status != CA_PENDING_WAITING ? da : NULL,
	    "decided_by", r->status != CA_PENDING_WAITING ? r->decided_by :
	    NULL,
	    "cert_serial", r->status == CA_PENDING_APPROVED ? r->cert_serial :
	    NULL);
}

static enum cg_code
list_row(void *arg, const struct ca_pending_rec *r)
{
	struct plist_state	*ls = arg;
	char			*who, *subj, *sans;
	char			 age[AGE_TEXT_MAX];
	json_t			*o;
	enum cg_code		 rc = CG_OK;

	who = safe_dup(r->requester);
	subj = safe_dup(r->subject);
	sans = safe_dup(r->sans);
	if (who == NULL || subj == NULL || sans == NULL) {
		rc = CG_ENOMEM;
		goto out;
	}
	if (ls->json) {
		o = rec_json(r, ls->now, who, subj, sans);
		if (o == NULL || json_array_append_new(ls->arr, o) != 0)
			rc = CG_ENOMEM;
		goto out;
	}
	age_text(ls->now - r->created_at, age, sizeof(age));
	printf("%-6" PRId64 "  %-8s  %-5s  %-5s  %-12s  %-16s  %.*s  %s%s%s\n",
	    r->id, status_word(r->status), age, r->protocol, r->profile, who,
	    CSR_PREFIX_HEX, r->csr_sha256, subj[0] != '\0' ? subj : "-",
	    sans[0] != '\0' ? "  " : "", sans);
out:
	cg_free(who);
	cg_free(subj);
	cg_free(sans);
	return rc;
}

static bool
status_parse(const char *s, int *out)
{
	size_t	 i;

	if (strcmp(s, "all") == 0) {
		*out = -1;
		return true;
	}
	for (i = 0; i < CA_PENDING__MAX; i++) {
		if (strcmp(s, status_words[i]) == 0) {
			*out = (int)i;
			return true;
		}
	}
	return false;
}

static int
pending_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct plist_state	 ls = { 0 };
	struct cmd_ctx		 ctx;
	struct cg_err		 err = { 0 };
	const char		*config = NULL, *dir = NULL;
	int			 c, status = CA_PENDING_WAITING;
	int			 ret = CMD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!status_parse(optarg, &status))
				return cmd_usage_error("pending list",
				    "--status is waiting, approved, rejected "
				    "or all");
			break;
		case 'j': ls.json = true; break;
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw pending list [--status waiting|"
			    "approved|rejected|all] [--json]\n"
			    "        [--config F | --dir D]\n");
			return CMD_EXIT_OK;
		default: return cmd_usage_error("pending list", "bad option");
		}
	}
	if (optind != argc)
		return cmd_usage_error("pending list", "unexpected argument "
		    "'%s'", argv[optind]);
	if (!cmd_ctx_open(&ctx, config, dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ls.now = cg_now();
	ls.arr = json_array();
	if (!ls.json)
		printf("%-6s  %-8s  %-5s  %-5s  %-12s  %-16s  %-16s  %s\n",
		    "ID", "STATUS", "AGE", "PROTO", "PROFILE", "REQUESTER",
		    "CSR_SHA256", "SUBJECT  SANS");
	if (ls.arr == NULL ||
	    ca_store_pending_list(ctx.st, status, list_row, &ls, &err) !=
	    CG_OK) {
		cmd_fail("cannot list pending requests", &err);
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
approve_one(struct cmd_ctx *ctx, int64_t id)
{
	const struct ca_profile	*prof;
	struct ca_pending_rec	*rec = NULL;
	struct cg_err		 err = { 0 };
	char			 serial[CA_SERIAL_HEX_MAX];
	int			 ret = CMD_EXIT_FAIL;

	if (ca_store_pending_get(ctx->st, id, &rec, &err) != CG_OK) {
		cmd_fail("cannot approve", &err);
		goto out;
	}
	prof = gw_config_profile(ctx->conf, rec->profile);
	if (prof == NULL) {
		fprintf(stderr, "certgw pending approve: request %" PRId64
		    " is for profile '%s', which is no longer in the config; "
		    "reject it or restore the profile\n", id, rec->profile);
		goto out;
	}
	if (ca_pending_approve(ctx->ca, ctx->st, id, prof, ctx->actor, serial,
	    &err) != CG_OK) {
		cmd_fail("cannot approve", &err);
		goto out;
	}
	printf("approved %" PRId64 ": issued serial=%s profile=%s "
	    "(the client receives it when it asks again)\n", id, serial,
	    prof->name);
	ret = CMD_EXIT_OK;
out:
	ca_pending_rec_free(rec);
	return ret;
}

static int
reject_one(struct cmd_ctx *ctx, int64_t id)
{
	struct cg_err	 err = { 0 };

	if (ca_pending_reject(ctx->st, id, ctx->actor, &err) != CG_OK)
		return cmd_fail("cannot reject", &err);
	printf("rejected %" PRId64 "\n", id);
	return CMD_EXIT_OK;
}

/* `pending approve ID` and `pending reject ID`. */
static int
pending_decide(int argc, char **argv, bool approve)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*name = approve ? "pending approve" : "pending reject";
	const char	*config = NULL, *dir = NULL;
	struct cmd_ctx	 ctx;
	uint64_t	 id;
	int		 c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			printf("usage: certgw %s ID [--config F | --dir D]\n",
			    name);
			return CMD_EXIT_OK;
		default: return cmd_usage_error(name, "bad option");
		}
	}
	if (optind + 1 != argc)
		return cmd_usage_error(name, "expected one request ID");
	if (!cg_parse_u64(argv[optind], strlen(argv[optind]), INT64_MAX,
	    &id) || id == 0)
		return cmd_usage_error(name, "'%s' is not a request ID "
		    "(see 'certgw pending list')", argv[optind]);
	if (!cmd_ctx_open(&ctx, config, dir, approve ?
	    CMD_NEED_STORE | CMD_NEED_CA : CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	if (approve)
		ret = approve_one(&ctx, (int64_t)id);
	else
		ret = reject_one(&ctx, (int64_t)id);
	cmd_ctx_close(&ctx);
	return ret;
}

static int
pending_approve(int argc, char **argv)
{
	return pending_decide(argc, argv, true);
}

static int
pending_reject(int argc, char **argv)
{
	return pending_decide(argc, argv, false);
}

static const struct cmd pending_subs[] = {
	{ "list", pending_list, "requests held for manual approval" },
	{ "approve", pending_approve, "issue the certificate for one request" },
	{ "reject", pending_reject, "refuse one request" },
};

int
cmd_pending(int argc, char **argv)
{
	return cmd_sub("pending", pending_subs,
	    sizeof(pending_subs) / sizeof(pending_subs[0]), argc, argv);
}
