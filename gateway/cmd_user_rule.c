/*
 * cmd_user_rule.c - `certgw user rule add|list|remove`: the many-to-one
 * rules that map every certificate matching an issuer and subject
 * attributes to one identity, in the order they are tried.  Matching at
 * request time is ca/'s job; one-to-one mappings live in cmd_user.c.
 */
#include "cmd_user.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/objects.h>

/*
 * "O=Sales,OU=East": attributes OpenSSL knows, each with a value, as
 * ca_ident_rule_matches reads them.
 */
static bool
rule_subject_ok(const char *s)
{
	const char	*p, *comma, *eq;
	char		 sn[64];
	size_t		 n;

	for (p = s; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		eq = memchr(p, '=', n);
		if (eq == NULL || eq == p || eq == p + n - 1 ||
		    (size_t)(eq - p) >= sizeof(sn))
			return false;
		memcpy(sn, p, (size_t)(eq - p));
		sn[eq - p] = '\0';
		if (OBJ_txt2nid(sn) == NID_undef)
			return false;
	}
	return true;
}

static int
rule_add(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct ca_ident_rule	 r;
	struct cg_err		 err = { 0 };
	uint64_t		 pos = 0;
	int64_t			 id = 0;
	char			 detail[2 * CA_IDENT_DN_MAX + 32];
	int			 ret;

	ret = uopts_parse(argc, argv, "rule add", UOPT_ISSUER | UOPT_SUBJECT |
	    UOPT_POSITION, 1, "rule add NAME [--issuer DN] [--subject "
	    "\"O=Sales,OU=East\"] [--position N]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if ((o.issuer == NULL || o.issuer[0] == '\0') &&
	    (o.subject == NULL || o.subject[0] == '\0'))
		return cmd_usage_error("user rule add", "give --issuer, "
		    "--subject or both: a rule with neither would match "
		    "every certificate");
	if (o.issuer != NULL && strlen(o.issuer) > CA_IDENT_DN_MAX)
		return cmd_usage_error("user rule add", "--issuer: longer "
		    "than %d characters", CA_IDENT_DN_MAX);
	if (o.subject != NULL && o.subject[0] != '\0' &&
	    (strlen(o.subject) > CA_IDENT_DN_MAX ||
	    !rule_subject_ok(o.subject)))
		return cmd_usage_error("user rule add", "--subject: expected "
		    "attributes like \"O=Sales,OU=East\"");
	if (o.position != NULL && (!cg_parse_u64(o.position,
	    strlen(o.position), INT32_MAX, &pos) || pos == 0))
		return cmd_usage_error("user rule add", "--position: expected "
		    "1, 2, ...");
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	if (!user_ident_get(&ctx, "user rule add", o.args[0], &i))
		goto out;
	memset(&r, 0, sizeof(r));
	r.identity_id = i->id;
	r.position = (int64_t)pos;
	r.issuer = (char *)(o.issuer != NULL ? o.issuer : "");
	r.subject = (char *)(o.subject != NULL ? o.subject : "");
	if (ca_store_rule_add(ctx.st, &r, &id, &err) != CG_OK) {
		cmd_fail("user rule add", &err);
		goto out;
	}
	snprintf(detail, sizeof(detail), "issuer \"%s\" subject \"%s\"",
	    r.issuer, r.subject);
	user_audit(&ctx, "user-rule-add", i->name, detail);
	printf("added rule %lld for %s%s\n", (long long)id, i->name,
	    pos > 0 ? " at the position asked" : " last");
	ret = CMD_EXIT_OK;
out:
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
	return ret;
}

static enum cg_code
rule_row(void *arg, const struct ca_ident_rule *r)
{
	struct ulist_state	*ls = arg;
	char			 ca[32];
	json_t			*o;

	if (ls->json) {
		cg_time_fmt(r->created_at, ca, sizeof(ca));
		o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s}", "id",
		    (json_int_t)r->id, "position", (json_int_t)r->position,
		    "identity", r->identity, "issuer", r->issuer, "subject",
		    r->subject, "created_at", ca);
		if (o == NULL || json_array_append_new(ls->arr, o) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	printf("%-4lld  %-5lld  %-24s  issuer %s\n%37s subject %s\n",
	    (long long)r->position, (long long)r->id, r->identity,
	    r->issuer[0] != '\0' ? r->issuer : "(any)", "",
	    r->subject[0] != '\0' ? r->subject : "(any)");
	return CG_OK;
}

static int
rule_list(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ulist_state	 ls = { 0 };
	struct cg_err		 err = { 0 };
	int			 ret;

	ret = uopts_parse(argc, argv, "rule list", UOPT_JSON, 0,
	    "rule list [--json]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ls.json = o.json;
	if (ls.json && (ls.arr = json_array()) == NULL) {
		fprintf(stderr, "certgw: out of memory\n");
		ret = CMD_EXIT_FAIL;
		goto out;
	}
	if (!ls.json)
		printf("%-4s  %-5s  %-24s  %s\n", "POS", "ID", "IDENTITY",
		    "MATCHES");
	if (ca_store_rule_list(ctx.st, rule_row, &ls, &err) != CG_OK)
		ret = cmd_fail("user rule list", &err);
	else if (ls.json && !cmd_json_print(ls.arr))
		ret = CMD_EXIT_FAIL;
out:
	json_decref(ls.arr);
	cmd_ctx_close(&ctx);
	return ret;
}

static int
rule_remove(int argc, char **argv)
{
	struct uopts	 o;
	struct cmd_ctx	 ctx;
	struct cg_err	 err = { 0 };
	uint64_t	 id;
	int		 ret;

	ret = uopts_parse(argc, argv, "rule remove", 0, 1, "rule remove ID",
	    &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cg_parse_u64(o.args[0], strlen(o.args[0]), INT64_MAX, &id) ||
	    id == 0)
		return cmd_usage_error("user rule remove", "ID: expected the "
		    "number `certgw user rule list` shows");
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	if (ca_store_rule_delete(ctx.st, (int64_t)id, &err) != CG_OK) {
		if (err.code == CG_ENOTFOUND)
			fprintf(stderr, "certgw: user rule remove: no rule "
			    "with id %llu\n", (unsigned long long)id);
		else
			cmd_fail("user rule remove", &err);
		ret = CMD_EXIT_FAIL;
	} else {
		user_audit(&ctx, "user-rule-remove", o.args[0], NULL);
		printf("removed rule %llu; the rules after it moved up\n",
		    (unsigned long long)id);
	}
	cmd_ctx_close(&ctx);
	return ret;
}

int
user_rule(int argc, char **argv)
{
	static const struct cmd subs[] = {
		{ "add", rule_add, "map certificates by issuer and subject" },
		{ "list", rule_list, "the rules in the order they are tried" },
		{ "remove", rule_remove, "remove one" },
	};

	return cmd_sub("user rule", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}
