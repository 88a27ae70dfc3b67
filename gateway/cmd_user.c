/*
 * cmd_user.c - `certgw user`: the identities that authenticate to the
 * gateway with client certificates (add, list, show, enable, disable,
 * role) and their one-to-one mappings by thumbprint or common name
 * (add-cert, remove-cert), with the option parser and the dispatcher.
 * import-cert and issue are in cmd_user_cert.c, the many-to-one rules in
 * cmd_user_rule.c.  Every change is audited.  Who a certificate is at
 * request time is decided in ca/, not here.
 */
#include "cmd_user.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

/* See cmd_user.h. */
int
uopts_parse(int argc, char **argv, const char *sub, unsigned allowed,
    int nargs, const char *usage, struct uopts *o)
{
	static const struct option longopts[] = {
		{ "email", required_argument, NULL, 'e' },
		{ "org", required_argument, NULL, 'o' },
		{ "role", required_argument, NULL, 'r' },
		{ "thumbprint", required_argument, NULL, 't' },
		{ "cn", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "thumbprint-only", no_argument, NULL, 'T' },
		{ "profile", required_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'O' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "force", no_argument, NULL, 'f' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "subject", required_argument, NULL, 's' },
		{ "position", required_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct {
		int		 ch;
		unsigned	 bit;
	} bits[] = {
		{ 'e', UOPT_EMAIL }, { 'o', UOPT_ORG }, { 'r', UOPT_ROLE },
		{ 't', UOPT_THUMB }, { 'n', UOPT_CN }, { 'j', UOPT_JSON },
		{ 'T', UOPT_THUMBONLY }, { 'p', UOPT_PROFILE },
		{ 'O', UOPT_OUT }, { 'P', UOPT_PWFILE },
		{ 'k', UOPT_KEYTYPE }, { 'f', UOPT_FORCE },
		{ 'i', UOPT_ISSUER }, { 's', UOPT_SUBJECT },
		{ 'N', UOPT_POSITION },
	};
	char	 cmd[64];
	size_t	 i;
	int	 c;

	snprintf(cmd, sizeof(cmd), "user %s", sub);
	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
			if (bits[i].ch == c && !(allowed & bits[i].bit))
				return cmd_usage_error(cmd, "option not "
				    "taken here: %s", argv[optind - 1]);
		switch (c) {
		case 'e': o->email = optarg; break;
		case 'o': o->org = optarg; break;
		case 'r': o->role = optarg; break;
		case 't': o->thumbprint = optarg; break;
		case 'n': o->cn = optarg; break;
		case 'j': o->json = true; break;
		case 'T': o->thumb_only = true; break;
		case 'p': o->profile = optarg; break;
		case 'O': o->out = optarg; break;
		case 'P': o->password_file = optarg; break;
		case 'k': o->key_type = optarg; break;
		case 'f': o->force = true; break;
		case 'i': o->issuer = optarg; break;
		case 's': o->subject = optarg; break;
		case 'N': o->position = optarg; break;
		case 'c': o->config = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'h':
			printf("usage: certgw user %s\n", usage);
			return -1;
		default:
			return cmd_usage_error(cmd, "bad option");
		}
	}
	if (argc - optind != nargs)
		return cmd_usage_error(cmd, "expected %d argument%s", nargs,
		    nargs == 1 ? "" : "s");
	o->nargs = nargs;
	o->args = argv + optind;
	return CMD_EXIT_OK;
}

/* --------------------- shared with cmd_user_cert.c and cmd_user_rule.c */

void
user_audit(struct cmd_ctx *ctx, const char *action, const char *target,
    const char *detail)
{
	struct cg_err	 err = { 0 };

	if (ca_store_audit_add(ctx->st, ctx->actor, action, target, "ok",
	    detail, &err) != CG_OK)
		cmd_fail("audit", &err);
}

bool
user_ident_get(struct cmd_ctx *ctx, const char *cmd, const char *name,
    struct ca_identity **ip)
{
	struct cg_err	 err = { 0 };

	if (ca_store_identity_get(ctx->st, name, 0, ip, &err) == CG_OK)
		return true;
	if (err.code == CG_ENOTFOUND)
		fprintf(stderr, "certgw: %s: no identity %s (add it with "
		    "`certgw user add %s`)\n", cmd, name, name);
	else
		cmd_fail(cmd, &err);
	return false;
}

/* ---------------------------------------------------------------- add */

static int
user_add(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	 in;
	struct cg_err		 err = { 0 };
	enum ca_role		 role = CA_ROLE_NONE;
	int64_t			 id = 0;
	int			 ret;

	ret = uopts_parse(argc, argv, "add", UOPT_EMAIL | UOPT_ORG | UOPT_ROLE,
	    1, "add NAME [--email E] [--org O] "
	    "[--role none|auditor|operator|admin]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (o.role != NULL && !ca_role_parse(o.role, &role))
		return cmd_usage_error("user add", "--role: expected none, "
		    "auditor, operator or admin");
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	memset(&in, 0, sizeof(in));
	in.name = o.args[0];
	in.email = (char *)(o.email != NULL ? o.email : "");
	in.org = (char *)(o.org != NULL ? o.org : "");
	in.role = role;
	if (ca_store_identity_add(ctx.st, &in, &id, &err) != CG_OK) {
		ret = cmd_fail("user add", &err);
	} else {
		user_audit(&ctx, "user-add", in.name, ca_role_name(role));
		printf("added identity %s (id %lld, role %s)\n", in.name,
		    (long long)id, ca_role_name(role));
		ret = CMD_EXIT_OK;
	}
	cmd_ctx_close(&ctx);
	return ret;
}

/* --------------------------------------------------------------- list */

static json_t *
ident_json(const struct ca_identity *i)
{
	char	 ca[32], ua[32];

	cg_time_fmt(i->created_at, ca, sizeof(ca));
	cg_time_fmt(i->updated_at, ua, sizeof(ua));
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "id",
	    (json_int_t)i->id, "name", i->name, "email", i->email, "org",
	    i->org, "role", ca_role_name(i->role), "disabled", i->disabled,
	    "created_at", ca, "updated_at", ua);
}

static enum cg_code
list_row(void *arg, const struct ca_identity *i)
{
	struct ulist_state	*ls = arg;
	json_t			*o;

	if (ls->json) {
		o = ident_json(i);
		if (o == NULL || json_array_append_new(ls->arr, o) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	printf("%-24s  %-8s  %-8s  %-24s  %s\n", i->name,
	    ca_role_name(i->role), i->disabled ? "disabled" : "enabled",
	    i->email[0] != '\0' ? i->email : "-",
	    i->org[0] != '\0' ? i->org : "-");
	return CG_OK;
}

static int
user_list(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ulist_state	 ls = { 0 };
	struct cg_err		 err = { 0 };
	int			 ret;

	ret = uopts_parse(argc, argv, "list", UOPT_JSON, 0, "list [--json]",
	    &o);
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
		printf("%-24s  %-8s  %-8s  %-24s  %s\n", "NAME", "ROLE",
		    "STATE", "EMAIL", "ORG");
	if (ca_store_identity_list(ctx.st, list_row, &ls, &err) != CG_OK)
		ret = cmd_fail("user list", &err);
	else if (ls.json && !cmd_json_print(ls.arr))
		ret = CMD_EXIT_FAIL;
out:
	json_decref(ls.arr);
	cmd_ctx_close(&ctx);
	return ret;
}

/* --------------------------------------------------------------- show */

static enum cg_code
map_row(void *arg, const struct ca_ident_map *m)
{
	struct ulist_state	*ls = arg;
	char			 na[32];
	json_t			*o;

	cg_time_fmt(m->not_after, na, sizeof(na));
	if (ls->json) {
		o = json_pack("{s:I, s:s, s:s, s:b, s:s, s:s, s:s?, s:s}",
		    "id", (json_int_t)m->id, "kind", ca_map_kind_name(m->kind),
		    "value", m->value, "pinned", m->pinned, "subject",
		    m->subject, "issuer", m->issuer, "not_after",
		    m->not_after != 0 ? na : NULL, "source", m->source);
		if (o == NULL || json_array_append_new(ls->arr, o) != 0)
			return CG_ENOMEM;
		return CG_OK;
	}
	printf("  mapping %lld: %s %s%s (%s)%s%s\n", (long long)m->id,
	    ca_map_kind_name(m->kind), m->value, m->pinned ? ", pinned" : "",
	    m->source, m->subject[0] != '\0' ? "\n    subject " : "",
	    m->subject);
	return CG_OK;
}

static int
user_show(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct ulist_state	 ls = { 0 };
	struct cg_err		 err = { 0 };
	json_t			*obj = NULL;
	int			 ret;

	ret = uopts_parse(argc, argv, "show", UOPT_JSON, 1,
	    "show NAME [--json]", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	if (ca_store_identity_get(ctx.st, o.args[0], 0, &i, &err) != CG_OK) {
		cmd_fail("user show", &err);
		goto out;
	}
	ls.json = o.json;
	if (ls.json) {
		obj = ident_json(i);
		ls.arr = json_array();
		if (obj == NULL || ls.arr == NULL ||
		    json_object_set(obj, "mappings", ls.arr) != 0) {
			fprintf(stderr, "certgw: out of memory\n");
			goto out;
		}
	} else {
		printf("name:     %s\nrole:     %s\nstate:    %s\n"
		    "email:    %s\norg:      %s\n", i->name,
		    ca_role_name(i->role), i->disabled ? "disabled" :
		    "enabled", i->email, i->org);
	}
	if (ca_store_map_list(ctx.st, i->id, map_row, &ls, &err) != CG_OK) {
		cmd_fail("user show", &err);
		goto out;
	}
	ret = ls.json && !cmd_json_print(obj) ? CMD_EXIT_FAIL : CMD_EXIT_OK;
out:
	json_decref(ls.arr);
	json_decref(obj);
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
	return ret;
}

/* ------------------------------------------- enable, disable, role */

static int
user_change(struct uopts *o, const char *sub, const bool *disabled,
    const enum ca_role *role)
{
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct cg_err		 err = { 0 };
	char			 cmd[32];
	int			 ret = CMD_EXIT_FAIL;

	snprintf(cmd, sizeof(cmd), "user %s", sub);
	if (!cmd_ctx_open(&ctx, o->config, o->dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	if (ca_store_identity_get(ctx.st, o->args[0], 0, &i, &err) != CG_OK ||
	    ca_store_identity_update(ctx.st, i->name, role != NULL ? *role :
	    i->role, disabled != NULL ? *disabled : i->disabled, cg_now(),
	    &err) != CG_OK) {
		cmd_fail(cmd, &err);
		goto out;
	}
	user_audit(&ctx, disabled != NULL ? (*disabled ? "user-disable" :
	    "user-enable") : "user-role", i->name, role != NULL ?
	    ca_role_name(*role) : NULL);
	printf("%s: %s\n", i->name, disabled != NULL ? (*disabled ?
	    "disabled" : "enabled") : ca_role_name(*role));
	ret = CMD_EXIT_OK;
out:
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
	return ret;
}

static int
user_disable(int argc, char **argv)
{
	struct uopts	 o;
	bool		 yes = true;
	int		 ret;

	ret = uopts_parse(argc, argv, "disable", 0, 1, "disable NAME", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	return user_change(&o, "disable", &yes, NULL);
}

static int
user_enable(int argc, char **argv)
{
	struct uopts	 o;
	bool		 no = false;
	int		 ret;

	ret = uopts_parse(argc, argv, "enable", 0, 1, "enable NAME", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	return user_change(&o, "enable", &no, NULL);
}

static int
user_role(int argc, char **argv)
{
	struct uopts	 o;
	enum ca_role	 role;
	int		 ret;

	ret = uopts_parse(argc, argv, "role", 0, 2,
	    "role NAME none|auditor|operator|admin", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!ca_role_parse(o.args[1], &role))
		return cmd_usage_error("user role", "expected none, auditor, "
		    "operator or admin");
	return user_change(&o, "role", NULL, &role);
}

/* ------------------------------------------------------------ add-cert */

/*
 * A thumbprint as an admin pastes it (any case, ':' or ' ' between
 * bytes) into lower-case hex; 40 digits are SHA-1, 64 SHA-256.
 */
static bool
thumb_parse(const char *s, char *out, size_t cap, enum ca_map_kind *kp)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++) {
		if (*s == ':' || *s == ' ')
			continue;
		if (!isxdigit((unsigned char)*s) || n + 1 >= cap)
			return false;
		out[n++] = (char)tolower((unsigned char)*s);
	}
	out[n] = '\0';
	if (n == 64)
		*kp = CA_MAP_SHA256;
	else if (n == 40)
		*kp = CA_MAP_SHA1;
	else
		return false;
	return true;
}

static int
user_add_cert(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct ca_ident_map	 m;
	struct cg_err		 err = { 0 };
	char			 hex[72];
	int64_t			 id = 0;
	int			 ret;

	ret = uopts_parse(argc, argv, "add-cert", UOPT_THUMB | UOPT_CN, 1,
	    "add-cert NAME --thumbprint HEX | --cn CN", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	memset(&m, 0, sizeof(m));
	if ((o.thumbprint == NULL) == (o.cn == NULL))
		return cmd_usage_error("user add-cert", "give --thumbprint or "
		    "--cn, not both");
	if (o.thumbprint != NULL && !thumb_parse(o.thumbprint, hex,
	    sizeof(hex), &m.kind))
		return cmd_usage_error("user add-cert", "--thumbprint: "
		    "expected a SHA-256 (64 hex digits) or SHA-1 (40) "
		    "thumbprint");
	if (o.cn != NULL) {
		m.kind = CA_MAP_CN;
		m.value = (char *)o.cn;
	} else {
		m.value = hex;
	}
	m.source = "manual";
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	if (ca_store_identity_get(ctx.st, o.args[0], 0, &i, &err) != CG_OK)
		goto fail;
	m.identity_id = i->id;
	if (ca_store_map_add(ctx.st, &m, &id, &err) != CG_OK)
		goto fail;
	user_audit(&ctx, "user-map", i->name, m.value);
	printf("mapped %s %s to %s (mapping %lld)\n",
	    ca_map_kind_name(m.kind), m.value, i->name, (long long)id);
	printf("note: this does not make the certificate trusted; it must "
	    "still chain to a trusted CA\n(`certgw trust add CA.pem`), or be "
	    "imported with `certgw user import-cert` if it is self-signed\n");
	ret = CMD_EXIT_OK;
	goto out;
fail:
	cmd_fail("user add-cert", &err);
out:
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
	return ret;
}

/* --------------------------------------------------------- remove-cert */

struct find_map {
	int64_t		 id;
	bool		 found;
	char		 value[CA_IDENT_DN_MAX + 1];
};

static enum cg_code
find_map_row(void *arg, const struct ca_ident_map *m)
{
	struct find_map	*f = arg;

	if (m->id == f->id) {
		f->found = true;
		snprintf(f->value, sizeof(f->value), "%s %s",
		    ca_map_kind_name(m->kind), m->value);
	}
	return CG_OK;
}

static int
user_remove_cert(int argc, char **argv)
{
	struct uopts		 o;
	struct cmd_ctx		 ctx;
	struct ca_identity	*i = NULL;
	struct find_map		 f = { 0 };
	struct cg_err		 err = { 0 };
	uint64_t		 id;
	int			 ret;

	ret = uopts_parse(argc, argv, "remove-cert", 0, 2,
	    "remove-cert NAME MAPPING_ID", &o);
	if (ret != CMD_EXIT_OK)
		return ret < 0 ? CMD_EXIT_OK : ret;
	if (!cg_parse_u64(o.args[1], strlen(o.args[1]), INT64_MAX, &id) ||
	    id == 0)
		return cmd_usage_error("user remove-cert", "MAPPING_ID: "
		    "expected the number `certgw user show` gives");
	if (!cmd_ctx_open(&ctx, o.config, o.dir, CMD_NEED_STORE))
		return CMD_EXIT_FAIL;
	ret = CMD_EXIT_FAIL;
	if (!user_ident_get(&ctx, "user remove-cert", o.args[0], &i))
		goto out;
	f.id = (int64_t)id;
	if (ca_store_map_list(ctx.st, i->id, find_map_row, &f, &err) != CG_OK) {
		cmd_fail("user remove-cert", &err);
		goto out;
	}
	if (!f.found) {
		fprintf(stderr, "certgw: user remove-cert: %s has no mapping "
		    "%llu\n", i->name, (unsigned long long)id);
		goto out;
	}
	if (ca_store_map_delete(ctx.st, f.id, &err) != CG_OK) {
		cmd_fail("user remove-cert", &err);
		goto out;
	}
	user_audit(&ctx, "user-unmap", i->name, f.value);
	printf("removed mapping %llu (%s) from %s\n", (unsigned long long)id,
	    f.value, i->name);
	ret = CMD_EXIT_OK;
out:
	ca_identity_free(i);
	cmd_ctx_close(&ctx);
	return ret;
}

int
cmd_user(int argc, char **argv)
{
	static const struct cmd subs[] = {
		{ "add", user_add, "add an identity (user or device)" },
		{ "list", user_list, "the identities" },
		{ "show", user_show, "one identity and its mappings" },
		{ "disable", user_disable, "stop an identity authenticating" },
		{ "enable", user_enable, "let it authenticate again" },
		{ "role", user_role, "set its admin API role" },
		{ "add-cert", user_add_cert,
		    "map a certificate to it by thumbprint or common name" },
		{ "import-cert", user_import_cert,
		    "map a certificate file to it (pinned if self-signed)" },
		{ "remove-cert", user_remove_cert,
		    "remove one of its mappings" },
		{ "issue", user_issue,
		    "issue it a key and certificate as PKCS#12" },
		{ "rule", user_rule,
		    "many-to-one rules: add, list, remove" },
	};

	return cmd_sub("user", subs, sizeof(subs) / sizeof(subs[0]), argc,
	    argv);
}
